#include "platform/serving_service.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <random>
#include <set>

#include <unistd.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/crypto.h"
#include "core/log.h"
#include "core/log_throttle.h"
#include "core/status.h"
#include "core/time.h"
#include "ml/metrics.h"
#include "platform/audit_log.h"
#include "platform/names.h"
#include "spdlog/spdlog.h"
#include "store/prediction_log.h"

namespace kade {
namespace {

absl::Status Bad(absl::string_view what) { return absl::InvalidArgumentError(what); }

absl::StatusOr<EndpointConfig::Target> TargetFromJson(const Json& t, const std::string& where) {
  if (!t.is_object()) return Bad(where + ": expected {\"alias\": NAME} or {\"version\": N}");
  RETURN_IF_ERROR(RejectUnknownFields(t, {"alias", "version", "weight"}));
  EndpointConfig::Target out;
  if (t.contains("alias") == t.contains("version")) {
    return Bad(where + ": give either 'alias' or 'version'");
  }
  if (t.contains("alias")) {
    if (!t["alias"].is_string()) return Bad(where + ".alias: expected a string");
    out.alias = t["alias"].get<std::string>();
    RETURN_IF_ERROR(ValidateName("alias", out.alias));
  } else {
    if (!t["version"].is_number_integer() || t["version"].get<int64_t>() < 1) {
      return Bad(where + ".version: expected a version number");
    }
    out.version = t["version"].get<int64_t>();
  }
  if (t.contains("weight")) {
    if (!t["weight"].is_number() || !(t["weight"].get<double>() >= 0) ||
        t["weight"].get<double>() > 1e6) {
      return Bad(where + ".weight: expected a number 0 or more");
    }
    out.weight = t["weight"].get<double>();
  }
  return out;
}

Json TargetToJson(const EndpointConfig::Target& t) {
  Json j = Json::object();
  if (!t.alias.empty()) {
    j["alias"] = t.alias;
  } else {
    j["version"] = t.version;
  }
  j["weight"] = t.weight;
  return j;
}

uint64_t NextRandom() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

constexpr size_t kLogBatch = 256;

constexpr const auto& kLatencyBuckets = ServingMetrics::kLatencyBuckets;

}  // namespace

struct ServingService::Stats {
  std::atomic<uint64_t> requests{0}, errors{0}, rows{0};
  std::array<std::atomic<uint64_t>, kLatencyBuckets.size()> buckets{};
  std::atomic<uint64_t> latency_count{0};
  std::atomic<uint64_t> latency_sum_ns{0};
  std::atomic<int64_t> in_flight{0};
  std::atomic<uint64_t> load_ms{0};
  std::atomic<int64_t> endpoint_id{0};
};

absl::StatusOr<EndpointConfig> EndpointConfig::FromJson(const Json& j) {
  if (!j.is_object()) return Bad("expected an object");
  EndpointConfig c;
  if (j.contains("alias") && j.contains("targets")) {
    return Bad("give either 'alias' (one alias takes all traffic) or 'targets' (a split)");
  }
  if (j.contains("alias")) {
    ASSIGN_OR_RETURN(Target t, TargetFromJson(Json{{"alias", j["alias"]}}, "alias"));
    c.targets.push_back(t);
  } else if (j.contains("targets")) {
    if (!j["targets"].is_array() || j["targets"].empty() || j["targets"].size() > 10) {
      return Bad("targets: expected one to ten {alias|version, weight} entries");
    }
    for (size_t i = 0; i < j["targets"].size(); ++i) {
      ASSIGN_OR_RETURN(Target t, TargetFromJson(j["targets"][i], absl::StrCat("targets[", i, "]")));
      c.targets.push_back(t);
    }
  } else {
    c.targets.push_back(Target{"champion", 0, 100});
  }
  double total = 0;
  for (const auto& t : c.targets) total += t.weight;
  if (!(total > 0)) return Bad("targets: the weights add up to zero");
  if (j.contains("shadow") && !j["shadow"].is_null()) {
    ASSIGN_OR_RETURN(Target t, TargetFromJson(j["shadow"], "shadow"));
    c.shadow = t;
  }
  if (j.contains("log_sample")) {
    if (!j["log_sample"].is_number() || j["log_sample"].get<double>() < 0 ||
        j["log_sample"].get<double>() > 1) {
      return Bad("log_sample: expected a fraction between 0 and 1");
    }
    c.log_sample = j["log_sample"].get<double>();
  }
  return c;
}

Json EndpointConfig::ToJson() const {
  Json targets = Json::array();
  for (const auto& t : this->targets) targets.push_back(TargetToJson(t));
  Json j{{"targets", targets}, {"log_sample", log_sample}};
  j["shadow"] = shadow ? TargetToJson(*shadow) : Json(nullptr);
  return j;
}

Project ServingService::ProjectById(int64_t id) {
  Project p;
  p.id = id;
  absl::Status s = store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto found, tx.projects().FindById(id));
    if (found) p = *found;
    return absl::OkStatus();
  });
  if (!s.ok()) spdlog::warn("serving: project {}: {}", id, s.ToString());
  return p;
}

ServingService::ServingService(MetadataStore* store, RegistryService* registry, PredictionLog* log,
                               ServingOptions options)
    : store_(store), registry_(registry), log_(log), options_(options) {
  registry_->AddAliasObserver([this](int64_t model_id) { OnAliasMoved(model_id); });
  registry_->SetServingAliases([this](int64_t model_id) { return ServingAliases(model_id); });
}

ServingService::~ServingService() { Stop(); }

namespace {
// What an endpoint's live state was built from: its record and its model's aliases.
std::string Fingerprint(const Endpoint& e, const std::vector<ModelAlias>& aliases) {
  std::string f = absl::StrCat(e.id, "|", e.updated_at, "|", e.config);
  for (const auto& a : aliases) absl::StrAppend(&f, "|", a.alias, "=", a.version);
  return f;
}
}  // namespace

void ServingService::Start() {
  std::vector<Endpoint> all;
  absl::Status s = store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(all, tx.endpoints().ListAll());
    return absl::OkStatus();
  });
  if (!s.ok()) spdlog::warn("serving: cannot list endpoints: {}", s.ToString());
  for (const auto& e : all) Rebuild(e);
  MoveLegacyLog(all);
  std::lock_guard<std::mutex> l(log_mu_);
  if (!writer_.joinable()) {
    log_stop_ = false;
    writer_ = std::thread([this] {
      NameThread("kade-predlog");
      WriterLoop();
    });
  }
  if (!follower_.joinable()) {
    follower_ = std::thread([this] {
      NameThread("kade-follow");
      while (!follow_stop_.WaitForNotificationWithTimeout(absl::Seconds(2))) Sync();
    });
  }
}

