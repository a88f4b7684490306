"""The batch benchmark's peer (issue #6): what a pandas + python-xgboost batch scoring script
does: read the CSV, predict with the model, write the input columns plus the prediction and
the probability as CSV. Prints the seconds of each step.
Usage: peer_batch.py MODEL IN.csv OUT.csv"""
import sys
import time

import pandas as pd
import xgboost

model, src, dst = sys.argv[1:4]
t0 = time.time()
booster = xgboost.Booster()
booster.load_model(model)
df = pd.read_csv(src)
t1 = time.time()
p = booster.inplace_predict(df[booster.feature_names])
df["prediction"] = (p >= 0.5).astype(int).astype(str)
df["probability"] = p
t2 = time.time()
df.to_csv(dst, index=False)
t3 = time.time()
print(f"read {t1 - t0:.2f} predict {t2 - t1:.2f} write {t3 - t2:.2f} total {t3 - t0:.2f}")
