#include "ml/servable.h"

#include <charconv>

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status.h"
#include "data/values.h"
#include "simdjson.h"

namespace kade::ml {
namespace {

constexpr size_t kMaxProblems = 20;
constexpr size_t kMaxRows = 100000;
const float kNaN = std::numeric_limits<float>::quiet_NaN();

absl::Status Bad(absl::string_view what) { return absl::InvalidArgumentError(what); }

std::string Shown(const Json& v) {
  std::string s = v.dump();
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

// Collects problems; the error lists them all (up to a bound) so a caller fixes them at once.
struct Problems {
  std::vector<std::string> list;
  size_t total = 0;
  std::vector<InputProblem>* found = nullptr;  // every problem by feature (Inspect)
  void Add(std::string p, absl::string_view feature = "",
           InputProblem::Check check = InputProblem::Check::kOther) {
    ++total;
    if (found != nullptr) found->push_back({std::string(feature), check});
    if (list.size() < kMaxProblems) list.push_back(std::move(p));
  }
  absl::Status Status() const {
    if (total == 0) return absl::OkStatus();
    std::string msg = absl::StrCat(total, total == 1 ? " problem" : " problems",
                                   " in the request: ", absl::StrJoin(list, "; "));
    if (total > list.size()) absl::StrAppend(&msg, "; and ", total - list.size(), " more");
    return Bad(msg);
  }
};

// A value's problem as Encode words it: an unseen category, else a wrong type.
InputProblem::Check ProblemCheck(absl::string_view problem) {
  return absl::StartsWith(problem, "unseen category") ? InputProblem::Check::kUnseenCategory
                                                      : InputProblem::Check::kTypeError;
}

}  // namespace

absl::StatusOr<Encoding> EncodingFromJson(const Json& j) {
  if (!j.is_object()) return Bad("signature: expected an object");
  Encoding e;
  if (!j.contains("features") || !j["features"].is_array() || j["features"].empty()) {
    return Bad("signature: 'features' must be a non-empty array");
  }
  for (size_t i = 0; i < j["features"].size(); ++i) {
    const Json& f = j["features"][i];
    const std::string where = absl::StrCat("signature.features[", i, "]");
    if (!f.is_object() || !f.contains("name") || !f["name"].is_string() ||
        f["name"].get<std::string>().empty()) {
      return Bad(where + ": needs a 'name'");
    }
    Feature feat;
    feat.name = f["name"].get<std::string>();
    std::string type = f.value("type", std::string("numeric"));
    if (type != "numeric" && type != "categorical") {
      return Bad(where + ".type: 'numeric' or 'categorical'");
    }
    feat.categorical = type == "categorical";
    if (f.contains("source_type")) {
      auto t = f["source_type"].is_string() ? ParseColumnType(f["source_type"].get<std::string>())
                                            : std::nullopt;
      if (!t) return Bad(where + ".source_type: not a column type");
      feat.source_type = *t;
    } else {
      feat.source_type = feat.categorical ? ColumnType::kCategorical : ColumnType::kFloat64;
    }
    if (feat.categorical) {
      if (!f.contains("categories") || !f["categories"].is_array()) {
        return Bad(where + ".categories: a categorical feature lists its categories");
      }
      for (const auto& c : f["categories"]) {
        if (!c.is_string()) return Bad(where + ".categories: expected strings");
        feat.categories.push_back(c.get<std::string>());
      }
    }
    e.features.push_back(std::move(feat));
  }
  e.target = j.value("target", std::string());
  e.task = j.value("task", std::string("regression"));
  if (e.task != "binary" && e.task != "multiclass" && e.task != "regression") {
    return Bad("signature.task: binary, multiclass or regression");
  }
  if (j.contains("classes")) {
    if (!j["classes"].is_array()) return Bad("signature.classes: expected an array");
    for (const auto& c : j["classes"]) {
      if (!c.is_string()) return Bad("signature.classes: expected strings");
      e.classes.push_back(c.get<std::string>());
    }
  }
  if (e.task != "regression" && e.classes.size() < 2) {
    return Bad("signature.classes: a classifier needs two classes or more");
  }
  if (j.contains("null_tokens") && j["null_tokens"].is_array()) {
    for (const auto& t : j["null_tokens"]) {
      if (t.is_string()) e.null_tokens.push_back(t.get<std::string>());
    }
  } else {
    e.null_tokens = DefaultNullTokens();
  }
  return e;
}

absl::StatusOr<std::shared_ptr<const Servable>> Servable::Load(const Json& manifest,
                                                               absl::string_view model_json) {
  if (!manifest.is_object() || !manifest.contains("signature")) {
    return Bad("model manifest has no signature");
  }
  auto s = std::shared_ptr<Servable>(new Servable());
  ASSIGN_OR_RETURN(s->signature_, EncodingFromJson(manifest["signature"]));
  ASSIGN_OR_RETURN(s->engine_, TreeModel::FromXgboostJson(model_json));
  const Encoding& e = s->signature_;
  const Json pre = manifest.value("preprocessing", Json::object());
  s->linear_ = pre.is_object() && pre.contains("standardize");
  size_t width = e.features.size();
  if (s->linear_) {
    width = 0;
    for (const auto& f : e.features) {
      if (f.categorical) {
        width += f.categories.size();
        s->mean_.push_back(0);
        s->sd_.push_back(1);
        continue;
      }
      ++width;
      const Json& st = pre["standardize"];
      if (!st.contains(f.name) || !st[f.name].contains("mean") || !st[f.name].contains("std") ||
          !st[f.name]["mean"].is_number() || !st[f.name]["std"].is_number()) {
        return Bad(absl::StrCat("preprocessing.standardize: no mean and std for '", f.name, "'"));
      }
      s->mean_.push_back(st[f.name]["mean"].get<double>());
      s->sd_.push_back(st[f.name]["std"].get<double>());
    }
    s->linear_width_ = width;
  }
  if (static_cast<size_t>(s->engine_->num_features()) != width) {
    return Bad(absl::StrCat("the model takes ", s->engine_->num_features(),
                            " features but its signature gives ", width));
  }
  const int classes = static_cast<int>(e.classes.size());
  const std::string& obj = s->engine_->objective();
  if (e.task == "multiclass" && s->engine_->num_groups() != classes) {
    return Bad(absl::StrCat("the signature has ", classes, " classes but the model ",
                            s->engine_->num_groups()));
  }
  if (e.task == "binary" && s->engine_->num_groups() != 1) {
    return Bad("a binary signature needs a model with one output");
  }
  if (e.task == "regression" && obj.rfind("multi:", 0) == 0) {
    return Bad("a multi-class model needs a multiclass signature");
  }
  for (size_t j = 0; j < e.features.size(); ++j) {
    s->by_name_.emplace_back(e.features[j].name, j);
    std::vector<std::pair<std::string, int>> codes;
    for (size_t c = 0; c < e.features[j].categories.size(); ++c) {
      codes.emplace_back(e.features[j].categories[c], static_cast<int>(c));
    }
    std::sort(codes.begin(), codes.end());
    s->codes_.push_back(std::move(codes));
  }
  std::sort(s->by_name_.begin(), s->by_name_.end());
  for (size_t i = 1; i < s->by_name_.size(); ++i) {
    if (s->by_name_[i].first == s->by_name_[i - 1].first) {
      return Bad(absl::StrCat("signature: feature '", s->by_name_[i].first, "' appears twice"));
    }
  }
  return std::shared_ptr<const Servable>(std::move(s));
}

bool Servable::Encode(size_t j, const Json& v, float* out, std::string* problem) const {
  const Feature& f = signature_.features[j];
  if (v.is_null()) {
    *out = kNaN;
    return true;
  }
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    for (const auto& t : signature_.null_tokens) {
      if (s == t) {
        *out = kNaN;
        return true;
      }
    }
  }
  if (f.categorical) {
    std::string text;
    if (v.is_string()) {
      text = v.get<std::string>();
    } else if (v.is_number_integer()) {
      text = v.dump();
    } else if (v.is_boolean()) {
      text = v.get<bool>() ? "true" : "false";
    } else if (v.is_number_float()) {
      double d = v.get<double>();
      text = d == std::floor(d) && std::abs(d) < 1e15 ? absl::StrCat(static_cast<int64_t>(d))
                                                      : v.dump();
    } else {
      *problem = absl::StrCat("expected a category (string), got ", Shown(v));
      return false;
    }
    const auto& codes = codes_[j];
    auto it = std::lower_bound(codes.begin(), codes.end(), std::make_pair(text, -1));
    if (it == codes.end() || it->first != text) {
      *problem = absl::StrCat("unseen category ", Shown(Json(text)), " (the model knows ",
                              codes.size(), ")");
      return false;
    }
    *out = static_cast<float>(it->second);
    return true;
  }
  switch (f.source_type) {
    case ColumnType::kBool:
      if (v.is_boolean()) {
        *out = v.get<bool>() ? 1.0f : 0.0f;
        return true;
      }
      if (v.is_string()) {
        if (auto b = ParseBool(v.get<std::string>())) {
          *out = *b ? 1.0f : 0.0f;
          return true;
        }
      }
      if (v.is_number()) {
        double d = v.get<double>();
        if (d == 0 || d == 1) {
          *out = static_cast<float>(d);
          return true;
        }
      }
      *problem = absl::StrCat("expected true or false, got ", Shown(v));
      return false;
    case ColumnType::kTimestamp:
      if (v.is_string()) {
        if (auto t = ParseTimestamp(v.get<std::string>())) {
          *out = static_cast<float>(static_cast<double>(*t) / 1e6);
          return true;
        }
      }
      *problem = absl::StrCat("expected an ISO 8601 time, got ", Shown(v));
      return false;
    default:
      if (v.is_number()) {
        double d = v.get<double>();
        *out = static_cast<float>(d);
        return true;
      }
      *problem = absl::StrCat("expected a number, got ", Shown(v));
      return false;
  }
}

std::vector<InputProblem> Servable::Inspect(const Json& body) const {
  std::vector<InputProblem> found;
  auto decoded = DecodeInto(body, &found);
  if (!decoded.ok() && found.empty()) found.push_back({"", InputProblem::Check::kOther});
  return found;
}

absl::StatusOr<Batch> Servable::Decode(const Json& body) const { return DecodeInto(body, nullptr); }

absl::StatusOr<Batch> Servable::DecodeColumns(
    const std::vector<std::pair<std::string, const Json*>>& cols, size_t rows) const {
  return ColumnsInto(cols, rows, nullptr);
}

absl::StatusOr<Batch> Servable::DecodeInto(const Json& body,
                                           std::vector<InputProblem>* found) const {
  if (!body.is_object()) return Bad("the request body must be a JSON object");
  const size_t nf = signature_.features.size();
  Problems problems;
  problems.found = found;
  for (const auto& [key, value] : body.items()) {
    if (key != "instances" && key != "inputs" && key != "dataframe_split" && key != "id" &&
        key != "parameters") {
      problems.Add(absl::StrCat("unknown field '", key,
                                "' (give 'instances', 'inputs' or 'dataframe_split')"));
    }
  }
  const int forms =
      body.contains("instances") + body.contains("inputs") + body.contains("dataframe_split");
  if (forms != 1) {
    return Bad(
        "give the rows in exactly one of 'instances' (records), 'inputs' (columns) or "
        "'dataframe_split' ({columns, data})");
  }
  RETURN_IF_ERROR(problems.Status());
  if (body.contains("inputs")) {
    const Json& in = body["inputs"];
    if (!in.is_object()) return Bad("'inputs' must be an object of columns: {\"age\": [41, 35]}");
    std::vector<std::pair<std::string, const Json*>> cols;
    size_t rows = 0;
    bool first = true;
    for (const auto& [name, values] : in.items()) {
      if (!values.is_array()) {
        problems.Add(absl::StrCat("inputs.", name, ": expected an array of values"));
        continue;
      }
      if (first) rows = values.size();
      if (values.size() != rows) {
        problems.Add(absl::StrCat("inputs.", name, ": ", values.size(), " values, but ", rows,
                                  " in the first column"));
      }
      first = false;
      cols.emplace_back(name, &values);
    }
    RETURN_IF_ERROR(problems.Status());
    return ColumnsInto(cols, rows, found);
  }
  if (body.contains("dataframe_split")) {
    const Json& df = body["dataframe_split"];
    if (!df.is_object() || !df.contains("columns") || !df["columns"].is_array() ||
        !df.contains("data") || !df["data"].is_array()) {
      return Bad("'dataframe_split' needs 'columns' (names) and 'data' (rows of values)");
    }
    Json records = Json::array();
    const Json& names = df["columns"];
    for (const auto& n : names) {
      if (!n.is_string()) return Bad("dataframe_split.columns: expected names (strings)");
    }
    for (size_t r = 0; r < df["data"].size(); ++r) {
      const Json& row = df["data"][r];
      if (!row.is_array() || row.size() != names.size()) {
        return Bad(
            absl::StrCat("dataframe_split.data[", r, "]: expected ", names.size(), " values"));
      }
      Json rec = Json::object();
      for (size_t c = 0; c < names.size(); ++c) rec[names[c].get<std::string>()] = row[c];
      records.push_back(std::move(rec));
    }
    return DecodeInto(Json{{"instances", std::move(records)}}, found);
  }
  const Json& inst = body["instances"];
  if (!inst.is_array() || inst.empty()) {
    return Bad("'instances' must be a non-empty array of records");
  }
  if (inst.size() > kMaxRows) {
    return Bad(absl::StrCat("at most ", kMaxRows, " rows per request; use a batch job for more"));
  }
  Batch b;
  b.rows = inst.size();
  b.x.assign(b.rows * nf, kNaN);
  std::vector<bool> seen(nf);
  for (size_t r = 0; r < b.rows; ++r) {
    const Json& rec = inst[r];
    if (!rec.is_object()) {
      problems.Add(absl::StrCat("instances[", r, "]: expected an object of feature values"));
      continue;
    }
    std::fill(seen.begin(), seen.end(), false);
    for (const auto& [name, value] : rec.items()) {
      auto it = std::lower_bound(by_name_.begin(), by_name_.end(), std::make_pair(name, size_t{0}));
      if (it == by_name_.end() || it->first != name) {
        problems.Add(absl::StrCat("instances[", r, "].", name, ": unknown feature"), name,
                     InputProblem::Check::kExtraColumn);
        continue;
      }
      seen[it->second] = true;
      std::string problem;
      if (!Encode(it->second, value, &b.x[r * nf + it->second], &problem)) {
        problems.Add(absl::StrCat("instances[", r, "].", name, ": ", problem), name,
                     ProblemCheck(problem));
      }
    }
    for (size_t j = 0; j < nf; ++j) {
      if (!seen[j]) {
        problems.Add(absl::StrCat("instances[", r, "]: missing feature '",
                                  signature_.features[j].name, "' (send null for a missing value)"),
                     signature_.features[j].name, InputProblem::Check::kMissingColumn);
      }
    }
  }
  RETURN_IF_ERROR(problems.Status());
  return b;
}

absl::StatusOr<Batch> Servable::ColumnsInto(
    const std::vector<std::pair<std::string, const Json*>>& cols, size_t rows,
    std::vector<InputProblem>* found) const {
  const size_t nf = signature_.features.size();
  if (rows == 0) return Bad("no rows in the request");
  if (rows > kMaxRows) {
    return Bad(absl::StrCat("at most ", kMaxRows, " rows per request; use a batch job for more"));
  }
  Problems problems;
  problems.found = found;
  Batch b;
  b.rows = rows;
  b.x.assign(rows * nf, kNaN);
  std::vector<bool> seen(nf);
  for (const auto& [name, values] : cols) {
    auto it = std::lower_bound(by_name_.begin(), by_name_.end(), std::make_pair(name, size_t{0}));
    if (it == by_name_.end() || it->first != name) {
      problems.Add(absl::StrCat("input '", name, "': unknown feature"), name,
                   InputProblem::Check::kExtraColumn);
      continue;
    }
    seen[it->second] = true;
    for (size_t r = 0; r < rows && r < values->size(); ++r) {
      std::string problem;
      if (!Encode(it->second, (*values)[r], &b.x[r * nf + it->second], &problem)) {
        problems.Add(absl::StrCat("input '", name, "'[", r, "]: ", problem), name,
                     ProblemCheck(problem));
      }
    }
  }
  for (size_t j = 0; j < nf; ++j) {
    if (!seen[j]) {
      problems.Add(absl::StrCat("missing feature '", signature_.features[j].name, "'"),
                   signature_.features[j].name, InputProblem::Check::kMissingColumn);
    }
  }
  RETURN_IF_ERROR(problems.Status());
  return b;
}

bool Servable::DecodeRecordsFast(absl::string_view text, Batch* out) const {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(text.data(), text.size()).get(doc) != simdjson::SUCCESS) return false;
  simdjson::dom::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS) return false;
  simdjson::dom::array rows;
  size_t fields = 0;
  for (auto [key, value] : root) {
    ++fields;
    if (key != "instances" || value.get_array().get(rows) != simdjson::SUCCESS) return false;
  }
  if (fields != 1) return false;
  const size_t nf = signature_.features.size();
  const size_t n = rows.size();
  if (n == 0 || n > kMaxRows) return false;
  out->rows = n;
  out->x.assign(n * nf, kNaN);
  std::vector<uint8_t> seen(nf);
  size_t r = 0;
  for (simdjson::dom::element rec : rows) {
    simdjson::dom::object obj;
    if (rec.get_object().get(obj) != simdjson::SUCCESS) return false;
    std::fill(seen.begin(), seen.end(), 0);
    size_t count = 0;
    float* row = out->x.data() + r * nf;
    for (auto [key, value] : obj) {
      auto it = std::lower_bound(
          by_name_.begin(), by_name_.end(), key,
          [](const std::pair<std::string, size_t>& a, std::string_view k) { return a.first < k; });
      if (it == by_name_.end() || it->first != key) return false;
      const size_t j = it->second;
      if (seen[j]) return false;
      seen[j] = 1;
      ++count;
      const Feature& f = signature_.features[j];
      switch (value.type()) {
        case simdjson::dom::element_type::NULL_VALUE:
          break;  // missing
        case simdjson::dom::element_type::DOUBLE:
        case simdjson::dom::element_type::INT64:
        case simdjson::dom::element_type::UINT64: {
          if (f.categorical || f.source_type == ColumnType::kBool ||
              f.source_type == ColumnType::kTimestamp) {
            return false;
          }
          double d = 0;
          if (value.get_double().get(d) != simdjson::SUCCESS) return false;
          row[j] = static_cast<float>(d);
          break;
        }
        case simdjson::dom::element_type::STRING: {
          if (!f.categorical) return false;
          std::string_view s;
          if (value.get_string().get(s) != simdjson::SUCCESS) return false;
          const auto& codes = codes_[j];
          auto c = std::lower_bound(
              codes.begin(), codes.end(), s,
              [](const std::pair<std::string, int>& a, std::string_view k) { return a.first < k; });
          if (c == codes.end() || c->first != s) return false;  // unseen, or a null token
          row[j] = static_cast<float>(c->second);
          break;
        }
        default:
          return false;
      }
    }
    if (count != nf) return false;
    ++r;
  }
  return true;
}

