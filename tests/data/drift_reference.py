#!/usr/bin/python3
"""Prints the SciPy values src/ml/drift_test.cc checks Kade's drift statistics against
(fixed samples from numpy.random.default_rng(7)). Run: /usr/bin/python3 tests/data/drift_reference.py"""
import numpy as np
from scipy import stats, special
from scipy.spatial import distance
rng = np.random.default_rng(7)
ref = np.round(rng.normal(0, 1, 60), 4)
cur = np.round(rng.normal(0.4, 1.3, 45), 4)
same = np.round(rng.normal(0, 1, 50), 4)
def arr(a): return "{" + ", ".join(repr(float(x)) for x in a) + "}"
print("ref", arr(ref)); print("cur", arr(cur)); print("same", arr(same))
for name, c in (("cur", cur), ("same", same)):
    ks = stats.ks_2samp(ref, c, method="asymp")
    print(name, "ks", repr(ks.statistic), repr(ks.pvalue))
    print(name, "kolmogorov", repr(special.kolmogorov(np.sqrt(len(ref)*len(c)/(len(ref)+len(c))) * ks.statistic)))
    print(name, "wass", repr(stats.wasserstein_distance(ref, c) / np.std(ref)))
    edges = np.quantile(ref, [i/10 for i in range(1, 10)])
    print(name, "edges", arr(edges))
    def shares(v):
        idx = np.searchsorted(edges, v, side="right")
        cnt = np.bincount(idx, minlength=10)
        return cnt / cnt.sum()
    r, q = shares(ref), shares(c)
    r2 = np.where(r == 0, 1e-4, r); q2 = np.where(q == 0, 1e-4, q)
    print(name, "psi", repr(float(np.sum((q2 - r2) * np.log(q2 / r2)))))
    print(name, "js", repr(float(distance.jensenshannon(r, q))))
# categorical
rc = {"a": 50, "b": 30, "c": 20}
cc = {"a": 30, "b": 30, "c": 25, "d": 15}
cats = sorted(set(rc) | set(cc))
r = np.array([rc.get(k, 0) for k in cats], float); c = np.array([cc.get(k, 0) for k in cats], float)
rs = r / r.sum()
exp = np.maximum(rs, 1e-4); exp = exp / exp.sum() * c.sum()
chi = stats.chisquare(c, exp)
print("chi", repr(chi.statistic), repr(chi.pvalue))
print("js_cat", repr(float(distance.jensenshannon(rs, c / c.sum()))))
print("linf", repr(float(np.max(np.abs(rs - c / c.sum())))))
print("gammaincc", repr(special.gammaincc(2.5, 3.7)), repr(special.gammaincc(0.5, 0.2)), repr(special.gammaincc(10, 30)))
print("kolm", repr(special.kolmogorov(0.5)), repr(special.kolmogorov(1.0)), repr(special.kolmogorov(2.0)))
cc2 = {"a": 45, "b": 35, "c": 30}
c2 = np.array([cc2.get(k, 0) for k in ["a", "b", "c"]], float)
r3 = np.array([50, 30, 20], float); rs3 = r3 / r3.sum()
chi2 = stats.chisquare(c2, rs3 * c2.sum())
print("chi2", repr(chi2.statistic), repr(chi2.pvalue))
print("psi_cat", repr(float(np.sum((c2/c2.sum() - rs3) * np.log((c2/c2.sum()) / rs3)))))

# Second part: multivariate drift (src/ml/multivariate_drift_test.cc): scikit-learn's
# StandardScaler + PCA(n_components=0.65) reconstruction errors on fixed rows.
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler
rng = np.random.default_rng(11)
n, d = 200, 4
z = rng.normal(size=(n, 2))
ref = np.column_stack([z[:, 0], z[:, 0] * 0.8 + rng.normal(scale=0.3, size=n), z[:, 1], z[:, 1] * -0.5 + rng.normal(scale=0.4, size=n)])
ref = np.round(ref, 3)
# current: the same marginals but the correlation between columns 0 and 1 broken
z2 = rng.normal(size=(100, 2))
cur = np.column_stack([z2[:, 0], rng.normal(scale=np.sqrt(0.64 + 0.09), size=100), z2[:, 1], z2[:, 1] * -0.5 + rng.normal(scale=0.4, size=100)])
cur = np.round(cur, 3)
sc = StandardScaler().fit(ref)
pca = PCA(n_components=0.65, svd_solver="full").fit(sc.transform(ref))
def err(x):
    xs = sc.transform(x)
    rec = pca.inverse_transform(pca.transform(xs))
    return float(np.mean(np.linalg.norm(xs - rec, axis=1)))
print("k", pca.n_components_)
print("evr", repr(float(np.sum(pca.explained_variance_ratio_))))
print("ref_err", repr(err(ref)))
print("cur_err", repr(err(cur)))
chunks = [err(ref[i:i + 50]) for i in range(0, n, 50)]
print("chunk_mean", repr(float(np.mean(chunks))), "chunk_std", repr(float(np.std(chunks))))
def arr(a): return "{" + ", ".join("{" + ", ".join(repr(float(v)) for v in row) + "}" for row in a) + "}"
print("const std::vector<std::vector<double>> kPcaRef = " + arr(ref) + ";\nconst std::vector<std::vector<double>> kPcaCur = " + arr(cur) + ";\n")
