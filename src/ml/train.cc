#include "ml/train.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/status.h"
#include "data/values.h"
#include "ml/metrics.h"
#include "ml/xgb.h"

namespace kade::ml {
namespace {

absl::Status Bad(std::string msg) { return absl::InvalidArgumentError(std::move(msg)); }

// XGBoost parameters a spec may set (XGBoost itself only warns about unknown ones).
const std::set<std::string>& KnownParams() {
  static const auto* k = new std::set<std::string>{"eta",
                                                   "learning_rate",
                                                   "gamma",
                                                   "min_split_loss",
                                                   "max_depth",
                                                   "min_child_weight",
                                                   "max_delta_step",
                                                   "subsample",
                                                   "sampling_method",
                                                   "colsample_bytree",
                                                   "colsample_bylevel",
                                                   "colsample_bynode",
                                                   "lambda",
                                                   "reg_lambda",
                                                   "alpha",
                                                   "reg_alpha",
                                                   "max_leaves",
                                                   "max_bin",
                                                   "grow_policy",
                                                   "num_parallel_tree",
                                                   "scale_pos_weight",
                                                   "max_cat_to_onehot",
                                                   "max_cat_threshold",
                                                   "eval_metric",
                                                   "objective",
                                                   "base_score",
                                                   "tree_method"};
  return *k;
}

bool Maximise(const std::string& metric) {
  return absl::StartsWith(metric, "auc") || absl::StartsWith(metric, "aucpr") ||
         absl::StartsWith(metric, "map") || absl::StartsWith(metric, "ndcg") ||
         absl::StartsWith(metric, "pre");
}

}  // namespace

absl::StatusOr<std::vector<SearchSpec::Dimension>> SearchSpec::ParseSpace(absl::string_view text) {
  std::vector<Dimension> out;
  for (absl::string_view part : absl::StrSplit(text, ';', absl::SkipWhitespace())) {
    size_t eq = part.find('=');
    if (eq == absl::string_view::npos || eq == 0) {
      return Bad(absl::StrCat("search: '", part, "' must be PARAM=V1,V2,... or PARAM=MIN..MAX"));
    }
    Dimension d;
    d.param = std::string(absl::StripAsciiWhitespace(part.substr(0, eq)));
    absl::string_view rest = absl::StripAsciiWhitespace(part.substr(eq + 1));
    size_t dots = rest.find("..");
    if (dots != absl::string_view::npos) {
      std::string lo(rest.substr(0, dots)), hi(rest.substr(dots + 2));
      if (!absl::SimpleAtod(lo, &d.min) || !absl::SimpleAtod(hi, &d.max) || !(d.min < d.max)) {
        return Bad(absl::StrCat("search: range '", rest, "' of ", d.param,
                                " must be MIN..MAX with MIN < MAX"));
      }
      int64_t a = 0, b = 0;
      d.integer = absl::SimpleAtoi(lo, &a) && absl::SimpleAtoi(hi, &b);
    } else {
      for (absl::string_view v : absl::StrSplit(rest, ',', absl::SkipWhitespace())) {
        d.values.emplace_back(absl::StripAsciiWhitespace(v));
      }
      if (d.values.empty()) return Bad(absl::StrCat("search: ", d.param, " has no values"));
    }
    out.push_back(std::move(d));
  }
  if (out.empty()) return Bad("search: the space is empty");
  return out;
}

absl::StatusOr<SearchSpec> SearchSpec::FromJson(const Json& j) {
  if (!j.is_object()) return Bad("'search' must be an object");
  static const std::set<std::string> kFields = {"strategy", "space",     "trials",
                                                "metric",   "direction", "parallel"};
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!kFields.count(it.key())) {
      return Bad(absl::StrCat("search: unknown field '", it.key(),
                              "' (known: ", absl::StrJoin(kFields, ", "), ")"));
    }
  }
  SearchSpec s;
  if (j.contains("strategy")) {
    if (!j["strategy"].is_string()) {
      return Bad("search: 'strategy' must be grid, random or halving");
    }
    s.strategy = j["strategy"].get<std::string>();
  }
  if (s.strategy != "grid" && s.strategy != "random" && s.strategy != "halving") {
    return Bad("search: 'strategy' must be grid, random or halving");
  }
  if (!j.contains("space")) return Bad("search: 'space' is required");
  const Json& sp = j["space"];
  if (sp.is_string()) {
    ASSIGN_OR_RETURN(s.space, ParseSpace(sp.get<std::string>()));
  } else if (sp.is_object()) {
    for (auto it = sp.begin(); it != sp.end(); ++it) {
      Dimension d;
      d.param = it.key();
      const Json& v = it.value();
      if (v.is_array()) {
        for (const auto& x : v) {
          if (x.is_string()) {
            d.values.push_back(x.get<std::string>());
          } else if (x.is_number()) {
            d.values.push_back(x.dump());
          } else {
            return Bad(absl::StrCat("search: values of ", d.param, " must be numbers or strings"));
          }
        }
        if (d.values.empty()) return Bad(absl::StrCat("search: ", d.param, " has no values"));
      } else if (v.is_object() && v.contains("min") && v.contains("max") && v["min"].is_number() &&
                 v["max"].is_number()) {
        d.min = v["min"].get<double>();
        d.max = v["max"].get<double>();
        if (!(d.min < d.max)) return Bad(absl::StrCat("search: range of ", d.param, " is empty"));
        d.integer = v["min"].is_number_integer() && v["max"].is_number_integer();
        d.log = v.value("log", false);
        if (d.log && d.min <= 0)
          return Bad(absl::StrCat("search: log range of ", d.param, " must be > 0"));
      } else {
        return Bad(absl::StrCat("search: ", d.param,
                                " must be a list of values or {\"min\": …, \"max\": …}"));
      }
      s.space.push_back(std::move(d));
    }
  } else {
    return Bad("search: 'space' must be an object or \"PARAM=V1,V2;PARAM=MIN..MAX\"");
  }
  for (const auto& d : s.space) {
    if (!KnownParams().count(d.param)) {
      return Bad(absl::StrCat("search: unknown parameter '", d.param, "'"));
    }
    if (s.strategy == "grid" && d.values.empty()) {
      return Bad(absl::StrCat("search: ", d.param,
                              " is a range; a grid needs lists (or use strategy random)"));
    }
  }
  if (j.contains("trials")) {
    if (!j["trials"].is_number_integer() || j["trials"].get<int64_t>() < 1 ||
        j["trials"].get<int64_t>() > 500) {
      return Bad("search: 'trials' must be an integer from 1 to 500");
    }
    s.trials = j["trials"].get<int>();
  }
  if (j.contains("parallel")) {
    if (!j["parallel"].is_number_integer() || j["parallel"].get<int64_t>() < 1 ||
        j["parallel"].get<int64_t>() > 16) {
      return Bad("search: 'parallel' must be an integer from 1 to 16");
    }
    s.parallel = j["parallel"].get<int>();
  }
  if (j.contains("metric")) {
    if (!j["metric"].is_string()) return Bad("search: 'metric' must be a string");
    s.metric = j["metric"].get<std::string>();
  }
  if (j.contains("direction")) {
    if (!j["direction"].is_string() || (j["direction"] != "max" && j["direction"] != "min")) {
      return Bad("search: 'direction' must be max or min");
    }
    s.direction = j["direction"].get<std::string>();
  }
  size_t combos = 1;
  for (const auto& d : s.space) combos *= std::max<size_t>(1, d.values.size());
  if (s.strategy == "grid" && combos > 500) {
    return Bad(absl::StrCat("search: the grid has ", combos, " combinations, more than 500"));
  }
  return s;
}