absl::StatusOr<Batch> Servable::DecodeText(absl::string_view text) const {
  Batch b;
  if (DecodeRecordsFast(text, &b)) return b;
  ASSIGN_OR_RETURN(Json body, ParseJsonObject(text, kPredictJsonLimits));
  return Decode(body);
}

absl::StatusOr<std::vector<double>> Servable::Explain(const Batch& batch) const {
  if (linear_) {
    return absl::FailedPreconditionError(
        "explanations of Kade's linear models (standardised, one-hot inputs) are not built yet");
  }
  if (static_cast<size_t>(engine_->num_features()) != signature_.features.size()) {
    return absl::FailedPreconditionError("the model's features differ from its signature's");
  }
  const size_t width = static_cast<size_t>(engine_->num_groups()) *
                       (static_cast<size_t>(engine_->num_features()) + 1);
  std::vector<double> out(batch.rows * width);
  RETURN_IF_ERROR(engine_->ShapValues(batch.x.data(), batch.rows, out.data()));
  return out;
}

Prediction Servable::Predict(const Batch& batch) const {
  Prediction p;
  p.rows = batch.rows;
  p.width = static_cast<size_t>(engine_->num_outputs());
  p.output.resize(p.rows * p.width);
  if (!linear_) {
    engine_->Predict(batch.x.data(), batch.rows, p.output.data());
    return p;
  }
  // The training-time transformation: standardised numbers (missing = the mean, 0), one-hot
  // categories (missing or unseen = all zeros).
  const size_t nf = signature_.features.size();
  std::vector<float> in(batch.rows * linear_width_, 0.0f);
  for (size_t r = 0; r < batch.rows; ++r) {
    float* o = in.data() + r * linear_width_;
    for (size_t j = 0; j < nf; ++j) {
      const float v = batch.x[r * nf + j];
      const Feature& f = signature_.features[j];
      if (f.categorical) {
        if (!std::isnan(v)) o[static_cast<size_t>(v)] = 1.0f;
        o += f.categories.size();
      } else {
        *o++ = std::isnan(v) ? 0.0f : static_cast<float>((v - mean_[j]) / sd_[j]);
      }
    }
  }
  engine_->Predict(in.data(), batch.rows, p.output.data());
  return p;
}

