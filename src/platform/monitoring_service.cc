#include "platform/monitoring_service.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/status.h"
#include "core/time.h"
#include "ml/batch_scorer.h"
#include "ml/servable.h"
#include "platform/audit_log.h"
#include "spdlog/spdlog.h"

namespace kade {

namespace {

constexpr int64_t kMinute = 60000, kHour = 3600000, kDay = 86400000;
// Minute buckets become hours after two hours, hours become days after eight days.
constexpr int64_t kKeepMinutes = 2 * kHour, kKeepHours = 8 * kDay;
constexpr char kOther[] = "(other)";

absl::Status Bad(absl::string_view field, absl::string_view msg) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", msg));
}

int64_t Floor(int64_t t, int64_t width) { return t - ((t % width) + width) % width; }

// The PCA model's input for one encoded row (`x`: the signature's features).
void PcaInput(const MonitoringService::Reference::Pca& p, const float* x, double* out) {
  for (size_t i = 0; i < p.columns.size(); ++i) {
    const float v = x[p.columns[i]];
    if (p.frequency[i].empty()) {
      out[i] = v;  // NaN: the model imputes the mean
    } else if (std::isnan(v)) {
      out[i] = p.missing[i];
    } else {
      const size_t code = static_cast<size_t>(v);
      out[i] = code < p.frequency[i].size() ? p.frequency[i][code] : 0;
    }
  }
}

}  // namespace

Json MonitorConfig::ToJson() const {
  Json rj = Json::object();
  for (const auto& [f, r] : rules) {
    Json x = Json::object();
    if (!r.method.empty()) x["method"] = r.method;
    if (r.threshold > 0) x["threshold"] = r.threshold;
    rj[f] = x;
  }
  Json j{{"reference", reference},
         {"features", features},
         {"windows", windows},
         {"rules", rj},
         {"drift_share", drift_share}};
  if (reference == "dataset") {
    j["dataset"] = dataset;
    j["dataset_version"] = dataset_version;
  }
  if (max_null_rate > 0) j["max_null_rate"] = max_null_rate;
  if (value) {
    Json v = Json::object();
    v["name"] = value->name;
    for (const auto& [k, x] : value->per_outcome) v[k] = x;
    j["value"] = v;
  }
  return j;
}

absl::StatusOr<MonitorConfig> MonitorConfig::FromJson(const Json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("monitor: expected a JSON object");
  static const std::set<std::string> kFields = {"reference",   "dataset",       "dataset_version",
                                                "features",    "windows",       "rules",
                                                "drift_share", "max_null_rate", "value"};
  for (const auto& [k, v] : j.items()) {
    if (!kFields.count(k)) {
      return Bad(k,
                 "unknown field (reference, dataset, dataset_version, features, windows, "
                 "rules, drift_share, max_null_rate, value)");
    }
  }
  MonitorConfig c;
  if (j.contains("reference")) {
    if (!j["reference"].is_string())
      return Bad("reference", "expected \"training\" or \"dataset\"");
    c.reference = j["reference"].get<std::string>();
    if (c.reference != "training" && c.reference != "dataset") {
      return Bad("reference", absl::StrCat("expected \"training\" or \"dataset\", got \"",
                                           c.reference.substr(0, 40), "\""));
    }
  }
  if (j.contains("dataset")) {
    if (!j["dataset"].is_string()) return Bad("dataset", "expected a dataset name");
    c.dataset = j["dataset"].get<std::string>();
  }
  if (j.contains("dataset_version")) {
    const Json& v = j["dataset_version"];
    if (v.is_number_integer()) {
      c.dataset_version = absl::StrCat(v.get<int64_t>());
    } else if (v.is_string()) {
      c.dataset_version = v.get<std::string>();
    } else {
      return Bad("dataset_version", "expected a version number or \"latest\"");
    }
  }
  if (c.reference == "dataset" && c.dataset.empty()) {
    return Bad("dataset", "required when reference is \"dataset\"");
  }
  if (c.reference == "dataset" && c.dataset_version.empty()) c.dataset_version = "latest";
  if (j.contains("features")) {
    if (!j["features"].is_array()) return Bad("features", "expected an array of feature names");
    c.features.clear();
    for (size_t i = 0; i < j["features"].size(); ++i) {
      if (!j["features"][i].is_string()) {
        return Bad(absl::StrCat("features[", i, "]"), "expected a feature name");
      }
      c.features.push_back(j["features"][i].get<std::string>());
    }
  }
  if (j.contains("windows")) {
    if (!j["windows"].is_array() || j["windows"].empty() || j["windows"].size() > 10) {
      return Bad("windows", "expected one to ten windows such as \"1h\"");
    }
    c.windows.clear();
    for (size_t i = 0; i < j["windows"].size(); ++i) {
      const Json& w = j["windows"][i];
      if (!w.is_string())
        return Bad(absl::StrCat("windows[", i, "]"), "expected a window (\"1h\")");
      auto ms = ParseWindow(w.get<std::string>());
      if (!ms.ok()) return Bad(absl::StrCat("windows[", i, "]"), ms.status().message());
      c.windows.push_back(w.get<std::string>());
    }
  }
  if (j.contains("rules")) {
    if (!j["rules"].is_object()) {
      return Bad("rules", "expected {feature: {method, threshold}}");
    }
    for (const auto& [f, r] : j["rules"].items()) {
      const std::string at = absl::StrCat("rules.", f);
      if (!r.is_object()) return Bad(at, "expected {method, threshold}");
      Rule rule;
      for (const auto& [k, v] : r.items()) {
        if (k == "method") {
          if (!v.is_string()) return Bad(at + ".method", "expected a method name");
          rule.method = v.get<std::string>();
          if (!ml::IsNumericMethod(rule.method) && !ml::IsCategoricalMethod(rule.method)) {
            return Bad(at + ".method",
                       absl::StrCat("unknown method \"", rule.method.substr(0, 40),
                                    "\" (ks, wasserstein, psi, jensenshannon, chisquare, "
                                    "l_infinity)"));
          }
        } else if (k == "threshold") {
          if (!v.is_number()) return Bad(at + ".threshold", "expected a number");
          rule.threshold = v.get<double>();
          if (!(rule.threshold > 0) || rule.threshold > 1000) {
            return Bad(at + ".threshold", "expected a number above 0");
          }
        } else {
          return Bad(absl::StrCat(at, ".", k), "unknown field (method, threshold)");
        }
      }
      c.rules[f] = rule;
    }
  }
  for (const char* k : {"drift_share", "max_null_rate"}) {
    if (!j.contains(k)) continue;
    if (!j[k].is_number()) return Bad(k, "expected a number between 0 and 1");
    const double v = j[k].get<double>();
    if (!(v > 0) || v > 1) return Bad(k, "expected a number above 0 and at most 1");
    (std::string(k) == "drift_share" ? c.drift_share : c.max_null_rate) = v;
  }
  if (j.contains("value") && !j["value"].is_null()) {
    const Json& v = j["value"];
    if (!v.is_object()) {
      return Bad("value", "expected {name, tp, fp, tn, fn} or {name, correct, incorrect}");
    }
    ValueModel m;
    for (const auto& [k, x] : v.items()) {
      const std::string at = absl::StrCat("value.", k);
      if (k == "name") {
        if (!x.is_string()) return Bad(at, "expected a KPI name");
        m.name = x.get<std::string>();
        if (m.name.empty() || m.name.size() > 100 || !IsValidUtf8(m.name)) {
          return Bad(at, "expected a name of 1 to 100 characters (UTF-8)");
        }
        continue;
      }
      static const std::set<std::string> kOutcomes = {"tp", "fp",      "tn",
                                                      "fn", "correct", "incorrect"};
      if (!kOutcomes.count(k)) {
        return Bad(at, "unknown field (name, tp, fp, tn, fn, correct, incorrect)");
      }
      if (!x.is_number() || !std::isfinite(x.get<double>()) || std::abs(x.get<double>()) > 1e12) {
        return Bad(at, "expected a finite number (the value of one such outcome)");
      }
      m.per_outcome[k] = x.get<double>();
    }
    if (m.per_outcome.empty()) return Bad("value", "give the value of at least one outcome");
    const bool binary = m.per_outcome.count("tp") || m.per_outcome.count("fp") ||
                        m.per_outcome.count("tn") || m.per_outcome.count("fn");
    const bool multi = m.per_outcome.count("correct") || m.per_outcome.count("incorrect");
    if (binary && multi) {
      return Bad("value", "either binary outcomes (tp, fp, tn, fn) or correct/incorrect, not both");
    }
    c.value = m;
  }
  return c;
}

MonitoringService::MonitoringService(MetadataStore* store, RegistryService* registry,
                                     DatasetService* datasets, ServingService* serving,
                                     BatchService* batch, int retention_days)
    : store_(store),
      registry_(registry),
      datasets_(datasets),
      serving_(serving),
      batch_(batch),
      retention_days_(retention_days) {}

MonitoringService::~MonitoringService() { Stop(); }

void MonitoringService::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
  builder_ = std::thread([this] { BuildLoop(); });
  std::lock_guard<std::mutex> l(mu_);
  builder_running_ = true;
}

