// Alert rules, their state and history (the inbox), silences, acknowledgements and
// notification channels (docs/monitoring.md#alerts):
//   GET    /api/v1/projects/{p}/alerts                       every rule with its state
//   POST   /api/v1/projects/{p}/alerts/rules                 {name, endpoint, metric, ...}
//   GET    /api/v1/projects/{p}/alerts/rules/{rule}          with history and deliveries
//   DELETE /api/v1/projects/{p}/alerts/rules/{rule}
//   POST   /api/v1/projects/{p}/alerts/rules/{rule}/silence  {"for": "2h"} | {"until": ""}
//   POST   /api/v1/projects/{p}/alerts/rules/{rule}/acknowledge
//   GET    /api/v1/projects/{p}/alerts/channels
//   POST   /api/v1/projects/{p}/alerts/channels              {name, kind, url, secret}
//   DELETE /api/v1/projects/{p}/alerts/channels/{channel}
//   GET    /api/v1/projects/{p}/alerts/prometheus-rules      the rules as Prometheus YAML
// Viewers read; editors change rules, silence and acknowledge; maintainers change channels.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/openapi.h"
#include "api/router.h"
#include "core/status.h"
#include "core/time.h"
#include "platform/platform.h"

namespace kade {

namespace S = schema;

namespace {

Json RuleToJson(const AlertRule& a) {
  Json j = a.spec.ToJson();
  const AlertRuleRecord& r = a.record;
  j["state"] = r.state;
  j["since"] = FormatRfc3339Millis(r.state_since);
  j["value"] = r.value && std::isfinite(*r.value) ? Json(*r.value) : Json(nullptr);
  j["evaluated_at"] =
      r.evaluated_at > 0 ? Json(FormatRfc3339Millis(r.evaluated_at)) : Json(nullptr);
  j["silenced"] = a.silenced;
  j["silenced_until"] = a.silenced ? Json(FormatRfc3339Millis(r.silenced_until)) : Json(nullptr);
  j["acknowledged_by"] = r.acknowledged_by.empty() ? Json(nullptr) : Json(r.acknowledged_by);
  j["created_by"] = r.created_by;
  Json history = Json::array();
  for (const auto& e : a.history) {
    history.push_back(Json{{"time", FormatRfc3339Millis(e.ts)},
                           {"state", e.state},
                           {"value", e.value ? Json(*e.value) : Json(nullptr)},
                           {"message", e.message}});
  }
  j["history"] = history;
  Json deliveries = Json::array();
  for (const auto& d : a.deliveries) {
    deliveries.push_back(Json{{"channel_id", d.channel_id},
                              {"attempts", d.attempts},
                              {"status", d.delivered_at > 0   ? "delivered"
                                         : d.delivered_at < 0 ? "given up"
                                                              : "retrying"},
                              {"last_error", d.last_error},
                              {"created_at", FormatRfc3339Millis(d.created_at)}});
  }
  j["deliveries"] = deliveries;
  return j;
}

Json ChannelToJson(const AlertChannel& c, bool with_secret) {
  Json j{{"name", c.name},
         {"kind", c.kind},
         {"url", c.url},
         {"signed", !c.secret.empty()},
         {"created_by", c.created_by},
         {"created_at", FormatRfc3339Millis(c.created_at)}};
  if (with_secret && !c.secret.empty()) j["secret"] = c.secret;
  return j;
}

// A Prometheus alerting rule per Kade rule whose figure is exported on /metrics.
std::string PrometheusRules(const Project& project, const std::vector<AlertRule>& rules) {
  std::string out = absl::StrCat("# Prometheus alerting rules equivalent to project '",
                                 project.name, "''s Kade alert rules (kade monitor rules).\n",
                                 "groups:\n  - name: kade-", project.name, "\n    rules:\n");
  int n = 0;
  for (const auto& a : rules) {
    const AlertRuleSpec& s = a.spec;
    const std::string sel =
        absl::StrCat("project=\"", project.name, "\",endpoint=\"", s.endpoint, "\"");
    std::string expr;
    if (s.metric == "dataset_drift") expr = absl::StrCat("kade_monitor_dataset_drift{", sel, "}");
    if (s.metric == "drift_share") expr = absl::StrCat("kade_monitor_drift_share{", sel, "}");
    if (s.metric == "feature_drift") {
      expr = absl::StrCat("kade_monitor_feature_drift{", sel, ",feature=\"", s.feature, "\"}");
    }
    if (s.metric == "feature_drifted") {
      expr = absl::StrCat("kade_monitor_feature_drifted{", sel, ",feature=\"", s.feature, "\"}");
    }
    if (s.metric == "violations") expr = absl::StrCat("kade_monitor_violations{", sel, "}");
    if (s.metric == "kpi") {
      expr = absl::StrCat("kade_monitor_kpi_sum{", sel, ",kpi=\"", s.feature, "\"}");
    }
    if (s.metric == "error_rate") expr = absl::StrCat("kade_monitor_error_rate{", sel, "}");
    if (s.metric == "availability") expr = absl::StrCat("kade_monitor_availability{", sel, "}");
    if (s.metric == "p99_ms") expr = absl::StrCat("kade_monitor_p99_ms{", sel, "}");
    if (s.metric == "requests") expr = absl::StrCat("kade_monitor_requests{", sel, "}");
    if (s.metric == "reconstruction_error") {
      expr = absl::StrCat("kade_monitor_reconstruction_error{", sel, "}");
    }
    if (s.metric == "multivariate_drift") {
      expr = absl::StrCat("kade_monitor_multivariate_drifted{", sel, "}");
    }
    if (s.metric == "auc" || s.metric == "accuracy" || s.metric == "rmse") {
      expr = absl::StrCat("kade_monitor_fit{", sel, ",metric=\"", s.metric, "\"}");
    }
    if (expr.empty()) continue;
    ++n;
    absl::StrAppend(&out, "      - alert: ", s.name, "\n        expr: '", expr, " ", s.comparator,
                    " ", absl::StrFormat("%g", s.threshold), "'\n        for: ",
                    s.for_ms == 0 ? std::string("0s") : s.ToJson()["for"].get<std::string>(),
                    "\n        labels:\n          severity: ", s.severity,
                    "\n        annotations:\n          summary: '", s.metric, " of ", project.name,
                    "/", s.endpoint, " ", s.comparator, " ", absl::StrFormat("%g", s.threshold),
                    " (Kade window ", s.window, ")'\n");
  }
  if (n == 0) out += "      []\n";
  return out;
}

}  // namespace

void RegisterAlertRoutes(Router& r) {
  Platform* p = r.platform();
  const std::string base = "/api/v1/projects/{project}/alerts";
  const Json rule_doc = S::Obj({{"name", S::Str()},
                                {"endpoint", S::Str()},
                                {"metric", S::Str()},
                                {"feature", S::Str()},
                                {"comparator", S::Enum({">", ">=", "<", "<="})},
                                {"threshold", S::Num()},
                                {"window", S::Str()},
                                {"for", S::Str()},
                                {"severity", S::Enum({"info", "warning", "critical"})},
                                {"channels", S::Arr(S::Str())},
                                {"retrain", S::Bool()},
                                {"description", S::Str()},
                                {"state", S::Enum({"inactive", "pending", "firing"})},
                                {"since", S::Time()},
                                {"value", S::Any()},
                                {"silenced", S::Bool()},
                                {"history", S::Arr(S::Any())},
                                {"deliveries", S::Arr(S::Any())}});
  const Json channel_doc = S::Obj({{"name", S::Str()},
                                   {"kind", S::Enum({"webhook", "alertmanager"})},
                                   {"url", S::Str()},
                                   {"signed", S::Bool()},
                                   {"secret", S::Str()},
                                   {"created_by", S::Str()},
                                   {"created_at", S::Time()}});

  r.Add("GET", base, Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(auto rules, p->alerts->Rules(rc.project_record()));
          Json out = Json::array();
          int firing = 0, pending = 0;
          for (const auto& a : rules) {
            out.push_back(RuleToJson(a));
            firing += a.record.state == "firing";
            pending += a.record.state == "pending";
          }
          return HttpResponse::MakeJson(
              200, Json{{"rules", out}, {"firing", firing}, {"pending", pending}});
        })
      .Doc("Every alert rule of the project with its state (the inbox)",
           S::Obj({{"rules", S::Arr(rule_doc)}, {"firing", S::Int()}, {"pending", S::Int()}}))
      .blocking = true;