void ServingService::MoveLegacyLog(const std::vector<Endpoint>& endpoints) {
  for (const auto& e : endpoints) {
    int64_t moved = 0;
    for (;;) {
      std::vector<PredictionRecord> rows;
      absl::Status s = store_->Read([&](Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(rows, tx.endpoints().PredictionsAfter(e.id, 0, 5000));
        return absl::OkStatus();
      });
      if (s.ok() && !rows.empty()) s = log_->Append(PredictionLog::Key::Of(e), rows);
      if (s.ok() && !rows.empty()) {
        s = store_->Write([&](Transaction& tx) {
          return tx.endpoints().DeletePredictionsThrough(e.id, rows.back().id);
        });
      }
      if (!s.ok()) {
        spdlog::warn("prediction log of endpoint {}: cannot move it to files: {}", e.name,
                     s.ToString());
        break;
      }
      if (rows.empty()) break;
      moved += static_cast<int64_t>(rows.size());
    }
    if (moved > 0) {
      spdlog::info("prediction log of endpoint {}: {} entries moved to {}", e.name, moved,
                   log_->dir());
    }
  }
}

void ServingService::Sync() {
  std::vector<Endpoint> all;
  std::map<int64_t, std::vector<ModelAlias>> aliases;
  absl::Status s = store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(all, tx.endpoints().ListAll());
    for (const auto& e : all) {
      if (aliases.count(e.model_id)) continue;
      ASSIGN_OR_RETURN(aliases[e.model_id], tx.registry().Aliases(e.model_id));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return;
  std::set<std::pair<int64_t, std::string>> present;
  for (const auto& e : all) {
    present.insert({e.project_id, e.name});
    auto current = Find(e.project_id, e.name);
    // Up to date, unless it is not ready (a failed load is retried here; the loader's
    // backoff decides when the file is read again).
    if (current && current->error.empty() &&
        current->fingerprint == Fingerprint(e, aliases[e.model_id])) {
      continue;
    }
    Rebuild(e);
  }
  absl::MutexLock l(&mu_);
  for (auto it = states_.begin(); it != states_.end();) {
    it = present.count(it->first) ? std::next(it) : states_.erase(it);
  }
}

void ServingService::Stop() {
  if (!follow_stop_.HasBeenNotified()) follow_stop_.Notify();
  if (follower_.joinable()) follower_.join();
  {
    std::lock_guard<std::mutex> l(log_mu_);
    log_stop_ = true;
  }
  log_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

// Resolves the endpoint's targets to versions and loads them. On failure the state carries
// the reason (the endpoint exists but is not ready).
absl::StatusOr<std::shared_ptr<const ServingService::State>> ServingService::Build(
    const Project& project, const Endpoint& e) {
  auto s = std::make_shared<State>();
  s->record = e;
  ASSIGN_OR_RETURN(s->config, EndpointConfig::FromJson(ParseJsonOr(e.config, Json::object())));
  std::vector<ModelAlias> aliases;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(aliases, tx.registry().Aliases(e.model_id));
    return absl::OkStatus();
  }));
  s->fingerprint = Fingerprint(e, aliases);
  auto resolve = [&](const EndpointConfig::Target& t) -> absl::StatusOr<Live> {
    Live live;
    live.alias = t.alias;
    live.version = t.version;
    if (!t.alias.empty()) {
      for (const auto& a : aliases) {
        if (a.alias == t.alias) live.version = a.version;
      }
      if (live.version == 0) {
        return absl::FailedPreconditionError(
            absl::StrCat("model '", e.model_name, "' has no alias '", t.alias, "'"));
      }
    }
    std::optional<ModelVersion> v;
    RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
      ASSIGN_OR_RETURN(v, tx.registry().FindVersion(e.model_id, live.version));
      return absl::OkStatus();
    }));
    if (!v) {
      return absl::FailedPreconditionError(
          absl::StrCat("model '", e.model_name, "' has no version ", live.version));
    }
    auto t0 = std::chrono::steady_clock::now();
    ASSIGN_OR_RETURN(live.servable, registry_->LoadServable(project, *v));
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    StatsFor(absl::StrCat(project.name, "/", e.name), live.version).load_ms =
        static_cast<uint64_t>(ms);
    return live;
  };
  double total = 0;
  for (const auto& t : s->config.targets) total += t.weight;
  double cumulative = 0;
  for (const auto& t : s->config.targets) {
    auto live = resolve(t);
    if (!live.ok()) {
      s->error = std::string(live.status().message());
      for (const auto& a : aliases) {
        if (!t.alias.empty() && a.alias == t.alias) s->error_version = a.version;
      }
      if (t.alias.empty()) s->error_version = t.version;
      s->targets.clear();
      break;
    }
    cumulative += t.weight / total;
    live->weight = cumulative;
    s->targets.push_back(std::move(*live));
  }
  if (!s->targets.empty()) s->targets.back().weight = 1.0;
  if (s->config.shadow) {
    auto live = resolve(*s->config.shadow);
    if (live.ok()) {
      s->shadow = std::move(*live);
    } else if (s->error.empty()) {
      s->error = absl::StrCat("shadow: ", live.status().message());
    }
  }
  return std::shared_ptr<const State>(std::move(s));
}

void ServingService::Install(std::shared_ptr<const State> s) {
  absl::MutexLock l(&mu_);
  auto& slot = states_[{s->record.project_id, s->record.name}];
  if (slot) retiring_.push_back(slot);
  slot = std::move(s);
  retiring_.erase(
      std::remove_if(retiring_.begin(), retiring_.end(), [](const auto& w) { return w.expired(); }),
      retiring_.end());
}

void ServingService::Rebuild(const Endpoint& e) {
  auto guard = transitions_.Lock({e.project_id, e.name});
  if (transitions_.IsDeleted(e.id, e.created_at)) return;
  auto current = Find(e.project_id, e.name);
  if (current && (current->record.id != e.id || current->record.created_at != e.created_at)) {
    current = nullptr;  // an endpoint of the same name that replaced a deleted one
  }
  auto fresh = Build(ProjectById(e.project_id), e);
  if (!fresh.ok()) {
    spdlog::warn("endpoint {}: {}", e.name, fresh.status().ToString());
    return;
  }
  if ((*fresh)->error.empty()) {
    if (current && !current->pending_error.empty()) {
      spdlog::info("endpoint {}: recovered; serving the new state", e.name);
    }
    Install(*fresh);
    return;
  }
  static LogThrottle throttle(absl::Seconds(60));
  int64_t held = 0;
  if (throttle.Allow(absl::StrCat(e.id, " ", (*fresh)->error), &held)) {
    spdlog::warn("endpoint {}: cannot load version {}: {}{}", e.name, (*fresh)->error_version,
                 (*fresh)->error,
                 current && current->error.empty() ? "; the versions it serves keep serving" : "");
  }
  if (current && current->error.empty() && !current->targets.empty()) {
    if (current->pending_error == (*fresh)->error) return;
    auto kept = std::make_shared<State>(*current);
    kept->pending_error = (*fresh)->error;
    kept->pending_version = (*fresh)->error_version;
    Install(kept);
    return;
  }
  Install(*fresh);
}

std::shared_ptr<const ServingService::State> ServingService::Find(int64_t project_id,
                                                                  absl::string_view name) {
  absl::ReaderMutexLock l(&mu_);
  auto it = states_.find({project_id, std::string(name)});
  return it == states_.end() ? nullptr : it->second;
}

