#include "platform/alert_service.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/crypto.h"
#include "core/status.h"
#include "core/time.h"
#include "platform/audit_log.h"
#include "platform/names.h"
#include "spdlog/spdlog.h"

namespace kade {

namespace {

constexpr int kMaxAttempts = 10;

absl::Status Bad(absl::string_view field, absl::string_view msg) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", msg));
}

const std::set<std::string>& Metrics() {
  static const auto* m = new std::set<std::string>{"dataset_drift",
                                                   "drift_share",
                                                   "feature_drift",
                                                   "feature_drifted",
                                                   "error_rate",
                                                   "availability",
                                                   "p99_ms",
                                                   "requests",
                                                   "violations",
                                                   "kpi",
                                                   "auc",
                                                   "accuracy",
                                                   "rmse",
                                                   "estimated_auc",
                                                   "estimated_accuracy",
                                                   "multivariate_drift",
                                                   "reconstruction_error"};
  return *m;
}

// "0", "30s", "5m", "1h": up to a day.
absl::StatusOr<int64_t> ParseFor(absl::string_view text) {
  std::string digits(text);
  int64_t unit = 1000, n = 0;
  if (!digits.empty() && (digits.back() == 's' || digits.back() == 'm' || digits.back() == 'h')) {
    unit = digits.back() == 'h' ? 3600000 : digits.back() == 'm' ? 60000 : 1000;
    digits.pop_back();
  }
  if (!absl::SimpleAtoi(digits, &n) || n < 0 || n * unit > 86400000) {
    return absl::InvalidArgumentError(
        "expected a duration such as \"0s\", \"30s\", \"5m\" (at most 1 day)");
  }
  return n * unit;
}

std::string ForText(int64_t ms) {
  if (ms % 3600000 == 0 && ms > 0) return absl::StrCat(ms / 3600000, "h");
  if (ms % 60000 == 0 && ms > 0) return absl::StrCat(ms / 60000, "m");
  return absl::StrCat(ms / 1000, "s");
}

bool Holds(const std::string& cmp, double v, double t) {
  if (cmp == ">") return v > t;
  if (cmp == ">=") return v >= t;
  if (cmp == "<") return v < t;
  return v <= t;
}

}  // namespace

Json AlertRuleSpec::ToJson() const {
  Json j{{"name", name},
         {"endpoint", endpoint},
         {"metric", metric},
         {"comparator", comparator},
         {"threshold", threshold},
         {"window", window},
         {"for", ForText(for_ms)},
         {"severity", severity},
         {"channels", channels},
         {"retrain", retrain},
         {"description", description}};
  if (!feature.empty()) j["feature"] = feature;
  return j;
}