void MonitoringService::Stop() {
  if (!thread_.joinable()) return;
  stop_.Notify();
  {
    std::lock_guard<std::mutex> l(mu_);
    builder_running_ = false;
    build_cv_.notify_all();
  }
  builder_.join();
  thread_.join();
  if (auto s = Flush(); !s.ok()) spdlog::warn("monitoring: {}", s.ToString());
}

void MonitoringService::Loop() {
  while (!stop_.WaitForNotificationWithTimeout(absl::Seconds(5))) {
    if (auto s = Flush(); !s.ok()) spdlog::warn("monitoring: {}", s.ToString());
  }
}

// References are built off the log writer's thread: building reads the store and scans a
// sample of the reference dataset (seconds for a large one), and the writer must not stall.
void MonitoringService::BuildLoop() {
  while (true) {
    BuildTask task;
    {
      std::unique_lock<std::mutex> l(mu_);
      build_cv_.wait(l, [this] { return stop_.HasBeenNotified() || !build_queue_.empty(); });
      if (stop_.HasBeenNotified()) return;
      task = build_queue_.front();
      build_queue_.pop_front();
    }
    ReferenceFor(task.project_id, task.endpoint_id, task.model_id, task.version, true);
    std::lock_guard<std::mutex> l(mu_);
    building_.erase({task.endpoint_id, task.version});
    built_cv_.notify_all();
  }
}

// ---- live summaries ----

std::shared_ptr<const MonitoringService::Reference> MonitoringService::ReferenceFor(
    int64_t project_id, int64_t endpoint_id, int64_t model_id, int64_t version, bool wait) {
  {
    std::unique_lock<std::mutex> l(mu_);
    auto fresh = [&]() -> std::shared_ptr<const Reference> {
      auto it = references_.find({endpoint_id, version});
      // A reference that could not be built is tried again after a minute.
      if (it != references_.end() &&
          (it->second->error.empty() || NowMillis() - it->second->built_ms < kMinute)) {
        return it->second;
      }
      return nullptr;
    };
    if (auto r = fresh()) return r;
    if (!wait && builder_running_) {
      // The writer waits a moment (a small reference is built in milliseconds); beyond that,
      // rows are summarised without it (no out-of-range counts and no reconstruction errors
      // for them) until it is there.
      if (building_.insert({endpoint_id, version}).second) {
        build_queue_.push_back({project_id, endpoint_id, model_id, version});
        build_cv_.notify_one();
      }
      built_cv_.wait_for(l, std::chrono::seconds(1), [&] {
        return !building_.count({endpoint_id, version}) || !builder_running_;
      });
      if (auto r = fresh()) return r;
      static const auto* pending = [] {
        auto* r = new Reference();
        r->error = "the reference is being built";
        return new std::shared_ptr<const Reference>(r);
      }();
      return *pending;
    }
  }
  Project project;
  absl::StatusOr<std::shared_ptr<const Reference>> built = absl::NotFoundError("no project");
  absl::Status s = store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto p, tx.projects().FindById(project_id));
    if (p) project = *p;
    return absl::OkStatus();
  });
  if (s.ok() && project.id != 0) {
    auto config = ConfigOf(endpoint_id);
    built = config.ok() ? BuildReference(project, model_id, version, *config)
                        : absl::StatusOr<std::shared_ptr<const Reference>>(config.status());
  }
  std::shared_ptr<const Reference> ref;
  if (built.ok()) {
    ref = *built;
  } else {
    auto r = std::make_shared<Reference>();
    r->error = std::string(built.status().message());
    r->built_ms = NowMillis();
    ref = r;
  }
  std::lock_guard<std::mutex> l(mu_);
  references_[{endpoint_id, version}] = ref;
  return ref;
}

void MonitoringService::OnServed(const Served& s) {
  if (s.servable == nullptr || s.batch == nullptr || s.prediction == nullptr) return;
  auto ref = ReferenceFor(s.project_id, s.endpoint_id, s.model_id, s.version, false);
  const ml::Encoding& sig = s.servable->signature();
  const size_t nf = sig.features.size();
  const ml::Batch& b = *s.batch;
  const ml::Prediction& p = *s.prediction;
  std::lock_guard<std::mutex> l(mu_);
  const Key key{s.endpoint_id, s.version, Floor(s.ts, kMinute)};
  WindowSummary& w = pending_[key];
  if (w.start_ms == 0) {
    w.start_ms = key.start_ms;
    w.width_ms = kMinute;
  }
  w.rows += static_cast<int64_t>(b.rows);
  ++w.requests;
  if (!s.shadow) w.latency.Add(s.latency_us);
  // The bucket's feature summaries and their references by signature position, looked up
  // once per bucket rather than by name for every request (map nodes do not move).
  Slots& slots = slots_[key];
  if (slots.servable != s.servable || slots.reference != ref) {
    slots.servable = s.servable;
    slots.reference = ref;
    slots.features.assign(nf, nullptr);
    slots.references.assign(nf, nullptr);
    for (size_t j = 0; j < nf; ++j) {
      slots.features[j] = &w.features[sig.features[j].name];
      auto it = ref->features.find(sig.features[j].name);
      if (it != ref->features.end()) slots.references[j] = &it->second;
    }
  }
  for (size_t j = 0; j < nf; ++j) {
    const ml::Feature& f = sig.features[j];
    FeatureSummary& fs = *slots.features[j];
    const bool boolean = f.source_type == ColumnType::kBool;
    fs.numeric = !f.categorical && !boolean;
    const ReferenceFeature* rf = slots.references[j];
    for (size_t r = 0; r < b.rows; ++r) {
      const float v = b.x[r * nf + j];
      if (std::isnan(v)) {
        ++fs.nulls;
      } else if (f.categorical) {
        const size_t code = static_cast<size_t>(v);
        if (code < f.categories.size()) fs.AddCategory(f.categories[code]);
      } else if (boolean) {
        fs.AddCategory(v != 0 ? "true" : "false");
      } else {
        fs.AddNumber(v);
        if (rf != nullptr && rf->min && rf->max && (v < *rf->min || v > *rf->max)) {
          ++fs.out_of_range;
        }
      }
    }
  }
  // Multivariate drift: each row's PCA reconstruction error against the reference.
  if (ref->pca && ref->pca->model.features == static_cast<int>(ref->pca->columns.size()) &&
      (ref->pca->columns.empty() || ref->pca->columns.back() < nf)) {
    double in[256];
    std::vector<double> heap;
    double* buf = in;
    if (ref->pca->columns.size() > 256) {
      heap.resize(ref->pca->columns.size());
      buf = heap.data();
    }
    w.reconstruction.numeric = true;
    for (size_t r = 0; r < b.rows; ++r) {
      PcaInput(*ref->pca, b.x.data() + r * nf, buf);
      w.reconstruction.AddNumber(ml::RowReconstructionError(ref->pca->model, buf));
    }
  }
  // Outputs: the score (binary: the positive class's probability; multi-class: the top
  // class's), the class, or the regression value.
  for (size_t r = 0; r < p.rows; ++r) {
    const float* o = p.output.data() + r * p.width;
    if (sig.task == "regression") {
      w.outputs["prediction"].AddNumber(o[0]);
      continue;
    }
    FeatureSummary& cls = w.outputs["class"];
    cls.numeric = false;
    cls.AddCategory(s.servable->Label(p, r));
    w.outputs["score"].AddNumber(p.width == 1 ? o[0] : *std::max_element(o, o + p.width));
  }
}

void MonitoringService::OnRefused(const Served& s, absl::string_view body,
                                  absl::string_view message) {
  if (s.servable == nullptr) return;
  std::vector<ml::InputProblem> problems;
  auto parsed = ParseJsonObject(body);
  if (parsed.ok()) problems = s.servable->Inspect(*parsed);
  std::lock_guard<std::mutex> l(mu_);
  WindowSummary& w = pending_[{s.endpoint_id, s.version, Floor(s.ts, kMinute)}];
  if (w.start_ms == 0) {
    w.start_ms = Floor(s.ts, kMinute);
    w.width_ms = kMinute;
  }
  ++w.refused;
  if (w.refusals.size() < 5) w.refusals.push_back(std::string(message.substr(0, 300)));
  for (const auto& pr : problems) {
    using C = ml::InputProblem::Check;
    if (pr.check == C::kExtraColumn) {
      if (w.extra_columns.size() < FeatureSummary::kMaxCategories) ++w.extra_columns[pr.feature];
      continue;
    }
    if (pr.feature.empty()) continue;
    FeatureSummary& fs = w.features[pr.feature];
    if (pr.check == C::kTypeError) ++fs.type_errors;
    if (pr.check == C::kUnseenCategory) ++fs.unseen;
    if (pr.check == C::kMissingColumn) ++fs.missing;
  }
}