absl::StatusOr<std::shared_ptr<const ServingService::State>> ServingService::Require(
    const Project& project, absl::string_view name) {
  auto s = Find(project.id, name);
  if (!s) {
    return absl::NotFoundError(
        absl::StrCat("endpoint '", name, "' does not exist in project '", project.name, "'"));
  }
  return s;
}

void ServingService::OnAliasMoved(int64_t model_id) {
  std::vector<std::shared_ptr<const State>> affected;
  {
    absl::ReaderMutexLock l(&mu_);
    for (const auto& [k, s] : states_) {
      if (s->record.model_id == model_id) affected.push_back(s);
    }
  }
  // A move is a person acting (after repairing a model file, say): versions of the model
  // that failed to load are tried again now instead of after their backoff.
  for (const auto& [key, info] : registry_->servables().Snapshot()) {
    if (key.first == model_id && info.state == "failed") registry_->servables().ClearFailure(key);
  }
  // New states are built (and their versions loaded) before they replace the old ones.
  for (const auto& old : affected) Rebuild(old->record);
}

std::vector<std::string> ServingService::ServingAliases(int64_t model_id) {
  std::vector<std::string> out;
  absl::ReaderMutexLock l(&mu_);
  for (const auto& [k, s] : states_) {
    if (s->record.model_id != model_id) continue;
    for (const auto& t : s->config.targets) {
      if (!t.alias.empty()) out.push_back(t.alias);
    }
  }
  return out;
}

EndpointStatus ServingService::Describe(const State& s) {
  EndpointStatus out;
  out.record = s.record;
  out.config = s.config;
  out.ready = s.error.empty() && !s.targets.empty();
  for (const auto& t : s.targets) {
    EndpointVersionState v;
    v.version = t.version;
    v.alias = t.alias;
    v.state = "ready";
    out.serving.push_back(v);
  }
  // Every version of the endpoint with its state: ready (serving), loading or failed (with
  // the reason and the next retry) for a change not installed yet, unloading for a version
  // just replaced that requests in flight still use.
  out.versions = out.serving;
  const int64_t wanted = !s.pending_error.empty() ? s.pending_version : s.error_version;
  if (wanted > 0) {
    EndpointVersionState v;
    v.version = wanted;
    v.state = "failed";
    v.error = s.pending_error.empty() ? s.error : s.pending_error;
    if (auto info = registry_->servables().Describe({s.record.model_id, wanted})) {
      v.state = info->state == "ready" ? "loading" : info->state;
      v.failures = info->failures;
      v.next_retry_at_ms = info->retry_at_ms;
      if (!info->error.empty()) v.error = info->error;
    }
    out.versions.push_back(v);
  }
  {
    absl::MutexLock l(&mu_);
    std::set<int64_t> listed;
    for (const auto& v : out.versions) listed.insert(v.version);
    for (const auto& w : retiring_) {
      auto old = w.lock();
      if (!old || old->record.id != s.record.id || old->record.project_id != s.record.project_id)
        continue;
      for (const auto& t : old->targets) {
        if (listed.insert(t.version).second) {
          EndpointVersionState v;
          v.version = t.version;
          v.state = "unloading";
          out.versions.push_back(v);
        }
      }
    }
  }
  if (s.shadow) out.shadow_version = s.shadow->version;
  out.error = s.error;
  out.pending_version = s.pending_error.empty() ? 0 : s.pending_version;
  out.pending_error = s.pending_error;
  return out;
}

absl::StatusOr<Json> ServingService::ClearNewTargets(const RequestContext& ctx,
                                                     const Project& project,
                                                     std::optional<Role> role, const State* current,
                                                     const State& fresh, bool force) {
  Json overrides = Json::array();
  std::set<int64_t> cleared;
  if (current) {
    for (const auto& t : current->targets) cleared.insert(t.version);
  }
  for (size_t i = 0; i < fresh.targets.size(); ++i) {
    const Live& t = fresh.targets[i];
    if (cleared.count(t.version)) continue;
    if (!t.alias.empty() && registry_->IsGatedAlias(fresh.record.model_id, t.alias)) continue;
    ASSIGN_OR_RETURN(RegistryService::Clearance c,
                     registry_->ClearForServing(
                         project, role, ctx, fresh.record.model_id, t.version, force,
                         absl::StrCat("endpoint '", fresh.record.name, "' targets[", i, "]")));
    if (c.overridden) overrides.push_back(Json{{"version", t.version}, {"gate_report", c.report}});
    cleared.insert(t.version);
  }
  return overrides;
}

absl::StatusOr<EndpointStatus> ServingService::Create(const RequestContext& ctx,
                                                      const Project& project,
                                                      std::optional<Role> role,
                                                      const EndpointSpec& spec) {
  const std::string& name = spec.name;
  const std::string& model = spec.model;
  const EndpointConfig& config = spec.config;
  RETURN_IF_ERROR(ValidateName("endpoint", name));
  if (spec.description.size() > 4000) return Bad("description is longer than 4000 characters");
  ASSIGN_OR_RETURN(ModelDetails details, registry_->GetModel(project, model));
  Endpoint e;
  e.project_id = project.id;
  e.name = name;
  e.model_id = details.model.id;
  e.model_name = model;
  e.config = config.ToJson().dump();
  e.description = spec.description;
  e.created_by = ctx.principal.user_name;
  e.created_at = e.updated_at = NowMillis();
  auto guard = transitions_.Lock({project.id, name});
  // Loads first: an endpoint whose versions cannot serve is refused, not half-created.
  ASSIGN_OR_RETURN(auto state, Build(project, e));
  if (!state->error.empty()) return absl::FailedPreconditionError(state->error);
  if (Find(project.id, name)) {
    return absl::AlreadyExistsError(absl::StrCat("endpoint '", name, "' already exists"));
  }
  ASSIGN_OR_RETURN(Json overrides,
                   ClearNewTargets(ctx, project, role, nullptr, *state, spec.force));
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto existing, tx.endpoints().Find(project.id, name));
    if (existing) {
      return absl::AlreadyExistsError(absl::StrCat("endpoint '", name, "' already exists"));
    }
    ASSIGN_OR_RETURN(e, tx.endpoints().Create(e));
    Json detail{{"model", model}, {"config", config.ToJson()}};
    if (!overrides.empty()) detail["gate_overrides"] = overrides;
    return AuditLog::AppendInTx(
        tx, ctx,
        {overrides.empty() ? "endpoint.create" : "endpoint.create.override",
         absl::StrCat("project/", project.name, "/endpoint/", name), project.name, detail});
  }));
  auto s = std::make_shared<State>(*state);
  s->record = e;
  Install(s);
  return Describe(*s);
}