absl::StatusOr<AlertRuleSpec> AlertRuleSpec::FromJson(const Json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("expected a JSON object");
  static const std::set<std::string> kFields = {
      "name",   "endpoint", "metric",   "feature",  "comparator", "threshold",
      "window", "for",      "severity", "channels", "retrain",    "description"};
  for (const auto& [k, v] : j.items()) {
    if (!kFields.count(k)) {
      return Bad(k,
                 "unknown field (name, endpoint, metric, feature, comparator, threshold, "
                 "window, for, severity, channels, retrain, description)");
    }
  }
  AlertRuleSpec s;
  auto str = [&](const char* k, std::string* out, bool required) -> absl::Status {
    if (!j.contains(k)) {
      return required ? Bad(k, "required") : absl::OkStatus();
    }
    if (!j[k].is_string()) return Bad(k, "expected a string");
    *out = j[k].get<std::string>();
    if (out->size() > 1000) return Bad(k, "at most 1000 characters");
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(str("name", &s.name, true));
  RETURN_IF_ERROR(ValidateName("name", s.name));
  RETURN_IF_ERROR(str("endpoint", &s.endpoint, true));
  RETURN_IF_ERROR(str("metric", &s.metric, true));
  if (!Metrics().count(s.metric)) {
    return Bad("metric",
               absl::StrCat("unknown metric \"", s.metric.substr(0, 40),
                            "\" (dataset_drift, drift_share, feature_drift, "
                            "feature_drifted, error_rate, availability, p99_ms, "
                            "requests, violations, kpi, auc, accuracy, rmse, estimated_auc, "
                            "estimated_accuracy, multivariate_drift, "
                            "reconstruction_error)"));
  }
  RETURN_IF_ERROR(str("feature", &s.feature, false));
  if ((s.metric == "feature_drift" || s.metric == "feature_drifted" || s.metric == "kpi") &&
      s.feature.empty()) {
    return Bad("feature", absl::StrCat("required for the metric ", s.metric,
                                       s.metric == "kpi" ? " (the KPI's name)" : ""));
  }
  RETURN_IF_ERROR(str("comparator", &s.comparator, false));
  if (s.comparator != ">" && s.comparator != ">=" && s.comparator != "<" && s.comparator != "<=") {
    return Bad("comparator", "expected one of >, >=, <, <=");
  }
  if (!j.contains("threshold")) return Bad("threshold", "required");
  if (!j["threshold"].is_number() || !std::isfinite(j["threshold"].get<double>())) {
    return Bad("threshold", "expected a number");
  }
  s.threshold = j["threshold"].get<double>();
  RETURN_IF_ERROR(str("window", &s.window, false));
  if (auto w = ParseWindow(s.window); !w.ok()) return Bad("window", w.status().message());
  if (j.contains("for")) {
    if (!j["for"].is_string()) return Bad("for", "expected a duration such as \"5m\"");
    auto f = ParseFor(j["for"].get<std::string>());
    if (!f.ok()) return Bad("for", f.status().message());
    s.for_ms = *f;
  }
  RETURN_IF_ERROR(str("severity", &s.severity, false));
  if (s.severity != "info" && s.severity != "warning" && s.severity != "critical") {
    return Bad("severity", "expected info, warning or critical");
  }
  if (j.contains("channels")) {
    if (!j["channels"].is_array() || j["channels"].size() > 10) {
      return Bad("channels", "expected up to ten channel names");
    }
    for (size_t i = 0; i < j["channels"].size(); ++i) {
      if (!j["channels"][i].is_string()) {
        return Bad(absl::StrCat("channels[", i, "]"), "expected a channel name");
      }
      s.channels.push_back(j["channels"][i].get<std::string>());
    }
  }
  if (j.contains("retrain")) {
    if (!j["retrain"].is_boolean()) return Bad("retrain", "expected true or false");
    s.retrain = j["retrain"].get<bool>();
  }
  RETURN_IF_ERROR(str("description", &s.description, false));
  return s;
}

AlertService::AlertService(MetadataStore* store, MonitoringService* monitoring,
                           ServingService* serving, RegistryService* registry,
                           TrainingService* training)
    : store_(store),
      monitoring_(monitoring),
      serving_(serving),
      registry_(registry),
      training_(training) {}

AlertService::~AlertService() { Stop(); }

void AlertService::Start(double interval_s) {
  if (thread_.joinable()) return;
  const auto ms = static_cast<int64_t>(interval_s * 1000);
  thread_ = std::thread([this, ms] { Loop(ms); });
}

void AlertService::Stop() {
  if (!thread_.joinable()) return;
  stop_.Notify();
  thread_.join();
}

void AlertService::Loop(int64_t interval_ms) {
  int64_t next_eval = 0;
  const auto tick = absl::Milliseconds(std::min<int64_t>(1000, interval_ms));
  while (!stop_.WaitForNotificationWithTimeout(tick)) {
    if (NowMillis() >= next_eval) {
      if (auto s = Evaluate(); !s.ok()) spdlog::warn("alerts: {}", s.ToString());
      next_eval = NowMillis() + interval_ms;
    }
    if (auto s = Deliver(); !s.ok()) spdlog::warn("alert delivery: {}", s.ToString());
  }
}

absl::StatusOr<AlertRuleRecord> AlertService::Find(const Project& project, absl::string_view name) {
  std::optional<AlertRuleRecord> found;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(auto rules, tx.monitoring().Rules(project.id));
    for (auto& r : rules) {
      if (r.name == name) found = std::move(r);
    }
    return absl::OkStatus();
  }));
  if (!found) {
    return absl::NotFoundError(absl::StrCat("project '", project.name, "' has no alert rule '",
                                            std::string(name).substr(0, 100), "'"));
  }
  return *found;
}

