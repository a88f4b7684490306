// Metadata store: the records Kade keeps and the repository interfaces through which
// platform services read and change them. Services never see SQL: a Transaction hands
// out one repository per kind of record, and MetadataStore::Write runs a function inside
// one atomic transaction (all of its changes commit, or none). The SQLite implementation
// is in sqlite_store.cc; a PostgreSQL implementation plugs in behind the same interfaces.
//
// Thread safety: MetadataStore is thread-safe. A Transaction and the repositories it hands
// out belong to the calling thread for the duration of the Read/Write call only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kade {

// Project roles, ordered: a higher role includes every right of the lower ones.
enum class Role : int { kViewer = 1, kEditor = 2, kMaintainer = 3, kOwner = 4 };
const char* RoleName(Role role);
std::optional<Role> ParseRole(absl::string_view name);

struct User {
  int64_t id = 0;
  std::string name;
  std::string display_name;
  std::string email;
  bool is_admin = false;
  bool disabled = false;
  int64_t created_at = 0;
  std::string default_project;  // where plain MLflow names live on the root URI ("": personal)
};

struct Token {
  int64_t id = 0;
  int64_t user_id = 0;
  std::string user_name;
  std::string name;
  std::string token_hash;  // SHA-256 hex of the secret; the secret itself is never stored
  std::string prefix;      // first characters, shown in listings to tell tokens apart
  int64_t created_at = 0;
  std::optional<int64_t> expires_at;
  std::optional<int64_t> revoked_at;
  std::optional<int64_t> last_used_at;
};

struct Project {
  int64_t id = 0;
  std::string name;
  std::string description;
  int64_t created_at = 0;
  std::string created_by;
};

struct Membership {
  int64_t project_id = 0;
  int64_t user_id = 0;
  std::string user_name;
  std::string project_name;
  Role role = Role::kViewer;
  int64_t created_at = 0;
};

struct AuditEntry {
  int64_t seq = 0;
  int64_t ts = 0;
  std::string actor;
  std::string action;
  std::string target;
  std::string project;
  std::string request_id;
  std::string outcome;  // "ok" or an error code such as "PERMISSION_DENIED"
  std::string detail;   // JSON object text
  std::string remote;
  std::string prev_hash;
  std::string hash;
};

struct AuditQuery {
  std::optional<std::string> project;
  std::optional<std::string> actor;
  std::optional<std::string> action;
  std::optional<int64_t> before_seq;  // paging: entries with seq < before_seq
  int limit = 100;
};

struct Artifact {
  int64_t id = 0;
  int64_t project_id = 0;
  std::string name;
  std::string sha256;
  int64_t size = 0;
  std::string content_type;
  int64_t created_at = 0;
  std::string created_by;
};

// A dataset in a project's catalog. JSON-valued fields are stored as JSON text.
struct Dataset {
  int64_t id = 0;
  int64_t project_id = 0;
  std::string name;
  std::string description;
  std::string owner;
  std::string tags = "[]";                   // JSON array of strings
  std::string roles = "{}";                  // JSON {target, id, timestamp, sensitive: [...]}
  std::optional<std::string> pinned_schema;  // JSON schema, when pinned
  std::string checks = "[]";                 // JSON array of expectations
  std::string options = "{}";                // JSON {delimiter, null_tokens, format}
  int64_t created_at = 0;
  int64_t updated_at = 0;
  // Filled by listings: newest version number (0 = none) and its row count.
  int64_t latest_version = 0;
  int64_t latest_rows = 0;
};

struct DatasetVersion {
  int64_t id = 0;
  int64_t dataset_id = 0;
  int64_t version = 0;
  std::string sha256;
  int64_t size = 0;
  std::string format;
  std::string compression;
  int64_t rows = 0;
  int64_t columns = 0;
  std::string schema;          // JSON
  std::string profile;         // JSON (may be empty when not loaded)
  std::string quality;         // JSON report
  std::string quality_status;  // passed | warning | failed | unchecked
  std::string source;          // JSON lineage
  int64_t created_at = 0;
  std::string created_by;
};