absl::Status MonitoringService::Flush() {
  std::lock_guard<std::mutex> fl(flush_mu_);
  const int64_t now = NowMillis();
  // Requests and errors of every version since the last flush (service health).
  const std::vector<RequestCounter> counters = serving_->RequestCounters();
  std::map<Key, WindowSummary> taken;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& c : counters) {
      RequestCounter& last = counters_[{c.endpoint_id, c.version}];
      const uint64_t dr = c.requests >= last.requests ? c.requests - last.requests : c.requests;
      const uint64_t de = c.errors >= last.errors ? c.errors - last.errors : c.errors;
      last = c;
      if (dr == 0 && de == 0) continue;
      WindowSummary& w = pending_[{c.endpoint_id, c.version, Floor(now, kMinute)}];
      if (w.start_ms == 0) {
        w.start_ms = Floor(now, kMinute);
        w.width_ms = kMinute;
      }
      w.requests_total += static_cast<int64_t>(dr);
      w.errors_total += static_cast<int64_t>(de);
    }
    taken.swap(pending_);
    slots_.clear();
  }
  if (!taken.empty()) {
    absl::Status s = store_->Write([&](Transaction& tx) -> absl::Status {
      std::set<int64_t> live;
      ASSIGN_OR_RETURN(auto endpoints, tx.endpoints().ListAll());
      for (const auto& e : endpoints) live.insert(e.id);
      for (const auto& [k, w] : taken) {
        if (!live.count(k.endpoint_id)) continue;  // deleted since
        ASSIGN_OR_RETURN(auto old,
                         tx.monitoring().FindBucket(k.endpoint_id, k.version, kMinute, k.start_ms));
        WindowSummary merged = w;
        if (old) {
          auto prev = WindowSummary::FromBytes(old->summary);
          if (prev.ok()) {
            merged = *std::move(prev);
            merged.Merge(w);
          } else {
            spdlog::warn("monitoring: endpoint {} bucket {} replaced: {}", k.endpoint_id,
                         k.start_ms, prev.status().ToString());
          }
        }
        RETURN_IF_ERROR(tx.monitoring().PutBucket(
            {k.endpoint_id, k.version, kMinute, k.start_ms, merged.ToBytes()}));
      }
      return absl::OkStatus();
    });
    if (!s.ok()) {
      // Kept for the next flush, merged with what arrives meanwhile: nothing is lost to a
      // busy or failing store.
      std::lock_guard<std::mutex> l(mu_);
      for (auto& [k, w] : taken) pending_[k].Merge(w);
      return s;
    }
  }
  if (now >= next_rollup_) {
    RETURN_IF_ERROR(RollUp(now));
    next_rollup_ = now + 10 * kMinute;
  }
  return absl::OkStatus();
}

absl::Status MonitoringService::RollUp(int64_t now) {
  // Minutes older than two hours into their hours, hours older than eight days into their
  // days: each group in one transaction (merged, written, the parts deleted).
  for (const auto& level :
       {std::tuple{kMinute, kHour, kKeepMinutes}, std::tuple{kHour, kDay, kKeepHours}}) {
    // Plain variables: clang 14 lambdas cannot capture structured bindings.
    const int64_t width = std::get<0>(level), wider = std::get<1>(level);
    const int64_t keep = std::get<2>(level);
    const int64_t before = Floor(now - keep, wider);
    RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
      ASSIGN_OR_RETURN(auto parts, tx.monitoring().BucketsBefore(width, before));
      std::map<Key, WindowSummary> groups;
      for (const auto& b : parts) {
        auto w = WindowSummary::FromBytes(b.summary);
        const Key k{b.endpoint_id, b.version, Floor(b.start_ms, wider)};
        WindowSummary& g = groups[k];
        if (g.start_ms == 0) {
          g.start_ms = k.start_ms;
          g.width_ms = wider;
        }
        if (w.ok()) g.Merge(*w);
        RETURN_IF_ERROR(tx.monitoring().DeleteBucket(b.endpoint_id, b.version, width, b.start_ms));
      }
      for (auto& [k, g] : groups) {
        ASSIGN_OR_RETURN(auto old,
                         tx.monitoring().FindBucket(k.endpoint_id, k.version, wider, k.start_ms));
        if (old) {
          if (auto prev = WindowSummary::FromBytes(old->summary); prev.ok()) g.Merge(*prev);
        }
        g.start_ms = k.start_ms;
        g.width_ms = wider;
        RETURN_IF_ERROR(
            tx.monitoring().PutBucket({k.endpoint_id, k.version, wider, k.start_ms, g.ToBytes()}));
      }
      return absl::OkStatus();
    }));
  }
  if (retention_days_ > 0) {
    const int64_t before = now - int64_t{retention_days_} * kDay;
    RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
      RETURN_IF_ERROR(tx.monitoring().PruneBuckets(before).status());
      return tx.monitoring().PruneKpis(before).status();
    }));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<int64_t, WindowSummary>> MonitoringService::Window(int64_t endpoint_id,
                                                                           int64_t from,
                                                                           int64_t to) {
  ASSIGN_OR_RETURN(auto steps, Steps(endpoint_id, from, to, 0));
  std::map<int64_t, WindowSummary> out;
  for (auto& [version, by_step] : steps) {
    for (auto& [start, w] : by_step) out[version] = std::move(w);
  }
  return out;
}

absl::StatusOr<std::map<int64_t, std::map<int64_t, WindowSummary>>> MonitoringService::Steps(
    int64_t endpoint_id, int64_t from, int64_t to, int64_t step_ms) {
  std::vector<MonitorBucket> stored;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(stored, tx.monitoring().Buckets(endpoint_id, Floor(from, kMinute), to));
    return absl::OkStatus();
  }));
  auto step_of = [step_ms, from](int64_t start) {
    return step_ms > 0 ? Floor(start, step_ms) : Floor(from, kMinute);
  };
  std::map<int64_t, std::map<int64_t, WindowSummary>> out;
  for (const auto& b : stored) {
    auto w = WindowSummary::FromBytes(b.summary);
    if (!w.ok()) continue;  // a damaged bucket is left out, not fatal to the report
    out[b.version][step_of(b.start_ms)].Merge(*w);
  }
  std::lock_guard<std::mutex> l(mu_);
  for (auto it = pending_.lower_bound({endpoint_id, INT64_MIN, INT64_MIN});
       it != pending_.end() && it->first.endpoint_id == endpoint_id; ++it) {
    if (it->first.start_ms >= Floor(from, kMinute) && it->first.start_ms < to) {
      out[it->first.version][step_of(it->first.start_ms)].Merge(it->second);
    }
  }
  return out;
}

// ---- references ----