absl::StatusOr<AlertRule> AlertService::Load(const Project& project, const AlertRuleRecord& r,
                                             bool detail) {
  AlertRule out;
  out.record = r;
  auto spec = AlertRuleSpec::FromJson(ParseJsonOr(r.spec, Json::object()));
  if (!spec.ok())
    return absl::DataLossError(absl::StrCat("stored rule: ", spec.status().message()));
  out.spec = *std::move(spec);
  out.silenced = r.silenced_until > NowMillis();
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(out.history, tx.monitoring().Events(r.id, detail ? 100 : 5));
    if (detail) {
      ASSIGN_OR_RETURN(out.deliveries, tx.monitoring().Deliveries(r.id, 50));
    }
    return absl::OkStatus();
  }));
  (void)project;
  return out;
}

absl::StatusOr<AlertRule> AlertService::CreateRule(const RequestContext& ctx,
                                                   const Project& project,
                                                   const AlertRuleSpec& spec) {
  // The endpoint, the feature and the channels must exist.
  ASSIGN_OR_RETURN(Monitor m, monitoring_->Get(project, spec.endpoint));
  if ((spec.metric == "feature_drift" || spec.metric == "feature_drifted") &&
      !m.served_features.empty() &&
      std::find(m.served_features.begin(), m.served_features.end(), spec.feature) ==
          m.served_features.end()) {
    return Bad("feature", absl::StrCat("unknown feature \"", spec.feature.substr(0, 60),
                                       "\" of endpoint '", spec.endpoint, "'"));
  }
  ASSIGN_OR_RETURN(auto channels, Channels(project));
  for (size_t i = 0; i < spec.channels.size(); ++i) {
    const bool known = std::any_of(channels.begin(), channels.end(), [&](const AlertChannel& c) {
      return c.name == spec.channels[i];
    });
    if (!known) {
      return Bad(absl::StrCat("channels[", i, "]"),
                 absl::StrCat("no channel named '", spec.channels[i].substr(0, 60), "'"));
    }
  }
  AlertRuleRecord rec;
  rec.project_id = project.id;
  rec.name = spec.name;
  rec.spec = spec.ToJson().dump();
  rec.created_by = ctx.principal.user_name;
  rec.created_at = rec.updated_at = rec.state_since = NowMillis();
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(rec, tx.monitoring().CreateRule(rec));
    return AuditLog::AppendInTx(
        tx, ctx,
        {"alert.rule.create", absl::StrCat("project/", project.name, "/alert/", spec.name),
         project.name, spec.ToJson()});
  }));
  return Load(project, rec, true);
}

absl::StatusOr<std::vector<AlertRule>> AlertService::Rules(const Project& project) {
  std::vector<AlertRuleRecord> recs;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(recs, tx.monitoring().Rules(project.id));
    return absl::OkStatus();
  }));
  std::vector<AlertRule> out;
  for (const auto& r : recs) {
    ASSIGN_OR_RETURN(AlertRule a, Load(project, r, false));
    out.push_back(std::move(a));
  }
  return out;
}

absl::StatusOr<AlertRule> AlertService::Rule(const Project& project, absl::string_view name) {
  ASSIGN_OR_RETURN(AlertRuleRecord r, Find(project, name));
  return Load(project, r, true);
}

absl::Status AlertService::DeleteRule(const RequestContext& ctx, const Project& project,
                                      absl::string_view name) {
  ASSIGN_OR_RETURN(AlertRuleRecord r, Find(project, name));
  return store_->Write([&](Transaction& tx) -> absl::Status {
    RETURN_IF_ERROR(tx.monitoring().DeleteRule(r.id));
    return AuditLog::AppendInTx(
        tx, ctx,
        {"alert.rule.delete", absl::StrCat("project/", project.name, "/alert/", r.name),
         project.name, Json::object()});
  });
}

absl::StatusOr<AlertRule> AlertService::Silence(const RequestContext& ctx, const Project& project,
                                                absl::string_view name, int64_t until_ms) {
  ASSIGN_OR_RETURN(AlertRuleRecord r, Find(project, name));
  r.silenced_until = until_ms;
  r.updated_at = NowMillis();
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    RETURN_IF_ERROR(tx.monitoring().UpdateRule(r));
    RETURN_IF_ERROR(tx.monitoring().AddEvent(
        {0, r.id, r.updated_at, until_ms > 0 ? "silenced" : "unsilenced", std::nullopt,
         until_ms > 0 ? absl::StrCat("by ", ctx.principal.user_name, " until ",
                                     FormatRfc3339Millis(until_ms))
                      : absl::StrCat("by ", ctx.principal.user_name)}));
    return AuditLog::AppendInTx(
        tx, ctx,
        {"alert.rule.silence", absl::StrCat("project/", project.name, "/alert/", r.name),
         project.name, Json{{"until", until_ms > 0 ? FormatRfc3339Millis(until_ms) : ""}}});
  }));
  return Load(project, r, true);
}

