#include "platform/run_filter.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status.h"

namespace kade {

namespace {

class Lexer {
 public:
  explicit Lexer(absl::string_view s) : s_(s) {}
  void SkipSpace() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ >= s_.size();
  }
  size_t pos() const { return pos_; }
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("filter syntax error at position ", pos_ + 1, ": ", what));
  }
  // A bare word: letters, digits, '_', '-', '.', ':' and '/'.
  std::string Word() {
    SkipSpace();
    size_t start = pos_;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '/' ||
          c == ':')
        ++pos_;
      else
        break;
    }
    return std::string(s_.substr(start, pos_ - start));
  }
  bool Peek(char c) {
    SkipSpace();
    return pos_ < s_.size() && s_[pos_] == c;
  }
  bool Consume(char c) {
    if (!Peek(c)) return false;
    ++pos_;
    return true;
  }
  // 'text' or "text" ('' or "" inside escape the quote), or `text` for keys.
  absl::StatusOr<std::string> Quoted() {
    SkipSpace();
    char q = s_[pos_];
    size_t open = pos_++;
    std::string out;
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == q) {
        if (pos_ < s_.size() && s_[pos_] == q) {
          out += q;
          ++pos_;
          continue;
        }
        return out;
      }
      out += c;
    }
    pos_ = open;
    return Error("unterminated quoted string");
  }
  absl::StatusOr<std::string> Key() {
    SkipSpace();
    if (pos_ < s_.size() && (s_[pos_] == '`' || s_[pos_] == '"')) return Quoted();
    size_t start = pos_;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
          c == '/' || c == ':')
        ++pos_;
      else
        break;
    }
    if (pos_ == start) return Error("expected a key");
    return std::string(s_.substr(start, pos_ - start));
  }
  absl::StatusOr<std::string> Operator() {
    SkipSpace();
    for (absl::string_view op : {"!=", ">=", "<=", "=", ">", "<"}) {
      if (s_.substr(pos_, op.size()) == op) {
        pos_ += op.size();
        return std::string(op);
      }
    }
    size_t save = pos_;
    std::string w = absl::AsciiStrToUpper(Word());
    if (w == "LIKE" || w == "ILIKE" || w == "IN") return w;
    if (w == "NOT") {
      std::string w2 = absl::AsciiStrToUpper(Word());
      if (w2 == "IN") return std::string("NOT IN");
    }
    pos_ = save;
    return Error("expected a comparison (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN)");
  }

 private:
  absl::string_view s_;
  size_t pos_ = 0;
};

bool Has(const std::vector<std::string>& v, absl::string_view x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

std::string AttributeList(const FilterVocabulary& vocab) {
  return absl::StrJoin(vocab.attributes, ", ");
}

absl::StatusOr<std::pair<std::string, std::string>> Identifier(Lexer& lx,
                                                               const FilterVocabulary& vocab) {
  lx.SkipSpace();
  size_t at = lx.pos();
  std::string prefix = absl::AsciiStrToLower(lx.Word());
  std::string entity;
  if (vocab.metrics && (prefix == "metrics" || prefix == "metric"))
    entity = "metric";
  else if (vocab.params && (prefix == "params" || prefix == "param" || prefix == "parameters"))
    entity = "param";
  else if (vocab.tags && (prefix == "tags" || prefix == "tag"))
    entity = "tag";
  else if (prefix == "attributes" || prefix == "attribute" || prefix == "attr" ||
           (vocab.metrics && prefix == "run"))
    entity = "attribute";
  auto rename = [&](std::string key) {
    for (const auto& [from, to] : vocab.renames) {
      if (key == from) return to;
    }
    return key;
  };
  if (entity.empty()) {
    if (Has(vocab.attributes, prefix) && !lx.Peek('.')) {
      return std::make_pair(std::string("attribute"), rename(prefix));
    }
    std::vector<std::string> kinds;
    if (vocab.metrics) kinds.push_back("metrics.");
    if (vocab.params) kinds.push_back("params.");
    if (vocab.tags) kinds.push_back("tags.");
    kinds.push_back("attributes.");
    return absl::InvalidArgumentError(absl::StrCat(
        "filter syntax error at position ", at + 1, ": expected ", absl::StrJoin(kinds, ", "),
        " or one of ", AttributeList(vocab), ", got '", prefix, "'"));
  }
  if (!lx.Consume('.')) return lx.Error("expected '.' after the entity name");
  ASSIGN_OR_RETURN(std::string key, lx.Key());
  if (entity == "attribute") {
    if (!Has(vocab.attributes, key)) {
      return absl::InvalidArgumentError(
          absl::StrCat("filter: unknown attribute '", key, "' (use ", AttributeList(vocab), ")"));
    }
    key = rename(key);
  }
  return std::make_pair(entity, key);
}

}  // namespace