Json SearchSpec::ToJson() const {
  Json space_json = Json::object();
  for (const auto& d : space) {
    if (!d.values.empty()) {
      space_json[d.param] = d.values;
    } else if (d.integer) {
      space_json[d.param] = Json{{"min", static_cast<int64_t>(d.min)},
                                 {"max", static_cast<int64_t>(d.max)},
                                 {"log", d.log}};
    } else {
      space_json[d.param] = Json{{"min", d.min}, {"max", d.max}, {"log", d.log}};
    }
  }
  Json out{
      {"strategy", strategy}, {"space", space_json}, {"trials", trials}, {"parallel", parallel}};
  if (!metric.empty()) out["metric"] = metric;
  if (!direction.empty()) out["direction"] = direction;
  return out;
}

absl::StatusOr<std::vector<std::map<std::string, std::string>>> SearchSpec::Trials(
    uint64_t seed) const {
  std::vector<std::map<std::string, std::string>> out;
  if (strategy == "grid") {
    out.emplace_back();
    for (const auto& d : space) {
      std::vector<std::map<std::string, std::string>> next;
      for (const auto& partial : out) {
        for (const auto& v : d.values) {
          auto t = partial;
          t[d.param] = v;
          next.push_back(std::move(t));
        }
      }
      out = std::move(next);
    }
    return out;
  }
  std::mt19937_64 rng(seed ^ 0x5eedULL);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int i = 0; i < trials; ++i) {
    std::map<std::string, std::string> t;
    for (const auto& d : space) {
      if (!d.values.empty()) {
        size_t k = std::min(d.values.size() - 1,
                            static_cast<size_t>(unit(rng) * static_cast<double>(d.values.size())));
        t[d.param] = d.values[k];
        continue;
      }
      double u = unit(rng);
      double v = d.log ? std::exp(std::log(d.min) + u * (std::log(d.max) - std::log(d.min)))
                       : d.min + u * (d.max - d.min);
      t[d.param] = d.integer ? std::to_string(static_cast<int64_t>(std::llround(v)))
                             : absl::StrFormat("%.6g", v);
    }
    out.push_back(std::move(t));
  }
  return out;
}

