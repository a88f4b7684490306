"""The serving benchmark's peer (issue #6): FastAPI + uvicorn + python-xgboost serving the
same XGBoost model with the same request and answer shape as Kade's predict route
({"instances": [{...}]} -> predictions and probabilities). Run by bench/serving_bench.sh:
  MODEL=model.json /usr/bin/python3 -m uvicorn --workers N --port P peer_fastapi:app
"""
import os

import numpy as np
import xgboost
from fastapi import FastAPI, HTTPException, Request

booster = xgboost.Booster()
booster.load_model(os.environ["MODEL"])
booster.set_param({"nthread": 1})
FEATURES = booster.feature_names
app = FastAPI()


@app.post("/predict")
async def predict(request: Request):
    body = await request.json()
    rows = body.get("instances")
    if not isinstance(rows, list) or not rows:
        raise HTTPException(400, "instances must be a non-empty list")
    try:
        x = np.array([[float(r[f]) for f in FEATURES] for r in rows], dtype=np.float32)
    except (KeyError, TypeError, ValueError) as e:
        raise HTTPException(400, f"bad row: {e}")
    p = booster.inplace_predict(x)
    return {"predictions": ["1" if v >= 0.5 else "0" for v in p],
            "probabilities": [[1 - float(v), float(v)] for v in p]}