absl::StatusOr<EndpointStatus> ServingService::Update(const RequestContext& ctx,
                                                      const Project& project,
                                                      std::optional<Role> role,
                                                      absl::string_view name,
                                                      const EndpointChange& change) {
  if (change.description && change.description->size() > 4000) {
    return Bad("description is longer than 4000 characters");
  }
  auto guard = transitions_.Lock({project.id, std::string(name)});
  ASSIGN_OR_RETURN(auto current, Require(project, name));
  EndpointConfig config = current->config;
  if (change.targets) config.targets = *change.targets;
  if (change.shadow) config.shadow = *change.shadow;
  if (change.log_sample) config.log_sample = *change.log_sample;
  Endpoint e = current->record;
  e.config = config.ToJson().dump();
  if (change.description) e.description = *change.description;
  e.updated_at = NowMillis();
  ASSIGN_OR_RETURN(auto state, Build(project, e));
  if (!state->error.empty()) return absl::FailedPreconditionError(state->error);
  ASSIGN_OR_RETURN(Json overrides,
                   ClearNewTargets(ctx, project, role, current.get(), *state, change.force));
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    RETURN_IF_ERROR(tx.endpoints().Update(e));
    Json detail{{"config", config.ToJson()}};
    if (!overrides.empty()) detail["gate_overrides"] = overrides;
    return AuditLog::AppendInTx(
        tx, ctx,
        {overrides.empty() ? "endpoint.update" : "endpoint.update.override",
         absl::StrCat("project/", project.name, "/endpoint/", name), project.name, detail});
  }));
  Install(state);
  return Describe(*state);
}

absl::Status ServingService::Delete(const RequestContext& ctx, const Project& project,
                                    absl::string_view name) {
  auto guard = transitions_.Lock({project.id, std::string(name)});
  ASSIGN_OR_RETURN(auto current, Require(project, name));
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    RETURN_IF_ERROR(tx.endpoints().Delete(current->record.id));
    return AuditLog::AppendInTx(
        tx, ctx,
        {"endpoint.delete", absl::StrCat("project/", project.name, "/endpoint/", name),
         project.name});
  }));
  // A rebuild waiting for this endpoint's lock, or a sync that read it before the delete,
  // must not bring it back.
  transitions_.MarkDeleted(current->record.id, current->record.created_at);
  {
    absl::MutexLock l(&mu_);
    states_.erase({project.id, std::string(name)});
  }
  // Its log goes with it (a failure leaves the files to the hourly sweep of deleted
  // endpoints' logs).
  if (absl::Status s = log_->Remove(PredictionLog::Key::Of(current->record)); !s.ok()) {
    spdlog::warn("endpoint {}: {}", std::string(name), s.ToString());
  }
  return absl::OkStatus();
}

absl::StatusOr<EndpointStatus> ServingService::Get(const Project& project, absl::string_view name) {
  ASSIGN_OR_RETURN(auto s, Require(project, name));
  EndpointStatus out = Describe(*s);
  auto& stats = out.stats.emplace();
  const std::string key = absl::StrCat(project.name, "/", name);
  {
    absl::MutexLock l(&stats_mu_);
    for (const auto& [k, st] : stats_) {
      if (k.first != key) continue;
      EndpointVersionStats v;
      v.version = k.second;
      const uint64_t n = st->latency_count.load();
      for (auto [slot, q] :
           {std::pair{&v.p50_ms, 0.5}, std::pair{&v.p95_ms, 0.95}, std::pair{&v.p99_ms, 0.99}}) {
        uint64_t cum = 0;
        for (size_t b = 0; b < kLatencyBuckets.size() && n > 0; ++b) {
          cum += st->buckets[b].load();
          if (static_cast<double>(cum) >= q * static_cast<double>(n)) {
            *slot = kLatencyBuckets[b] * 1000.0;
            break;
          }
        }
      }
      v.requests = st->requests.load();
      v.errors = st->errors.load();
      v.rows = st->rows.load();
      v.mean_latency_ms = n ? st->latency_sum_ns.load() / 1e6 / n : 0.0;
      v.model_load_ms = st->load_ms.load();
      stats.push_back(v);
    }
  }
  out.log_dropped = log_dropped_.load();
  return out;
}

absl::StatusOr<std::vector<EndpointStatus>> ServingService::List(const Project& project) {
  std::vector<std::shared_ptr<const State>> mine;
  {
    absl::ReaderMutexLock l(&mu_);
    for (const auto& [k, s] : states_) {
      if (k.first == project.id) mine.push_back(s);
    }
  }
  std::vector<EndpointStatus> out;
  for (const auto& s : mine) out.push_back(Describe(*s));
  return out;
}

ServingService::Stats& ServingService::StatsFor(const std::string& endpoint, int64_t version) {
  absl::MutexLock l(&stats_mu_);
  auto& slot = stats_[{endpoint, version}];
  if (!slot) slot = std::make_unique<Stats>();
  return *slot;
}

absl::StatusOr<const ServingService::Live*> ServingService::Choose(
    const State& s, std::optional<int64_t> pinned,
    std::shared_ptr<const ml::Servable>* pinned_servable, const Project& project) {
  if (!s.error.empty() || s.targets.empty()) {
    return absl::UnavailableError(absl::StrCat("endpoint '", s.record.name, "' is not ready: ",
                                               s.error.empty() ? "no versions" : s.error));
  }
  if (pinned) {
    for (const auto& t : s.targets) {
      if (t.version == *pinned) return &t;
    }
    // Any ready version of the model may be pinned. It is loaded on the loader's thread,
    // never here on the event loop: a short wait covers a typical load, and beyond it the
    // client is told to come back (503 with Retry-After).
    if (auto cached = registry_->servables().Peek({s.record.model_id, *pinned})) {
      *pinned_servable = std::move(cached);
      return nullptr;
    }
    std::optional<ModelVersion> v;
    RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
      ASSIGN_OR_RETURN(v, tx.registry().FindVersion(s.record.model_id, *pinned));
      return absl::OkStatus();
    }));
    if (!v || v->status == "archived") {
      return absl::NotFoundError(
          absl::StrCat("model '", s.record.model_name, "' has no servable version ", *pinned));
    }
    registry_->LoadServableInBackground(project, *v);
    auto loaded =
        registry_->servables().Wait({s.record.model_id, *pinned}, absl::Milliseconds(200));
    if (!loaded.ok()) {
      if (loaded.status().code() == absl::StatusCode::kUnavailable) {
        return WithRetryAfter(absl::UnavailableError(
                                  absl::StrCat("version ", *pinned, " of model '",
                                               s.record.model_name, "' is loading; retry shortly")),
                              1);
      }
      return absl::UnavailableError(
          absl::StrCat("version ", *pinned, " cannot be served: ", loaded.status().message()));
    }
    *pinned_servable = std::move(*loaded);
    return nullptr;
  }
  if (s.targets.size() == 1) return &s.targets[0];
  double u = static_cast<double>(NextRandom() >> 11) * 0x1.0p-53;
  for (const auto& t : s.targets) {
    if (u < t.weight) return &t;
  }
  return &s.targets.back();
}

absl::StatusOr<Json> ServingService::Predict(const Project& project, absl::string_view endpoint,
                                             const Json* body, const PredictRequest& req) {
  Json out;
  RETURN_IF_ERROR(Serve(project, endpoint, body, req,
                        [&](const ml::Servable& s, const ml::Prediction& p, int64_t version,
                            const std::string& model) {
                          out = s.Render(p);
                          out["model"] = model;
                          out["version"] = version;
                          out["request_id"] = req.request_id;
                        }));
  return out;
}

