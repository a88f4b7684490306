#include "api/monitoring_json.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "core/time.h"
#include "data/values.h"

namespace kade {

namespace {

// JSON has no infinity: a constant reference that moved has an infinite distance, shown
// as "inf".
Json Figure(double v) {
  if (std::isfinite(v)) return v;
  return std::isnan(v) ? Json(nullptr) : Json(v > 0 ? "inf" : "-inf");
}

std::string WindowName(int64_t ms) {
  if (ms % 86400000 == 0) return absl::StrCat(ms / 86400000, "d");
  if (ms % 3600000 == 0) return absl::StrCat(ms / 3600000, "h");
  if (ms % 60000 == 0) return absl::StrCat(ms / 60000, "m");
  return absl::StrCat(ms / 1000, "s");
}

Json FeatureDriftToJson(const FeatureDriftReport& f) {
  Json stats = Json::object();
  for (const auto& [k, v] : f.test.stats) stats[k] = Figure(v);
  Json hist{{"reference", f.reference_shares}, {"current", f.current_shares}};
  if (f.numeric) {
    hist["edges"] = f.edges;
  } else {
    hist["categories"] = f.categories;
  }
  return Json{{"name", f.name},
              {"type", f.numeric ? "numeric" : "categorical"},
              {"method", f.test.method},
              {"threshold", f.test.threshold},
              {"value", Figure(f.test.value)},
              {"p_value", ml::IsPValueMethod(f.test.method) ? Figure(f.test.value) : Json(nullptr)},
              {"drifted", f.test.drifted},
              {"stats", stats},
              {"reference_count", f.reference_count},
              {"current_count", f.current_count},
              {"histogram", hist}};
}

Json HealthPointToJson(const HealthPoint& p) {
  return Json{{"time", FormatRfc3339Millis(p.start_ms)},
              {"requests", p.requests},
              {"errors", p.errors},
              {"refused", p.refused},
              {"error_rate", p.error_rate},
              {"availability", p.availability},
              {"p50_ms", p.p50_ms},
              {"p95_ms", p.p95_ms},
              {"p99_ms", p.p99_ms}};
}

Json Window(int64_t from, int64_t to, int64_t window_ms) {
  return Json{{"window", WindowName(window_ms)},
              {"from", FormatRfc3339Millis(from)},
              {"to", FormatRfc3339Millis(to)}};
}

Json MultivariateToJson(const MultivariateDriftReport& mv) {
  Json m{{"method", "pca_reconstruction"}, {"available", mv.available}};
  if (mv.available) {
    m["rows"] = mv.rows;
    m["error"] = Figure(mv.error);
    m["reference_error"] = Figure(mv.reference_error);
    m["lower"] = Figure(mv.lower);
    m["upper"] = Figure(mv.upper);
    m["chunk_rows"] = mv.chunk_rows;
    m["chunks"] = mv.chunks;
    m["components"] = mv.components;
    m["features"] = mv.features;
    m["explained_variance"] = Figure(mv.explained_variance);
    m["drifted"] = mv.drifted;
  } else {
    m["note"] = mv.note;
  }
  return m;
}

}  // namespace

Json MonitorToJson(const Monitor& m) {
  Json j{{"endpoint", m.endpoint},
         {"default", m.is_default},
         {"config", m.config.ToJson()},
         {"served_features", m.served_features}};
  if (!m.is_default) {
    j["updated_by"] = m.updated_by;
    j["updated_at"] = FormatRfc3339Millis(m.updated_at);
  }
  return j;
}

Json DriftToJson(const DriftReport& r, int64_t window_ms) {
  Json j = Window(r.from_ms, r.to_ms, window_ms);
  Json features = Json::array(), outputs = Json::array();
  for (const auto& f : r.features) features.push_back(FeatureDriftToJson(f));
  for (const auto& f : r.outputs) outputs.push_back(FeatureDriftToJson(f));
  j["version"] = r.version;
  j["reference"] = r.reference;
  j["rows"] = r.rows;
  j["features"] = features;
  j["outputs"] = outputs;
  j["drift"] = Json{{"features_checked", r.features_checked},
                    {"features_drifted", r.features_drifted},
                    {"share", r.share},
                    {"drift_share", r.drift_share},
                    {"dataset_drift", r.dataset_drift}};
  j["multivariate"] = MultivariateToJson(r.multivariate);
  if (!r.note.empty()) j["note"] = r.note;
  return j;
}

Json QualityToJson(const QualityReport& r, int64_t window_ms) {
  Json j = Window(r.from_ms, r.to_ms, window_ms);
  Json features = Json::array(), violations = Json::array();
  auto opt = [](const std::optional<double>& v) { return v ? Figure(*v) : Json(nullptr); };
  for (const auto& f : r.features) {
    features.push_back(Json{{"name", f.name},
                            {"count", f.count},
                            {"nulls", f.nulls},
                            {"null_rate", f.null_rate},
                            {"reference_null_rate", f.reference_null_rate},
                            {"out_of_range", f.out_of_range},
                            {"type_errors", f.type_errors},
                            {"unseen_categories", f.unseen},
                            {"missing", f.missing},
                            {"min", opt(f.min)},
                            {"max", opt(f.max)},
                            {"reference_min", opt(f.reference_min)},
                            {"reference_max", opt(f.reference_max)}});
  }
  for (const auto& v : r.violations) {
    violations.push_back(Json{{"feature_name", v.feature},
                              {"constraint_check_type", v.check},
                              {"description", v.description},
                              {"value", Figure(v.value)}});
  }
  j["rows"] = r.rows;
  j["requests"] = r.requests;
  j["refused"] = r.refused;
  j["features"] = features;
  j["violations"] = violations;
  j["refusal_examples"] = r.refusals;
  return j;
}

Json HealthToJson(const HealthReport& r, int64_t window_ms) {
  Json j = Window(r.from_ms, r.to_ms, window_ms);
  j["step"] = WindowName(r.step_ms);
  Json versions = Json::array();
  for (const auto& [v, points] : r.versions) {
    Json pts = Json::array();
    for (const auto& p : points) pts.push_back(HealthPointToJson(p));
    versions.push_back(Json{{"version", v}, {"points", pts}});
  }
  j["versions"] = versions;
  Json total = HealthPointToJson(r.total);
  total.erase("time");
  j["total"] = total;
  return j;
}

Json KpisToJson(const KpiReport& r, int64_t window_ms) {
  Json j = Window(r.from_ms, r.to_ms, window_ms);
  Json series = Json::array();
  for (const auto& s : r.series) {
    Json pts = Json::array();
    for (const auto& [t, v] : s.points) {
      pts.push_back(Json{{"time", FormatRfc3339Millis(t)}, {"value", v}});
    }
    Json one{{"name", s.name}, {"sum", s.sum}, {"count", s.count}, {"points", pts}};
    one["source"] = s.derived ? "ground_truth" : "posted";
    if (s.derived) one["outcomes"] = s.outcomes;
    series.push_back(one);
  }
  j["kpis"] = series;
  return j;
}

Json TrendToJson(const TrendReport& r, int64_t window_ms) {
  Json j = Window(r.from_ms, r.to_ms, window_ms);
  j["step"] = WindowName(r.step_ms);
  j["version"] = r.version;
  j["reference"] = r.reference;
  if (!r.value_name.empty()) j["value_name"] = r.value_name;
  Json points = Json::array();
  auto opt = [](const std::optional<double>& v) { return v ? Figure(*v) : Json(nullptr); };
  for (const auto& p : r.points) {
    Json drift = Json::object();
    for (const auto& [f, v] : p.feature_drift) drift[f] = Figure(v);
    Json x{{"start", FormatRfc3339Millis(p.start_ms)},
           {"rows", p.rows},
           {"features_checked", p.features_checked},
           {"features_drifted", p.features_drifted},
           {"share", Figure(p.share)},
           {"dataset_drift", p.dataset_drift},
           {"feature_drift", drift},
           {"drifted", p.drifted},
           {"reconstruction_error",
            p.multivariate.available ? Figure(p.multivariate.error) : Json(nullptr)},
           {"estimated_auc", opt(p.estimated_auc)},
           {"estimated_accuracy", opt(p.estimated_accuracy)},
           {"predictions", p.predictions},
           {"labelled", p.labelled},
           {"realised", p.realised},
           {"value", opt(p.value)}};
    if (p.multivariate.available) {
      x["reconstruction_band"] =
          Json::array({Figure(p.multivariate.lower), Figure(p.multivariate.upper)});
      x["multivariate_drift"] = p.multivariate.drifted;
    }
    points.push_back(x);
  }
  j["points"] = points;
  return j;
}

Json FleetToJson(const std::vector<FleetEntry>& fleet) {
  Json out = Json::array();
  for (const auto& f : fleet) {
    out.push_back(Json{{"kind", f.kind},
                       {"project", f.project},
                       {"endpoint", f.endpoint},
                       {"model", f.model},
                       {"ready", f.ready},
                       {"status", f.status},
                       {"health", f.health},
                       {"drift", f.drift},
                       {"quality", f.quality},
                       {"requests_1h", f.requests},
                       {"error_rate_1h", f.error_rate},
                       {"p99_ms_1h", f.p99_ms},
                       {"features_drifted", f.features_drifted},
                       {"features_checked", f.features_checked},
                       {"violations", f.violations},
                       {"alerts_firing", f.alerts_firing},
                       {"reason", f.reason},
                       {"fit", f.fit.empty() ? "grey" : f.fit},
                       {"fit_label", f.fit_label},
                       {"multivariate_drift", f.multivariate_drift},
                       {"value_name", f.value_name},
                       {"value", f.value ? Json(*f.value) : Json(nullptr)}});
  }
  return Json{{"endpoints", out}};
}

Json BatchMonitorToJson(const BatchMonitorReport& r) {
  Json runs = Json::array();
  for (const auto& x : r.runs) {
    Json j{{"job", x.job},
           {"time", FormatRfc3339Millis(x.created_at)},
           {"status", x.status},
           {"input", x.input},
           {"model_version", x.model_version},
           {"reference", x.reference},
           {"rows", x.rows},
           {"unseen_categories", x.unseen_categories},
           {"drift",
            {{"columns_checked", x.columns_checked},
             {"columns_drifted", x.columns_drifted},
             {"dataset_drift", x.dataset_drift},
             {"drifted", x.drifted}}}};
    if (!x.note.empty()) j["note"] = x.note;
    runs.push_back(std::move(j));
  }
  return Json{{"schedule", r.schedule}, {"model", r.model}, {"runs", runs}};
}

absl::StatusOr<std::vector<KpiPoint>> ParseKpis(const Json& body, int retention_days) {
  if (!body.is_object()) return absl::InvalidArgumentError("expected a JSON object");
  std::vector<const Json*> items;
  std::vector<std::string> where;
  if (body.contains("points")) {
    RETURN_IF_ERROR(RejectUnknownFields(body, {"points"}));
    const Json& pts = body["points"];
    if (!pts.is_array() || pts.empty() || pts.size() > 10000) {
      return absl::InvalidArgumentError("points: expected 1 to 10000 {name, value, time} objects");
    }
    for (size_t i = 0; i < pts.size(); ++i) {
      items.push_back(&pts[i]);
      where.push_back(absl::StrCat("points[", i, "]."));
    }
  } else {
    items.push_back(&body);
    where.push_back("");
  }
  const int64_t now = NowMillis();
  const int64_t oldest = retention_days > 0 ? now - int64_t{retention_days} * 86400000 : 0;
  std::vector<KpiPoint> out;
  for (size_t i = 0; i < items.size(); ++i) {
    const Json& it = *items[i];
    const std::string& at = where[i];
    if (!it.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(
          at.empty() ? "body" : at.substr(0, at.size() - 1), ": expected {name, value, time}"));
    }
    for (const auto& [k, v] : it.items()) {
      if (k != "name" && k != "value" && k != "time") {
        return absl::InvalidArgumentError(
            absl::StrCat(at, k, ": unknown field (name, value, time)"));
      }
    }
    KpiPoint p;
    if (!it.contains("name") || !it["name"].is_string() || it["name"].get<std::string>().empty() ||
        it["name"].get<std::string>().size() > 100) {
      return absl::InvalidArgumentError(
          absl::StrCat(at, "name: expected a name of 1 to 100 characters"));
    }
    p.name = it["name"].get<std::string>();
    if (!IsValidUtf8(p.name))
      return absl::InvalidArgumentError(absl::StrCat(at, "name: not UTF-8"));
    if (!it.contains("value") || !it["value"].is_number() ||
        !std::isfinite(it["value"].get<double>())) {
      return absl::InvalidArgumentError(absl::StrCat(at, "value: expected a finite number"));
    }
    p.value = it["value"].get<double>();
    p.ts = now;
    if (it.contains("time")) {
      const Json& t = it["time"];
      if (t.is_number_integer()) {
        p.ts = t.get<int64_t>();
      } else if (t.is_string()) {
        auto us = ParseTimestamp(t.get<std::string>());
        if (!us) {
          return absl::InvalidArgumentError(absl::StrCat(
              at, "time: expected an RFC 3339 time (2026-12-07T10:00:00Z) or Unix milliseconds"));
        }
        p.ts = *us / 1000;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat(at, "time: expected an RFC 3339 time or Unix milliseconds"));
      }
      if (p.ts > now + 86400000 || p.ts < oldest || p.ts < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            at, "time: outside the kept range (from the retention period ago to a day ahead)"));
      }
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace kade