absl::StatusOr<TrainSpec> TrainSpec::FromJson(const Json& j) {
  if (!j.is_object()) return Bad("the training spec must be a JSON object");
  TrainSpec s;
  static const std::set<std::string> kFields = {"dataset",
                                                "version",
                                                "target",
                                                "include",
                                                "exclude",
                                                "task",
                                                "algorithm",
                                                "params",
                                                "num_rounds",
                                                "early_stopping_rounds",
                                                "holdout",
                                                "stratify",
                                                "seed",
                                                "force",
                                                "experiment",
                                                "run_name",
                                                "search",
                                                "folds",
                                                "validation_version",
                                                "test_version"};
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!kFields.count(it.key())) {
      return Bad(absl::StrCat("unknown field '", it.key(), "' in the training spec (known: ",
                              absl::StrJoin(kFields, ", "), ")"));
    }
  }
  auto str = [&](const char* f, std::string* out) -> absl::Status {
    if (!j.contains(f) || j[f].is_null()) return absl::OkStatus();
    if (!j[f].is_string()) return Bad(absl::StrCat("'", f, "' must be a string"));
    *out = j[f].get<std::string>();
    return absl::OkStatus();
  };
  auto list = [&](const char* f, std::vector<std::string>* out) -> absl::Status {
    if (!j.contains(f) || j[f].is_null()) return absl::OkStatus();
    if (!j[f].is_array()) return Bad(absl::StrCat("'", f, "' must be a list of column names"));
    for (const auto& v : j[f]) {
      if (!v.is_string()) return Bad(absl::StrCat("'", f, "' must be a list of column names"));
      out->push_back(v.get<std::string>());
    }
    return absl::OkStatus();
  };
  auto integer = [&](const char* f, int64_t lo, int64_t hi, auto* out) -> absl::Status {
    if (!j.contains(f) || j[f].is_null()) return absl::OkStatus();
    if (!j[f].is_number_integer()) return Bad(absl::StrCat("'", f, "' must be an integer"));
    int64_t v = j[f].get<int64_t>();
    if (v < lo || v > hi) return Bad(absl::StrCat("'", f, "' must be between ", lo, " and ", hi));
    *out = static_cast<std::remove_pointer_t<decltype(out)>>(v);
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(str("dataset", &s.dataset));
  RETURN_IF_ERROR(str("version", &s.version));
  RETURN_IF_ERROR(str("target", &s.target));
  RETURN_IF_ERROR(list("include", &s.include));
  RETURN_IF_ERROR(list("exclude", &s.exclude));
  RETURN_IF_ERROR(str("task", &s.task));
  RETURN_IF_ERROR(str("algorithm", &s.algorithm));
  RETURN_IF_ERROR(str("experiment", &s.experiment));
  RETURN_IF_ERROR(str("run_name", &s.run_name));
  RETURN_IF_ERROR(str("validation_version", &s.validation_version));
  RETURN_IF_ERROR(str("test_version", &s.test_version));
  if (!s.test_version.empty() && s.validation_version.empty()) {
    return Bad("'test_version' needs a 'validation_version' too (for early stopping)");
  }
  RETURN_IF_ERROR(integer("num_rounds", 1, 10000, &s.num_rounds));
  RETURN_IF_ERROR(integer("early_stopping_rounds", 0, 10000, &s.early_stopping_rounds));
  RETURN_IF_ERROR(integer("folds", 0, 20, &s.folds));
  if (s.folds == 1) return Bad("'folds' must be 0 (none) or from 2 to 20");
  int64_t seed = static_cast<int64_t>(s.seed);
  RETURN_IF_ERROR(integer("seed", 0, std::numeric_limits<int32_t>::max(), &seed));
  s.seed = static_cast<uint64_t>(seed);
  if (j.contains("holdout") && !j["holdout"].is_null()) {
    if (!j["holdout"].is_number()) return Bad("'holdout' must be a number");
    s.holdout = j["holdout"].get<double>();
    if (!(s.holdout >= 0.05 && s.holdout <= 0.5))
      return Bad("'holdout' must be between 0.05 and 0.5");
  }
  for (const char* f : {"stratify", "force"}) {
    if (j.contains(f) && !j[f].is_null()) {
      if (!j[f].is_boolean()) return Bad(absl::StrCat("'", f, "' must be true or false"));
      (std::string(f) == "stratify" ? s.stratify : s.force) = j[f].get<bool>();
    }
  }
  if (j.contains("params") && !j["params"].is_null()) {
    if (!j["params"].is_object()) return Bad("'params' must be an object of XGBoost parameters");
    for (auto it = j["params"].begin(); it != j["params"].end(); ++it) {
      if (!KnownParams().count(it.key())) {
        return Bad(absl::StrCat("params: unknown parameter '", it.key(), "'"));
      }
      const Json& v = it.value();
      if (v.is_string()) {
        s.params[it.key()] = v.get<std::string>();
      } else if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() &&
                 std::abs(v.get<double>()) < 1e15) {
        s.params[it.key()] = std::to_string(static_cast<int64_t>(v.get<double>()));  // 4.0 -> 4
      } else if (v.is_number()) {
        s.params[it.key()] = v.dump();
      } else {
        return Bad(absl::StrCat("params: '", it.key(), "' must be a number or a string"));
      }
    }
  }
  if (j.contains("search") && !j["search"].is_null()) {
    ASSIGN_OR_RETURN(s.search, SearchSpec::FromJson(j["search"]));
  }
  if (s.dataset.empty()) return Bad("'dataset' is required");
  // Checked here, so a name the tracking store would refuse fails the submission, not the job.
  if (s.experiment.empty() || s.experiment.size() > 500) {
    return Bad("'experiment' must be 1 to 500 characters");
  }
  if (s.run_name.size() > 500) return Bad("'run_name' must be at most 500 characters");
  if (s.algorithm != "xgboost" && s.algorithm != "random_forest" && s.algorithm != "linear") {
    return Bad(absl::StrCat("algorithm '", s.algorithm,
                            "' is not supported (use xgboost, random_forest or linear)"));
  }
  if (!s.task.empty() && s.task != "binary" && s.task != "multiclass" && s.task != "regression") {
    return Bad("'task' must be binary, multiclass or regression");
  }
  return s;
}

Json TrainSpec::ToJson() const {
  Json p = Json::object();
  for (const auto& [k, v] : params) p[k] = v;
  return Json{{"dataset", dataset},
              {"version", version},
              {"target", target},
              {"include", include},
              {"exclude", exclude},
              {"task", task},
              {"algorithm", algorithm},
              {"params", p},
              {"num_rounds", num_rounds},
              {"early_stopping_rounds", early_stopping_rounds},
              {"holdout", holdout},
              {"stratify", stratify},
              {"seed", seed},
              {"force", force},
              {"experiment", experiment},
              {"run_name", run_name},
              {"search", search ? search->ToJson() : Json(nullptr)},
              {"folds", folds},
              {"validation_version", validation_version},
              {"test_version", test_version}};
}

Json Encoding::ToJson() const {
  Json fs = Json::array();
  for (const auto& f : features) {
    Json fj{{"name", f.name},
            {"type", f.categorical ? "categorical" : "numeric"},
            {"source_type", ColumnTypeName(f.source_type)}};
    if (f.categorical) fj["categories"] = f.categories;
    fs.push_back(fj);
  }
  Json out{{"features", fs}, {"target", target}, {"task", task}, {"null_tokens", null_tokens}};
  if (!classes.empty()) out["classes"] = classes;
  return out;
}

// A user-set objective must fit the task: the evaluation, the served answer and the gates
// read the model's output as that task's (probabilities for classifiers).
absl::Status CheckObjective(const TrainSpec& spec, const std::string& task) {
  auto it = spec.params.find("objective");
  if (it == spec.params.end()) return absl::OkStatus();
  const std::string& obj = it->second;
  const bool ok = task == "binary" ? (absl::StartsWith(obj, "binary:") || obj == "reg:logistic")
                  : task == "multiclass"
                      ? obj == "multi:softprob"
                      : !(absl::StartsWith(obj, "binary:") || absl::StartsWith(obj, "multi:") ||
                          absl::StartsWith(obj, "rank:") || obj == "reg:logistic");
  if (ok) return absl::OkStatus();
  return Bad(absl::StrCat(
      "params.objective '", obj, "' does not fit the ", task, " task of target '", spec.target, "'",
      task == "multiclass"
          ? " (use multi:softprob: it gives every class's probability, and the predicted class "
            "is the most probable one, as multi:softmax would give)"
      : task == "binary" ? " (use a binary: objective or reg:logistic)"
                         : " (use a reg:, count:, survival: or quantile objective)"));
}