namespace {

MonitoringService::ReferenceFeature FromProfileColumn(const Json& c) {
  MonitoringService::ReferenceFeature f;
  f.count = c.value("count", int64_t{0}) - c.value("nulls", int64_t{0});
  f.nulls = c.value("nulls", int64_t{0});
  f.distinct = c.value("distinct", 0.0);
  const std::string type = c.value("type", std::string());
  const bool has_kll = c.contains("sketch") && c["sketch"].contains("kll");
  if (has_kll && type != "categorical" && type != "bool" && type != "string") {
    f.numeric = true;
    if (auto k = KllSketch::FromJson(c["sketch"]["kll"]); k.ok()) f.kll = *std::move(k);
    if (c["sketch"].contains("moments")) {
      const Json& m = c["sketch"]["moments"];
      if (m.contains("min") && m["min"].is_number()) f.min = m["min"].get<double>();
      if (m.contains("max") && m["max"].is_number()) f.max = m["max"].get<double>();
    }
    return f;
  }
  f.numeric = false;
  int64_t seen = 0;
  if (c.contains("top") && c["top"].is_array()) {
    for (const auto& t : c["top"]) {
      f.categories[t.value("value", std::string())] += t.value("count", int64_t{0});
      seen += t.value("count", int64_t{0});
    }
  } else if (c.contains("true_count")) {
    f.categories["true"] = c["true_count"].get<int64_t>();
    f.categories["false"] = c["false_count"].get<int64_t>();
    seen = f.count;
  }
  if (f.count > seen) f.categories[kOther] = f.count - seen;
  return f;
}

constexpr size_t kPcaSample = 10000;  // reference rows sampled for the PCA model

// Fits the multivariate drift model on a sample of the reference dataset version.
absl::StatusOr<MonitoringService::Reference::Pca> FitPca(DatasetService* datasets,
                                                         const Project& project,
                                                         const std::string& dataset,
                                                         int64_t version, const ml::Encoding& sig,
                                                         const std::vector<std::string>& watched) {
  MonitoringService::Reference::Pca p;
  std::set<std::string> w(watched.begin(), watched.end());
  for (size_t j = 0; j < sig.features.size(); ++j) {
    if (w.empty() || w.count(sig.features[j].name)) p.columns.push_back(j);
  }
  if (p.columns.size() < 2) {
    return absl::FailedPreconditionError("multivariate drift needs at least two watched features");
  }
  ml::SampleEncoder sample(sig, kPcaSample);
  RETURN_IF_ERROR(datasets->Scan(project, dataset, absl::StrCat(version), &sample));
  const size_t nf = sig.features.size(), n = sample.rows();
  if (n < 20) return absl::FailedPreconditionError("the reference has fewer than 20 rows");
  const float* x = sample.x().data();
  p.frequency.resize(p.columns.size());
  p.missing.assign(p.columns.size(), 0);
  for (size_t i = 0; i < p.columns.size(); ++i) {
    const ml::Feature& f = sig.features[p.columns[i]];
    if (!f.categorical) continue;
    std::vector<double>& share = p.frequency[i];
    share.assign(std::max<size_t>(1, f.categories.size()), 0);
    for (size_t r = 0; r < n; ++r) {
      const float v = x[r * nf + p.columns[i]];
      if (!std::isnan(v) && static_cast<size_t>(v) < share.size()) share[static_cast<size_t>(v)]++;
    }
    for (double& c : share) c /= static_cast<double>(n);
    p.missing[i] = *std::max_element(share.begin(), share.end());
  }
  std::vector<std::vector<double>> rows(n, std::vector<double>(p.columns.size()));
  for (size_t r = 0; r < n; ++r) PcaInput(p, x + r * nf, rows[r].data());
  ASSIGN_OR_RETURN(p.model, ml::FitPcaDrift(rows));
  p.row_errors.reserve(n);
  for (const auto& row : rows)
    p.row_errors.push_back(ml::RowReconstructionError(p.model, row.data()));
  return p;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const MonitoringService::Reference>>
MonitoringService::BuildReference(const Project& project, int64_t model_id, int64_t version,
                                  const MonitorConfig& config) {
  auto ref = std::make_shared<Reference>();
  ref->built_ms = NowMillis();
  std::string model_name;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto m, tx.registry().FindModelById(model_id));
    if (!m) return absl::NotFoundError("the endpoint's model is gone");
    model_name = m->name;
    return absl::OkStatus();
  }));
  ASSIGN_OR_RETURN(ModelVersion mv,
                   registry_->GetVersion(project, model_name, absl::StrCat(version)));
  const Json manifest = ParseJsonOr(mv.manifest, Json::object());
  const Json lineage = manifest.value("lineage", Json::object());
  std::string dataset = config.dataset, dataset_version = config.dataset_version;
  if (config.reference == "training") {
    dataset = lineage.value("dataset", std::string());
    dataset_version =
        lineage.contains("version") ? absl::StrCat(lineage["version"].get<int64_t>()) : "";
    if (dataset.empty() || dataset_version.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "version ", version,
          " has no training dataset in its lineage: choose a reference dataset for the monitor"));
    }
  }
  ASSIGN_OR_RETURN(DatasetVersion dv,
                   datasets_->GetVersion(project, dataset, dataset_version, true));
  const Json profile = ParseJsonOr(dv.profile, Json::object());
  for (const auto& c : profile.value("columns", Json::array())) {
    ref->features[c.value("name", std::string())] = FromProfileColumn(c);
  }
  ref->rows = dv.rows;
  ref->description = absl::StrCat(dataset, "@", dv.version,
                                  config.reference == "training" ? " (training data)" : "");
  // Multivariate drift: a PCA model of a sample of the reference rows. Without it the
  // univariate reports still stand; the note says why.
  if (auto sig = ml::EncodingFromJson(manifest.value("signature", Json::object())); sig.ok()) {
    auto pca = FitPca(datasets_, project, dataset, dv.version, *sig, config.features);
    if (pca.ok()) {
      ref->pca = *std::move(pca);
    } else {
      ref->pca_note = std::string(pca.status().message());
    }
  } else {
    ref->pca_note = std::string(sig.status().message());
  }
  // The outputs' reference: the version's holdout predictions, when it has them.
  const std::string run_id = lineage.value("run_id", std::string());
  if (!run_id.empty()) {
    auto csv = registry_->ReadArtifact(
        project, absl::StrCat("runs/", run_id, "/artifacts/eval/predictions.csv"), 256ull << 20);
    if (csv.ok()) {
      const Json sig = manifest.value("signature", Json::object());
      const std::string task = sig.value("task", std::string());
      std::vector<std::string> classes;
      for (const auto& c : sig.value("classes", Json::array()))
        classes.push_back(c.get<std::string>());
      ReferenceFeature score, cls, value;
      cls.numeric = false;
      std::vector<double> holdout_scores, holdout_labels;
      bool header = true;
      for (absl::string_view line : absl::StrSplit(*csv, '\n')) {
        if (header || line.empty()) {
          header = false;
          continue;
        }
        std::vector<absl::string_view> parts = absl::StrSplit(line, ',');
        if (parts.size() < 3) continue;
        std::vector<double> probs;
        for (absl::string_view x : absl::StrSplit(parts[2], ';')) {
          double d;
          if (absl::SimpleAtod(x, &d)) probs.push_back(d);
        }
        if (probs.empty()) continue;
        if (task == "regression") {
          value.kll.Add(probs[0]);
          ++value.count;
        } else if (task == "binary" && classes.size() == 2) {
          double label;
          if (absl::SimpleAtod(parts[1], &label) && (label == 0 || label == 1)) {
            holdout_scores.push_back(probs[0]);
            holdout_labels.push_back(label);
          }
          score.kll.Add(probs[0]);
          ++score.count;
          ++cls.categories[classes[probs[0] >= 0.5 ? 1 : 0]];
          ++cls.count;
        } else if (!classes.empty() && probs.size() == classes.size()) {
          const size_t k =
              static_cast<size_t>(std::max_element(probs.begin(), probs.end()) - probs.begin());
          score.kll.Add(probs[k]);
          ++score.count;
          ++cls.categories[classes[k]];
          ++cls.count;
        }
      }
      ref->calibration = ml::IsotonicCalibrator::Fit(holdout_scores, holdout_labels);
      // Scores and predicted values are continuous: tested by KS, not as categories.
      value.distinct = static_cast<double>(value.count);
      score.distinct = static_cast<double>(score.count);
      if (value.count > 0) ref->outputs["prediction"] = std::move(value);
      if (score.count > 0) ref->outputs["score"] = std::move(score);
      if (cls.count > 0) ref->outputs["class"] = std::move(cls);
    }
  }
  return std::shared_ptr<const Reference>(std::move(ref));
}

// ---- configuration ----

absl::StatusOr<MonitorConfig> MonitoringService::ConfigOf(int64_t endpoint_id) {
  std::optional<MonitorRecord> rec;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(rec, tx.monitoring().FindMonitor(endpoint_id));
    return absl::OkStatus();
  }));
  if (!rec) return MonitorConfig();
  auto c = MonitorConfig::FromJson(ParseJsonOr(rec->config, Json::object()));
  if (!c.ok()) return absl::DataLossError(absl::StrCat("stored monitor: ", c.status().message()));
  return c;
}

absl::StatusOr<EndpointStatus> MonitoringService::Endpoint(const Project& project,
                                                           absl::string_view name) {
  return serving_->Get(project, name);
}

std::vector<std::pair<int64_t, Json>> MonitoringService::ServedSignatures(const Project& project,
                                                                          const EndpointStatus& e) {
  std::vector<std::pair<int64_t, Json>> out;
  for (const auto& v : e.serving) {
    auto mv = registry_->GetVersion(project, e.record.model_name, absl::StrCat(v.version));
    if (!mv.ok()) continue;
    out.emplace_back(v.version,
                     ParseJsonOr(mv->manifest, Json::object()).value("signature", Json::object()));
  }
  return out;
}

std::vector<std::string> MonitoringService::ServedFeatures(const Project& project,
                                                           const EndpointStatus& e) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& vs : ServedSignatures(project, e)) {
    for (const auto& f : vs.second.value("features", Json::array())) {
      const std::string n = f.value("name", "");
      if (seen.insert(n).second) out.push_back(n);
    }
  }
  return out;
}

std::set<std::string> MonitoringService::CategoricalFeatures(const Project& project,
                                                             const EndpointStatus& e) {
  std::set<std::string> out;
  for (const auto& vs : ServedSignatures(project, e)) {
    for (const auto& f : vs.second.value("features", Json::array())) {
      if (f.value("type", "") == "categorical" || f.value("source_type", "") == "bool") {
        out.insert(f.value("name", ""));
      }
    }
  }
  return out;
}

absl::StatusOr<Monitor> MonitoringService::Get(const Project& project, absl::string_view endpoint) {
  ASSIGN_OR_RETURN(EndpointStatus e, Endpoint(project, endpoint));
  Monitor m;
  m.endpoint = e.record.name;
  m.served_features = ServedFeatures(project, e);
  std::optional<MonitorRecord> rec;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(rec, tx.monitoring().FindMonitor(e.record.id));
    return absl::OkStatus();
  }));
  if (rec) {
    ASSIGN_OR_RETURN(m.config, ConfigOf(e.record.id));
    m.is_default = false;
    m.updated_by = rec->updated_by;
    m.updated_at = rec->updated_at;
  }
  return m;
}

