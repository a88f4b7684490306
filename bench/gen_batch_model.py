"""The batch benchmark's model (issue #6): 100 trees of depth 6 on the 50 columns of the
ingest benchmark's CSV (f0..f49), binary:logistic, trained on its first 20,000 rows with a
synthetic label (fixed seed). Usage: gen_batch_model.py IN.csv MODEL.json"""
import sys

import numpy as np
import pandas as pd
import xgboost

df = pd.read_csv(sys.argv[1], nrows=20000)
rng = np.random.default_rng(7)
z = (df[["f0", "f1", "f2"]].to_numpy() / df[["f0", "f1", "f2"]].std().to_numpy()).sum(axis=1)
y = (z + rng.normal(size=len(df)) > 0).astype(int)
b = xgboost.train({"objective": "binary:logistic", "max_depth": 6, "tree_method": "hist",
                   "seed": 1}, xgboost.DMatrix(df, label=y), 100)
b.save_model(sys.argv[2])
