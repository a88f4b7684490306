// Numbered schema migrations. Each entry moves the schema from version N-1 to N and runs
// in one transaction together with the PRAGMA user_version bump. Never edit a released
// migration: add a new one.
#include "store/migrations.h"

namespace kade {

const std::vector<Migration>& Migrations() {
  static const auto* kMigrations = new std::vector<Migration>{
      {1, "foundation: users, tokens, projects, memberships, audit log, artifacts", R"sql(
CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL DEFAULT '',
  email TEXT NOT NULL DEFAULT '',
  is_admin INTEGER NOT NULL DEFAULT 0,
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
CREATE TABLE tokens (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER,
  last_used_at INTEGER
);
CREATE INDEX tokens_user ON tokens(user_id);
CREATE TABLE projects (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL DEFAULT ''
);
CREATE TABLE memberships (
  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role INTEGER NOT NULL CHECK (role BETWEEN 1 AND 4),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (project_id, user_id)
) WITHOUT ROWID;
CREATE INDEX memberships_user ON memberships(user_id);
CREATE TABLE audit_log (
  seq INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  project TEXT NOT NULL DEFAULT '',
  request_id TEXT NOT NULL DEFAULT '',
  outcome TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT '{}',
  remote TEXT NOT NULL DEFAULT '',
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX audit_project ON audit_log(project, seq);
CREATE TABLE audit_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TABLE artifacts (
  id INTEGER PRIMARY KEY,
  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  content_type TEXT NOT NULL DEFAULT 'application/octet-stream',
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL DEFAULT '',
  UNIQUE (project_id, name)
);
CREATE INDEX artifacts_sha ON artifacts(sha256);
-- Every table that points at a blob adds itself to this view in its migration; kade gc
-- keeps exactly the blobs listed here.
CREATE VIEW blob_refs AS SELECT sha256 FROM artifacts;
)sql"},
      {2, "dataset catalog: datasets, versions, search index", R"sql(
CREATE TABLE datasets (
  id INTEGER PRIMARY KEY,
  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  owner TEXT NOT NULL DEFAULT '',
  tags TEXT NOT NULL DEFAULT '[]',
  roles TEXT NOT NULL DEFAULT '{}',
  pinned_schema TEXT,
  checks TEXT NOT NULL DEFAULT '[]',
  options TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (project_id, name)
);
CREATE TABLE dataset_versions (
  id INTEGER PRIMARY KEY,
  dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  format TEXT NOT NULL,
  compression TEXT NOT NULL,
  row_count INTEGER NOT NULL,
  column_count INTEGER NOT NULL,
  schema TEXT NOT NULL,
  profile TEXT NOT NULL,
  quality TEXT NOT NULL DEFAULT '{}',
  quality_status TEXT NOT NULL DEFAULT 'unchecked',
  source TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL DEFAULT '',
  UNIQUE (dataset_id, version),
  UNIQUE (dataset_id, sha256)
);
-- What used a version (training runs, batch jobs, ...), for lineage.
CREATE TABLE dataset_usage (
  id INTEGER PRIMARY KEY,
  version_id INTEGER NOT NULL REFERENCES dataset_versions(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  ref TEXT NOT NULL,
  forced INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX dataset_usage_version ON dataset_usage(version_id);
CREATE VIRTUAL TABLE dataset_search USING fts5(name, description, tags, columns,
  dataset_id UNINDEXED, tokenize = 'unicode61 remove_diacritics 2');
DROP VIEW blob_refs;
CREATE VIEW blob_refs AS SELECT sha256 FROM artifacts UNION ALL SELECT sha256 FROM dataset_versions;
)sql"},
      {3, "experiment tracking: experiments, runs, params, metrics, tags, inputs", R"sql(
CREATE TABLE experiments (
  id INTEGER PRIMARY KEY,
  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  lifecycle_stage TEXT NOT NULL DEFAULT 'active',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (project_id, name)
);
CREATE TABLE experiment_tags (
  experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (experiment_id, key)
) WITHOUT ROWID;
CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  uuid TEXT NOT NULL UNIQUE,
  experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
  name TEXT NOT NULL DEFAULT '',
  user TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'RUNNING',
  start_time INTEGER NOT NULL,
  end_time INTEGER,
  lifecycle_stage TEXT NOT NULL DEFAULT 'active'
);
CREATE INDEX runs_experiment ON runs(experiment_id, start_time DESC);
CREATE TABLE run_params (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE TABLE run_tags (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
-- Full history; value is NULL for NaN (kind tells which non-finite value it was). Keyed
-- like MLflow's metrics table (an identical point logged twice is one point); clustered on
-- the key, so history reads are one range scan and no separate index is written.
CREATE TABLE run_metrics (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  step INTEGER NOT NULL,
  timestamp INTEGER NOT NULL,
  value REAL,
  kind INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, key, step, timestamp, value, kind)
) WITHOUT ROWID;
-- The newest value per key (largest step, then timestamp), kept for search and listing.
CREATE TABLE run_latest_metrics (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  step INTEGER NOT NULL,
  timestamp INTEGER NOT NULL,
  value REAL,
  kind INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE TABLE run_inputs (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  digest TEXT NOT NULL,
  source TEXT NOT NULL DEFAULT '',
  role TEXT NOT NULL DEFAULT '',
  detail TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (run_id, name, digest)
) WITHOUT ROWID;
)sql"},
      {4, "metric history as an append-only log of logged batches", R"sql(
-- One row per logged batch: its points in a compact binary form (see sqlite_tracking.cc).
-- Rows only ever append at the end of the table, so a batch of 1,000 points dirties a few
-- pages instead of one page per key (the clustered run_metrics layout of version 3 wrote a
-- page per key and step). run_metrics keeps what was logged before this version; history
-- reads take both.
CREATE TABLE run_metric_log (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  points INTEGER NOT NULL,
  data BLOB NOT NULL
);
CREATE INDEX run_metric_log_run ON run_metric_log(run_id, id);
)sql"},
      {5, "jobs: a persistent queue with leases, and job logs", R"sql(
CREATE TABLE jobs (
  id INTEGER PRIMARY KEY,
  uuid TEXT NOT NULL UNIQUE,
  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  spec TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'queued',
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL DEFAULT 3,
  lease_owner TEXT NOT NULL DEFAULT '',
  lease_expires_at INTEGER NOT NULL DEFAULT 0,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  run_uuid TEXT NOT NULL DEFAULT '',
  error TEXT NOT NULL DEFAULT '',
  result TEXT NOT NULL DEFAULT '{}',
  created_by TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER
);
CREATE INDEX jobs_queue ON jobs(status, id);
CREATE INDEX jobs_project ON jobs(project_id, id DESC);
CREATE TABLE job_logs (
  job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  line TEXT NOT NULL,
  PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;
)sql"},
      {6, "model registry, endpoints, prediction log and feedback", R"sql(
CREATE TABLE registered_models (
  id INTEGER PRIMARY KEY,
  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  tags TEXT NOT NULL DEFAULT '{}',
  gates TEXT NOT NULL DEFAULT '{}',
  created_by TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (project_id, name)
);
CREATE TABLE model_versions (
  id INTEGER PRIMARY KEY,
  model_id INTEGER NOT NULL REFERENCES registered_models(id) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  source TEXT NOT NULL,
  run_uuid TEXT NOT NULL DEFAULT '',
  model_sha256 TEXT NOT NULL,
  manifest TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  tags TEXT NOT NULL DEFAULT '{}',
  status TEXT NOT NULL DEFAULT 'ready',
  gate_report TEXT NOT NULL DEFAULT '{}',
  created_by TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  UNIQUE (model_id, version)
);
CREATE INDEX model_versions_run ON model_versions(run_uuid);
CREATE TABLE model_aliases (
  model_id INTEGER NOT NULL REFERENCES registered_models(id) ON DELETE CASCADE,
  alias TEXT NOT NULL,
  version INTEGER NOT NULL,
  updated_by TEXT NOT NULL DEFAULT '',
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (model_id, alias)
) WITHOUT ROWID;
CREATE TABLE model_alias_history (
  id INTEGER PRIMARY KEY,
  model_id INTEGER NOT NULL REFERENCES registered_models(id) ON DELETE CASCADE,
  alias TEXT NOT NULL,
  version INTEGER,
  previous INTEGER,
  actor TEXT NOT NULL DEFAULT '',
  ts INTEGER NOT NULL
);
CREATE INDEX model_alias_history_alias ON model_alias_history(model_id, alias, id);
CREATE TABLE endpoints (
  id INTEGER PRIMARY KEY,
  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  model_id INTEGER NOT NULL REFERENCES registered_models(id),
  config TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  created_by TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (project_id, name)
);
CREATE TABLE predictions (
  id INTEGER PRIMARY KEY,
  endpoint_id INTEGER NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
  request_id TEXT NOT NULL,
  ts INTEGER NOT NULL,
  version INTEGER NOT NULL,
  shadow INTEGER NOT NULL DEFAULT 0,
  latency_us INTEGER NOT NULL,
  features TEXT NOT NULL,
  outputs TEXT NOT NULL
);
CREATE INDEX predictions_request ON predictions(endpoint_id, request_id);
CREATE INDEX predictions_time ON predictions(endpoint_id, ts);
CREATE TABLE feedback (
  endpoint_id INTEGER NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
  request_id TEXT NOT NULL,
  ts INTEGER NOT NULL,
  label TEXT NOT NULL,
  actor TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (endpoint_id, request_id)
) WITHOUT ROWID;
)sql"},
      {7, "job schedules (cron)", R"sql(
CREATE TABLE job_schedules (
  id INTEGER PRIMARY KEY,
  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  cron TEXT NOT NULL,
  timezone TEXT NOT NULL,
  spec TEXT NOT NULL,
  enabled INTEGER NOT NULL DEFAULT 1,
  next_run_at INTEGER NOT NULL,
  last_job TEXT NOT NULL DEFAULT '',
  created_by TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (project_id, name)
);
CREATE INDEX job_schedules_due ON job_schedules(enabled, next_run_at);
)sql"},
      {8, "jobs: a retried job waits until not_before (backoff)", R"sql(
ALTER TABLE jobs ADD COLUMN not_before INTEGER NOT NULL DEFAULT 0;
)sql"},
      {9, "model versions: the source a client gave (MLflow), versions deleted but numbered",
       R"sql(
ALTER TABLE model_versions ADD COLUMN source_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE model_versions ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
UPDATE model_versions SET updated_at = created_at;
CREATE INDEX model_versions_model ON model_versions(model_id, status);
)sql"},
      {10,
       "a user's default project (MLflow's root URI); experiment Default in every project; "
       "a run's user as the client gave it, and who created it; a version's model file path "
       "as a column (listings read no manifests)",
       R"sql(
ALTER TABLE users ADD COLUMN default_project TEXT NOT NULL DEFAULT '';
INSERT INTO experiments (project_id, name, lifecycle_stage, created_at, updated_at)
  SELECT p.id, 'Default', 'active', p.created_at, p.created_at FROM projects p
  WHERE NOT EXISTS (SELECT 1 FROM experiments e WHERE e.project_id = p.id AND e.name = 'Default');
ALTER TABLE runs ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
UPDATE runs SET created_by = user;
ALTER TABLE model_versions ADD COLUMN model_path TEXT NOT NULL DEFAULT '';
UPDATE model_versions SET model_path = coalesce(json_extract(manifest, '$.model_path'), '');
-- Listings read versions from this index alone: a row's columns after the manifest sit
-- behind its overflow pages.
CREATE INDEX model_versions_brief ON model_versions(model_id, version, status, source, run_uuid,
  model_sha256, created_by, created_at, updated_at, source_uri, model_path, tags, description);
)sql"},
      {11, "monitoring: a monitor per endpoint, summary buckets of what it served, KPI values",
       R"sql(
CREATE TABLE monitors (
  endpoint_id INTEGER PRIMARY KEY REFERENCES endpoints(id) ON DELETE CASCADE,
  config TEXT NOT NULL,
  updated_by TEXT NOT NULL DEFAULT '',
  updated_at INTEGER NOT NULL
);
CREATE TABLE monitor_buckets (
  endpoint_id INTEGER NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  width_ms INTEGER NOT NULL,
  start_ms INTEGER NOT NULL,
  summary BLOB NOT NULL,
  PRIMARY KEY (endpoint_id, version, width_ms, start_ms)
) WITHOUT ROWID;
CREATE INDEX monitor_buckets_time ON monitor_buckets(endpoint_id, start_ms);
CREATE INDEX monitor_buckets_age ON monitor_buckets(width_ms, start_ms);
CREATE TABLE monitor_kpis (
  id INTEGER PRIMARY KEY,
  endpoint_id INTEGER NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  ts INTEGER NOT NULL,
  value REAL NOT NULL,
  actor TEXT NOT NULL DEFAULT ''
);
CREATE INDEX monitor_kpis_time ON monitor_kpis(endpoint_id, ts);
)sql"},
      {12, "alerts: rules on monitored figures with their state, history, channels, deliveries",
       R"sql(
CREATE TABLE alert_channels (
  id INTEGER PRIMARY KEY,
  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  url TEXT NOT NULL,
  secret TEXT NOT NULL DEFAULT '',
  created_by TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  UNIQUE (project_id, name)
);
CREATE TABLE alert_rules (
  id INTEGER PRIMARY KEY,
  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  spec TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'inactive',
  state_since INTEGER NOT NULL DEFAULT 0,
  active_since INTEGER NOT NULL DEFAULT 0,
  value REAL,
  evaluated_at INTEGER NOT NULL DEFAULT 0,
  silenced_until INTEGER NOT NULL DEFAULT 0,
  acknowledged_by TEXT NOT NULL DEFAULT '',
  created_by TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (project_id, name)
);
CREATE TABLE alert_events (
  id INTEGER PRIMARY KEY,
  rule_id INTEGER NOT NULL REFERENCES alert_rules(id) ON DELETE CASCADE,
  ts INTEGER NOT NULL,
  state TEXT NOT NULL,
  value REAL,
  message TEXT NOT NULL DEFAULT ''
);
CREATE INDEX alert_events_rule ON alert_events(rule_id, id);
CREATE TABLE alert_deliveries (
  id INTEGER PRIMARY KEY,
  channel_id INTEGER NOT NULL REFERENCES alert_channels(id) ON DELETE CASCADE,
  rule_id INTEGER NOT NULL REFERENCES alert_rules(id) ON DELETE CASCADE,
  body TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  delivered_at INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
CREATE INDEX alert_deliveries_due ON alert_deliveries(delivered_at, next_at);
)sql"},
  };
  return *kMigrations;
}

}  // namespace kade
