"""The peer of bench/drift_bench.cc: writes the reference and current samples (float32,
feature-major) and times SciPy's ks_2samp per feature plus numpy PSI on reference deciles,
the way a Python monitoring job computes drift from raw rows. Half of the features shift."""
import sys
import time

import numpy as np
from scipy.stats import ks_2samp

out, features, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(42)
ref = rng.normal(0, 1, size=(features, rows)).astype(np.float32)
cur = rng.normal(0, 1, size=(features, rows)).astype(np.float32)
cur[: features // 2] += np.linspace(0.05, 0.5, features // 2, dtype=np.float32)[:, None]
ref.tofile(f"{out}/ref.f32")
cur.tofile(f"{out}/cur.f32")

t0 = time.perf_counter()
ks, psi = [], []
for f in range(features):
    r, c = ref[f].astype(np.float64), cur[f].astype(np.float64)
    ks.append(ks_2samp(r, c).statistic)
    edges = np.quantile(r, np.linspace(0.1, 0.9, 9))
    rs = np.bincount(np.searchsorted(edges, r, side="right"), minlength=10) / len(r)
    cs = np.bincount(np.searchsorted(edges, c, side="right"), minlength=10) / len(c)
    rs, cs = np.clip(rs, 1e-4, None), np.clip(cs, 1e-4, None)
    psi.append(float(np.sum((cs - rs) * np.log(cs / rs))))
print(f"peer_s {time.perf_counter() - t0:.3f}")
print("peer_ks " + " ".join(f"{v:.5f}" for v in ks))
print("peer_psi " + " ".join(f"{v:.5f}" for v in psi))

# Multivariate drift as NannyML computes it: scikit-learn StandardScaler + PCA(0.65) fitted on
# the first 10,000 reference rows, then every current row reconstructed.
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

fit = ref[:, :10000].T.astype(np.float64)
scaler = StandardScaler().fit(fit)
pca = PCA(n_components=0.65, svd_solver="full").fit(scaler.transform(fit))
t0 = time.perf_counter()
z = scaler.transform(cur.T.astype(np.float64))
err = np.linalg.norm(z - pca.inverse_transform(pca.transform(z)), axis=1)
print(f"peer_pca_s {time.perf_counter() - t0:.3f}")
print(f"peer_pca_components {pca.n_components_}")
print(f"peer_pca_error {err.mean():.6f}")