  r.Add("POST", base + "/rules", Permission::kProjectEdit, "alert.rule.create",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          ASSIGN_OR_RETURN(AlertRuleSpec spec, AlertRuleSpec::FromJson(body));
          ASSIGN_OR_RETURN(AlertRule a, p->alerts->CreateRule(rc.ctx, rc.project_record(), spec));
          return HttpResponse::MakeJson(201, RuleToJson(a));
        })
      .Doc("Create an alert rule on a monitored figure", rule_doc, rule_doc, 201)
      .blocking = true;

  r.Add("GET", base + "/rules/{rule}", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(AlertRule a, p->alerts->Rule(rc.project_record(), rc.Param("rule")));
          return HttpResponse::MakeJson(200, RuleToJson(a));
        })
      .Doc("An alert rule with its history and deliveries", rule_doc)
      .blocking = true;

  r.Add("DELETE", base + "/rules/{rule}", Permission::kProjectEdit, "alert.rule.delete",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          RETURN_IF_ERROR(p->alerts->DeleteRule(rc.ctx, rc.project_record(), rc.Param("rule")));
          return HttpResponse::MakeJson(200, Json{{"deleted", rc.Param("rule")}});
        })
      .Doc("Delete an alert rule", S::Obj({{"deleted", S::Str()}}))
      .blocking = true;

  r.Add("POST", base + "/rules/{rule}/silence", Permission::kProjectEdit, "alert.rule.silence",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          RETURN_IF_ERROR(RejectUnknownFields(body, {"for", "until"}));
          int64_t until = 0;
          if (body.contains("for")) {
            if (!body["for"].is_string()) {
              return absl::InvalidArgumentError("for: expected a duration such as \"2h\"");
            }
            auto ms = ParseWindow(body["for"].get<std::string>());
            if (!ms.ok()) {
              return absl::InvalidArgumentError(absl::StrCat("for: ", ms.status().message()));
            }
            until = NowMillis() + *ms;
          } else if (!body.contains("until") || !body["until"].is_string() ||
                     !body["until"].get<std::string>().empty()) {
            return absl::InvalidArgumentError(
                "give {\"for\": \"2h\"} to silence, or {\"until\": \"\"} to lift the silence");
          }
          ASSIGN_OR_RETURN(AlertRule a, p->alerts->Silence(rc.ctx, rc.project_record(),
                                                           rc.Param("rule"), until));
          return HttpResponse::MakeJson(200, RuleToJson(a));
        })
      .Doc("Silence a rule's notifications for a while, or lift the silence", rule_doc,
           S::Obj({{"for", S::Str()}, {"until", S::Str()}}))
      .blocking = true;

  r.Add("POST", base + "/rules/{rule}/acknowledge", Permission::kProjectEdit,
        "alert.rule.acknowledge",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(AlertRule a,
                           p->alerts->Acknowledge(rc.ctx, rc.project_record(), rc.Param("rule")));
          return HttpResponse::MakeJson(200, RuleToJson(a));
        })
      .Doc("Acknowledge a pending or firing alert", rule_doc, S::Empty())
      .blocking = true;

  r.Add("GET", base + "/channels", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(auto channels, p->alerts->Channels(rc.project_record()));
          Json out = Json::array();
          for (const auto& c : channels) out.push_back(ChannelToJson(c, false));
          return HttpResponse::MakeJson(200, Json{{"channels", out}});
        })
      .Doc("Notification channels (secrets are not shown)",
           S::Obj({{"channels", S::Arr(channel_doc)}}))
      .blocking = true;

  r.Add("POST", base + "/channels", Permission::kProjectManage, "alert.channel.create",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(Json body, rc.JsonBody());
          RETURN_IF_ERROR(RejectUnknownFields(body, {"name", "kind", "url", "secret"}));
          ChannelSpec spec;
          ASSIGN_OR_RETURN(spec.name, RequiredString(body, "name"));
          ASSIGN_OR_RETURN(spec.kind, RequiredString(body, "kind"));
          ASSIGN_OR_RETURN(spec.url, RequiredString(body, "url"));
          ASSIGN_OR_RETURN(auto secret, OptionalString(body, "secret"));
          spec.secret = secret.value_or("");
          ASSIGN_OR_RETURN(AlertChannel c,
                           p->alerts->CreateChannel(rc.ctx, rc.project_record(), spec));
          return HttpResponse::MakeJson(201, ChannelToJson(c, true));
        })
      .Doc(
          "Create a notification channel: a signed webhook or an Alertmanager (the webhook's "
          "secret is shown once)",
          channel_doc,
          S::Obj({{"name", S::Str()},
                  {"kind", S::Enum({"webhook", "alertmanager"})},
                  {"url", S::Str()},
                  {"secret", S::Str()}},
                 {"name", "kind", "url"}),
          201)
      .blocking = true;

  r.Add("DELETE", base + "/channels/{channel}", Permission::kProjectManage, "alert.channel.delete",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          RETURN_IF_ERROR(
              p->alerts->DeleteChannel(rc.ctx, rc.project_record(), rc.Param("channel")));
          return HttpResponse::MakeJson(200, Json{{"deleted", rc.Param("channel")}});
        })
      .Doc("Delete a notification channel", S::Obj({{"deleted", S::Str()}}))
      .blocking = true;

  r.Add("GET", base + "/prometheus-rules", Permission::kProjectView, "",
        [p](RouteContext& rc) -> absl::StatusOr<HttpResponse> {
          ASSIGN_OR_RETURN(auto rules, p->alerts->Rules(rc.project_record()));
          HttpResponse resp;
          resp.content_type = "application/yaml; charset=utf-8";
          resp.body = PrometheusRules(rc.project_record(), rules);
          return resp;
        })
      .Doc("The project's alert rules as Prometheus alerting rules over Kade's /metrics gauges",
           S::Text())
      .blocking = true;
}

}  // namespace kade