struct DatasetUsage {
  int64_t version_id = 0;
  std::string kind;  // "training-run", "batch-job", ...
  std::string ref;
  bool forced = false;
  int64_t created_at = 0;
  std::string created_by;
};

class DatasetRepository {
 public:
  virtual ~DatasetRepository() = default;
  virtual absl::StatusOr<Dataset> Create(const Dataset& d) = 0;
  virtual absl::Status Update(const Dataset& d) = 0;
  virtual absl::StatusOr<std::optional<Dataset>> Find(int64_t project_id,
                                                      absl::string_view name) = 0;
  virtual absl::StatusOr<std::vector<Dataset>> List(int64_t project_id) = 0;
  virtual absl::Status Delete(int64_t dataset_id) = 0;
  // Full-text search (FTS5 syntax) over name, description, tags and column names.
  virtual absl::StatusOr<std::vector<Dataset>> Search(int64_t project_id,
                                                      absl::string_view query) = 0;
  // Replaces the dataset's search document.
  virtual absl::Status Index(const Dataset& d, absl::string_view column_names) = 0;

  virtual absl::StatusOr<DatasetVersion> AddVersion(const DatasetVersion& v) = 0;
  virtual absl::StatusOr<int64_t> NextVersionNumber(int64_t dataset_id) = 0;
  // `with_profile` loads the (large) profile text as well.
  virtual absl::StatusOr<std::optional<DatasetVersion>> FindVersion(int64_t dataset_id,
                                                                    int64_t version,
                                                                    bool with_profile) = 0;
  virtual absl::StatusOr<std::optional<DatasetVersion>> FindVersionBySha(int64_t dataset_id,
                                                                         absl::string_view sha256,
                                                                         bool with_profile) = 0;
  virtual absl::StatusOr<std::vector<DatasetVersion>> ListVersions(int64_t dataset_id) = 0;
  virtual absl::Status AddUsage(const DatasetUsage& u) = 0;
  virtual absl::StatusOr<std::vector<DatasetUsage>> ListUsage(int64_t version_id) = 0;
};

// Experiment tracking records.
struct Experiment {
  int64_t id = 0;
  int64_t project_id = 0;
  std::string name;
  std::string lifecycle_stage = "active";  // active | deleted
  int64_t created_at = 0;
  int64_t updated_at = 0;
  std::vector<std::pair<std::string, std::string>> tags;
};

struct Run {
  int64_t id = 0;
  std::string uuid;
  int64_t experiment_id = 0;
  std::string name;
  std::string user;                // MLflow's user_id: as the client gave it, else the creator
  std::string status = "RUNNING";  // RUNNING | SCHEDULED | FINISHED | FAILED | KILLED
  int64_t start_time = 0;
  std::optional<int64_t> end_time;
  std::string lifecycle_stage = "active";
  std::string created_by;  // the authenticated user who created it
};

// kind: 0 finite, 1 NaN, 2 +Infinity, 3 -Infinity (SQLite cannot store NaN).
struct MetricPoint {
  std::string key;
  double value = 0;
  int kind = 0;
  int64_t timestamp = 0;
  int64_t step = 0;
};

struct RunInput {
  std::string name;
  std::string digest;
  std::string source;
  std::string role;
  std::string detail = "{}";
};

struct RunData {
  std::vector<std::pair<std::string, std::string>> params;
  std::vector<std::pair<std::string, std::string>> tags;
  std::vector<MetricPoint> metrics;  // latest per key
  std::vector<RunInput> inputs;
};

// One comparison of a run search: entity is metric, param, tag or attribute.
struct RunClause {
  std::string entity;
  std::string key;
  std::string op;  // =, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN
  std::vector<std::string> strings;
  double number = 0;
  bool numeric = false;
};

struct RunOrder {
  std::string entity;
  std::string key;
  bool ascending = false;
};