absl::StatusOr<Encoding> PlanEncoding(const TrainSpec& spec, const Schema& schema,
                                      const Json& profile, const Json& roles,
                                      const std::vector<std::string>& null_tokens) {
  Encoding e;
  e.null_tokens = null_tokens;
  e.target = spec.target;
  if (e.target.empty() && roles.is_object() && roles.contains("target") &&
      roles["target"].is_string()) {
    e.target = roles["target"].get<std::string>();
  }
  if (e.target.empty()) {
    return Bad("no target: give one in the spec ('target') or declare it on the dataset");
  }
  std::vector<std::string> names;
  for (const auto& c : schema) names.push_back(c.name);
  auto find = [&](const std::string& n) -> const ColumnSchema* {
    for (const auto& c : schema) {
      if (c.name == n) return &c;
    }
    return nullptr;
  };
  const ColumnSchema* target = find(e.target);
  if (target == nullptr) {
    return Bad(absl::StrCat("target column '", e.target,
                            "' is not in the dataset (columns: ", absl::StrJoin(names, ", "), ")"));
  }
  for (const auto* list : {&spec.include, &spec.exclude}) {
    for (const auto& n : *list) {
      if (find(n) == nullptr) {
        return Bad(absl::StrCat(list == &spec.include ? "include" : "exclude", ": column '", n,
                                "' is not in the dataset (columns: ", absl::StrJoin(names, ", "),
                                ")"));
      }
      if (n == e.target && list == &spec.include) {
        return Bad(absl::StrCat("include: '", n, "' is the target, not a feature"));
      }
    }
  }
  int64_t rows = profile.value("rows", int64_t{0});
  if (rows == 0) return Bad("the dataset version has no rows: nothing to train on");
  const Json* tp = nullptr;
  if (profile.contains("columns")) {
    for (const auto& c : profile["columns"]) {
      if (c.value("name", "") == e.target) tp = &c;
    }
  }
  if (tp != nullptr) {
    int64_t nulls = tp->value("nulls", int64_t{0});
    if (nulls > 0) {
      return Bad(absl::StrCat("target '", e.target, "' has ", nulls,
                              " missing values; every row needs a label"));
    }
    if (tp->value("distinct", int64_t{0}) < 2) {
      return Bad(absl::StrCat("target '", e.target, "' has a single value: nothing to learn"));
    }
  }
  int64_t distinct = tp != nullptr ? tp->value("distinct", int64_t{0}) : 0;
  e.task = spec.task;
  if (e.task.empty()) {
    switch (target->type) {
      case ColumnType::kBool:
        e.task = "binary";
        break;
      case ColumnType::kFloat64:
        e.task = "regression";
        break;
      case ColumnType::kInt64:
        e.task = distinct == 2 ? "binary" : "regression";
        break;
      default:
        e.task = distinct == 2 ? "binary" : "multiclass";
    }
  }
  RETURN_IF_ERROR(CheckObjective(spec, e.task));
  if (e.task == "regression" && !IsNumeric(target->type)) {
    return Bad(absl::StrCat("target '", e.target, "' is ", ColumnTypeName(target->type),
                            ", not a number: regression needs a numeric target"));
  }
  if (e.task == "binary" && distinct > 2) {
    return Bad(absl::StrCat("target '", e.target, "' has ", distinct,
                            " values; binary classification needs two (use task multiclass)"));
  }
  if (e.task == "multiclass" && distinct > 1000) {
    return Bad(
        absl::StrCat("target '", e.target, "' has ", distinct, " values, more than 1,000 classes"));
  }
  std::string id_col = roles.is_object() && roles.contains("id") && roles["id"].is_string()
                           ? roles["id"].get<std::string>()
                           : "";
  for (const auto& c : schema) {
    if (c.name == e.target) continue;
    bool included =
        std::find(spec.include.begin(), spec.include.end(), c.name) != spec.include.end();
    if (!spec.include.empty() && !included) continue;
    if (std::find(spec.exclude.begin(), spec.exclude.end(), c.name) != spec.exclude.end()) {
      continue;
    }
    Feature f;
    f.name = c.name;
    f.source_type = c.type;
    switch (c.type) {
      case ColumnType::kBool:
      case ColumnType::kInt64:
      case ColumnType::kFloat64:
        break;
      case ColumnType::kCategorical:
        f.categorical = true;
        break;
      case ColumnType::kTimestamp:
        // Dates are left out unless asked for (as seconds since 1970): they rarely generalise.
        if (!included) continue;
        break;
      case ColumnType::kString:
        // Free text and identifiers are left out unless asked for (then as categories).
        if (!included) continue;
        f.categorical = true;
        break;
    }
    if (c.name == id_col && !included) continue;
    e.features.push_back(std::move(f));
  }
  if (e.features.empty()) {
    return Bad("no feature columns are left to train on (check include/exclude)");
  }
  return e;
}

TableBuilder::TableBuilder(Encoding encoding) { table_.encoding = std::move(encoding); }

TableBuilder TableBuilder::WithFixedEncoding(Encoding trained) {
  TableBuilder b(std::move(trained));
  b.fixed_classes_ = true;
  return b;
}

absl::Status TableBuilder::OnHeader(const std::vector<std::string>& columns) {
  auto index = [&](const std::string& n) -> absl::StatusOr<size_t> {
    auto it = std::find(columns.begin(), columns.end(), n);
    if (it == columns.end()) return Bad(absl::StrCat("column '", n, "' is not in the file"));
    return static_cast<size_t>(it - columns.begin());
  };
  ASSIGN_OR_RETURN(target_, index(table_.encoding.target));
  source_.clear();
  for (const auto& f : table_.encoding.features) {
    ASSIGN_OR_RETURN(size_t i, index(f.name));
    source_.push_back(i);
  }
  codes_.assign(table_.encoding.features.size(), {});
  if (fixed_classes_) {
    for (size_t j = 0; j < table_.encoding.features.size(); ++j) {
      const auto& cats = table_.encoding.features[j].categories;
      for (size_t c = 0; c < cats.size(); ++c) codes_[j].emplace(cats[c], static_cast<int>(c));
    }
    for (size_t c = 0; c < table_.encoding.classes.size(); ++c) {
      class_codes_.emplace(table_.encoding.classes[c], static_cast<int>(c));
    }
  }
  return absl::OkStatus();
}