const FilterVocabulary& RunVocabulary() {
  static const FilterVocabulary* v = [] {
    auto* v = new FilterVocabulary;
    v->metrics = v->params = v->tags = true;
    v->attributes = {"status", "run_name", "name", "start_time", "end_time", "user_id", "run_id"};
    v->numeric_attributes = {"start_time", "end_time"};
    v->renames = {{"name", "run_name"}};
    return v;
  }();
  return *v;
}

const FilterVocabulary& ExperimentVocabulary() {
  static const FilterVocabulary* v = [] {
    auto* v = new FilterVocabulary;
    v->attributes = {"name", "creation_time", "last_update_time", "experiment_id"};
    v->numeric_attributes = {"creation_time", "last_update_time", "experiment_id"};
    return v;
  }();
  return *v;
}

const FilterVocabulary& ModelVocabulary() {
  static const FilterVocabulary* v = [] {
    auto* v = new FilterVocabulary;
    v->attributes = {"name", "creation_timestamp", "last_updated_timestamp", "timestamp"};
    v->numeric_attributes = {"creation_timestamp", "last_updated_timestamp", "timestamp"};
    v->renames = {{"timestamp", "last_updated_timestamp"}};
    return v;
  }();
  return *v;
}

const FilterVocabulary& ModelVersionVocabulary() {
  static const FilterVocabulary* v = [] {
    auto* v = new FilterVocabulary;
    v->attributes = {"name",
                     "version_number",
                     "run_id",
                     "source_path",
                     "user_id",
                     "status",
                     "current_stage",
                     "creation_timestamp",
                     "last_updated_timestamp",
                     "timestamp",
                     "version"};
    v->numeric_attributes = {"version_number", "creation_timestamp", "last_updated_timestamp"};
    v->renames = {{"timestamp", "last_updated_timestamp"}, {"version", "version_number"}};
    return v;
  }();
  return *v;
}