absl::StatusOr<AlertRule> AlertService::Acknowledge(const RequestContext& ctx,
                                                    const Project& project,
                                                    absl::string_view name) {
  ASSIGN_OR_RETURN(AlertRuleRecord r, Find(project, name));
  if (r.state != "firing" && r.state != "pending") {
    return absl::FailedPreconditionError(absl::StrCat(
        "alert '", r.name, "' is ", r.state, ": only a pending or firing alert is acknowledged"));
  }
  r.acknowledged_by = ctx.principal.user_name;
  r.updated_at = NowMillis();
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    RETURN_IF_ERROR(tx.monitoring().UpdateRule(r));
    RETURN_IF_ERROR(tx.monitoring().AddEvent({0, r.id, r.updated_at, "acknowledged", r.value,
                                              absl::StrCat("by ", ctx.principal.user_name)}));
    return AuditLog::AppendInTx(
        tx, ctx,
        {"alert.rule.acknowledge", absl::StrCat("project/", project.name, "/alert/", r.name),
         project.name, Json::object()});
  }));
  return Load(project, r, true);
}

absl::StatusOr<AlertChannel> AlertService::CreateChannel(const RequestContext& ctx,
                                                         const Project& project,
                                                         const ChannelSpec& spec) {
  RETURN_IF_ERROR(ValidateName("name", spec.name));
  if (spec.kind != "webhook" && spec.kind != "alertmanager") {
    return Bad("kind", "expected webhook or alertmanager");
  }
  if (!absl::StartsWith(spec.url, "http://") && !absl::StartsWith(spec.url, "https://")) {
    return Bad("url", "expected an http:// or https:// URL");
  }
  if (spec.url.size() > 2000 || spec.url.find_first_of(" \r\n\t") != std::string::npos ||
      spec.url.size() <= 8) {
    return Bad("url", "not a URL (no spaces or line breaks, at most 2000 characters)");
  }
  AlertChannel c;
  c.project_id = project.id;
  c.name = spec.name;
  c.kind = spec.kind;
  c.url = spec.url;
  c.secret =
      spec.secret.empty() && spec.kind == "webhook" ? HexEncode(RandomBytes(24)) : spec.secret;
  c.created_by = ctx.principal.user_name;
  c.created_at = NowMillis();
  RETURN_IF_ERROR(store_->Write([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(c, tx.monitoring().CreateChannel(c));
    return AuditLog::AppendInTx(
        tx, ctx,
        {"alert.channel.create", absl::StrCat("project/", project.name, "/channel/", c.name),
         project.name, Json{{"kind", c.kind}, {"url", c.url}}});
  }));
  return c;
}

absl::StatusOr<std::vector<AlertChannel>> AlertService::Channels(const Project& project) {
  std::vector<AlertChannel> out;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(out, tx.monitoring().Channels(project.id));
    return absl::OkStatus();
  }));
  return out;
}

absl::Status AlertService::DeleteChannel(const RequestContext& ctx, const Project& project,
                                         absl::string_view name) {
  ASSIGN_OR_RETURN(auto channels, Channels(project));
  for (const auto& c : channels) {
    if (c.name != name) continue;
    return store_->Write([&](Transaction& tx) -> absl::Status {
      RETURN_IF_ERROR(tx.monitoring().DeleteChannel(c.id));
      return AuditLog::AppendInTx(
          tx, ctx,
          {"alert.channel.delete", absl::StrCat("project/", project.name, "/channel/", c.name),
           project.name, Json::object()});
    });
  }
  return absl::NotFoundError(absl::StrCat("project '", project.name, "' has no channel '",
                                          std::string(name).substr(0, 100), "'"));
}