absl::StatusOr<Monitor> MonitoringService::Put(const RequestContext& ctx, const Project& project,
                                               absl::string_view endpoint,
                                               const MonitorConfig& config) {
  ASSIGN_OR_RETURN(EndpointStatus e, Endpoint(project, endpoint));
  // Features and rules name features of a version the endpoint serves.
  const std::vector<std::string> served = ServedFeatures(project, e);
  const std::set<std::string> known(served.begin(), served.end());
  auto check = [&](const std::string& f, const std::string& field) -> absl::Status {
    if (known.empty() || known.count(f)) return absl::OkStatus();
    return Bad(field, absl::StrCat("unknown feature \"", f.substr(0, 60),
                                   "\" (the endpoint's model has ", known.size(), " features)"));
  };
  for (size_t i = 0; i < config.features.size(); ++i) {
    RETURN_IF_ERROR(check(config.features[i], absl::StrCat("features[", i, "]")));
  }
  for (const auto& [f, r] : config.rules) RETURN_IF_ERROR(check(f, absl::StrCat("rules.", f)));
  // A method must fit the feature's kind: KS and Wasserstein compare numbers, so a rule asking
  // for them on a categorical (or boolean) feature would silently fall back to the default.
  // A value per outcome must name the outcomes of the served task.
  if (config.value) {
    const bool binary_outcomes = !config.value->per_outcome.count("correct") &&
                                 !config.value->per_outcome.count("incorrect");
    for (const auto& vs : ServedSignatures(project, e)) {
      const int64_t version = vs.first;
      const std::string task = vs.second.value("task", std::string());
      if (task == "regression") {
        return Bad("value", absl::StrCat("version ", version,
                                         " is a regression model: its answers have no outcomes "
                                         "to value (post the KPI instead)"));
      }
      if (task == "binary" && !binary_outcomes) {
        return Bad("value", absl::StrCat("version ", version,
                                         " is a binary classifier: value tp, fp, tn and fn"));
      }
      if (task == "multiclass" && binary_outcomes) {
        return Bad("value", absl::StrCat("version ", version,
                                         " is a multi-class classifier: value correct and "
                                         "incorrect"));
      }
    }
  }
  const std::set<std::string> categorical = CategoricalFeatures(project, e);
  for (const auto& [f, r] : config.rules) {
    if (categorical.count(f) && !r.method.empty() && !ml::IsCategoricalMethod(r.method)) {
      return Bad(absl::StrCat("rules.", f, ".method"),
                 absl::StrCat("\"", r.method, "\" compares numbers; \"", f,
                              "\" is categorical (chisquare, jensenshannon, psi, l_infinity)"));
    }
  }
  if (config.reference == "dataset") {
    RETURN_IF_ERROR(
        datasets_->GetVersion(project, config.dataset, config.dataset_version, false).status());
  }
  MonitorRecord rec{e.record.id, config.ToJson().dump(), ctx.principal.user_name, NowMillis()};
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    RETURN_IF_ERROR(tx.monitoring().PutMonitor(rec));
    return AuditLog::AppendInTx(
        tx, ctx,
        {"endpoint.monitor.update",
         absl::StrCat("project/", project.name, "/endpoint/", e.record.name), project.name,
         config.ToJson()});
  }));
  {
    std::lock_guard<std::mutex> l(mu_);
    for (auto it = references_.begin(); it != references_.end();) {
      it = it->first.first == e.record.id ? references_.erase(it) : std::next(it);
    }
  }
  return Get(project, endpoint);
}

// ---- reports ----

namespace {

// Rows of a numeric summary as a weighted sample (its KLL items).
ml::WeightedSample SampleOf(const KllSketch& k) { return ml::FromSketch(k); }

FeatureDriftReport CompareNumeric(const std::string& name,
                                  const MonitoringService::ReferenceFeature& ref,
                                  const FeatureSummary& cur, const MonitorConfig::Rule* rule,
                                  double reference_rows) {
  FeatureDriftReport r;
  r.name = name;
  r.numeric = true;
  r.reference_count = ref.count;
  r.current_count = cur.count;
  for (int i = 1; i < 10; ++i) {
    const double q = ref.kll.Quantile(i / 10.0);
    if (r.edges.empty() || q > r.edges.back()) r.edges.push_back(q);
  }
  const ml::WeightedSample rs = SampleOf(ref.kll), cs = SampleOf(cur.kll);
  std::string method = rule && !rule->method.empty()
                           ? rule->method
                           : ml::DefaultDriftMethod(true, reference_rows, ref.distinct);
  r.test = ml::NumericDrift(rs, cs, static_cast<double>(ref.kll.count()),
                            static_cast<double>(cur.kll.count()), r.edges, method,
                            rule ? rule->threshold : 0);
  r.reference_shares = ml::BinShares(rs, r.edges);
  r.current_shares = ml::BinShares(cs, r.edges);
  return r;
}

FeatureDriftReport CompareCategorical(const std::string& name,
                                      const MonitoringService::ReferenceFeature& ref,
                                      const FeatureSummary& cur, const MonitorConfig::Rule* rule,
                                      double reference_rows) {
  FeatureDriftReport r;
  r.name = name;
  r.numeric = false;
  r.reference_count = ref.count;
  r.current_count = cur.count;
  // Categories the reference counts only as "(other)" (beyond its top ten) are compared as
  // "(other)" here too; with no "(other)" in the reference they are new.
  std::map<std::string, int64_t> current;
  const bool ref_other = ref.categories.count(kOther) > 0;
  for (const auto& [c, n] : cur.CategoryCounts()) {
    current[ref.categories.count(c) || !ref_other ? c : std::string(kOther)] += n;
  }
  std::string method = rule && !rule->method.empty() && ml::IsCategoricalMethod(rule->method)
                           ? rule->method
                           : ml::DefaultDriftMethod(false, reference_rows, 0);
  r.test = ml::CategoricalDrift(ref.categories, current, method, rule ? rule->threshold : 0);
  const ml::AlignedCategories al = ml::AlignCategories(ref.categories, current);
  r.categories = al.categories;
  r.reference_shares = ml::Shares(al.reference_counts);
  r.current_shares = ml::Shares(al.current_counts);
  return r;
}

// The version that answered most in the window.
int64_t Busiest(const std::map<int64_t, WindowSummary>& by_version) {
  int64_t best = 0, rows = -1;
  for (const auto& [v, w] : by_version) {
    if (w.rows > rows) {
      best = v;
      rows = w.rows;
    }
  }
  return best;
}

}  // namespace

absl::StatusOr<DriftReport> MonitoringService::Drift(const Project& project,
                                                     absl::string_view endpoint, int64_t window_ms,
                                                     int64_t version) {
  ASSIGN_OR_RETURN(EndpointStatus e, Endpoint(project, endpoint));
  ASSIGN_OR_RETURN(MonitorConfig config, ConfigOf(e.record.id));
  DriftReport out;
  out.to_ms = NowMillis();
  out.from_ms = out.to_ms - window_ms;
  out.drift_share = config.drift_share;
  ASSIGN_OR_RETURN(auto by_version, Window(e.record.id, out.from_ms, out.to_ms + kMinute));
  if (version == 0) version = Busiest(by_version);
  if (version == 0 && !e.serving.empty()) version = e.serving.front().version;
  out.version = version;
  auto ref = ReferenceFor(project.id, e.record.id, e.record.model_id, version);
  CompareWindow(*ref, config, by_version[version], &out);
  return out;
}

void MonitoringService::CompareWindow(const Reference& reference, const MonitorConfig& config,
                                      const WindowSummary& w, DriftReport* report) {
  DriftReport& out = *report;
  const Reference* ref = &reference;
  out.drift_share = config.drift_share;
  out.rows = w.rows;
  out.reference = ref->description;
  if (!ref->error.empty()) {
    out.note = absl::StrCat("no reference: ", ref->error);
    return;
  }
  if (w.rows == 0) {
    out.note = "no logged traffic in the window";
    return;
  }
  const double ref_rows = static_cast<double>(ref->rows);
  std::set<std::string> watched(config.features.begin(), config.features.end());
  for (const auto& [name, cur] : w.features) {
    if (!watched.empty() && !watched.count(name)) continue;
    auto it = ref->features.find(name);
    if (it == ref->features.end() || cur.count == 0) continue;
    const MonitorConfig::Rule* rule = config.rules.count(name) ? &config.rules.at(name) : nullptr;
    if (it->second.numeric && cur.numeric) {
      if (it->second.kll.count() == 0) continue;
      out.features.push_back(CompareNumeric(name, it->second, cur, rule, ref_rows));
    } else if (!it->second.numeric && !cur.numeric) {
      out.features.push_back(CompareCategorical(name, it->second, cur, rule, ref_rows));
    }
  }
  for (const auto& f : out.features) {
    ++out.features_checked;
    out.features_drifted += f.test.drifted ? 1 : 0;
  }
  out.share = out.features_checked > 0
                  ? static_cast<double>(out.features_drifted) / out.features_checked
                  : 0;
  out.dataset_drift = out.features_checked > 0 && out.share >= config.drift_share;
  // Multivariate drift: the window's mean reconstruction error against the band of reference
  // chunks of as many rows (at most a tenth of the sample, so that there are ten chunks).
  MultivariateDriftReport& mv = out.multivariate;
  if (!ref->pca) {
    mv.note = ref->pca_note.empty() ? "no PCA model of the reference" : ref->pca_note;
  } else if (w.reconstruction.count == 0) {
    mv.note = "no rows with a reconstruction error in the window";
  } else {
    const auto& p = *ref->pca;
    mv.available = true;
    mv.rows = w.reconstruction.count;
    mv.error = w.reconstruction.sum / static_cast<double>(w.reconstruction.count);
    mv.reference_error = p.model.reference_error;
    const size_t chunk = std::clamp<size_t>(static_cast<size_t>(mv.rows), 1,
                                            std::max<size_t>(1, p.row_errors.size() / 10));
    const ml::PcaBand band = ml::ChunkBand(p.row_errors, chunk);
    mv.lower = band.lower;
    mv.upper = band.upper;
    mv.chunk_rows = static_cast<int64_t>(chunk);
    mv.chunks = static_cast<int64_t>(band.chunks);
    mv.components = p.model.kept;
    mv.features = p.model.features;
    mv.explained_variance = p.model.explained_variance;
    mv.drifted = mv.error > mv.upper || mv.error < mv.lower;
  }
  // Prediction drift: the outputs against the holdout's predictions.
  for (const auto& [name, cur] : w.outputs) {
    auto it = ref->outputs.find(name);
    if (it == ref->outputs.end() || cur.count == 0) continue;
    const double n = static_cast<double>(it->second.count);
    if (it->second.numeric) {
      if (it->second.kll.count() > 0) {
        out.outputs.push_back(CompareNumeric(name, it->second, cur, nullptr, n));
      }
    } else {
      out.outputs.push_back(CompareCategorical(name, it->second, cur, nullptr, n));
    }
  }
}

