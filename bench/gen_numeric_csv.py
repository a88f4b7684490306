"""Writes the ingest benchmark's input: ROWS x COLS numeric CSV, fixed seed (numpy)."""
import sys

import numpy as np

rows, cols, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = np.random.default_rng(20261122)
header = ",".join(f"f{i}" for i in range(cols))
with open(path, "w") as f:
    f.write(header + "\n")
    chunk = 50000
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        block = rng.normal(size=(n, cols)) * rng.uniform(1, 100, size=cols)
        np.savetxt(f, block, delimiter=",", fmt="%.6f")
