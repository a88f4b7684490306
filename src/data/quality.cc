#include "data/quality.h"

#include <cmath>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/status.h"
#include "data/sketches.h"
#include "re2/re2.h"

namespace kade {

namespace {
const char* const kRowChecks[] = {"not_null", "unique", "range", "allowed_values", "regex"};
const char* const kAllChecks[] = {"not_null",  "unique",
                                  "range",     "allowed_values",
                                  "regex",     "max_null_fraction",
                                  "row_count", "schema_compatible",
                                  "freshness"};

bool IsRowCheck(const std::string& k) {
  for (const char* c : kRowChecks) {
    if (k == c) return true;
  }
  return false;
}
}  // namespace

absl::StatusOr<std::vector<QualityCheck>> ParseQualityChecks(const Json& j) {
  if (!j.is_array()) return absl::InvalidArgumentError("checks must be a JSON array");
  std::vector<QualityCheck> out;
  for (size_t i = 0; i < j.size(); ++i) {
    const Json& c = j[i];
    std::string where = absl::StrCat("checks[", i, "]");
    if (!c.is_object() || !c.contains("check") || !c["check"].is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": needs a \"check\" name"));
    }
    QualityCheck q;
    q.check = c["check"].get<std::string>();
    bool known = false;
    for (const char* k : kAllChecks) known = known || q.check == k;
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": unknown check '", q.check,
          "' (use not_null, unique, range, allowed_values, regex, max_null_fraction, row_count, "
          "schema_compatible, freshness)"));
    }
    if (c.contains("column")) {
      if (!c["column"].is_string())
        return absl::InvalidArgumentError(absl::StrCat(where, ": column must be a string"));
      q.column = c["column"].get<std::string>();
    }
    bool needs_column = q.check != "row_count" && q.check != "schema_compatible";
    if (needs_column && q.column.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": check '", q.check, "' needs a column"));
    }
    std::string severity = c.value("severity", std::string("blocking"));
    if (severity != "blocking" && severity != "warning") {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": severity must be blocking or warning"));
    }
    q.blocking = severity == "blocking";
    for (auto it = c.begin(); it != c.end(); ++it) {
      if (it.key() != "check" && it.key() != "column" && it.key() != "severity")
        q.args[it.key()] = it.value();
    }
    auto need_number = [&](const char* k, bool required) -> absl::Status {
      if (!q.args.contains(k)) {
        return required ? absl::InvalidArgumentError(
                              absl::StrCat(where, ": '", q.check, "' needs '", k, "'"))
                        : absl::OkStatus();
      }
      if (!q.args[k].is_number())
        return absl::InvalidArgumentError(absl::StrCat(where, ": '", k, "' must be a number"));
      return absl::OkStatus();
    };
    if (q.check == "range" || q.check == "row_count") {
      RETURN_IF_ERROR(need_number("min", false));
      RETURN_IF_ERROR(need_number("max", false));
      if (!q.args.contains("min") && !q.args.contains("max")) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": '", q.check, "' needs 'min' or 'max'"));
      }
    } else if (q.check == "max_null_fraction") {
      RETURN_IF_ERROR(need_number("value", true));
    } else if (q.check == "freshness") {
      RETURN_IF_ERROR(need_number("max_age_hours", true));
    } else if (q.check == "allowed_values") {
      if (!q.args.contains("values") || !q.args["values"].is_array()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": 'allowed_values' needs a 'values' list"));
      }
    } else if (q.check == "regex") {
      if (!q.args.contains("pattern") || !q.args["pattern"].is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": 'regex' needs a 'pattern' string"));
      }
      RE2 re(q.args["pattern"].get<std::string>(), RE2::Quiet);
      if (!re.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": invalid regular expression: ", re.error()));
      }
    }
    out.push_back(std::move(q));
  }
  return out;
}