absl::StatusOr<std::string> ServingService::PredictText(const Project& project,
                                                        absl::string_view endpoint,
                                                        const PredictRequest& req) {
  std::string out;
  RETURN_IF_ERROR(Serve(project, endpoint, nullptr, req,
                        [&](const ml::Servable& s, const ml::Prediction& p, int64_t version,
                            const std::string& model) {
                          out.reserve(256);
                          out.push_back('{');
                          s.AppendRenderedMembers(p, &out);
                          out.append(",\"model\":");
                          AppendJsonString(&out, model);
                          absl::StrAppend(&out, ",\"version\":", version, ",\"request_id\":");
                          AppendJsonString(&out, req.request_id);
                          out.push_back('}');
                        }));
  return out;
}

absl::StatusOr<Json> ServingService::Explain(const Project& project, absl::string_view endpoint,
                                             const Json& body, const PredictRequest& req) {
  ASSIGN_OR_RETURN(auto state, Require(project, endpoint));
  std::shared_ptr<const ml::Servable> pinned;
  ASSIGN_OR_RETURN(const Live* live, Choose(*state, req.pinned_version, &pinned, project));
  const std::shared_ptr<const ml::Servable>& servable = live ? live->servable : pinned;
  const int64_t version = live ? live->version : *req.pinned_version;
  ASSIGN_OR_RETURN(ml::Batch batch, servable->Decode(body));
  if (batch.rows > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("explain: at most 1000 rows per request, got ", batch.rows));
  }
  ASSIGN_OR_RETURN(std::vector<double> shap, servable->Explain(batch));
  const ml::Prediction p = servable->Predict(batch);
  const ml::Encoding& sig = servable->signature();
  const size_t nf = sig.features.size();
  const size_t groups = static_cast<size_t>(servable->engine().num_groups());
  const Json rendered = servable->Render(p);
  auto one = [&](size_t r, size_t g) {
    const double* phi = shap.data() + (r * groups + g) * (nf + 1);
    Json c = Json::object();
    double margin = 0;
    for (size_t j = 0; j <= nf; ++j) margin += phi[j];
    for (size_t j = 0; j < nf; ++j) c[sig.features[j].name] = phi[j];
    return Json{{"contributions", c}, {"base_value", phi[nf]}, {"margin", margin}};
  };
  Json rows = Json::array();
  for (size_t r = 0; r < batch.rows; ++r) {
    Json row;
    if (groups == 1) {
      row = one(r, 0);
    } else {
      Json by_class = Json::object();
      for (size_t g = 0; g < groups; ++g) {
        by_class[g < sig.classes.size() ? sig.classes[g] : absl::StrCat(g)] = one(r, g);
      }
      row = Json{{"classes", by_class}};
    }
    if (rendered.contains("predictions")) row["prediction"] = rendered["predictions"][r];
    rows.push_back(row);
  }
  Json out{{"model", state->record.model_name},
           {"version", version},
           {"method", "tree_shap"},
           {"output", "margin"},
           {"explanations", rows}};
  if (!req.request_id.empty()) out["request_id"] = req.request_id;
  return out;
}

absl::Status ServingService::Serve(
    const Project& project, absl::string_view endpoint, const Json* body, const PredictRequest& req,
    absl::FunctionRef<void(const ml::Servable&, const ml::Prediction&, int64_t, const std::string&)>
        render) {
  auto t0 = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(auto state, Require(project, endpoint));
  std::shared_ptr<const ml::Servable> pinned;
  ASSIGN_OR_RETURN(const Live* live, Choose(*state, req.pinned_version, &pinned, project));
  const std::shared_ptr<const ml::Servable>& serving_ptr = live ? live->servable : pinned;
  const ml::Servable& servable = *serving_ptr;
  const int64_t version = live ? live->version : *req.pinned_version;
  Stats& st = StatsFor(absl::StrCat(project.name, "/", endpoint), version);
  st.endpoint_id.store(state->record.id, std::memory_order_relaxed);
  st.requests.fetch_add(1, std::memory_order_relaxed);
  st.in_flight.fetch_add(1, std::memory_order_relaxed);
  auto batch = body != nullptr ? servable.Decode(*body) : servable.DecodeText(req.raw_body);
  if (!batch.ok()) {
    st.errors.fetch_add(1, std::memory_order_relaxed);
    st.in_flight.fetch_sub(1, std::memory_order_relaxed);
    // Monitoring counts what was wrong, by feature (bodies of up to 64 KiB).
    if (observer_ != nullptr && batch.status().code() == absl::StatusCode::kInvalidArgument &&
        (body != nullptr || req.raw_body.size() <= (64u << 10))) {
      LogEntry e;
      e.record.endpoint_id = state->record.id;
      e.endpoint_created = state->record.created_at;
      e.project_id = project.id;
      e.model_id = state->record.model_id;
      e.record.ts = NowMillis();
      e.record.version = version;
      e.record.features = body != nullptr ? body->dump() : std::string(req.raw_body);
      e.servable = serving_ptr;
      e.refusal = std::string(batch.status().message());
      Enqueue(std::move(e));
    }
    return batch.status();
  }
  ml::Prediction p = servable.Predict(*batch);
  render(servable, p, version, state->record.model_name);
  auto t1 = std::chrono::steady_clock::now();
  const uint64_t ns =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
  st.rows.fetch_add(batch->rows, std::memory_order_relaxed);
  st.latency_count.fetch_add(1, std::memory_order_relaxed);
  st.latency_sum_ns.fetch_add(ns, std::memory_order_relaxed);
  for (size_t b = 0; b < kLatencyBuckets.size(); ++b) {
    if (ns <= kLatencyBuckets[b] * 1e9) {
      st.buckets[b].fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
  st.in_flight.fetch_sub(1, std::memory_order_relaxed);
  // The log entry (and the shadow's work) goes to the writer thread.
  const bool sampled =
      state->config.log_sample >= 1.0 ||
      static_cast<double>(NextRandom() >> 11) * 0x1.0p-53 < state->config.log_sample;
  if (sampled || state->shadow) {
    LogEntry e;
    e.record.endpoint_id = state->record.id;
    e.endpoint_created = state->record.created_at;
    e.project_id = project.id;
    e.model_id = state->record.model_id;
    e.record.request_id = req.request_id;
    e.record.ts = NowMillis();
    e.record.version = version;
    e.record.latency_us = static_cast<int64_t>(ns / 1000);
    if (sampled) {
      // The request's own text and the raw outputs; the writer thread renders them.
      if (!req.raw_body.empty()) {
        e.record.features.assign(req.raw_body.data(), req.raw_body.size());
      } else {
        e.record.features = body != nullptr ? body->dump() : std::string("null");
      }
      e.servable = serving_ptr;
      e.prediction = std::move(p);
    }
    if (state->shadow) {
      e.shadow = state->shadow->servable;
      e.shadow_version = state->shadow->version;
    }
    // The decoded rows go along for the shadow and for monitoring's summaries.
    if (state->shadow || (sampled && observer_ != nullptr)) {
      e.batch = std::make_shared<const ml::Batch>(std::move(*batch));
    }
    Enqueue(std::move(e));
  }
  return absl::OkStatus();
}

absl::StatusOr<Json> ServingService::OipMetadata(const Project& project, absl::string_view endpoint,
                                                 std::optional<int64_t> version) {
  ASSIGN_OR_RETURN(auto state, Require(project, endpoint));
  std::shared_ptr<const ml::Servable> pinned;
  ASSIGN_OR_RETURN(const Live* live, Choose(*state, version, &pinned, project));
  const ml::Servable& s = live ? *live->servable : *pinned;
  Json versions = Json::array();
  for (const auto& t : state->targets) versions.push_back(absl::StrCat(t.version));
  Json meta = s.OipMetadata();
  meta["name"] = std::string(endpoint);
  meta["versions"] = versions;
  meta["platform"] = "kade-xgboost";
  return meta;
}

absl::StatusOr<bool> ServingService::OipReady(const Project& project, absl::string_view endpoint) {
  ASSIGN_OR_RETURN(auto state, Require(project, endpoint));
  return state->error.empty() && !state->targets.empty();
}

absl::Status ServingService::StoreFeedback(const RequestContext& ctx, const Project& project,
                                           absl::string_view endpoint, const FeedbackItems& items) {
  ASSIGN_OR_RETURN(auto state, Require(project, endpoint));
  const int64_t now = NowMillis();
  return store_->Write([&](Transaction& tx) -> absl::Status {
    for (size_t i = 0; i < items.size(); ++i) {
      RETURN_IF_ERROR(tx.endpoints().PutFeedback(state->record.id, items[i].first, items[i].second,
                                                 ctx.principal.user_name, now));
    }
    return AuditLog::AppendInTx(
        tx, ctx,
        {"endpoint.feedback", absl::StrCat("project/", project.name, "/endpoint/", endpoint),
         project.name, Json{{"items", items.size()}}});
  });
}

absl::StatusOr<PredictionPage> ServingService::Predictions(const Project& project,
                                                           absl::string_view endpoint,
                                                           int64_t limit) {
  ASSIGN_OR_RETURN(auto state, Require(project, endpoint));
  FlushLog();  // what was answered before this call is in the log it returns
  ASSIGN_OR_RETURN(std::vector<PredictionRecord> rows,
                   log_->Newest(PredictionLog::Key::Of(state->record), limit));
  std::vector<std::string> ids;
  ids.reserve(rows.size());
  for (const auto& r : rows) ids.push_back(r.request_id);
  std::map<std::string, std::pair<std::string, int64_t>> labels;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(labels, tx.endpoints().FeedbackLabels(state->record.id, ids));
    return absl::OkStatus();
  }));
  for (auto& r : rows) {
    auto it = labels.find(r.request_id);
    if (it != labels.end()) {
      r.label = it->second.first;
      r.label_ts = it->second.second;
    }
  }
  return PredictionPage{std::move(rows), log_dropped_.load()};
}