absl::StatusOr<QualityReport> MonitoringService::Quality(const Project& project,
                                                         absl::string_view endpoint,
                                                         int64_t window_ms) {
  ASSIGN_OR_RETURN(EndpointStatus e, Endpoint(project, endpoint));
  ASSIGN_OR_RETURN(MonitorConfig config, ConfigOf(e.record.id));
  QualityReport out;
  out.to_ms = NowMillis();
  out.from_ms = out.to_ms - window_ms;
  ASSIGN_OR_RETURN(auto by_version, Window(e.record.id, out.from_ms, out.to_ms + kMinute));
  WindowSummary all;
  for (const auto& [v, w] : by_version) all.Merge(w);
  out.rows = all.rows;
  out.requests = all.requests;
  out.refused = all.refused;
  out.refusals = all.refusals;
  const int64_t version = Busiest(by_version) != 0
                              ? Busiest(by_version)
                              : (e.serving.empty() ? 0 : e.serving.front().version);
  auto ref = version != 0 ? ReferenceFor(project.id, e.record.id, e.record.model_id, version)
                          : std::make_shared<const Reference>();
  const double null_margin = config.max_null_rate > 0 ? config.max_null_rate : 0.1;
  std::set<std::string> watched(config.features.begin(), config.features.end());
  for (const auto& entry : all.features) {
    const std::string& name = entry.first;  // not a binding: the lambda below captures it
    const FeatureSummary& f = entry.second;
    if (!watched.empty() && !watched.count(name)) continue;
    FeatureQuality q;
    q.name = name;
    q.count = f.count;
    q.nulls = f.nulls;
    q.out_of_range = f.out_of_range;
    q.type_errors = f.type_errors;
    q.unseen = f.unseen;
    q.missing = f.missing;
    const int64_t n = f.count + f.nulls;
    q.null_rate = n > 0 ? static_cast<double>(f.nulls) / static_cast<double>(n) : 0;
    if (f.count > 0 && f.numeric) {
      q.min = f.min;
      q.max = f.max;
    }
    auto it = ref->features.find(name);
    if (it != ref->features.end()) {
      const auto& rf = it->second;
      const int64_t rn = rf.count + rf.nulls;
      q.reference_null_rate = rn > 0 ? static_cast<double>(rf.nulls) / static_cast<double>(rn) : 0;
      q.reference_min = rf.min;
      q.reference_max = rf.max;
    }
    auto violate = [&](const char* check, std::string description, double value) {
      out.violations.push_back({name, check, std::move(description), value});
    };
    if (n > 0 && q.null_rate > q.reference_null_rate + null_margin) {
      violate("null_rate",
              absl::StrFormat("%.1f%% of values are null (reference %.1f%%, allowed +%.0f points)",
                              100 * q.null_rate, 100 * q.reference_null_rate, 100 * null_margin),
              q.null_rate);
    }
    if (f.type_errors > 0) {
      violate("type_error",
              absl::StrCat(f.type_errors, " values of the wrong type in refused requests"),
              static_cast<double>(f.type_errors));
    }
    if (f.unseen > 0) {
      violate(
          "unseen_category",
          absl::StrCat(f.unseen, " values of categories the model never saw (requests refused)"),
          static_cast<double>(f.unseen));
    }
    if (f.missing > 0) {
      violate("missing_column", absl::StrCat("missing from ", f.missing, " refused records"),
              static_cast<double>(f.missing));
    }
    if (f.out_of_range > 0 && q.reference_min && q.reference_max) {
      const double rate = f.count > 0 ? static_cast<double>(f.out_of_range) / f.count : 0;
      violate("out_of_range",
              absl::StrFormat("%d values (%.1f%%) outside the reference range [%g, %g]",
                              f.out_of_range, 100 * rate, *q.reference_min, *q.reference_max),
              rate);
    }
    out.features.push_back(std::move(q));
  }
  for (const auto& [name, n] : all.extra_columns) {
    out.violations.push_back(
        {name, "extra_column",
         absl::StrCat("sent ", n, " times but not a feature of the model (requests refused)"),
         static_cast<double>(n)});
  }
  return out;
}

absl::StatusOr<HealthReport> MonitoringService::Health(const Project& project,
                                                       absl::string_view endpoint,
                                                       int64_t window_ms) {
  ASSIGN_OR_RETURN(EndpointStatus e, Endpoint(project, endpoint));
  HealthReport out;
  out.to_ms = NowMillis();
  out.from_ms = out.to_ms - window_ms;
  // Points per minute up to six hours, per hour up to eight days, else per day.
  out.step_ms = window_ms <= 6 * kHour ? kMinute : window_ms <= 8 * kDay ? kHour : kDay;
  std::vector<MonitorBucket> stored;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(stored, tx.monitoring().Buckets(e.record.id, Floor(out.from_ms, kMinute),
                                                     out.to_ms + kMinute));
    return absl::OkStatus();
  }));
  std::map<int64_t, std::map<int64_t, WindowSummary>> points;  // version -> step start
  WindowSummary total;
  auto add = [&](int64_t version, const WindowSummary& w) {
    points[version][Floor(w.start_ms, out.step_ms)].Merge(w);
    total.Merge(w);
  };
  for (const auto& b : stored) {
    if (auto w = WindowSummary::FromBytes(b.summary); w.ok()) add(b.version, *w);
  }
  {
    std::vector<std::pair<int64_t, WindowSummary>> live;
    {
      std::lock_guard<std::mutex> l(mu_);
      for (auto it = pending_.lower_bound({e.record.id, INT64_MIN, INT64_MIN});
           it != pending_.end() && it->first.endpoint_id == e.record.id; ++it) {
        if (it->first.start_ms >= Floor(out.from_ms, kMinute)) {
          live.emplace_back(it->first.version, it->second);
        }
      }
    }
    for (const auto& [v, w] : live) add(v, w);
  }
  auto point = [&](int64_t start, const WindowSummary& w) {
    HealthPoint p;
    p.start_ms = start;
    p.width_ms = out.step_ms;
    p.requests = std::max(w.requests_total, w.requests);
    p.errors = w.errors_total;
    p.refused = w.refused;
    p.error_rate = p.requests > 0 ? static_cast<double>(p.errors) / p.requests : 0;
    // Availability counts the server's failures, not requests refused for their content.
    const int64_t failures = std::max<int64_t>(0, p.errors - p.refused);
    p.availability = p.requests > 0 ? 1 - static_cast<double>(failures) / p.requests : 1;
    p.p50_ms = w.latency.PercentileMicros(0.5) / 1000;
    p.p95_ms = w.latency.PercentileMicros(0.95) / 1000;
    p.p99_ms = w.latency.PercentileMicros(0.99) / 1000;
    return p;
  };
  for (const auto& [v, steps] : points) {
    for (const auto& [start, w] : steps) out.versions[v].push_back(point(start, w));
  }
  out.total = point(Floor(out.from_ms, out.step_ms), total);
  out.total.width_ms = window_ms;
  return out;
}

absl::Status MonitoringService::PostKpis(const RequestContext& ctx, const Project& project,
                                         absl::string_view endpoint, std::vector<KpiPoint> points) {
  ASSIGN_OR_RETURN(EndpointStatus e, Endpoint(project, endpoint));
  for (auto& p : points) {
    p.endpoint_id = e.record.id;
    p.actor = ctx.principal.user_name;
  }
  return store_->Write([&](Transaction& tx) -> absl::Status {
    RETURN_IF_ERROR(tx.monitoring().AddKpis(points));
    return AuditLog::AppendInTx(
        tx, ctx,
        {"endpoint.kpi.post", absl::StrCat("project/", project.name, "/endpoint/", e.record.name),
         project.name, Json{{"points", points.size()}}});
  });
}

