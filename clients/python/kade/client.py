"""Implementation of the Kade client (see the package docstring)."""
import atexit
import json
import math
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

MAX_BATCH_METRICS = 1000
FLUSH_INTERVAL_S = 1.0


class KadeError(Exception):
    """A request Kade refused or could not serve; `status` and `code` say how."""

    def __init__(self, message, status=None, code=None):
        super().__init__(message)
        self.status = status
        self.code = code


class _Http:
    def __init__(self, url, token, timeout=60):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(self, method, path, body=None, raw=None, content_type=None):
        headers = {"Authorization": "Bearer " + self.token, "User-Agent": "kade-python"}
        data = raw
        if body is not None:
            data = json.dumps(body, allow_nan=False).encode()
            headers["Content-Type"] = "application/json"
        elif content_type:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                text = r.read()
                return json.loads(text) if text else {}
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf-8", "replace")
            try:
                j = json.loads(text)
                err = j.get("error", j)
                message = err.get("message", text)
                code = err.get("code") or err.get("error_code")
            except ValueError:
                message, code = text or e.reason, None
            raise KadeError(message, e.code, code) from None
        except urllib.error.URLError as e:
            raise KadeError(f"cannot reach Kade at {self.url}: {e.reason}") from None


def _metric_value(v):
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def _git_info(cwd):
    """Commit, branch and (when the tree has changes) the diff of the code being run."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return None
        branch = git("rev-parse", "--abbrev-ref", "HEAD").stdout.strip()
        dirty = bool(git("status", "--porcelain").stdout.strip())
        diff = git("diff", "HEAD").stdout if dirty else ""
        return {"commit": head.stdout.strip(), "branch": branch, "dirty": dirty, "diff": diff}
    except (OSError, subprocess.SubprocessError):
        return None


class Run:
    """A run being recorded. Use kade.start_run(); it works as a context manager."""

    def __init__(self, client, run_id, name):
        self._client = client
        self.run_id = run_id
        self.name = name
        self._lock = threading.Lock()
        self._metrics = []
        self._error = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._flusher, name="kade-flush", daemon=True)
        self._thread.start()

    # Metrics are queued and sent in batches by a background thread.
    def log_metric(self, key, value, step=0, timestamp=None):
        self._raise_pending()
        point = {"key": key, "value": _metric_value(value), "step": int(step),
                 "timestamp": int(timestamp if timestamp is not None else time.time() * 1000)}
        with self._lock:
            self._metrics.append(point)
            full = len(self._metrics) >= MAX_BATCH_METRICS
        if full:
            self.flush()

    def log_metrics(self, metrics, step=0, timestamp=None):
        for k, v in metrics.items():
            self.log_metric(k, v, step=step, timestamp=timestamp)

    def log_params(self, params):
        self.flush()
        items = [{"key": k, "value": str(v)} for k, v in params.items()]
        for i in range(0, len(items), 100):
            self._client._mlflow("POST", "/runs/log-batch", {"run_id": self.run_id, "params": items[i:i + 100]})

    def set_tags(self, tags):
        items = [{"key": k, "value": str(v)} for k, v in tags.items()]
        for i in range(0, len(items), 100):
            self._client._mlflow("POST", "/runs/log-batch", {"run_id": self.run_id, "tags": items[i:i + 100]})

    def log_input(self, dataset_ref, role="train", force=False):
        """Records that this run used a dataset version of the catalog ("churn@3")."""
        name, _, version = dataset_ref.partition("@")
        version = version or "latest"
        c = self._client
        base = f"/api/v1/projects/{urllib.parse.quote(c.project)}/datasets/{urllib.parse.quote(name)}"
        v = c.http.request("GET", f"{base}/versions/{urllib.parse.quote(version)}")
        c.http.request("POST", f"{base}/versions/{v['version']}/usages",
                       {"kind": "run", "ref": self.run_id, "force": bool(force)})
        c._mlflow("POST", "/runs/log-inputs", {"run_id": self.run_id, "datasets": [{
            "dataset": {"name": name, "digest": v["sha256"], "source_type": "kade",
                        "source": f"kade://projects/{c.project}/datasets/{name}@{v['version']}",
                        "version": v["version"], "rows": v["rows"]},
            "tags": [{"key": "mlflow.data.context", "value": role}]}]})

    def log_artifact(self, path, name=None):
        """Uploads a file to the run's artifacts (streamed from disk)."""
        c = self._client
        name = name or os.path.basename(path)
        target = f"/api/v1/projects/{urllib.parse.quote(c.project)}/artifacts/runs/{self.run_id}/artifacts/" + \
                 urllib.parse.quote(name)
        with open(path, "rb") as f:
            data = f.read()
        return c.http.request("PUT", target, raw=data, content_type="application/octet-stream")

    def flush(self):
        with self._lock:
            batch, self._metrics = self._metrics, []
        for i in range(0, len(batch), MAX_BATCH_METRICS):
            self._client._mlflow("POST", "/runs/log-batch",
                                 {"run_id": self.run_id, "metrics": batch[i:i + MAX_BATCH_METRICS]})

    def end(self, status="FINISHED"):
        self._stop.set()
        self._thread.join(timeout=30)
        self.flush()
        self._raise_pending()
        self._client._mlflow("POST", "/runs/update", {"run_id": self.run_id, "status": status,
                                                      "end_time": int(time.time() * 1000)})

    def _flusher(self):
        while not self._stop.wait(FLUSH_INTERVAL_S):
            try:
                self.flush()
            except KadeError as e:  # raised to the caller on its next call
                self._error = e

    def _raise_pending(self):
        if self._error is not None:
            e, self._error = self._error, None
            raise e

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        _state.run = None
        self.end("FAILED" if exc_type else "FINISHED")
        return False


