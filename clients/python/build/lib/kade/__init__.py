"""Kade's Python client: experiment tracking from training code, standard library only.

    import kade
    kade.init("http://127.0.0.1:8080", token="kade_…", project="demo", experiment="churn-xgb")
    with kade.start_run(run_name="baseline"):
        kade.log_params({"max_depth": 6, "eta": 0.1})
        for step in range(100):
            kade.log_metric("train/loss", loss, step=step)   # batched, sent in the background
        kade.log_input("churn@3", role="train")
        kade.log_artifact("model.json")

Errors from the server are raised as kade.KadeError with the server's message.
"""
from .client import (KadeError, Run, active_run, end_run, init, log_artifact, log_input, log_metric, log_metrics,
                     log_param, log_params, set_tag, set_tags, start_run)

__all__ = ["KadeError", "Run", "active_run", "end_run", "init", "log_artifact", "log_input", "log_metric",
           "log_metrics", "log_param", "log_params", "set_tag", "set_tags", "start_run"]
__version__ = "0.1.0"