Json QualityChecksToJson(const std::vector<QualityCheck>& checks) {
  Json arr = Json::array();
  for (const auto& q : checks) {
    Json j = q.args;
    j["check"] = q.check;
    if (!q.column.empty()) j["column"] = q.column;
    j["severity"] = q.blocking ? "blocking" : "warning";
    arr.push_back(j);
  }
  return arr;
}

namespace {
struct RowState {
  const QualityCheck* check;
  int column = -1;
  int64_t failures = 0;
  int64_t first_line = 0;
  std::string first_value;
  std::unique_ptr<RE2> re;
  absl::flat_hash_set<std::string> allowed;
  absl::flat_hash_set<uint64_t> seen;  // "unique": 64-bit hashes of the values
};
}  // namespace

struct QualityEvaluator::Impl {
  std::vector<QualityCheck> checks;
  std::vector<std::string> null_tokens;
  std::vector<std::unique_ptr<RowState>> row;
  std::vector<std::string> header;

  bool IsNull(absl::string_view v) const {
    for (const auto& t : null_tokens) {
      if (v == t) return true;
    }
    return false;
  }
};

QualityEvaluator::QualityEvaluator(std::vector<QualityCheck> checks,
                                   std::vector<std::string> null_tokens)
    : impl_(std::make_unique<Impl>()) {
  impl_->checks = std::move(checks);
  impl_->null_tokens = std::move(null_tokens);
}
QualityEvaluator::~QualityEvaluator() = default;

absl::Status QualityEvaluator::OnHeader(const std::vector<std::string>& columns) {
  impl_->header = columns;
  for (const auto& q : impl_->checks) {
    if (!IsRowCheck(q.check)) continue;
    auto st = std::make_unique<RowState>();
    st->check = &q;
    for (size_t i = 0; i < columns.size(); ++i) {
      if (columns[i] == q.column) st->column = static_cast<int>(i);
    }
    if (q.check == "regex")
      st->re = std::make_unique<RE2>(q.args["pattern"].get<std::string>(), RE2::Quiet);
    if (q.check == "allowed_values") {
      for (const auto& v : q.args["values"])
        st->allowed.insert(v.is_string() ? v.get<std::string>() : v.dump());
    }
    impl_->row.push_back(std::move(st));
  }
  return absl::OkStatus();
}

absl::Status QualityEvaluator::OnBlock(const RowBlock& block) {
  for (auto& stp : impl_->row) {
    RowState& st = *stp;
    if (st.column < 0) continue;  // missing column: reported in Report()
    size_t c = static_cast<size_t>(st.column);
    const std::string& kind = st.check->check;
    for (size_t r = 0; r < block.rows(); ++r) {
      absl::string_view v = block.Field(r, c);
      bool null = !block.Present(r, c) || impl_->IsNull(v);
      bool fail = false;
      if (kind == "not_null") {
        fail = null;
      } else if (null) {
        continue;
      } else if (kind == "unique") {
        fail = !st.seen.insert(Hash64(v)).second;
      } else if (kind == "range") {
        auto d = ParseDouble(v);
        fail = !d || (st.check->args.contains("min") && *d < st.check->args["min"].get<double>()) ||
               (st.check->args.contains("max") && *d > st.check->args["max"].get<double>());
      } else if (kind == "allowed_values") {
        fail = !st.allowed.contains(v);
      } else if (kind == "regex") {
        fail = !RE2::FullMatch(re2::StringPiece(v.data(), v.size()), *st.re);
      }
      if (fail) {
        if (st.failures++ == 0) {
          st.first_line = block.Line(r);
          st.first_value = std::string(v.substr(0, 100));
        }
      }
    }
  }
  return absl::OkStatus();
}

