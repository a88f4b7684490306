"""The serving benchmark's model (issue #6): 100 trees of depth 6 on 50 numeric features,
binary:logistic, trained by Debian's python3-xgboost on synthetic data with a fixed seed.
Writes the model (JSON), Kade's signature for it, and one request body of one row.
Usage: gen_serving_model.py OUT_DIR"""
import json
import os
import sys

import numpy as np
import xgboost

out = sys.argv[1]
rng = np.random.default_rng(20261122)
n, d = 20000, 50
x = rng.normal(size=(n, d)).astype(np.float32)
y = (x[:, :10].sum(axis=1) + x[:, 0] * x[:, 1] + rng.normal(size=n) > 0).astype(int)
names = [f"f{i}" for i in range(d)]
dm = xgboost.DMatrix(x, label=y, feature_names=names)
b = xgboost.train({"objective": "binary:logistic", "max_depth": 6, "tree_method": "hist",
                   "seed": 1, "nthread": 2}, dm, 100)
b.save_model(os.path.join(out, "model.json"))
with open(os.path.join(out, "signature.json"), "w") as f:
    json.dump({"features": [{"name": n_, "type": "numeric"} for n_ in names],
               "classes": ["0", "1"]}, f)
row = {n_: round(float(v), 4) for n_, v in zip(names, rng.normal(size=d))}
with open(os.path.join(out, "request.json"), "w") as f:
    json.dump({"instances": [row]}, f)