struct RunQuery {
  std::vector<int64_t> experiment_ids;
  std::vector<RunClause> clauses;
  std::vector<RunOrder> order_by;
  std::string view = "active";  // active | deleted | all
  int64_t limit = 1000;
  int64_t offset = 0;
};

class TrackingRepository {
 public:
  virtual ~TrackingRepository() = default;
  virtual absl::StatusOr<Experiment> CreateExperiment(const Experiment& e) = 0;
  virtual absl::StatusOr<std::optional<Experiment>> FindExperiment(int64_t id) = 0;
  virtual absl::StatusOr<std::optional<Experiment>> FindExperimentByName(
      int64_t project_id, absl::string_view name) = 0;
  // Experiments of the given projects, in the given lifecycle view, newest first.
  virtual absl::StatusOr<std::vector<Experiment>> ListExperiments(
      const std::vector<int64_t>& project_ids, absl::string_view view) = 0;
  virtual absl::Status UpdateExperiment(const Experiment& e) = 0;
  virtual absl::Status SetExperimentTag(int64_t experiment_id, absl::string_view key,
                                        absl::string_view value) = 0;

  virtual absl::StatusOr<Run> CreateRun(const Run& r) = 0;
  virtual absl::StatusOr<std::optional<Run>> FindRun(absl::string_view uuid) = 0;
  virtual absl::Status UpdateRun(const Run& r) = 0;
  // AlreadyExists when the key holds a different value (params are immutable).
  virtual absl::Status PutParam(int64_t run_id, absl::string_view key, absl::string_view value) = 0;
  virtual absl::Status PutTag(int64_t run_id, absl::string_view key, absl::string_view value) = 0;
  virtual absl::StatusOr<bool> DeleteTag(int64_t run_id, absl::string_view key) = 0;
  virtual absl::Status AddMetrics(int64_t run_id, const std::vector<MetricPoint>& points) = 0;
  virtual absl::Status AddInput(int64_t run_id, const RunInput& input) = 0;
  virtual absl::StatusOr<RunData> GetRunData(int64_t run_id) = 0;
  // The data of many runs at once (a search page), in the order of `run_ids`.
  virtual absl::StatusOr<std::vector<RunData>> GetRunDataBulk(
      const std::vector<int64_t>& run_ids) = 0;
  virtual absl::StatusOr<std::vector<MetricPoint>> MetricHistory(int64_t run_id,
                                                                 absl::string_view key) = 0;
  virtual absl::StatusOr<std::vector<Run>> SearchRuns(const RunQuery& q) = 0;
};

// A unit of background work (a training run, later batch scoring). Workers claim queued
// jobs with a lease they renew while working; a job whose lease ran out (its worker
// died) is queued again until it has used its attempts.
struct Job {
  int64_t id = 0;
  std::string uuid;
  int64_t project_id = 0;
  std::string kind;    // "train"
  std::string spec;    // JSON
  std::string status;  // queued | running | succeeded | failed | cancelled
  int64_t attempts = 0;
  int64_t max_attempts = 3;
  std::string lease_owner;
  int64_t lease_expires_at = 0;
  bool cancel_requested = false;
  std::string run_uuid;
  std::string error;
  std::string result = "{}";  // JSON summary
  std::string created_by;
  int64_t created_at = 0;
  std::optional<int64_t> started_at, finished_at;
};

// A job submitted again and again on a cron schedule.
struct JobSchedule {
  int64_t id = 0;
  int64_t project_id = 0;
  std::string name;
  std::string kind;  // "batch"
  std::string cron;
  std::string timezone;
  std::string spec;  // JSON: the job's spec
  bool enabled = true;
  int64_t next_run_at = 0;
  std::string last_job;
  std::string created_by;
  int64_t created_at = 0, updated_at = 0;
};

struct JobLogLine {
  int64_t seq = 0;
  int64_t ts = 0;
  std::string line;
};