Json QualityEvaluator::Report(int64_t rows, const Schema& schema, const Json& profile,
                              const std::optional<Schema>& previous_schema,
                              int64_t now_micros) const {
  Json results = Json::array();
  bool blocking_failed = false, warning_failed = false;
  auto column_profile = [&](const std::string& name) -> const Json* {
    for (const auto& c : profile["columns"]) {
      if (c["name"] == name) return &c;
    }
    return nullptr;
  };
  auto add = [&](const QualityCheck& q, bool passed, std::string message,
                 Json extra = Json::object()) {
    Json j = extra;
    j["check"] = q.check;
    if (!q.column.empty()) j["column"] = q.column;
    j["severity"] = q.blocking ? "blocking" : "warning";
    j["passed"] = passed;
    j["message"] = std::move(message);
    if (!passed) (q.blocking ? blocking_failed : warning_failed) = true;
    results.push_back(j);
  };
  for (const auto& q : impl_->checks) {
    bool has_column = q.column.empty() || std::find(impl_->header.begin(), impl_->header.end(),
                                                    q.column) != impl_->header.end();
    if (!has_column) {
      add(q, false, absl::StrCat("column '", q.column, "' does not exist in this version"));
      continue;
    }
    if (IsRowCheck(q.check)) {
      const RowState* st = nullptr;
      for (const auto& s : impl_->row) {
        if (s->check == &q) st = s.get();
      }
      if (st->failures == 0) {
        add(q, true, "all rows pass");
      } else {
        add(q, false,
            absl::StrFormat("%d row(s) fail; the first is line %d (value '%s')", st->failures,
                            st->first_line, st->first_value),
            Json{{"failing_rows", st->failures}, {"first_failing_line", st->first_line}});
      }
    } else if (q.check == "max_null_fraction") {
      const Json* cp = column_profile(q.column);
      double frac = cp ? (*cp)["null_fraction"].get<double>() : 0;
      double limit = q.args["value"].get<double>();
      add(q, frac <= limit, absl::StrFormat("null fraction %.4f (limit %.4f)", frac, limit),
          Json{{"observed", frac}});
    } else if (q.check == "row_count") {
      bool ok =
          (!q.args.contains("min") || static_cast<double>(rows) >= q.args["min"].get<double>()) &&
          (!q.args.contains("max") || static_cast<double>(rows) <= q.args["max"].get<double>());
      add(q, ok, absl::StrCat(rows, " rows"), Json{{"observed", rows}});
    } else if (q.check == "schema_compatible") {
      if (!previous_schema) {
        add(q, true, "first version: nothing to compare with");
        continue;
      }
      std::vector<std::string> problems;
      for (const auto& pc : *previous_schema) {
        auto it = std::find_if(schema.begin(), schema.end(),
                               [&](const ColumnSchema& c) { return c.name == pc.name; });
        if (it == schema.end()) {
          problems.push_back(absl::StrCat("column '", pc.name, "' was removed"));
        } else if (it->type != pc.type &&
                   !(pc.type == ColumnType::kFloat64 && it->type == ColumnType::kInt64)) {
          problems.push_back(absl::StrCat("column '", pc.name, "' changed from ",
                                          ColumnTypeName(pc.type), " to ",
                                          ColumnTypeName(it->type)));
        }
      }
      add(q, problems.empty(),
          problems.empty() ? "compatible with the previous version"
                           : absl::StrJoin(problems, "; "));
    } else if (q.check == "freshness") {
      const Json* cp = column_profile(q.column);
      if (!cp || (*cp)["type"] != "timestamp" || !cp->contains("max")) {
        add(q, false,
            absl::StrCat("column '", q.column, "' is not a timestamp column with values"));
        continue;
      }
      auto newest = ParseTimestamp((*cp)["max"].get<std::string>());
      double age_h = newest ? static_cast<double>(now_micros - *newest) / 3.6e9 : 1e18;
      double limit = q.args["max_age_hours"].get<double>();
      add(q, age_h <= limit,
          absl::StrFormat("newest value %s is %.1f hours old (limit %.1f)",
                          (*cp)["max"].get<std::string>(), age_h, limit),
          Json{{"observed_age_hours", age_h}});
    }
  }
  std::string status = impl_->checks.empty() ? "unchecked"
                       : blocking_failed     ? "failed"
                       : warning_failed      ? "warning"
                                             : "passed";
  return Json{{"status", status}, {"checks", results}};
}

}  // namespace kade