absl::Status TableBuilder::OnBlock(const RowBlock& block) {
  const Encoding& e = table_.encoding;
  const bool regression = e.task == "regression";
  auto is_null = [&](absl::string_view v) {
    return std::find(e.null_tokens.begin(), e.null_tokens.end(), v) != e.null_tokens.end();
  };
  const float kNaN = std::numeric_limits<float>::quiet_NaN();
  for (size_t r = 0; r < block.rows(); ++r) {
    absl::string_view label = block.Field(r, target_);
    if (!block.Present(r, target_) || is_null(label)) {
      return Bad(absl::StrFormat("line %d: target '%s' is missing", block.Line(r), e.target));
    }
    if (regression) {
      auto v = ParseDouble(label);
      if (!v) {
        return Bad(absl::StrFormat("line %d: target '%s' is '%s', not a finite number",
                                   block.Line(r), e.target, std::string(label.substr(0, 40))));
      }
      table_.y.push_back(static_cast<float>(*v));
    } else {
      auto found = class_codes_.find(label);
      if (found == class_codes_.end() && fixed_classes_) {
        return Bad(
            absl::StrFormat("line %d: label '%s' of '%s' is not a class of the training data",
                            block.Line(r), std::string(label.substr(0, 40)), e.target));
      }
      if (found == class_codes_.end()) {
        found =
            class_codes_.emplace(std::string(label), static_cast<int>(class_codes_.size())).first;
      }
      table_.y.push_back(static_cast<float>(found->second));
    }
    for (size_t j = 0; j < source_.size(); ++j) {
      const Feature& f = e.features[j];
      absl::string_view v = block.Field(r, source_[j]);
      if (!block.Present(r, source_[j]) || is_null(v)) {
        table_.x.push_back(kNaN);
        continue;
      }
      if (f.categorical) {
        auto found = codes_[j].find(v);
        if (found == codes_[j].end()) {
          if (fixed_classes_) {  // a category the model never saw: missing
            table_.x.push_back(kNaN);
            continue;
          }
          found = codes_[j].emplace(std::string(v), static_cast<int>(codes_[j].size())).first;
        }
        table_.x.push_back(static_cast<float>(found->second));
        continue;
      }
      std::optional<double> d;
      if (f.source_type == ColumnType::kBool) {
        if (auto b = ParseBool(v)) d = *b ? 1.0 : 0.0;
      } else if (f.source_type == ColumnType::kTimestamp) {
        if (auto t = ParseTimestamp(v)) d = static_cast<double>(*t) / 1e6;
      } else {
        d = ParseDouble(v);
      }
      if (!d) {
        return Bad(absl::StrFormat("line %d: column '%s' has '%s', which is not a number",
                                   block.Line(r), f.name, std::string(v.substr(0, 40))));
      }
      table_.x.push_back(static_cast<float>(*d));
    }
    table_.lines.push_back(block.Line(r));
  }
  return absl::OkStatus();
}

absl::StatusOr<Table> TableBuilder::Finish() {
  Encoding& e = table_.encoding;
  if (fixed_classes_) {  // codes are the training table's already
    if (table_.rows() == 0) return Bad("the table has no rows");
    return std::move(table_);
  }
  for (size_t j = 0; j < e.features.size(); ++j) {
    if (!e.features[j].categorical) continue;
    e.features[j].categories.assign(codes_[j].size(), "");
    for (const auto& [v, code] : codes_[j]) e.features[j].categories[static_cast<size_t>(code)] = v;
  }
  if (e.task != "regression") {
    // Classes in a canonical order (false before true, numbers by value, else by text), so
    // label codes do not depend on which class the file shows first.
    std::vector<std::string> classes;
    for (const auto& [v, code] : class_codes_) classes.push_back(v);
    auto key = [](const std::string& s) -> std::pair<int, double> {
      if (auto b = ParseBool(s)) return {0, *b ? 1.0 : 0.0};
      if (auto d = ParseDouble(s)) return {1, *d};
      return {2, 0.0};
    };
    std::stable_sort(classes.begin(), classes.end(),
                     [&](const std::string& a, const std::string& b) {
                       auto ka = key(a), kb = key(b);
                       if (ka.first != kb.first) return ka.first < kb.first;
                       if (ka.first < 2 && ka.second != kb.second) return ka.second < kb.second;
                       return a < b;
                     });
    std::vector<float> remap(classes.size());
    for (size_t i = 0; i < classes.size(); ++i) {
      remap[static_cast<size_t>(class_codes_.find(classes[i])->second)] = static_cast<float>(i);
    }
    for (float& y : table_.y) y = remap[static_cast<size_t>(y)];
    e.classes = classes;
    if (classes.size() < 2) return Bad(absl::StrCat("target '", e.target, "' has a single value"));
    if (e.task == "binary" && classes.size() != 2) {
      return Bad(absl::StrCat("target '", e.target, "' has ", classes.size(),
                              " values; binary classification needs two"));
    }
  }
  if (table_.rows() == 0) return Bad("the table has no rows");
  return std::move(table_);
}