absl::StatusOr<EndpointPerformance> ServingService::Performance(const Project& project,
                                                                absl::string_view endpoint,
                                                                int64_t window_ms, int64_t limit,
                                                                int64_t step_ms) {
  ASSIGN_OR_RETURN(PredictionPage page, Predictions(project, endpoint, limit));
  EndpointPerformance out;
  out.to_ms = NowMillis();
  out.from_ms = out.to_ms - window_ms;
  out.scanned = static_cast<int64_t>(page.records.size());
  struct Acc {
    EndpointPerformance::Version v;
    std::vector<std::string> classes;
    std::vector<float> labels, scores;  // scores: P(class 1) (binary), all probs (multi), value
    std::vector<int64_t> times;         // of each labelled answer
    bool probabilities = true;
    std::vector<int64_t> delays_ms;  // of the answers with ground truth
    std::map<int64_t, int64_t> step_predictions;
  };
  std::map<int64_t, Acc> by_version;
  std::string model_name;
  {
    ASSIGN_OR_RETURN(auto state, Require(project, endpoint));
    model_name = state->record.model_name;
  }
  for (const auto& r : page.records) {
    if (r.shadow || r.ts < out.from_ms) continue;
    Json o = ParseJsonOr(r.outputs, Json());
    if (!o.is_object() || !o.contains("predictions") || o["predictions"].size() != 1) continue;
    Acc& a = by_version[r.version];
    a.v.version = r.version;
    ++a.v.predictions;
    if (step_ms > 0) ++a.step_predictions[r.ts - ((r.ts % step_ms) + step_ms) % step_ms];
    const bool classification = o.contains("classes");
    if (a.v.task.empty()) {
      a.classes = classification ? o["classes"].get<std::vector<std::string>>()
                                 : std::vector<std::string>();
      a.v.task = !classification ? "regression" : a.classes.size() > 2 ? "multiclass" : "binary";
    }
    if (!r.label) continue;
    // Label delay: from the answer to its ground truth (ground truth posted before the answer
    // reached this log, as from a replica, counts as none).
    a.delays_ms.push_back(std::max<int64_t>(0, r.label_ts - r.ts));
    if (!classification) {
      double y = 0;
      if (!absl::SimpleAtod(*r.label, &y) || !o["predictions"][0].is_number()) {
        ++a.v.unmatched_labels;
        continue;
      }
      a.labels.push_back(static_cast<float>(y));
      a.scores.push_back(o["predictions"][0].get<float>());
      a.times.push_back(r.ts);
      ++a.v.labelled;
      continue;
    }
    auto it = std::find(a.classes.begin(), a.classes.end(), *r.label);
    if (it == a.classes.end() || !o.contains("probabilities")) {
      if (it == a.classes.end()) ++a.v.unmatched_labels;
      if (!o.contains("probabilities")) a.probabilities = false;
      continue;
    }
    const Json& probs = o["probabilities"][0];
    if (!probs.is_array() || probs.size() != a.classes.size()) continue;
    a.labels.push_back(static_cast<float>(it - a.classes.begin()));
    if (a.v.task == "binary") {
      a.scores.push_back(probs[1].get<float>());
    } else {
      for (const auto& p : probs) a.scores.push_back(p.get<float>());
    }
    a.times.push_back(r.ts);
    ++a.v.labelled;
  }
  for (auto& [version, a] : by_version) {
    if (!a.delays_ms.empty()) {
      std::vector<int64_t>& delays = a.delays_ms;  // not a binding: the lambda captures it
      std::sort(delays.begin(), delays.end());
      auto at = [&delays](double q) {
        return static_cast<double>(delays[static_cast<size_t>(q * (delays.size() - 1))]) / 1000.0;
      };
      a.v.label_delay_p50_s = at(0.5);
      a.v.label_delay_p90_s = at(0.9);
    }
    const std::string task = a.v.task;
    const int k = static_cast<int>(a.classes.size());
    Acc& acc = a;  // not a binding: the lambda captures it
    // Realised metrics and outcomes of the labelled answers in [begin, end).
    auto fit = [&acc, &task, k](size_t begin, size_t end, Json* metrics,
                                std::map<std::string, int64_t>* outcomes) {
      const size_t width = task == "multiclass" ? static_cast<size_t>(k) : 1;
      std::vector<float> labels(acc.labels.begin() + static_cast<ptrdiff_t>(begin),
                                acc.labels.begin() + static_cast<ptrdiff_t>(end));
      std::vector<float> scores(acc.scores.begin() + static_cast<ptrdiff_t>(begin * width),
                                acc.scores.begin() + static_cast<ptrdiff_t>(end * width));
      if (labels.empty()) {
        *metrics = Json::object();
        return;
      }
      if (task == "regression") {
        *metrics = ml::RegressionMetrics(labels, scores);
        return;
      }
      if (task == "binary") {
        *metrics = ml::BinaryMetrics(labels, scores);
        for (const char* curve : {"roc", "pr", "calibration"}) metrics->erase(curve);
        for (const char* o : {"tp", "fp", "tn", "fn"}) (*outcomes)[o] = 0;
        for (size_t i = 0; i < labels.size(); ++i) {
          const bool pos = scores[i] >= 0.5f, truth = labels[i] == 1;
          ++(*outcomes)[pos ? (truth ? "tp" : "fp") : (truth ? "fn" : "tn")];
        }
        return;
      }
      *metrics = ml::MulticlassMetrics(labels, scores, k);
      (*outcomes)["correct"] = 0;
      (*outcomes)["incorrect"] = 0;
      for (size_t i = 0; i < labels.size(); ++i) {
        const float* p = scores.data() + i * width;
        const size_t top = static_cast<size_t>(std::max_element(p, p + width) - p);
        ++(*outcomes)[top == static_cast<size_t>(labels[i]) ? "correct" : "incorrect"];
      }
    };
    fit(0, a.labels.size(), &a.v.metrics, &a.v.outcomes);
    if (step_ms > 0) {
      // The log reads newest first: order the labelled answers by time, then cut by step.
      std::vector<size_t> order(a.times.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::vector<int64_t>& times = a.times;  // not a binding: the lambda captures it
      std::stable_sort(order.begin(), order.end(),
                       [&times](size_t x, size_t y) { return times[x] < times[y]; });
      const size_t width = task == "multiclass" ? static_cast<size_t>(k) : 1;
      std::vector<float> labels, scores;
      std::vector<int64_t> sorted_times;
      for (size_t i : order) {
        labels.push_back(a.labels[i]);
        sorted_times.push_back(a.times[i]);
        for (size_t c = 0; c < width; ++c) scores.push_back(a.scores[i * width + c]);
      }
      a.labels = std::move(labels);
      a.scores = std::move(scores);
      auto floor = [step_ms](int64_t t) { return t - ((t % step_ms) + step_ms) % step_ms; };
      std::map<int64_t, std::pair<size_t, size_t>> ranges;  // step -> labelled [begin, end)
      for (size_t i = 0; i < sorted_times.size(); ++i) {
        auto [it, fresh] = ranges.try_emplace(floor(sorted_times[i]), i, i + 1);
        if (!fresh) it->second.second = i + 1;
      }
      for (const auto& [start, n] : a.step_predictions) {
        EndpointPerformance::Version::Step st;
        st.start_ms = start;
        st.predictions = n;
        st.metrics = Json::object();
        if (auto r = ranges.find(start); r != ranges.end()) {
          st.labelled = static_cast<int64_t>(r->second.second - r->second.first);
          fit(r->second.first, r->second.second, &st.metrics, &st.outcomes);
        }
        a.v.steps.push_back(std::move(st));
      }
    }
    auto v = registry_->GetVersion(project, model_name, absl::StrCat(version));
    a.v.holdout = v.ok() ? ParseJsonOr(v->manifest, Json::object()).value("metrics", Json::object())
                         : Json::object();
    out.versions.push_back(std::move(a.v));
  }
  return out;
}

absl::Status ServingService::IngestLog(const RequestContext& ctx, const Project& project,
                                       absl::string_view endpoint,
                                       std::vector<PredictionRecord> records,
                                       absl::string_view replica) {
  ASSIGN_OR_RETURN(auto state, Require(project, endpoint));
  for (auto& r : records) r.endpoint_id = state->record.id;
  RETURN_IF_ERROR(log_->Append(PredictionLog::Key::Of(state->record), records));
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    return AuditLog::AppendInTx(
        tx, ctx,
        {"endpoint.log.ingest", absl::StrCat("project/", project.name, "/endpoint/", endpoint),
         project.name, Json{{"records", records.size()}, {"replica", std::string(replica)}}});
  }));
  log_written_.fetch_add(records.size(), std::memory_order_relaxed);
  if (observer_ != nullptr) {
    // Monitoring summarises forwarded answers as its own: the rows decoded again by the
    // version that answered them (if it is served here), the answer recomputed (the engine
    // is deterministic).
    for (const auto& r : records) {
      const ml::Servable* servable = nullptr;
      for (const auto& t : state->targets) {
        if (t.version == r.version) servable = t.servable.get();
      }
      if (state->shadow && state->shadow->version == r.version) {
        servable = state->shadow->servable.get();
      }
      if (servable == nullptr) continue;
      auto batch = servable->DecodeText(r.features);
      if (!batch.ok()) continue;
      const ml::Prediction p = servable->Predict(*batch);
      observer_->OnServed({state->record.id, project.id, state->record.model_id, r.version,
                           r.shadow, r.ts, r.latency_us, servable, &*batch, &p});
    }
  }
  return absl::OkStatus();
}