class _Client:
    def __init__(self, url, token, project, experiment):
        self.http = _Http(url, token)
        self.project = project
        self.experiment = experiment
        self._experiment_id = None

    def _mlflow(self, method, path, body=None):
        return self.http.request(method, f"/projects/{urllib.parse.quote(self.project)}/api/2.0/mlflow{path}", body)

    def experiment_id(self):
        if self._experiment_id is None:
            q = urllib.parse.urlencode({"experiment_name": self.experiment})
            try:
                e = self._mlflow("GET", f"/experiments/get-by-name?{q}")["experiment"]
                self._experiment_id = e["experiment_id"]
            except KadeError as err:
                if err.status != 404:
                    raise
                self._experiment_id = self._mlflow("POST", "/experiments/create", {"name": self.experiment})[
                    "experiment_id"]
        return self._experiment_id


class _State:
    client = None
    run = None


_state = _State()


def init(url=None, token=None, project=None, experiment="default"):
    """Where to log: URL, token and project default to KADE_URL, KADE_TOKEN, KADE_PROJECT."""
    url = url or os.environ.get("KADE_URL", "http://127.0.0.1:8080")
    token = token or os.environ.get("KADE_TOKEN")
    project = project or os.environ.get("KADE_PROJECT")
    if not token:
        raise KadeError("no API token: pass token= or set KADE_TOKEN")
    if not project:
        raise KadeError("no project: pass project= or set KADE_PROJECT")
    _state.client = _Client(url, token, project, experiment)
    return _state.client


def start_run(run_name=None, tags=None, capture_git=True):
    """Starts a run in the current experiment; records the git commit and command line."""
    if _state.client is None:
        init()
    if _state.run is not None:
        raise KadeError(f"run {_state.run.run_id} is still active; end it first")
    c = _state.client
    all_tags = [{"key": k, "value": str(v)} for k, v in (tags or {}).items()]
    all_tags.append({"key": "mlflow.source.name", "value": os.path.basename(sys.argv[0] or "python")})
    all_tags.append({"key": "kade.command_line", "value": " ".join(sys.argv)[:8000]})
    git = _git_info(os.getcwd()) if capture_git else None
    if git:
        all_tags += [{"key": "mlflow.source.git.commit", "value": git["commit"]},
                     {"key": "mlflow.source.git.branch", "value": git["branch"]},
                     {"key": "kade.git.dirty", "value": "true" if git["dirty"] else "false"}]
    body = {"experiment_id": c.experiment_id(), "start_time": int(time.time() * 1000), "tags": all_tags}
    if run_name:
        body["run_name"] = run_name
    info = c._mlflow("POST", "/runs/create", body)["run"]["info"]
    run = Run(c, info["run_id"], info["run_name"])
    _state.run = run
    if git and git["dirty"] and git["diff"]:
        # The uncommitted changes, so the run can be reproduced exactly.
        target = f"/api/v1/projects/{urllib.parse.quote(c.project)}/artifacts/runs/{run.run_id}/artifacts/code.diff"
        c.http.request("PUT", target, raw=git["diff"].encode(), content_type="text/x-diff")
    return run


def active_run():
    return _state.run


def _run():
    if _state.run is None:
        raise KadeError("no active run: call kade.start_run() first")
    return _state.run


def end_run(status="FINISHED"):
    run, _state.run = _run(), None
    run.end(status)


def log_param(key, value):
    _run().log_params({key: value})


def log_params(params):
    _run().log_params(params)


def log_metric(key, value, step=0, timestamp=None):
    _run().log_metric(key, value, step=step, timestamp=timestamp)


def log_metrics(metrics, step=0, timestamp=None):
    _run().log_metrics(metrics, step=step, timestamp=timestamp)


def set_tag(key, value):
    _run().set_tags({key: value})


def set_tags(tags):
    _run().set_tags(tags)


def log_input(dataset_ref, role="train", force=False):
    _run().log_input(dataset_ref, role=role, force=force)


def log_artifact(path, name=None):
    return _run().log_artifact(path, name=name)


@atexit.register
def _finish_on_exit():
    # A script that ends without end_run(): send what is queued and finish the run.
    if _state.run is not None:
        try:
            end_run()
        except KadeError:
            pass