// Sets the booster's parameters for the task and algorithm, then the spec's own.
// Inputs of a linear model: numeric features standardised with the training rows' mean and
// standard deviation (a missing value becomes the mean, i.e. 0), categorical features one-hot
// (a missing or unseen category is all zeros). Rewrites the row-major matrices in place and
// returns the transformation, which the model manifest keeps for serving.
static absl::StatusOr<Json> LinearInputs(const Encoding& e, size_t train_n, std::vector<float>* xt,
                                         std::vector<float>* xv, size_t hold_n,
                                         std::vector<std::string>* names,
                                         std::vector<bool>* categorical) {
  const size_t cols = e.features.size();
  std::vector<double> mean(cols, 0), sd(cols, 1);
  for (size_t j = 0; j < cols; ++j) {
    if (e.features[j].categorical) continue;
    double sum = 0, sq = 0;
    size_t n = 0;
    for (size_t r = 0; r < train_n; ++r) {
      float v = (*xt)[r * cols + j];
      if (std::isnan(v)) continue;
      sum += v;
      ++n;
    }
    mean[j] = n > 0 ? sum / static_cast<double>(n) : 0.0;
    for (size_t r = 0; r < train_n; ++r) {
      float v = (*xt)[r * cols + j];
      if (!std::isnan(v)) sq += (v - mean[j]) * (v - mean[j]);
    }
    sd[j] = n > 1 ? std::sqrt(sq / static_cast<double>(n - 1)) : 1.0;
    if (!(sd[j] > 0)) sd[j] = 1.0;
  }
  std::vector<std::string> out_names;
  Json standardize = Json::object(), one_hot = Json::object();
  for (size_t j = 0; j < cols; ++j) {
    const Feature& f = e.features[j];
    if (f.categorical) {
      for (const auto& c : f.categories) out_names.push_back(absl::StrCat(f.name, "=", c));
      one_hot[f.name] = f.categories;
    } else {
      out_names.push_back(f.name);
      standardize[f.name] = Json{{"mean", mean[j]}, {"std", sd[j]}};
    }
  }
  if (out_names.size() > 100000) return Bad("too many one-hot columns for a linear model");
  auto transform = [&](const std::vector<float>& in, size_t rows) {
    std::vector<float> out;
    out.reserve(rows * out_names.size());
    for (size_t r = 0; r < rows; ++r) {
      for (size_t j = 0; j < cols; ++j) {
        float v = in[r * cols + j];
        const Feature& f = e.features[j];
        if (f.categorical) {
          for (size_t c = 0; c < f.categories.size(); ++c) {
            out.push_back(!std::isnan(v) && static_cast<size_t>(v) == c ? 1.0f : 0.0f);
          }
        } else {
          out.push_back(std::isnan(v) ? 0.0f : static_cast<float>((v - mean[j]) / sd[j]));
        }
      }
    }
    return out;
  };
  *xt = transform(*xt, train_n);
  *xv = transform(*xv, hold_n);
  *names = out_names;
  categorical->assign(out_names.size(), false);
  return Json{{"standardize", standardize}, {"one_hot", one_hot}, {"inputs", out_names}};
}

static absl::Status Configure(const TrainSpec& spec, const Encoding& e, int threads,
                              Booster& booster, int* rounds) {
  std::map<std::string, std::string> params = {
      {"seed", std::to_string(spec.seed)},
      {"nthread", std::to_string(threads)},
  };
  if (spec.algorithm == "linear") {
    // XGBoost's linear booster with cyclic coordinate descent (deterministic; the default
    // "shotgun" updater is not) and L2 regularisation.
    params["booster"] = "gblinear";
    params["updater"] = "coord_descent";
    params["feature_selector"] = "cyclic";
    params["lambda"] = "1";
  } else {
    params["tree_method"] = "hist";
    params["max_cat_to_onehot"] = "4";
  }
  if (e.task == "binary") {
    params["objective"] = "binary:logistic";
    params["eval_metric"] = "logloss";
  } else if (e.task == "multiclass") {
    params["objective"] = "multi:softprob";
    params["num_class"] = std::to_string(e.classes.size());
    params["eval_metric"] = "mlogloss";
  } else {
    params["objective"] = "reg:squarederror";
    params["eval_metric"] = "rmse";
  }
  if (spec.algorithm == "random_forest") {
    // One round of many randomised trees, each on a sample of rows and columns.
    params["num_parallel_tree"] = "100";
    params["subsample"] = "0.8";
    params["colsample_bynode"] = "0.8";
    params["eta"] = "1";
    *rounds = 1;
  }
  for (const auto& [k, v] : spec.params) params[k] = v;
  for (const auto& [k, v] : params) RETURN_IF_ERROR(booster.SetParam(k, v));
  if (e.task == "binary" && !spec.params.count("eval_metric")) {
    RETURN_IF_ERROR(booster.SetParam("eval_metric", "auc"));  // both logloss and AUC per round
  }

  return absl::OkStatus();
}

absl::Status CheckParams(const TrainSpec& spec, const Encoding& encoding) {
  // Two rows of one round: XGBoost checks most parameter values only when it trains.
  const size_t cols = encoding.features.size();
  std::vector<float> x(2 * cols, std::numeric_limits<float>::quiet_NaN());
  std::vector<std::string> names;
  std::vector<bool> categorical;
  for (const auto& f : encoding.features) {
    names.push_back(f.name);
    categorical.push_back(f.categorical && spec.algorithm != "linear");
  }
  ASSIGN_OR_RETURN(DMatrix m, DMatrix::Dense(x, 2, cols, names, categorical));
  RETURN_IF_ERROR(m.SetLabels({0, 1}));
  ASSIGN_OR_RETURN(Booster b, Booster::Create({&m}));
  Encoding e = encoding;
  if (e.task == "multiclass" && e.classes.size() < 2) e.classes = {"0", "1"};
  int rounds = 1;
  absl::Status s = Configure(spec, e, 1, b, &rounds);
  if (s.ok()) s = b.UpdateOneIter(0, m);
  if (!s.ok()) return Bad(absl::StrCat("params: ", s.message()));
  return absl::OkStatus();
}

absl::StatusOr<TrainResult> Train(const TrainSpec& spec, const Table& table,
                                  const TrainOptions& options);