absl::StatusOr<std::vector<RunClause>> ParseFilter(absl::string_view filter,
                                                   const FilterVocabulary& vocab) {
  std::vector<RunClause> out;
  if (filter.size() > 4000)
    return absl::InvalidArgumentError("filter is longer than 4000 characters");
  Lexer lx(filter);
  if (lx.AtEnd()) return out;
  for (;;) {
    RunClause c;
    ASSIGN_OR_RETURN(auto id, Identifier(lx, vocab));
    c.entity = id.first;
    c.key = id.second;
    ASSIGN_OR_RETURN(c.op, lx.Operator());
    bool numeric_entity =
        c.entity == "metric" || (c.entity == "attribute" && Has(vocab.numeric_attributes, c.key));
    if (c.op == "IN" || c.op == "NOT IN") {
      if (numeric_entity)
        return lx.Error(absl::StrCat("IN is only for params, tags and text attributes"));
      if (!lx.Consume('(')) return lx.Error("expected '(' after IN");
      for (;;) {
        if (!lx.Peek('\'') && !lx.Peek('"'))
          return lx.Error("expected a quoted string in the IN list");
        ASSIGN_OR_RETURN(std::string v, lx.Quoted());
        c.strings.push_back(std::move(v));
        if (c.strings.size() > 100) return lx.Error("an IN list holds at most 100 values");
        if (lx.Consume(')')) break;
        if (!lx.Consume(',')) return lx.Error("expected ',' or ')' in the IN list");
      }
    } else if (lx.Peek('\'') || lx.Peek('"')) {
      if (numeric_entity)
        return lx.Error(absl::StrCat(c.entity == "metric" ? "metric" : c.key,
                                     " values must be compared with numbers"));
      ASSIGN_OR_RETURN(std::string v, lx.Quoted());
      c.strings.push_back(std::move(v));
      if (c.op == "<" || c.op == "<=" || c.op == ">" || c.op == ">=") {
        return lx.Error(absl::StrCat("'", c.op, "' is only for numbers"));
      }
    } else {
      lx.SkipSpace();
      size_t at = lx.pos();
      std::string num = lx.Word();
      // Words stop at '.', so read a decimal number's parts.
      while (lx.Peek('.')) {
        lx.Consume('.');
        num += "." + lx.Word();
      }
      if (num.empty() || !absl::SimpleAtod(num, &c.number)) {
        return absl::InvalidArgumentError(absl::StrCat("filter syntax error at position ", at + 1,
                                                       ": expected a number or a quoted string"));
      }
      if (!numeric_entity) {
        return absl::InvalidArgumentError(
            absl::StrCat("filter syntax error at position ", at + 1, ": ", c.entity,
                         " values are strings; quote them ('", num, "')"));
      }
      if (c.op == "LIKE" || c.op == "ILIKE") return lx.Error("LIKE needs a quoted pattern");
      c.numeric = true;
    }
    out.push_back(std::move(c));
    if (out.size() > 50) return absl::InvalidArgumentError("a filter holds at most 50 clauses");
    if (lx.AtEnd()) break;
    std::string conj = absl::AsciiStrToUpper(lx.Word());
    if (conj != "AND") {
      return lx.Error(conj == "OR" ? "OR is not supported (as in MLflow); run two searches"
                                   : "expected AND between clauses");
    }
  }
  return out;
}

absl::StatusOr<RunOrder> ParseOrder(absl::string_view order_by, const FilterVocabulary& vocab) {
  Lexer lx(order_by);
  RunOrder o;
  ASSIGN_OR_RETURN(auto id, Identifier(lx, vocab));
  o.entity = id.first;
  o.key = id.second;
  o.ascending = true;
  if (!lx.AtEnd()) {
    std::string dir = absl::AsciiStrToUpper(lx.Word());
    if (dir == "DESC")
      o.ascending = false;
    else if (dir != "ASC")
      return lx.Error("expected ASC or DESC");
  }
  if (!lx.AtEnd()) return lx.Error("unexpected text after the ordering");
  return o;
}

}  // namespace kade

namespace kade {

bool LikeMatches(absl::string_view text, absl::string_view pattern, bool fold_case) {
  // Iterative wildcard match with backtracking to the last '%'.
  auto eq = [fold_case](char a, char b) {
    return fold_case ? absl::ascii_tolower(static_cast<unsigned char>(a)) ==
                           absl::ascii_tolower(static_cast<unsigned char>(b))
                     : a == b;
  };
  size_t t = 0, p = 0, star = absl::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '_' || eq(pattern[p], text[t]))) {
      ++t;
      ++p;
    } else if (p < pattern.size() && pattern[p] == '%') {
      star = p++;
      mark = t;
    } else if (star != absl::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '%') ++p;
  return p == pattern.size();
}

bool ClauseMatches(const RunClause& c, const std::optional<std::string>& text,
                   std::optional<double> number) {
  if (c.numeric) {
    if (!number) return false;
    const double x = *number, y = c.number;
    if (c.op == "=") return x == y;
    if (c.op == "!=") return x != y;
    if (c.op == "<") return x < y;
    if (c.op == "<=") return x <= y;
    if (c.op == ">") return x > y;
    if (c.op == ">=") return x >= y;
    return false;
  }
  const bool in =
      std::find(c.strings.begin(), c.strings.end(), text.value_or("")) != c.strings.end();
  if (c.op == "!=") return !text || *text != c.strings[0];
  if (c.op == "NOT IN") return !text || !in;
  if (!text) return false;
  if (c.op == "=") return *text == c.strings[0];
  if (c.op == "IN") return in;
  if (c.op == "LIKE") return LikeMatches(*text, c.strings[0], false);
  if (c.op == "ILIKE") return LikeMatches(*text, c.strings[0], true);
  return false;
}

}  // namespace kade