void ServingService::Enqueue(LogEntry e) {
  {
    std::lock_guard<std::mutex> l(log_mu_);
    if (log_queue_.size() >= options_.log_queue || log_stop_) {
      log_dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    log_queue_.push_back(std::move(e));
    // The writer wakes by itself every 50 ms; a request wakes it only when a full batch is
    // waiting, so a busy endpoint costs one commit per batch, not one per request.
    if (log_queue_.size() != kLogBatch) return;
  }
  log_cv_.notify_one();
}

void ServingService::FlushLog() {
  std::unique_lock<std::mutex> l(log_mu_);
  ++log_flushes_;
  log_cv_.notify_one();
  log_idle_cv_.wait_for(l, std::chrono::seconds(10),
                        [&] { return (log_queue_.empty() && log_busy_ == 0) || log_stop_; });
  --log_flushes_;
}

void ServingService::WriterLoop() {
  // The writer runs at the same priority as the request threads. A lower one was tried:
  // at nice 10 a saturated two-core machine serving 38,000 requests/s gave it too small a
  // share and 3% of entries were dropped; nice 5 still dropped some under the benchmark;
  // SCHED_IDLE starved it outright; and none of them shortened the request latency tail
  // (nice 0 measured best: p99 3.1 ms against 3.5-3.9 ms).
  int64_t next_prune = 0;
  for (;;) {
    // Retention: once an hour, entries older than the retention period go.
    if (options_.retention_days > 0 && NowMillis() >= next_prune) {
      const int64_t before = NowMillis() - int64_t{options_.retention_days} * 86400 * 1000;
      std::vector<PredictionLog::Key> live;
      int64_t labels = 0;
      absl::Status ps = store_->Write([&](Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(auto endpoints, tx.endpoints().ListAll());
        for (const auto& e : endpoints) live.push_back(PredictionLog::Key::Of(e));
        ASSIGN_OR_RETURN(labels, tx.endpoints().PruneFeedback(before));
        return absl::OkStatus();
      });
      absl::StatusOr<PredictionLog::PruneResult> pruned =
          ps.ok() ? log_->Prune(before, live) : absl::StatusOr<PredictionLog::PruneResult>(ps);
      if (!pruned.ok()) spdlog::warn("prediction log retention: {}", pruned.status().ToString());
      if (pruned.ok() && (pruned->segments > 0 || labels > 0)) {
        spdlog::info("prediction log: {} segment files ({} bytes) and {} labels deleted",
                     pruned->segments, pruned->bytes, labels);
      }
      next_prune = NowMillis() + 3600 * 1000;
    }
    std::vector<LogEntry> batch;
    {
      std::unique_lock<std::mutex> l(log_mu_);
      log_cv_.wait_for(l, std::chrono::milliseconds(50), [&] {
        return log_stop_ || log_flushes_ > 0 || log_queue_.size() >= kLogBatch;
      });
      if (log_queue_.empty()) {
        log_idle_cv_.notify_all();
        if (log_stop_) return;
        continue;
      }
      while (!log_queue_.empty() && batch.size() < 4 * kLogBatch) {
        batch.push_back(std::move(log_queue_.front()));
        log_queue_.pop_front();
      }
      log_busy_ = batch.size();
    }
    // Entries by endpoint (a batch is nearly always one endpoint's).
    std::vector<std::pair<PredictionLog::Key, std::vector<PredictionRecord>>> groups;
    auto group_of = [&](const LogEntry& e) -> std::vector<PredictionRecord>& {
      for (auto& [key, recs] : groups) {
        if (key.id == e.record.endpoint_id && key.created_at == e.endpoint_created) return recs;
      }
      groups.emplace_back(PredictionLog::Key{e.record.endpoint_id, e.endpoint_created},
                          std::vector<PredictionRecord>());
      groups.back().second.reserve(batch.size());
      return groups.back().second;
    };
    for (auto& e : batch) {
      if (!e.refusal.empty()) {
        PredictionObserver::Served s{
            e.record.endpoint_id, e.project_id, e.model_id, e.record.version, false, e.record.ts, 0,
            e.servable.get()};
        observer_->OnRefused(s, e.record.features, e.refusal);
        continue;
      }
      std::vector<PredictionRecord>& records = group_of(e);
      std::optional<PredictionRecord> shadow;
      if (e.shadow && e.batch) {
        // The shadow answers the same rows; its answer only goes to the log.
        auto t0 = std::chrono::steady_clock::now();
        ml::Prediction p = e.shadow->Predict(*e.batch);
        PredictionRecord& r = shadow.emplace();
        r.endpoint_id = e.record.endpoint_id;
        r.request_id = e.record.request_id;
        r.ts = e.record.ts;
        r.features = e.record.features.empty() ? std::string("null") : e.record.features;
        r.version = e.shadow_version;
        r.shadow = true;
        r.latency_us = std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::steady_clock::now() - t0)
                           .count();
        r.outputs.push_back('{');
        e.shadow->AppendRenderedMembers(p, &r.outputs);
        absl::StrAppend(&r.outputs, ",\"version\":", e.shadow_version, "}");
        if (observer_ != nullptr) {
          observer_->OnServed({e.record.endpoint_id, e.project_id, e.model_id, e.shadow_version,
                               true, r.ts, r.latency_us, e.shadow.get(), e.batch.get(), &p});
        }
      }
      if (e.servable) {
        if (observer_ != nullptr && e.batch) {
          observer_->OnServed({e.record.endpoint_id, e.project_id, e.model_id, e.record.version,
                               false, e.record.ts, e.record.latency_us, e.servable.get(),
                               e.batch.get(), &e.prediction});
        }
        e.record.outputs.reserve(128);
        e.record.outputs.push_back('{');
        e.servable->AppendRenderedMembers(e.prediction, &e.record.outputs);
        e.record.outputs.push_back('}');
        records.push_back(std::move(e.record));
      }
      if (shadow) records.push_back(std::move(*shadow));
    }
    for (const auto& [key, records] : groups) {
      if (records.empty()) continue;
      // Answers of an endpoint deleted since: its log is gone and stays gone.
      if (transitions_.IsDeleted(key.id, key.created_at)) continue;
      absl::Status s = log_->Append(key, records);
      if (s.ok()) {
        log_written_.fetch_add(records.size(), std::memory_order_relaxed);
      } else {
        log_dropped_.fetch_add(records.size(), std::memory_order_relaxed);
        spdlog::warn("prediction log: {}", s.ToString());
      }
    }
    {
      std::lock_guard<std::mutex> l(log_mu_);
      log_busy_ = 0;
      if (log_queue_.empty()) log_idle_cv_.notify_all();
    }
  }
}