// k-fold cross-validation on `rows` of the table (the training rows, so the holdout stays
// unseen): folds stratified by class when asked, seeded; one model per fold trained on the
// other folds and scored on its own. Returns the mean, standard deviation and per-fold
// value of each scalar metric.
static absl::StatusOr<Json> CrossValidate(const TrainSpec& spec, const Table& table,
                                          const std::vector<size_t>& rows,
                                          const TrainOptions& options) {
  const size_t cols = table.cols();
  Table sub;
  sub.encoding = table.encoding;
  for (size_t r : rows) {
    sub.x.insert(sub.x.end(), table.x.begin() + static_cast<long>(r * cols),
                 table.x.begin() + static_cast<long>((r + 1) * cols));
    sub.y.push_back(table.y[r]);
    sub.lines.push_back(table.lines[r]);
  }
  const size_t k = static_cast<size_t>(spec.folds);
  if (sub.rows() < 2 * k)
    return Bad(absl::StrCat("too few rows for ", k, "-fold cross-validation"));
  std::mt19937_64 rng(spec.seed ^ 0xf01dULL);
  std::vector<std::vector<size_t>> groups;
  if (sub.encoding.task != "regression" && spec.stratify) {
    groups.resize(sub.encoding.classes.size());
    for (size_t i = 0; i < sub.rows(); ++i) groups[static_cast<size_t>(sub.y[i])].push_back(i);
  } else {
    groups.emplace_back(sub.rows());
    for (size_t i = 0; i < sub.rows(); ++i) groups[0][i] = i;
  }
  std::vector<std::vector<size_t>> folds(k);
  size_t next = 0;
  for (auto& g : groups) {
    for (size_t i = g.size(); i > 1; --i) {
      std::uniform_int_distribution<size_t> pick(0, i - 1);
      std::swap(g[i - 1], g[pick(rng)]);
    }
    for (size_t r : g) folds[next++ % k].push_back(r);  // dealt out in turn: even sizes
  }
  TrainSpec fold_spec = spec;
  fold_spec.folds = 0;
  std::map<std::string, std::vector<double>> values;
  for (size_t f = 0; f < k; ++f) {
    TrainOptions o;
    o.threads = options.threads;
    o.cancel = options.cancel;
    o.holdout_rows = folds[f];
    ASSIGN_OR_RETURN(TrainResult r, Train(fold_spec, sub, o));
    for (auto it = r.evaluation.begin(); it != r.evaluation.end(); ++it) {
      if (it.value().is_number()) values[it.key()].push_back(it.value().get<double>());
    }
  }
  Json out = Json::object();
  std::string summary;
  for (const auto& [metric, v] : values) {
    double mean = 0, var = 0;
    for (double x : v) mean += x;
    mean /= static_cast<double>(v.size());
    for (double x : v) var += (x - mean) * (x - mean);
    double sd = v.size() > 1 ? std::sqrt(var / static_cast<double>(v.size() - 1)) : 0.0;
    out[metric] = Json{{"mean", mean}, {"std", sd}, {"folds", v}};
    absl::StrAppendFormat(&summary, "  %s %.4f ± %.4f", metric, mean, sd);
  }
  if (options.log) options.log(absl::StrCat(k, "-fold cross-validation:", summary));
  return out;
}