absl::StatusOr<std::optional<double>> AlertService::Figure(const Project& project,
                                                           const AlertRuleSpec& spec) {
  ASSIGN_OR_RETURN(int64_t window, ParseWindow(spec.window));
  const std::string& m = spec.metric;
  if (m == "multivariate_drift" || m == "reconstruction_error") {
    ASSIGN_OR_RETURN(DriftReport d, monitoring_->Drift(project, spec.endpoint, window));
    if (!d.multivariate.available) return std::optional<double>();
    if (m == "reconstruction_error") return std::optional<double>(d.multivariate.error);
    return std::optional<double>(d.multivariate.drifted ? 1 : 0);
  }
  if (m == "dataset_drift" || m == "drift_share" || m == "feature_drift" ||
      m == "feature_drifted") {
    ASSIGN_OR_RETURN(DriftReport d, monitoring_->Drift(project, spec.endpoint, window));
    if (d.features_checked == 0) return std::optional<double>();
    if (m == "dataset_drift") return std::optional<double>(d.dataset_drift ? 1 : 0);
    if (m == "drift_share") return std::optional<double>(d.share);
    for (const auto& f : d.features) {
      if (f.name != spec.feature) continue;
      if (m == "feature_drifted") return std::optional<double>(f.test.drifted ? 1 : 0);
      return std::optional<double>(f.test.value);
    }
    return std::optional<double>();
  }
  if (m == "error_rate" || m == "availability" || m == "p99_ms" || m == "requests") {
    ASSIGN_OR_RETURN(HealthReport h, monitoring_->Health(project, spec.endpoint, window));
    if (m == "requests") return std::optional<double>(static_cast<double>(h.total.requests));
    if (h.total.requests == 0) return std::optional<double>();
    if (m == "error_rate") return std::optional<double>(h.total.error_rate);
    if (m == "availability") return std::optional<double>(h.total.availability);
    return std::optional<double>(h.total.p99_ms);
  }
  if (m == "violations") {
    ASSIGN_OR_RETURN(QualityReport q, monitoring_->Quality(project, spec.endpoint, window));
    if (q.requests + q.refused == 0) return std::optional<double>();
    return std::optional<double>(static_cast<double>(q.violations.size()));
  }
  if (m == "kpi") {
    ASSIGN_OR_RETURN(KpiReport k, monitoring_->Kpis(project, spec.endpoint, window));
    for (const auto& s : k.series) {
      if (s.name == spec.feature) return std::optional<double>(s.sum);
    }
    return std::optional<double>();
  }
  if (m == "estimated_auc" || m == "estimated_accuracy") {
    ASSIGN_OR_RETURN(EndpointPerformance perf,
                     monitoring_->Performance(project, spec.endpoint, window));
    const EndpointPerformance::Version* best = nullptr;
    for (const auto& v : perf.versions) {
      if (v.estimated.is_object() &&
          (best == nullptr ||
           v.estimated["rows"].get<int64_t>() > best->estimated["rows"].get<int64_t>())) {
        best = &v;
      }
    }
    if (best == nullptr) return std::optional<double>();
    return std::optional<double>(
        best->estimated[m == "estimated_auc" ? "auc" : "accuracy"].get<double>());
  }
  // Realised fit: the serving version with the most labelled answers.
  ASSIGN_OR_RETURN(EndpointPerformance perf, serving_->Performance(project, spec.endpoint, window));
  const EndpointPerformance::Version* best = nullptr;
  for (const auto& v : perf.versions) {
    if (v.labelled > 0 && (best == nullptr || v.labelled > best->labelled)) best = &v;
  }
  if (best == nullptr || !best->metrics.contains(m) || !best->metrics[m].is_number()) {
    return std::optional<double>();
  }
  return std::optional<double>(best->metrics[m].get<double>());
}

