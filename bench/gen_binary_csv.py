"""Writes the training benchmark's input: ROWS x COLS numeric features and a binary label
`y` drawn from a logistic model of them, fixed seed (numpy)."""
import sys

import numpy as np

rows, cols, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = np.random.default_rng(20261122)
w = rng.normal(size=cols) / np.sqrt(cols)
with open(path, "w") as f:
    f.write(",".join(f"f{i}" for i in range(cols)) + ",y\n")
    chunk = 50000
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        x = rng.normal(size=(n, cols))
        p = 1 / (1 + np.exp(-(x @ w + 0.5 * np.sin(3 * x[:, 0]) * x[:, 1])))
        y = (rng.uniform(size=n) < p).astype(int)
        np.savetxt(f, np.column_stack([x, y]), delimiter=",", fmt=["%.5f"] * cols + ["%d"])