class JobRepository {
 public:
  virtual ~JobRepository() = default;
  virtual absl::StatusOr<Job> Create(const Job& job) = 0;
  virtual absl::StatusOr<std::optional<Job>> Find(absl::string_view uuid) = 0;
  virtual absl::StatusOr<std::vector<Job>> List(int64_t project_id, int64_t limit) = 0;
  // Takes the oldest queued job: running, leased to `owner` until `lease_until`, one more
  // attempt. One statement, so two workers never take the same job.
  virtual absl::StatusOr<std::optional<Job>> Claim(absl::string_view owner, int64_t now,
                                                   int64_t lease_until) = 0;
  // Extends the lease if `owner` still holds it; false when it does not (the job was
  // recovered by someone else). Reports whether cancellation was requested.
  virtual absl::StatusOr<bool> Renew(int64_t id, absl::string_view owner, int64_t lease_until,
                                     bool* cancel_requested) = 0;
  // Ends a job held by `owner` with a final status.
  virtual absl::Status Finish(const Job& job) = 0;
  virtual absl::Status RequestCancel(int64_t id) = 0;
  // Gives a job held by `owner` back to the queue without using up the attempt (its server
  // is stopping).
  virtual absl::Status Release(int64_t id, absl::string_view owner) = 0;
  // Puts a job held by `owner` whose attempt failed back in the queue (its attempt counts);
  // it is not claimed before `not_before` (ms since the epoch).
  virtual absl::Status Requeue(int64_t id, absl::string_view owner, absl::string_view error,
                               int64_t not_before) = 0;
  // Records the run of the current attempt (so a later attempt can close it if this one dies).
  virtual absl::Status SetRun(int64_t id, absl::string_view owner, absl::string_view run_uuid) = 0;
  // Running jobs whose lease expired: queued again, or failed when out of attempts.
  // Returns how many were recovered.
  virtual absl::StatusOr<int64_t> RecoverExpired(int64_t now) = 0;
  virtual absl::Status AppendLog(int64_t job_id, int64_t ts, absl::string_view line) = 0;
  // Schedules.
  virtual absl::StatusOr<JobSchedule> CreateSchedule(const JobSchedule& s) = 0;
  virtual absl::StatusOr<std::optional<JobSchedule>> FindSchedule(int64_t project_id,
                                                                  absl::string_view name) = 0;
  virtual absl::StatusOr<std::vector<JobSchedule>> ListSchedules(int64_t project_id) = 0;
  // Enabled schedules due at `now`, every project.
  virtual absl::StatusOr<std::vector<JobSchedule>> DueSchedules(int64_t now) = 0;
  // Moves a due schedule on (next run, last job) if its next run is still `expected`: one
  // server wins each firing when several share the store.
  virtual absl::StatusOr<bool> AdvanceSchedule(int64_t id, int64_t expected, int64_t next,
                                               absl::string_view last_job) = 0;
  virtual absl::Status UpdateSchedule(const JobSchedule& s) = 0;
  virtual absl::Status DeleteSchedule(int64_t id) = 0;
  virtual absl::StatusOr<std::vector<JobLogLine>> Logs(int64_t job_id, int64_t after_seq,
                                                       int64_t limit) = 0;
};

// Model registry.
struct RegisteredModel {
  int64_t id = 0;
  int64_t project_id = 0;
  std::string name;
  std::string description;
  std::string tags = "{}";   // JSON object
  std::string gates = "{}";  // JSON: quality gate configuration
  std::string created_by;
  int64_t created_at = 0, updated_at = 0;
};

struct ModelVersion {
  int64_t id = 0;
  int64_t model_id = 0;
  int64_t version = 0;
  std::string source;  // run | import
  std::string run_uuid;
  std::string model_sha256;
  std::string manifest;  // JSON: signature, preprocessing, metrics, params, lineage
  std::string description;
  std::string tags = "{}";
  std::string status = "ready";  // ready | archived | deleted (kept so numbers are not reused)
  std::string gate_report = "{}";
  std::string created_by;
  int64_t created_at = 0;
  std::string source_uri;  // where a client said the model came from (MLflow's `source`)
  int64_t updated_at = 0;
  std::string model_path;  // the model file in the project's artifacts (manifest.model_path)
};

