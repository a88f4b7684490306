#include "api/serving_json.h"

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "core/time.h"

namespace kade {
namespace {

absl::Status Bad(absl::string_view what) { return absl::InvalidArgumentError(what); }

// The part of `body` that is endpoint configuration, in EndpointConfig's own grammar.
Json ConfigPart(const Json& body, std::initializer_list<const char*> fields) {
  Json j = Json::object();
  for (const char* f : fields) {
    if (body.contains(f)) j[f] = body[f];
  }
  return j;
}

Json VersionStateToJson(const EndpointVersionState& v, bool with_state) {
  Json j{{"version", v.version}};
  if (!v.alias.empty()) j["alias"] = v.alias;
  if (!with_state) return j;
  j["state"] = v.state;
  if (!v.error.empty()) j["error"] = v.error;
  if (v.failures) j["failures"] = *v.failures;
  if (v.next_retry_at_ms > 0) j["next_retry_at"] = FormatRfc3339Millis(v.next_retry_at_ms);
  return j;
}

}  // namespace

absl::StatusOr<EndpointSpec> ParseEndpointSpec(const Json& body) {
  if (!body.is_object()) return Bad("expected an object");
  RETURN_IF_ERROR(RejectUnknownFields(
      body, {"name", "model", "alias", "targets", "shadow", "log_sample", "description", "force"}));
  EndpointSpec spec;
  ASSIGN_OR_RETURN(spec.name, RequiredString(body, "name"));
  ASSIGN_OR_RETURN(spec.model, RequiredString(body, "model"));
  ASSIGN_OR_RETURN(auto desc, OptionalString(body, "description"));
  spec.description = desc.value_or("");
  ASSIGN_OR_RETURN(auto force, OptionalBool(body, "force"));
  spec.force = force.value_or(false);
  ASSIGN_OR_RETURN(spec.config, EndpointConfig::FromJson(ConfigPart(
                                    body, {"alias", "targets", "shadow", "log_sample"})));
  return spec;
}

absl::StatusOr<EndpointChange> ParseEndpointChange(const Json& body) {
  if (!body.is_object()) return Bad("expected an object");
  RETURN_IF_ERROR(RejectUnknownFields(
      body, {"alias", "targets", "shadow", "log_sample", "description", "force"}));
  EndpointChange change;
  ASSIGN_OR_RETURN(change.description, OptionalString(body, "description"));
  ASSIGN_OR_RETURN(auto force, OptionalBool(body, "force"));
  change.force = force.value_or(false);
  // Each part is read by EndpointConfig's grammar, so both routes say the same about it.
  if (body.contains("alias") || body.contains("targets")) {
    ASSIGN_OR_RETURN(EndpointConfig c,
                     EndpointConfig::FromJson(ConfigPart(body, {"alias", "targets"})));
    change.targets = std::move(c.targets);
  }
  if (body.contains("shadow")) {
    ASSIGN_OR_RETURN(EndpointConfig c, EndpointConfig::FromJson(ConfigPart(body, {"shadow"})));
    change.shadow = c.shadow;
  }
  if (body.contains("log_sample")) {
    ASSIGN_OR_RETURN(EndpointConfig c, EndpointConfig::FromJson(ConfigPart(body, {"log_sample"})));
    change.log_sample = c.log_sample;
  }
  return change;
}

Json EndpointStatusToJson(const EndpointStatus& s) {
  Json serving = Json::array(), versions = Json::array();
  for (const auto& v : s.serving) serving.push_back(VersionStateToJson(v, false));
  for (const auto& v : s.versions) versions.push_back(VersionStateToJson(v, true));
  Json out{{"name", s.record.name},
           {"model", s.record.model_name},
           {"description", s.record.description},
           {"config", s.config.ToJson()},
           {"ready", s.ready},
           {"serving", serving},
           {"versions", versions},
           {"created_by", s.record.created_by},
           {"created_at", FormatRfc3339Millis(s.record.created_at)},
           {"updated_at", FormatRfc3339Millis(s.record.updated_at)}};
  if (s.shadow_version) out["shadow_version"] = *s.shadow_version;
  if (!s.error.empty()) out["error"] = s.error;
  if (!s.pending_error.empty()) {
    out["pending"] = Json{{"version", s.pending_version}, {"error", s.pending_error}};
  }
  if (s.stats) {
    Json stats = Json::array();
    for (const auto& v : *s.stats) {
      Json pct = Json::object();
      for (auto [name, value] :
           {std::pair{"p50", v.p50_ms}, std::pair{"p95", v.p95_ms}, std::pair{"p99", v.p99_ms}}) {
        pct[name] = value ? Json(*value) : Json(nullptr);
      }
      stats.push_back(Json{{"version", v.version},
                           {"latency_ms", pct},
                           {"requests", v.requests},
                           {"errors", v.errors},
                           {"rows", v.rows},
                           {"mean_latency_ms", v.mean_latency_ms},
                           {"model_load_ms", v.model_load_ms}});
    }
    out["stats"] = stats;
    out["log_dropped"] = s.log_dropped;
  }
  return out;
}

absl::StatusOr<FeedbackItems> ParseFeedback(const Json& body) {
  if (!body.is_object()) return Bad("body: expected {\"request_id\", \"label\"} or {\"items\"}");
  FeedbackItems items;
  auto take = [&](const Json& item, const std::string& where) -> absl::Status {
    if (!item.is_object()) return Bad(where + ": expected {\"request_id\", \"label\"}");
    RETURN_IF_ERROR(RejectUnknownFields(item, {"request_id", "label"}));
    if (!item.contains("request_id") || !item["request_id"].is_string() ||
        item["request_id"].get<std::string>().empty() ||
        item["request_id"].get<std::string>().size() > 200) {
      return Bad(where + ".request_id: expected the request id of a prediction");
    }
    if (!item.contains("label") ||
        !(item["label"].is_string() || item["label"].is_number() || item["label"].is_boolean())) {
      return Bad(where + ".label: expected the true value (string, number or boolean)");
    }
    const Json& l = item["label"];
    items.emplace_back(item["request_id"].get<std::string>(),
                       l.is_string() ? l.get<std::string>() : l.dump());
    return absl::OkStatus();
  };
  if (body.contains("items")) {
    RETURN_IF_ERROR(RejectUnknownFields(body, {"items"}));
    if (!body["items"].is_array() || body["items"].empty() || body["items"].size() > 10000) {
      return Bad("items: expected 1 to 10,000 {request_id, label} entries");
    }
    for (size_t i = 0; i < body["items"].size(); ++i) {
      RETURN_IF_ERROR(take(body["items"][i], absl::StrCat("items[", i, "]")));
    }
  } else {
    RETURN_IF_ERROR(take(body, "body"));
  }
  return items;
}

Json PerformanceToJson(const EndpointPerformance& perf, int64_t window_ms) {
  Json versions = Json::array();
  for (const auto& v : perf.versions) {
    versions.push_back(Json{
        {"version", v.version},
        {"task", v.task},
        {"predictions", v.predictions},
        {"labelled", v.labelled},
        {"label_coverage",
         v.predictions > 0 ? static_cast<double>(v.labelled) / static_cast<double>(v.predictions)
                           : 0.0},
        {"unmatched_labels", v.unmatched_labels},
        {"metrics", v.metrics},
        {"holdout", v.holdout},
        {"estimated", v.estimated},
        {"label_delay_s", v.label_delay_p50_s
                              ? Json{{"p50", *v.label_delay_p50_s}, {"p90", *v.label_delay_p90_s}}
                              : Json(nullptr)}});
  }
  return Json{{"window", absl::StrCat(window_ms / 1000, "s")},
              {"from", FormatRfc3339Millis(perf.from_ms)},
              {"to", FormatRfc3339Millis(perf.to_ms)},
              {"scanned", perf.scanned},
              {"versions", versions}};
}

Json PredictionPageToJson(const PredictionPage& page) {
  Json arr = Json::array();
  for (const auto& r : page.records) {
    // Features are the request as sent; its rows are shown ("instances" when given so).
    Json features = ParseJsonOr(r.features, Json());
    if (features.is_object() && features.contains("instances")) {
      features = std::move(features["instances"]);
    }
    Json j{{"request_id", r.request_id},
           {"time", FormatRfc3339Millis(r.ts)},
           {"version", r.version},
           {"shadow", r.shadow},
           {"latency_us", r.latency_us},
           {"features", std::move(features)},
           {"outputs", ParseJsonOr(r.outputs, Json())}};
    j["label"] = r.label ? Json(*r.label) : Json(nullptr);
    if (r.label) j["label_time"] = FormatRfc3339Millis(r.label_ts);
    arr.push_back(std::move(j));
  }
  return Json{{"predictions", arr}, {"dropped", page.dropped}};
}

absl::StatusOr<ForwardedLog> ParseForwardedLog(const Json& body) {
  if (!body.is_object()) return Bad("expected an object");
  RETURN_IF_ERROR(RejectUnknownFields(body, {"records", "replica"}));
  if (!body.contains("records") || !body["records"].is_array() || body["records"].empty() ||
      body["records"].size() > 10000) {
    return Bad("records: expected 1 to 10,000 prediction log entries");
  }
  ForwardedLog out;
  ASSIGN_OR_RETURN(auto replica, OptionalString(body, "replica"));
  out.replica = replica.value_or("");
  for (size_t i = 0; i < body["records"].size(); ++i) {
    const Json& r = body["records"][i];
    const std::string where = absl::StrCat("records[", i, "]");
    if (!r.is_object()) return Bad(where + ": expected an object");
    RETURN_IF_ERROR(RejectUnknownFields(
        r, {"request_id", "ts", "version", "shadow", "latency_us", "features", "outputs"}));
    PredictionRecord p;
    if (!r.contains("request_id") || !r["request_id"].is_string() ||
        r["request_id"].get<std::string>().empty() ||
        r["request_id"].get<std::string>().size() > 200) {
      return Bad(where + ".request_id: expected a request id");
    }
    p.request_id = r["request_id"].get<std::string>();
    for (auto [field, slot] : {std::pair{"ts", &p.ts}, std::pair{"version", &p.version},
                               std::pair{"latency_us", &p.latency_us}}) {
      if (!r.contains(field) || !r[field].is_number_integer() || r[field].get<int64_t>() < 0) {
        return Bad(absl::StrCat(where, ".", field, ": expected a whole number"));
      }
      *slot = r[field].get<int64_t>();
    }
    if (r.contains("shadow") && !r["shadow"].is_boolean()) {
      return Bad(where + ".shadow: expected true or false");
    }
    p.shadow = r.value("shadow", false);
    for (auto [field, slot] :
         {std::pair{"features", &p.features}, std::pair{"outputs", &p.outputs}}) {
      if (!r.contains(field) || !r[field].is_string() ||
          !CheckJsonShape(r[field].get<std::string>(), JsonLimits{}).ok() ||
          Json::parse(r[field].get<std::string>(), nullptr, false).is_discarded()) {
        return Bad(absl::StrCat(where, ".", field, ": expected JSON text"));
      }
      *slot = r[field].get<std::string>();
    }
    out.records.push_back(std::move(p));
  }
  return out;
}

}  // namespace kade