std::string AlertService::Payload(const Project& project, const AlertRuleRecord& r,
                                  const AlertRuleSpec& spec, const std::string& status,
                                  const std::string& receiver, bool alertmanager) {
  Json labels{{"alertname", spec.name},
              {"project", project.name},
              {"endpoint", spec.endpoint},
              {"metric", spec.metric},
              {"severity", spec.severity}};
  if (!spec.feature.empty()) labels["feature"] = spec.feature;
  const std::string summary =
      absl::StrFormat("%s of %s/%s is %s (%s %g over %s)", spec.metric, project.name, spec.endpoint,
                      r.value ? absl::StrFormat("%g", *r.value) : "unknown", spec.comparator,
                      spec.threshold, spec.window);
  Json alert{{"status", status},
             {"labels", labels},
             {"annotations", {{"summary", summary}, {"description", spec.description}}},
             {"startsAt", FormatRfc3339Millis(r.active_since > 0 ? r.active_since : r.state_since)},
             {"endsAt", status == "resolved" ? FormatRfc3339Millis(r.state_since)
                                             : std::string("0001-01-01T00:00:00Z")},
             {"generatorURL", absl::StrCat("/#/monitoring/", project.name, "/", spec.endpoint)}};
  if (alertmanager) {
    // Alertmanager's /api/v2/alerts takes a list of postable alerts (no status field).
    alert.erase("status");
    if (status != "resolved") alert.erase("endsAt");
    return Json::array({alert}).dump();
  }
  return Json{{"version", "4"},
              {"status", status},
              {"receiver", receiver},
              {"groupKey", absl::StrCat(project.name, "/", spec.name)},
              {"groupLabels", {{"alertname", spec.name}}},
              {"commonLabels", labels},
              {"commonAnnotations", alert["annotations"]},
              {"externalURL", ""},
              {"alerts", Json::array({alert})}}
      .dump();
}

void AlertService::AnnotateFleet(const std::vector<Project>& projects,
                                 std::vector<FleetEntry>* fleet) {
  auto rank = [](const std::string& s) {
    return s == "red" ? 3 : s == "amber" ? 2 : s == "green" ? 1 : 0;
  };
  for (const auto& project : projects) {
    auto rules = Rules(project);
    if (!rules.ok()) continue;
    for (const auto& a : *rules) {
      if (a.record.state != "firing") continue;
      for (auto& f : *fleet) {
        if (f.project != project.name || f.endpoint != a.spec.endpoint) continue;
        ++f.alerts_firing;
        const std::string level = a.spec.severity == "critical" ? "red" : "amber";
        if (rank(level) > rank(f.status)) f.status = level;
        f.reason =
            absl::StrCat("alert ", a.spec.name, " firing", f.reason.empty() ? "" : "; ", f.reason);
      }
    }
  }
  std::stable_sort(fleet->begin(), fleet->end(), [&](const FleetEntry& a, const FleetEntry& b) {
    return rank(a.status) > rank(b.status);
  });
}

absl::Status AlertService::Evaluate() {
  std::lock_guard<std::mutex> l(eval_mu_);
  std::vector<AlertRuleRecord> rules;
  std::map<int64_t, Project> projects;
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(rules, tx.monitoring().Rules(0));
    ASSIGN_OR_RETURN(auto all, tx.projects().ListAll());
    for (auto& p : all) projects[p.id] = p;
    return absl::OkStatus();
  }));
  for (auto& r : rules) {
    auto spec = AlertRuleSpec::FromJson(ParseJsonOr(r.spec, Json::object()));
    if (!spec.ok() || !projects.count(r.project_id)) continue;
    const Project& project = projects[r.project_id];
    auto figure = Figure(project, *spec);
    const int64_t now = NowMillis();
    const std::optional<double> value = figure.ok() ? *figure : std::nullopt;
    const bool holds = value && Holds(spec->comparator, *value, spec->threshold);
    const std::string before = r.state;
    std::string next = before;
    if (holds) {
      if (before == "inactive") r.active_since = now;
      next = now - r.active_since >= spec->for_ms ? "firing" : "pending";
    } else {
      next = "inactive";
    }
    r.value = value;
    r.evaluated_at = now;
    std::vector<AlertEvent> events;
    std::string notify;  // firing | resolved
    if (next != before) {
      r.state = next;
      r.state_since = now;
      if (next == "inactive") r.acknowledged_by.clear();
      const std::string shown =
          next == "inactive" ? (before == "firing" ? "resolved" : "inactive") : next;
      events.push_back(
          {0, r.id, now, shown, value, figure.ok() ? "" : std::string(figure.status().message())});
      if (next == "firing") notify = "firing";
      if (before == "firing" && next == "inactive") notify = "resolved";
    }
    std::vector<AlertDelivery> deliveries;
    if (!notify.empty() && r.silenced_until <= now) {
      auto channels = Channels(project);
      if (channels.ok()) {
        for (const auto& c : *channels) {
          if (std::find(spec->channels.begin(), spec->channels.end(), c.name) ==
              spec->channels.end()) {
            continue;
          }
          deliveries.push_back(
              {0, c.id, r.id, Payload(project, r, *spec, notify, c.name, c.kind == "alertmanager"),
               0, now, "", 0, now});
        }
      }
    }
    absl::Status s = store_->Write([&](Transaction& tx) -> absl::Status {
      RETURN_IF_ERROR(tx.monitoring().UpdateRule(r));
      for (const auto& e : events) RETURN_IF_ERROR(tx.monitoring().AddEvent(e));
      for (const auto& d : deliveries) RETURN_IF_ERROR(tx.monitoring().AddDelivery(d));
      return absl::OkStatus();
    });
    if (!s.ok()) {
      spdlog::warn("alert '{}': {}", r.name, s.ToString());
      continue;
    }
    if (notify == "firing" && spec->retrain && training_ != nullptr) {
      // The champion's training spec on the newest dataset version; the model it produces
      // is registered and gated by people, never promoted here.
      RequestContext sys = SystemContext(absl::StrCat("alert-", r.name));
      absl::StatusOr<Job> job = absl::NotFoundError("no champion");
      auto status = serving_->Get(project, spec->endpoint);
      if (status.ok() && !status->serving.empty()) {
        auto v = registry_->GetVersion(project, status->record.model_name,
                                       absl::StrCat(status->serving.front().version));
        if (v.ok()) {
          const Json manifest = ParseJsonOr(v->manifest, Json::object());
          auto train = ml::TrainSpec::FromJson(manifest.value("spec", Json::object()));
          if (train.ok()) {
            train->version = "latest";
            job = training_->Submit(sys, project, *train);
          } else {
            job = train.status();
          }
        }
      }
      const std::string msg =
          job.ok() ? absl::StrCat("retraining job ", job->uuid, " queued")
                   : absl::StrCat("retraining not started: ", job.status().message());
      (void)store_->Write([&](Transaction& tx) -> absl::Status {
        return tx.monitoring().AddEvent({0, r.id, NowMillis(), "retrain", r.value, msg});
      });
    }
  }
  return absl::OkStatus();
}