struct ModelAlias {
  std::string alias;
  int64_t version = 0;
  std::string updated_by;
  int64_t updated_at = 0;
};

struct AliasChange {
  int64_t id = 0;
  std::string alias;
  std::optional<int64_t> version, previous;  // nullopt: removed / did not exist
  std::string actor;
  int64_t ts = 0;
};

struct Endpoint {
  int64_t id = 0;
  int64_t project_id = 0;
  std::string name;
  int64_t model_id = 0;
  std::string model_name;  // filled on reads
  std::string config;      // JSON: traffic targets, shadow, log sampling
  std::string description;
  std::string created_by;
  int64_t created_at = 0, updated_at = 0;
};

struct PredictionRecord {
  int64_t id = 0;
  int64_t endpoint_id = 0;
  std::string request_id;
  int64_t ts = 0;
  int64_t version = 0;
  bool shadow = false;
  int64_t latency_us = 0;
  std::string features;              // JSON array of input records
  std::string outputs;               // JSON
  std::optional<std::string> label;  // ground truth, when fed back (reads only)
  int64_t label_ts = 0;              // when it was posted (ms)
};

class RegistryRepository {
 public:
  virtual ~RegistryRepository() = default;
  virtual absl::StatusOr<RegisteredModel> CreateModel(const RegisteredModel& m) = 0;
  virtual absl::StatusOr<std::optional<RegisteredModel>> FindModel(int64_t project_id,
                                                                   absl::string_view name) = 0;
  virtual absl::StatusOr<std::optional<RegisteredModel>> FindModelById(int64_t id) = 0;
  virtual absl::StatusOr<std::vector<RegisteredModel>> ListModels(int64_t project_id) = 0;
  // Name, description, tags, gates and updated_at.
  virtual absl::Status UpdateModel(const RegisteredModel& m) = 0;
  // Removes the model with its versions and aliases.
  virtual absl::Status DeleteModel(int64_t id) = 0;
  // Next version number of the model, assigned inside the caller's transaction.
  virtual absl::StatusOr<ModelVersion> CreateVersion(const ModelVersion& v) = 0;
  virtual absl::StatusOr<std::optional<ModelVersion>> FindVersion(int64_t model_id,
                                                                  int64_t version) = 0;
  // Newest first; deleted versions are left out here and by FindVersion.
  virtual absl::StatusOr<std::vector<ModelVersion>> ListVersions(int64_t model_id) = 0;
  // Every version of a project's models without manifests and gate reports (listings).
  virtual absl::StatusOr<std::vector<ModelVersion>> ProjectVersions(int64_t project_id) = 0;
  // Every alias of a project's models, as (model id, alias).
  virtual absl::StatusOr<std::vector<std::pair<int64_t, ModelAlias>>> ProjectAliases(
      int64_t project_id) = 0;
  virtual absl::StatusOr<std::vector<ModelVersion>> VersionsOfRun(absl::string_view run_uuid) = 0;
  virtual absl::Status UpdateVersion(const ModelVersion& v) = 0;
  virtual absl::StatusOr<std::vector<ModelAlias>> Aliases(int64_t model_id) = 0;
  // Points `alias` at `version` (nullopt removes it) and records the change.
  virtual absl::Status SetAlias(int64_t model_id, absl::string_view alias,
                                std::optional<int64_t> version, absl::string_view actor,
                                int64_t now) = 0;
  virtual absl::StatusOr<std::vector<AliasChange>> AliasHistory(int64_t model_id,
                                                                int64_t limit) = 0;
};