absl::StatusOr<EndpointPerformance> MonitoringService::Performance(const Project& project,
                                                                   absl::string_view endpoint,
                                                                   int64_t window_ms) {
  ASSIGN_OR_RETURN(EndpointStatus e, Endpoint(project, endpoint));
  ASSIGN_OR_RETURN(EndpointPerformance perf, serving_->Performance(project, endpoint, window_ms));
  ASSIGN_OR_RETURN(auto by_version, Window(e.record.id, perf.from_ms, perf.to_ms + kMinute));
  for (const auto& [version, w] : by_version) {
    auto score = w.outputs.find("score");
    if (score == w.outputs.end() || score->second.kll.count() == 0) continue;
    auto ref = ReferenceFor(project.id, e.record.id, e.record.model_id, version);
    if (ref->calibration.empty()) continue;
    const ml::CbpeEstimate est =
        ml::EstimateBinary(ref->calibration, ml::FromSketch(score->second.kll));
    EndpointPerformance::Version* v = nullptr;
    for (auto& x : perf.versions) {
      if (x.version == version) v = &x;
    }
    if (v == nullptr) {
      v = &perf.versions.emplace_back();
      v->version = version;
      v->task = "binary";
      v->metrics = Json::object();
      v->holdout = Json::object();
    }
    v->estimated = Json{{"method", "cbpe"},
                        {"auc", est.auc},
                        {"accuracy", est.accuracy},
                        {"rows", static_cast<int64_t>(std::llround(est.rows))}};
  }
  return perf;
}