absl::Status AlertService::Deliver() {
  if (!poster_) return absl::OkStatus();
  std::vector<AlertDelivery> due;
  std::map<int64_t, AlertChannel> channels;
  const int64_t now = NowMillis();
  RETURN_IF_ERROR(store_->Read([&](Transaction& tx) -> absl::Status {
    ASSIGN_OR_RETURN(due, tx.monitoring().DueDeliveries(now, 50));
    if (due.empty()) return absl::OkStatus();
    ASSIGN_OR_RETURN(auto projects, tx.projects().ListAll());
    for (const auto& p : projects) {
      ASSIGN_OR_RETURN(auto cs, tx.monitoring().Channels(p.id));
      for (auto& c : cs) channels[c.id] = c;
    }
    return absl::OkStatus();
  }));
  for (auto& d : due) {
    auto it = channels.find(d.channel_id);
    if (it == channels.end()) continue;
    const AlertChannel& c = it->second;
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Content-Type", "application/json"}};
    std::string url = c.url;
    if (c.kind == "alertmanager") {
      while (!url.empty() && url.back() == '/') url.pop_back();
      url += "/api/v2/alerts";
    } else if (!c.secret.empty()) {
      headers.emplace_back("X-Kade-Signature", "sha256=" + HmacSha256Hex(c.secret, d.body));
    }
    auto answer = poster_(url, headers, d.body);
    ++d.attempts;
    if (answer.ok() && *answer >= 200 && *answer < 300) {
      d.delivered_at = NowMillis();
      d.last_error.clear();
    } else {
      d.last_error = answer.ok() ? absl::StrCat("HTTP ", *answer)
                                 : std::string(answer.status().message()).substr(0, 300);
      // 1 s, 2 s, 4 s ... up to 5 minutes between tries; given up after ten.
      d.next_at =
          NowMillis() + std::min<int64_t>(300000, 1000LL << std::min<int64_t>(d.attempts - 1, 20));
      if (d.attempts >= kMaxAttempts) d.delivered_at = -1;
    }
    RETURN_IF_ERROR(store_->Write(
        [&](Transaction& tx) -> absl::Status { return tx.monitoring().UpdateDelivery(d); }));
  }
  return absl::OkStatus();
}

}  // namespace kade