std::vector<RequestCounter> ServingService::RequestCounters() {
  std::vector<RequestCounter> out;
  absl::MutexLock l(&stats_mu_);
  for (const auto& [k, st] : stats_) {
    const int64_t id = st->endpoint_id.load(std::memory_order_relaxed);
    if (id == 0) continue;
    out.push_back({id, k.second, st->requests.load(std::memory_order_relaxed),
                   st->errors.load(std::memory_order_relaxed)});
  }
  return out;
}

ServingMetrics ServingService::Metrics(
    const std::function<bool(absl::string_view project)>& visible) {
  ServingMetrics out;
  {
    absl::MutexLock l(&stats_mu_);
    for (const auto& [k, st] : stats_) {
      if (!visible(absl::string_view(k.first).substr(0, k.first.find('/')))) continue;
      ServingMetrics::Requests& r = out.requests.emplace_back();
      r.endpoint = k.first;
      r.version = k.second;
      r.requests = st->requests.load();
      r.errors = st->errors.load();
      r.in_flight = st->in_flight.load();
      r.model_load_seconds = st->load_ms.load() / 1000.0;
      for (size_t b = 0; b < kLatencyBuckets.size(); ++b)
        r.latency_buckets[b] = st->buckets[b].load();
      r.latency_count = st->latency_count.load();
      r.latency_sum_seconds = st->latency_sum_ns.load() / 1e9;
    }
  }
  // The state of each version an endpoint serves or is trying to load, and its loads.
  std::vector<std::shared_ptr<const State>> all;
  {
    absl::ReaderMutexLock l(&mu_);
    for (const auto& [k, s] : states_) all.push_back(s);
  }
  std::map<int64_t, Project> projects;
  for (const auto& s : all) {
    auto it = projects.find(s->record.project_id);
    if (it == projects.end()) {
      it = projects.emplace(s->record.project_id, ProjectById(s->record.project_id)).first;
    }
    const Project& project = it->second;
    if (!visible(project.name)) continue;
    for (const auto& v : Describe(*s).versions) {
      ServingMetrics::Servable& m = out.servables.emplace_back();
      m.endpoint = absl::StrCat(project.name, "/", s->record.name);
      m.version = v.version;
      m.state = v.state;
      if (auto info = registry_->servables().Describe({s->record.model_id, v.version})) {
        m.load_failures_total = info->failures_total;
        m.load_seconds = info->load_seconds;
      }
    }
  }
  out.servable_cache_bytes = registry_->servables().bytes();
  out.log_dropped = log_dropped_.load();
  out.log_written = log_written_.load();
  return out;
}

}  // namespace kade