std::string Servable::Label(const Prediction& p, size_t row) const {
  const Encoding& e = signature_;
  const float* o = p.output.data() + row * p.width;
  if (e.task == "binary") {
    if (engine_->objective() == "binary:logitraw") return e.classes[o[0] > 0 ? 1 : 0];
    return e.classes[o[0] >= 0.5f ? 1 : 0];
  }
  if (e.task == "multiclass") {
    size_t k = p.width == 1 ? static_cast<size_t>(o[0])
                            : static_cast<size_t>(std::max_element(o, o + p.width) - o);
    return k < e.classes.size() ? e.classes[k] : absl::StrCat(k);
  }
  return absl::StrCat(o[0]);
}

Json Servable::Render(const Prediction& p) const {
  const Encoding& e = signature_;
  Json preds = Json::array();
  if (e.task == "regression") {
    for (size_t r = 0; r < p.rows; ++r) preds.push_back(p.output[r * p.width]);
    return Json{{"predictions", std::move(preds)}};
  }
  Json probs = Json::array();
  const bool has_probs = engine_->objective() != "multi:softmax" &&
                         engine_->objective() != "binary:logitraw" &&
                         engine_->objective() != "binary:hinge";
  for (size_t r = 0; r < p.rows; ++r) {
    preds.push_back(Label(p, r));
    if (!has_probs) continue;
    const float* o = p.output.data() + r * p.width;
    if (e.task == "binary") {
      probs.push_back(Json::array({1.0f - o[0], o[0]}));
    } else {
      probs.push_back(Json(std::vector<float>(o, o + p.width)));
    }
  }
  Json out{{"predictions", std::move(preds)}, {"classes", e.classes}};
  if (has_probs) out["probabilities"] = std::move(probs);
  return out;
}