absl::StatusOr<KpiReport> MonitoringService::Kpis(const Project& project,
                                                  absl::string_view endpoint, int64_t window_ms) {
  ASSIGN_OR_RETURN(EndpointStatus e, Endpoint(project, endpoint));
  KpiReport out;
  out.to_ms = NowMillis();
  out.from_ms = out.to_ms - window_ms;
  std::vector<KpiPoint> points;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(points, tx.monitoring().Kpis(e.record.id, out.from_ms, out.to_ms + 1));
    return absl::OkStatus();
  }));
  std::map<std::string, KpiReport::Series> by_name;
  for (const auto& p : points) {
    auto& s = by_name[p.name];
    s.name = p.name;
    s.sum += p.value;
    ++s.count;
    if (s.points.size() < 10000) s.points.emplace_back(p.ts, p.value);
  }
  for (auto& [n, s] : by_name) out.series.push_back(std::move(s));
  // The value derived from ground truth, per hour (per day beyond two days).
  ASSIGN_OR_RETURN(MonitorConfig config, ConfigOf(e.record.id));
  if (config.value) {
    const int64_t step = window_ms <= 2 * kDay ? kHour : kDay;
    ASSIGN_OR_RETURN(EndpointPerformance perf,
                     serving_->Performance(project, endpoint, window_ms, 100000, step));
    KpiReport::Series s;
    s.name = config.value->name;
    s.derived = true;
    std::map<int64_t, double> per_step;
    for (const auto& v : perf.versions) {
      for (const auto& [o, n] : v.outcomes) s.outcomes[o] += n;
      for (const auto& st : v.steps) {
        if (st.labelled == 0) continue;
        double x = 0;
        for (const auto& [o, n] : st.outcomes) {
          auto it = config.value->per_outcome.find(o);
          if (it != config.value->per_outcome.end()) x += it->second * static_cast<double>(n);
        }
        per_step[st.start_ms] += x;
        s.count += st.labelled;
      }
    }
    for (const auto& [t, x] : per_step) {
      s.sum += x;
      s.points.emplace_back(t, x);
    }
    // A posted series of the same name is replaced by the derived one.
    out.series.erase(std::remove_if(out.series.begin(), out.series.end(),
                                    [&s](const KpiReport::Series& x) { return x.name == s.name; }),
                     out.series.end());
    out.series.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<TrendReport> MonitoringService::Trend(const Project& project,
                                                     absl::string_view endpoint, int64_t window_ms,
                                                     int64_t step_ms, int64_t version) {
  if (step_ms < kMinute || window_ms / step_ms > 500) {
    return Bad("step", "expected a step of at least a minute and at most 500 steps per window");
  }
  ASSIGN_OR_RETURN(EndpointStatus e, Endpoint(project, endpoint));
  ASSIGN_OR_RETURN(MonitorConfig config, ConfigOf(e.record.id));
  TrendReport out;
  out.to_ms = NowMillis();
  out.from_ms = out.to_ms - window_ms;
  out.step_ms = step_ms;
  ASSIGN_OR_RETURN(auto steps, Steps(e.record.id, out.from_ms, out.to_ms + kMinute, step_ms));
  if (version == 0) {
    int64_t most = 0;
    for (const auto& [v, by_step] : steps) {
      int64_t rows = 0;
      for (const auto& [t, w] : by_step) rows += w.rows;
      if (rows > most) {
        most = rows;
        version = v;
      }
    }
  }
  if (version == 0 && !e.serving.empty()) version = e.serving.front().version;
  out.version = version;
  auto ref = ReferenceFor(project.id, e.record.id, e.record.model_id, version);
  out.reference = ref->description;
  ASSIGN_OR_RETURN(EndpointPerformance perf,
                   serving_->Performance(project, endpoint, window_ms, 100000, step_ms));
  const EndpointPerformance::Version* fit = nullptr;
  for (const auto& v : perf.versions) {
    if (v.version == version) fit = &v;
  }
  if (config.value) out.value_name = config.value->name;
  const auto& by_step = steps[version];
  for (int64_t t = Floor(out.from_ms, step_ms); t <= out.to_ms; t += step_ms) {
    TrendPoint p;
    p.start_ms = t;
    if (auto it = by_step.find(t); it != by_step.end() && it->second.rows > 0) {
      DriftReport d;
      CompareWindow(*ref, config, it->second, &d);
      p.rows = d.rows;
      p.features_checked = d.features_checked;
      p.features_drifted = d.features_drifted;
      p.share = d.share;
      p.dataset_drift = d.dataset_drift;
      for (const auto& f : d.features) {
        p.feature_drift.emplace_back(f.name, f.test.value);
        if (f.test.drifted) p.drifted.push_back(f.name);
      }
      p.multivariate = d.multivariate;
      auto score = it->second.outputs.find("score");
      if (!ref->calibration.empty() && score != it->second.outputs.end() &&
          score->second.kll.count() > 0) {
        const ml::CbpeEstimate est =
            ml::EstimateBinary(ref->calibration, ml::FromSketch(score->second.kll));
        p.estimated_auc = est.auc;
        p.estimated_accuracy = est.accuracy;
      }
    }
    if (fit != nullptr) {
      for (const auto& st : fit->steps) {
        if (st.start_ms != t) continue;
        p.predictions = st.predictions;
        p.labelled = st.labelled;
        p.realised = st.metrics;
        if (config.value && st.labelled > 0) {
          double x = 0;
          for (const auto& [o, n] : st.outcomes) {
            auto v = config.value->per_outcome.find(o);
            if (v != config.value->per_outcome.end()) x += v->second * static_cast<double>(n);
          }
          p.value = x;
        }
      }
    }
    out.points.push_back(std::move(p));
  }
  return out;
}

absl::StatusOr<BatchMonitorReport> MonitoringService::BatchMonitoring(const Project& project,
                                                                      absl::string_view schedule) {
  ASSIGN_OR_RETURN(ScheduleView view, batch_->GetSchedule(project, schedule));
  BatchMonitorReport out;
  out.schedule = view.schedule.name;
  out.model = ParseJsonOr(view.schedule.spec, Json::object()).value("model", std::string());
  for (const auto& job : view.history) {
    BatchRunDrift r;
    r.job = job.uuid;
    r.created_at = job.created_at;
    r.status = job.status;
    const Json result = ParseJsonOr(job.result, Json::object());
    if (job.status != "succeeded" || !result.contains("input")) {
      r.note = absl::StrCat("the job ", job.status);
      out.runs.push_back(std::move(r));
      continue;
    }
    r.input = result.value("input", std::string());
    r.model_version = result.value("model_version", int64_t{0});
    r.rows = result.value("rows", int64_t{0});
    r.unseen_categories = result.value("unseen_categories", int64_t{0});
    const size_t at = r.input.rfind('@');
    auto mv = registry_->GetVersion(project, result.value("model", std::string()),
                                    absl::StrCat(r.model_version));
    const Json lineage =
        mv.ok() ? ParseJsonOr(mv->manifest, Json::object()).value("lineage", Json::object())
                : Json::object();
    if (at == std::string::npos || !lineage.contains("dataset") || !lineage.contains("version")) {
      r.note = "the model version has no training dataset in its lineage";
      out.runs.push_back(std::move(r));
      continue;
    }
    r.reference =
        absl::StrCat(lineage["dataset"].get<std::string>(), "@", lineage["version"].get<int64_t>());
    auto diff = datasets_->DiffAcross(project, lineage["dataset"].get<std::string>(),
                                      absl::StrCat(lineage["version"].get<int64_t>()),
                                      r.input.substr(0, at), r.input.substr(at + 1));
    if (!diff.ok()) {
      r.note = std::string(diff.status().message());
    } else {
      const Json& d = (*diff)["drift"];
      r.columns_checked = d.value("columns_checked", 0);
      r.columns_drifted = d.value("columns_drifted", 0);
      r.dataset_drift = d.value("dataset_drift", false);
      for (const auto& c : (*diff)["columns"]) {
        if (c.contains("drift") && c["drift"].value("drifted", false)) {
          r.drifted.push_back(c.value("name", std::string()));
        }
      }
    }
    out.runs.push_back(std::move(r));
  }
  return out;
}

std::vector<FleetEntry> MonitoringService::Fleet(const std::vector<Project>& projects) {
  std::vector<FleetEntry> out;
  auto rank = [](const std::string& s) {
    return s == "red" ? 3 : s == "amber" ? 2 : s == "green" ? 1 : 0;
  };
  for (const auto& project : projects) {
    auto endpoints = serving_->List(project);
    if (!endpoints.ok()) continue;
    for (const auto& e : *endpoints) {
      FleetEntry f;
      f.project = project.name;
      f.endpoint = e.record.name;
      f.model = e.record.model_name;
      f.ready = e.ready;
      std::vector<std::string> reasons;
      auto health = Health(project, e.record.name, kHour);
      if (health.ok()) {
        f.requests = health->total.requests;
        f.error_rate = health->total.error_rate;
        f.p99_ms = health->total.p99_ms;
      }
      if (!e.ready) {
        f.health = "red";
        reasons.push_back(absl::StrCat("not ready: ", e.error));
      } else if (!health.ok() || f.requests == 0) {
        f.health = "grey";
      } else if (health->total.availability < 0.99) {
        f.health = "red";
        reasons.push_back(absl::StrFormat("availability %.1f%%", 100 * health->total.availability));
      } else if (f.error_rate > 0.05) {
        f.health = "amber";
        reasons.push_back(absl::StrFormat("%.1f%% of requests failed", 100 * f.error_rate));
      } else {
        f.health = "green";
      }
      auto drift = Drift(project, e.record.name, kDay);
      if (!drift.ok() || drift->features_checked == 0) {
        f.drift = "grey";
      } else {
        f.features_checked = drift->features_checked;
        f.features_drifted = drift->features_drifted;
        f.drift = drift->dataset_drift ? "red" : drift->features_drifted > 0 ? "amber" : "green";
        if (drift->features_drifted > 0) {
          std::vector<std::string> names;
          for (const auto& x : drift->features) {
            if (x.test.drifted) names.push_back(x.name);
          }
          reasons.push_back(absl::StrCat(drift->features_drifted, " of ", drift->features_checked,
                                         " features drifted (", absl::StrJoin(names, ", "), ")"));
        }
      }
      if (drift.ok() && drift->multivariate.drifted) {
        f.multivariate_drift = true;
        if (f.drift == "green" || f.drift == "grey") f.drift = "amber";
        reasons.push_back(absl::StrFormat(
            "multivariate drift (reconstruction error %.3g, band %.3g-%.3g)",
            drift->multivariate.error, drift->multivariate.lower, drift->multivariate.upper));
      }
      // Fit: realised (else estimated) against the training holdout, for the busiest version.
      f.fit = "grey";
      if (auto perf = Performance(project, e.record.name, kDay); perf.ok()) {
        const EndpointPerformance::Version* best = nullptr;
        for (const auto& v : perf->versions) {
          if (best == nullptr || v.predictions > best->predictions) best = &v;
        }
        if (best != nullptr) {
          auto num = [](const Json& j, const char* k) -> std::optional<double> {
            if (j.is_object() && j.contains(k) && j[k].is_number()) return j[k].get<double>();
            return std::nullopt;
          };
          const bool regression = best->task == "regression";
          const char* metric = regression ? "rmse" : best->task == "binary" ? "auc" : "accuracy";
          std::optional<double> now = num(best->metrics, metric),
                                holdout = num(best->holdout, metric);
          std::string how = metric;
          if (!now && best->estimated.is_object()) {
            now = num(best->estimated, metric);
            how = absl::StrCat("estimated ", metric);
          }
          if (now) {
            f.fit_label = holdout ? absl::StrFormat("%s %.3f (holdout %.3f)", how, *now, *holdout)
                                  : absl::StrFormat("%s %.3f", how, *now);
            f.fit = "green";
            if (holdout) {
              // Worse by: AUC/accuracy points lost; RMSE growth as a share of the holdout's.
              const double worse =
                  regression ? (*now - *holdout) / std::max(1e-12, *holdout) : *holdout - *now;
              const double amber = regression ? 0.2 : 0.05, red = regression ? 0.5 : 0.1;
              f.fit = worse > red ? "red" : worse > amber ? "amber" : "green";
              if (worse > amber) reasons.push_back(absl::StrCat("fit: ", f.fit_label));
            }
          }
        }
      }
      if (auto k = Kpis(project, e.record.name, kDay); k.ok() && !k->series.empty()) {
        const KpiReport::Series* s = &k->series.front();
        for (const auto& x : k->series) {
          if (x.derived) s = &x;
        }
        f.value_name = s->name;
        f.value = s->sum;
      }
      auto quality = Quality(project, e.record.name, kDay);
      if (!quality.ok() || quality->requests + quality->refused == 0) {
        f.quality = "grey";
      } else {
        f.violations = static_cast<int>(quality->violations.size());
        f.quality = f.violations == 0 ? "green" : f.violations > 2 ? "red" : "amber";
        if (f.violations > 0) reasons.push_back(absl::StrCat(f.violations, " quality violations"));
      }
      f.status = f.health;
      for (const auto* s : {&f.drift, &f.quality, &f.fit}) {
        if (rank(*s) > rank(f.status)) f.status = *s;
      }
      f.reason = absl::StrJoin(reasons, "; ");
      out.push_back(std::move(f));
    }
    auto schedules = batch_->ListSchedules(project);
    if (!schedules.ok()) continue;
    for (const auto& sv : *schedules) {
      FleetEntry f;
      f.kind = "batch";
      f.project = project.name;
      f.endpoint = sv.schedule.name;
      f.model = ParseJsonOr(sv.schedule.spec, Json::object()).value("model", std::string());
      f.ready = sv.schedule.enabled;
      f.health = f.drift = f.quality = "grey";
      std::vector<std::string> reasons;
      auto report = BatchMonitoring(project, sv.schedule.name);
      if (report.ok() && !report->runs.empty()) {
        const BatchRunDrift& last = report->runs.front();
        f.health = last.status == "failed" ? "red" : "green";
        if (last.status == "failed") reasons.push_back("the last run failed");
        for (const auto& r : report->runs) {
          if (r.status != "succeeded" || r.columns_checked == 0) continue;
          f.features_checked = r.columns_checked;
          f.features_drifted = r.columns_drifted;
          f.drift = r.dataset_drift ? "red" : r.columns_drifted > 0 ? "amber" : "green";
          if (r.columns_drifted > 0) {
            reasons.push_back(absl::StrCat(r.columns_drifted, " of ", r.columns_checked,
                                           " columns of ", r.input, " drifted (",
                                           absl::StrJoin(r.drifted, ", "), ")"));
          }
          f.quality = r.unseen_categories > 0 ? "amber" : "green";
          if (r.unseen_categories > 0) {
            reasons.push_back(absl::StrCat(r.unseen_categories, " unseen categories"));
          }
          break;
        }
      }
      f.status = f.health;
      for (const auto* x : {&f.drift, &f.quality}) {
        if (rank(*x) > rank(f.status)) f.status = *x;
      }
      f.reason = absl::StrJoin(reasons, "; ");
      out.push_back(std::move(f));
    }
  }
  std::stable_sort(out.begin(), out.end(), [&](const FleetEntry& a, const FleetEntry& b) {
    return rank(a.status) > rank(b.status);
  });
  return out;
}

MonitorGauges MonitoringService::Gauges(const std::vector<Project>& projects) {
  MonitorGauges out;
  std::lock_guard<std::mutex> l(gauges_mu_);
  const int64_t now = NowMillis();
  for (const auto& project : projects) {
    auto& cached = gauges_[project.id];
    if (now - cached.first >= 15000) {
      cached.second.clear();
      auto endpoints = serving_->List(project);
      if (endpoints.ok()) {
        for (const auto& e : *endpoints) {
          MonitorGauges::Endpoint g;
          g.project = project.name;
          g.endpoint = e.record.name;
          if (auto d = Drift(project, e.record.name, kDay); d.ok()) g.drift = *std::move(d);
          if (auto h = Health(project, e.record.name, kHour); h.ok()) g.health = h->total;
          if (auto q = Quality(project, e.record.name, kDay); q.ok()) {
            g.violations = static_cast<int>(q->violations.size());
          }
          if (auto k = Kpis(project, e.record.name, kDay); k.ok()) {
            for (const auto& s : k->series) g.kpis.emplace_back(s.name, s.sum);
          }
          if (auto perf = serving_->Performance(project, e.record.name, kDay); perf.ok()) {
            const EndpointPerformance::Version* best = nullptr;
            for (const auto& v : perf->versions) {
              if (v.labelled > 0 && (best == nullptr || v.labelled > best->labelled)) best = &v;
            }
            if (best != nullptr && best->metrics.is_object()) {
              for (const char* m : {"auc", "accuracy", "f1", "logloss", "rmse", "mae", "r2"}) {
                if (best->metrics.contains(m) && best->metrics[m].is_number()) {
                  g.fit[m] = best->metrics[m].get<double>();
                }
              }
            }
          }
          cached.second.push_back(std::move(g));
        }
      }
      cached.first = now;
    }
    for (const auto& g : cached.second) out.endpoints.push_back(g);
  }
  return out;
}

}  // namespace kade