absl::StatusOr<TrainResult> Train(const TrainSpec& spec, const Table& table,
                                  const TrainOptions& options) {
  auto log = [&](const std::string& line) {
    if (options.log) options.log(line);
  };
  const Encoding& e = table.encoding;
  RETURN_IF_ERROR(CheckObjective(spec, e.task));  // search trials set params of their own
  const size_t n = table.rows(), cols = table.cols();
  // Holdout: seeded shuffle, per class when stratified, so each class keeps its share.
  std::mt19937_64 rng(spec.seed);
  auto shuffle = [&](std::vector<size_t>& v) {
    for (size_t i = v.size(); i > 1; --i) {
      std::uniform_int_distribution<size_t> pick(0, i - 1);
      std::swap(v[i - 1], v[pick(rng)]);
    }
  };
  std::vector<std::vector<size_t>> groups;
  if (e.task != "regression" && spec.stratify) {
    groups.resize(e.classes.size());
    for (size_t i = 0; i < n; ++i) groups[static_cast<size_t>(table.y[i])].push_back(i);
  } else {
    groups.emplace_back(n);
    for (size_t i = 0; i < n; ++i) groups[0][i] = i;
  }
  std::vector<size_t> train_rows, hold_rows;
  if (options.validation != nullptr) {
    for (size_t r = 0; r < n; ++r) train_rows.push_back(r);  // the whole training version
  } else if (!options.holdout_rows.empty()) {
    std::vector<bool> held(n, false);
    for (size_t r : options.holdout_rows) held[r] = true;
    for (size_t r = 0; r < n; ++r) (held[r] ? hold_rows : train_rows).push_back(r);
  } else {
    for (auto& g : groups) {
      shuffle(g);
      size_t h = static_cast<size_t>(std::llround(spec.holdout * static_cast<double>(g.size())));
      hold_rows.insert(hold_rows.end(), g.begin(), g.begin() + static_cast<long>(h));
      train_rows.insert(train_rows.end(), g.begin() + static_cast<long>(h), g.end());
    }
  }
  std::sort(train_rows.begin(), train_rows.end());
  std::sort(hold_rows.begin(), hold_rows.end());
  Json cv = Json::object();
  if (spec.folds >= 2) {
    ASSIGN_OR_RETURN(cv, CrossValidate(spec, table, train_rows, options));
  }
  if (train_rows.size() < 2 || (hold_rows.empty() && options.validation == nullptr)) {
    return Bad(absl::StrCat("too few rows (", n, ") to hold out ", spec.holdout * 100,
                            "% for validation"));
  }
  auto subset = [&](const std::vector<size_t>& rows, std::vector<float>* x, std::vector<float>* y) {
    x->reserve(rows.size() * cols);
    for (size_t r : rows) {
      x->insert(x->end(), table.x.begin() + static_cast<long>(r * cols),
                table.x.begin() + static_cast<long>((r + 1) * cols));
      y->push_back(table.y[r]);
    }
  };
  std::vector<float> xt, yt, xv, yv, xe, ye;
  subset(train_rows, &xt, &yt);
  const Table* eval_table = options.test != nullptr ? options.test : options.validation;
  if (options.validation != nullptr) {
    xv = options.validation->x;
    yv = options.validation->y;
    hold_rows.resize(options.validation->rows());
    for (size_t i = 0; i < hold_rows.size(); ++i) hold_rows[i] = i;
  } else {
    subset(hold_rows, &xv, &yv);
  }
  // The rows of the final metrics: the holdout, or the test (else validation) table.
  if (eval_table != nullptr) {
    xe = eval_table->x;
    ye = eval_table->y;
  }
  std::vector<std::string> names;
  std::vector<bool> categorical;
  for (const auto& f : e.features) {
    names.push_back(f.name);
    categorical.push_back(f.categorical);
  }
  size_t width = cols;
  Json preprocessing = Json::object();
  if (spec.algorithm == "linear") {
    std::vector<std::string> raw_names = names;
    std::vector<bool> raw_cat = categorical;
    std::vector<float> train_copy = xt;
    ASSIGN_OR_RETURN(preprocessing, LinearInputs(e, train_rows.size(), &xt, &xv, hold_rows.size(),
                                                 &names, &categorical));
    if (eval_table != nullptr && eval_table != options.validation) {
      // The test table through the same transformation (statistics of the training rows).
      ASSIGN_OR_RETURN(Json again, LinearInputs(e, train_rows.size(), &train_copy, &xe,
                                                eval_table->rows(), &raw_names, &raw_cat));
      (void)again;
    } else if (eval_table != nullptr) {
      xe = xv;
    }
    width = names.size();
  }
  ASSIGN_OR_RETURN(DMatrix dtrain,
                   DMatrix::Dense(xt, train_rows.size(), width, names, categorical));
  RETURN_IF_ERROR(dtrain.SetLabels(yt));
  ASSIGN_OR_RETURN(DMatrix dvalid, DMatrix::Dense(xv, hold_rows.size(), width, names, categorical));
  RETURN_IF_ERROR(dvalid.SetLabels(yv));
  log(absl::StrFormat("%d rows: %d for training, %d held out; %d features (%d categorical)", n,
                      train_rows.size(), hold_rows.size(), cols,
                      std::count(categorical.begin(), categorical.end(), true)));

  ASSIGN_OR_RETURN(Booster booster, Booster::Create({&dtrain, &dvalid}));
  RETURN_IF_ERROR(booster.SetFeatures(names, categorical));
  int rounds = spec.num_rounds;
  RETURN_IF_ERROR(Configure(spec, e, options.threads, booster, &rounds));

  TrainResult out;
  out.encoding = e;
  out.train_rows = train_rows.size();
  std::string stop_metric;
  double best = 0;
  int best_round = -1;
  for (int round = 0; round < rounds; ++round) {
    if (options.cancel != nullptr && options.cancel->load()) {
      return absl::CancelledError(absl::StrCat("cancelled after ", round, " rounds"));
    }
    RETURN_IF_ERROR(booster.UpdateOneIter(round, dtrain));
    // The validation set every round (early stopping needs it); the training set, whose
    // metrics (AUC sorts every prediction) can cost as much as the round itself on large
    // data, every round up to 100,000 rows and every tenth round (and the last) beyond.
    const bool train_too = train_rows.size() <= 100000 || round % 10 == 0 || round == rounds - 1;
    ASSIGN_OR_RETURN(auto evals, train_too
                                     ? booster.Eval(round, {&dtrain, &dvalid}, {"train", "valid"})
                                     : booster.Eval(round, {&dvalid}, {"valid"}));
    std::string line = absl::StrCat("round ", round);
    for (const auto& [name, value] : evals) {
      std::string key = name;
      size_t dash = key.find('-');
      if (dash != std::string::npos) key[dash] = '/';
      out.history.push_back({key, round, value});
      absl::StrAppendFormat(&line, "  %s %.5f", key, value);
      if (stop_metric.empty() && absl::StartsWith(name, "valid-")) stop_metric = name;
      if (name == stop_metric) {
        bool better = best_round < 0 || (Maximise(name.substr(6)) ? value > best : value < best);
        if (better) {
          best = value;
          best_round = round;
        }
      }
    }
    if (round % 10 == 0 || round == rounds - 1) log(line);
    if (spec.early_stopping_rounds > 0 && best_round >= 0 &&
        round - best_round >= spec.early_stopping_rounds) {
      log(absl::StrFormat("early stop at round %d: %s best at round %d (%.5f)", round, stop_metric,
                          best_round, best));
      break;
    }
  }
  ASSIGN_OR_RETURN(int done, booster.Rounds());
  if (spec.early_stopping_rounds > 0 && best_round >= 0 && best_round + 1 < done) {
    ASSIGN_OR_RETURN(booster, booster.Slice(best_round + 1));
  }
  ASSIGN_OR_RETURN(out.rounds, booster.Rounds());
  out.best_iteration = best_round;
  ASSIGN_OR_RETURN(out.model_json, booster.SaveJson());
  if (eval_table != nullptr && eval_table != options.validation) {
    ASSIGN_OR_RETURN(DMatrix dtest,
                     DMatrix::Dense(xe, eval_table->rows(), width, names, categorical));
    ASSIGN_OR_RETURN(out.holdout_pred, booster.Predict(dtest));
  } else {
    ASSIGN_OR_RETURN(out.holdout_pred, booster.Predict(dvalid));
  }
  const std::vector<float>& labels = eval_table != nullptr ? ye : yv;
  if (eval_table != nullptr) {
    out.evaluated_on = options.test != nullptr ? "test" : "validation";
    out.holdout_lines = eval_table->lines;
  } else {
    out.holdout_rows = hold_rows;
    for (size_t r : hold_rows) out.holdout_lines.push_back(table.lines[r]);
  }
  out.holdout_labels = labels;
  if (e.task == "binary") {
    // binary:logitraw gives margins: the metrics read probabilities.
    std::vector<float> prob = out.holdout_pred;
    auto obj = spec.params.find("objective");
    if (obj != spec.params.end() && obj->second == "binary:logitraw") {
      for (float& v : prob) v = 1.0f / (1.0f + std::exp(-v));
    }
    out.evaluation = BinaryMetrics(labels, prob);
  } else if (e.task == "multiclass") {
    out.evaluation =
        MulticlassMetrics(labels, out.holdout_pred, static_cast<int>(e.classes.size()));
  } else {
    out.evaluation = RegressionMetrics(labels, out.holdout_pred);
  }
  // Trees: total gain of a feature's splits; linear: the size of its coefficient.
  ASSIGN_OR_RETURN(out.importance,
                   booster.Importance(spec.algorithm == "linear" ? "weight" : "total_gain"));
  if (spec.algorithm == "linear") {
    for (auto& [f, w] : out.importance) w = std::abs(w);
  }
  out.preprocessing = preprocessing;
  out.cv = cv;
  std::sort(out.importance.begin(), out.importance.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  log(absl::StrCat(
      "trained ", out.rounds, " rounds; holdout ",
      e.task == "regression"
          ? absl::StrFormat("RMSE %.5f", out.evaluation["rmse"].get<double>())
          : absl::StrFormat("accuracy %.4f", out.evaluation["accuracy"].get<double>())));
  return out;
}

}  // namespace kade::ml