class EndpointRepository {
 public:
  virtual ~EndpointRepository() = default;
  virtual absl::StatusOr<Endpoint> Create(const Endpoint& e) = 0;
  virtual absl::StatusOr<std::optional<Endpoint>> Find(int64_t project_id,
                                                       absl::string_view name) = 0;
  virtual absl::StatusOr<std::vector<Endpoint>> List(int64_t project_id) = 0;
  // Every endpoint of every project (the serving manager loads them at start).
  virtual absl::StatusOr<std::vector<Endpoint>> ListAll() = 0;
  virtual absl::Status Update(const Endpoint& e) = 0;
  virtual absl::Status Delete(int64_t id) = 0;
  // The prediction log itself is kept in files (store/prediction_log.h). The `predictions`
  // table is where versions before 0.9 kept it: the server moves what it holds into the
  // files at start with these three.
  virtual absl::Status AppendPredictions(const std::vector<PredictionRecord>& records) = 0;
  // Oldest first, entries after the table row `after_id`.
  virtual absl::StatusOr<std::vector<PredictionRecord>> PredictionsAfter(int64_t endpoint_id,
                                                                         int64_t after_id,
                                                                         int64_t limit) = 0;
  virtual absl::Status DeletePredictionsThrough(int64_t endpoint_id, int64_t id) = 0;
  // Stores (or replaces) the ground truth of a request.
  virtual absl::Status PutFeedback(int64_t endpoint_id, absl::string_view request_id,
                                   absl::string_view label, absl::string_view actor,
                                   int64_t now) = 0;
  // The ground truth fed back for those of `request_ids` that have one: (label, when posted).
  virtual absl::StatusOr<std::map<std::string, std::pair<std::string, int64_t>>> FeedbackLabels(
      int64_t endpoint_id, const std::vector<std::string>& request_ids) = 0;
  // Deletes the ground truth posted before `before` (ms); returns how many.
  virtual absl::StatusOr<int64_t> PruneFeedback(int64_t before) = 0;
};

class UserRepository {
 public:
  virtual ~UserRepository() = default;
  virtual absl::StatusOr<User> Create(const User& user) = 0;  // AlreadyExists on name clash
  virtual absl::StatusOr<std::optional<User>> FindByName(absl::string_view name) = 0;
  virtual absl::StatusOr<std::optional<User>> FindById(int64_t id) = 0;
  virtual absl::StatusOr<std::vector<User>> List() = 0;
  virtual absl::StatusOr<int64_t> Count() = 0;
  // Replaces display name, email, admin flag, disabled flag and default project of `user.id`.
  virtual absl::Status Update(const User& user) = 0;
};

class TokenRepository {
 public:
  virtual ~TokenRepository() = default;
  virtual absl::StatusOr<Token> Create(const Token& token) = 0;
  virtual absl::StatusOr<std::optional<Token>> FindByHash(absl::string_view token_hash) = 0;
  virtual absl::StatusOr<std::optional<Token>> FindById(int64_t id) = 0;
  virtual absl::StatusOr<std::vector<Token>> ListForUser(int64_t user_id) = 0;
  virtual absl::StatusOr<std::vector<Token>> ListAll() = 0;
  virtual absl::Status Revoke(int64_t id, int64_t at) = 0;
  virtual absl::Status TouchLastUsed(int64_t id, int64_t at) = 0;
};

class ProjectRepository {
 public:
  virtual ~ProjectRepository() = default;
  virtual absl::StatusOr<Project> Create(const Project& project) = 0;
  virtual absl::StatusOr<std::optional<Project>> FindByName(absl::string_view name) = 0;
  virtual absl::StatusOr<std::optional<Project>> FindById(int64_t id) = 0;
  virtual absl::StatusOr<std::vector<Project>> ListAll() = 0;
  virtual absl::StatusOr<std::vector<Project>> ListForUser(int64_t user_id) = 0;
  virtual absl::Status Delete(int64_t id) = 0;
};

class MemberRepository {
 public:
  virtual ~MemberRepository() = default;
  virtual absl::Status Upsert(int64_t project_id, int64_t user_id, Role role, int64_t at) = 0;
  virtual absl::Status Remove(int64_t project_id, int64_t user_id) = 0;
  virtual absl::StatusOr<std::optional<Role>> RoleOf(int64_t project_id, int64_t user_id) = 0;
  virtual absl::StatusOr<std::vector<Membership>> List(int64_t project_id) = 0;
  virtual absl::StatusOr<int64_t> CountWithRole(int64_t project_id, Role role) = 0;
};