namespace {
// A float as Render gives it: widened to double, shortest text that reads back the same;
// null when not finite (as Json's dump writes it).
void AppendNumber(std::string* out, double v) {
  if (!std::isfinite(v)) {
    out->append("null");
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, static_cast<size_t>(end - buf));
}
}  // namespace

void Servable::AppendRenderedMembers(const Prediction& p, std::string* out) const {
  const Encoding& e = signature_;
  out->append("\"predictions\":[");
  if (e.task == "regression") {
    for (size_t r = 0; r < p.rows; ++r) {
      if (r > 0) out->push_back(',');
      AppendNumber(out, p.output[r * p.width]);
    }
    out->push_back(']');
    return;
  }
  for (size_t r = 0; r < p.rows; ++r) {
    if (r > 0) out->push_back(',');
    AppendJsonString(out, Label(p, r));
  }
  out->append("],\"classes\":[");
  for (size_t k = 0; k < e.classes.size(); ++k) {
    if (k > 0) out->push_back(',');
    AppendJsonString(out, e.classes[k]);
  }
  out->push_back(']');
  const bool has_probs = engine_->objective() != "multi:softmax" &&
                         engine_->objective() != "binary:logitraw" &&
                         engine_->objective() != "binary:hinge";
  if (!has_probs) return;
  out->append(",\"probabilities\":[");
  for (size_t r = 0; r < p.rows; ++r) {
    if (r > 0) out->push_back(',');
    const float* o = p.output.data() + r * p.width;
    out->push_back('[');
    if (e.task == "binary") {
      AppendNumber(out, 1.0f - o[0]);
      out->push_back(',');
      AppendNumber(out, o[0]);
    } else {
      for (size_t k = 0; k < p.width; ++k) {
        if (k > 0) out->push_back(',');
        AppendNumber(out, o[k]);
      }
    }
    out->push_back(']');
  }
  out->push_back(']');
}

Json Servable::OipMetadata() const {
  Json inputs = Json::array();
  for (const auto& f : signature_.features) {
    inputs.push_back(Json{{"name", f.name},
                          {"datatype", f.categorical ? "BYTES" : "FP32"},
                          {"shape", Json::array({-1})}});
  }
  Json outputs = Json::array();
  const bool classifier = signature_.task != "regression";
  outputs.push_back(Json{{"name", "predictions"},
                         {"datatype", classifier ? "BYTES" : "FP32"},
                         {"shape", Json::array({-1})}});
  if (classifier) {
    outputs.push_back(
        Json{{"name", "probabilities"},
             {"datatype", "FP32"},
             {"shape", Json::array({-1, static_cast<int64_t>(signature_.classes.size())})}});
  }
  return Json{{"inputs", inputs}, {"outputs", outputs}};
}

}  // namespace kade::ml