class AuditRepository {
 public:
  virtual ~AuditRepository() = default;
  // Appends with the next sequence number; fills entry->seq.
  virtual absl::Status Append(AuditEntry* entry) = 0;
  // The newest entry, if any (the tip of the hash chain).
  virtual absl::StatusOr<std::optional<AuditEntry>> Last() = 0;
  virtual absl::StatusOr<std::vector<AuditEntry>> Query(const AuditQuery& query) = 0;
  // Visits every entry in sequence order; stops at the first non-OK status from `fn`.
  virtual absl::Status ForEach(absl::FunctionRef<absl::Status(const AuditEntry&)> fn) = 0;
  // The chain head recorded beside the log (sequence and hash of the newest entry).
  virtual absl::StatusOr<std::optional<std::pair<int64_t, std::string>>> Head() = 0;
};

class ArtifactRepository {
 public:
  virtual ~ArtifactRepository() = default;
  // Creates or replaces the artifact called `name` in the project.
  virtual absl::StatusOr<Artifact> Put(const Artifact& artifact) = 0;
  virtual absl::StatusOr<std::optional<Artifact>> Find(int64_t project_id,
                                                       absl::string_view name) = 0;
  virtual absl::StatusOr<std::vector<Artifact>> List(int64_t project_id,
                                                     absl::string_view prefix) = 0;
  virtual absl::Status Delete(int64_t project_id, absl::string_view name) = 0;
};

class MonitoringRepository;  // store/monitoring.h

class Transaction {
 public:
  virtual ~Transaction() = default;
  virtual UserRepository& users() = 0;
  virtual TokenRepository& tokens() = 0;
  virtual ProjectRepository& projects() = 0;
  virtual MemberRepository& members() = 0;
  virtual AuditRepository& audit() = 0;
  virtual ArtifactRepository& artifacts() = 0;
  virtual DatasetRepository& datasets() = 0;
  virtual TrackingRepository& tracking() = 0;
  virtual JobRepository& jobs() = 0;
  virtual RegistryRepository& registry() = 0;
  virtual EndpointRepository& endpoints() = 0;
  virtual MonitoringRepository& monitoring() = 0;
  // Every blob hash referenced by any record (for artifact garbage collection).
  virtual absl::StatusOr<std::vector<std::string>> ReferencedBlobs() = 0;
};

struct MetadataStoreOptions {
  std::string path;  // SQLite file
  bool sync_full = true;
  int max_readers = 8;
  int busy_timeout_ms = 5000;
};

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;

  // Opens (creating if needed) and migrates to the newest schema. FailedPrecondition when
  // the database was written by a newer Kade.
  static absl::StatusOr<std::unique_ptr<MetadataStore>> OpenSqlite(
      const MetadataStoreOptions& options);

  // Runs `fn` in a read-only snapshot.
  virtual absl::Status Read(absl::FunctionRef<absl::Status(Transaction&)> fn) = 0;
  // Runs `fn` in one write transaction: commits when it returns OK, rolls back otherwise.
  // Writes are serialised.
  virtual absl::Status Write(absl::FunctionRef<absl::Status(Transaction&)> fn) = 0;
  // The same write without holding the caller's thread: `fn` is queued for the next group
  // commit and `done` gets its result (on the store's committer thread) once the commit
  // holding the change is durable. For servers that wait for commits asynchronously.
  virtual void WriteAsync(std::function<absl::Status(Transaction&)> fn,
                          std::function<void(absl::Status)> done) = 0;
  virtual int SchemaVersion() const = 0;
  // Runs the database's own consistency check (PRAGMA integrity_check and foreign keys).
  virtual absl::Status CheckIntegrity() = 0;
  // Checkpoints the write-ahead log and closes every connection. Further calls fail.
  virtual void Close() = 0;
};

// Newest schema version this build knows.
int LatestSchemaVersion();

}  // namespace kade
