#include "ml/mlmodel.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/status.h"

namespace kade::ml {
namespace {

constexpr int kMaxDepth = 64;

struct Line {
  int number = 0;      // 1-based
  int indent = 0;      // leading spaces
  std::string text;    // without the indentation
  bool blank = false;  // empty or a comment only
};

class YamlReader {
 public:
  explicit YamlReader(absl::string_view text) {
    int n = 0;
    for (absl::string_view raw : absl::StrSplit(text, '\n')) {
      ++n;
      if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
      Line l;
      l.number = n;
      size_t i = 0;
      while (i < raw.size() && raw[i] == ' ') ++i;
      l.indent = static_cast<int>(i);
      l.text = std::string(raw.substr(i));
      l.blank = l.text.empty() || l.text[0] == '#';
      if (!l.blank && l.text[0] == '\t' && error_.ok()) {
        error_ = At(l, 0, "a tab indents this line; YAML indents with spaces");
      }
      lines_.push_back(std::move(l));
    }
  }

  absl::StatusOr<Json> Document() {
    RETURN_IF_ERROR(error_);
    SkipBlank();
    if (pos_ >= lines_.size()) return Json::object();
    if (lines_[pos_].text == "---") {
      ++pos_;
      SkipBlank();
    }
    if (pos_ >= lines_.size()) return Json::object();
    ASSIGN_OR_RETURN(Json doc, Block(lines_[pos_].indent, 0));
    SkipBlank();
    if (pos_ < lines_.size()) {
      return At(lines_[pos_], lines_[pos_].indent, "unexpected indentation");
    }
    return doc;
  }

 private:
  absl::Status At(const Line& l, int col, absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("MLmodel line ", l.number, ", column ", col + 1, ": ", what));
  }

  void SkipBlank() {
    while (pos_ < lines_.size() && lines_[pos_].blank) ++pos_;
  }

  static bool IsItem(const Line& l) { return l.text == "-" || absl::StartsWith(l.text, "- "); }

  // The mapping key of `text` ("key: value" or "key:"), or npos when it is not one.
  static size_t KeyEnd(absl::string_view text) {
    if (text.empty() || text[0] == '\'' || text[0] == '"' || text[0] == '{' || text[0] == '[') {
      return absl::string_view::npos;
    }
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == ':' && (i + 1 == text.size() || text[i + 1] == ' ')) return i;
      if (text[i] == ' ' && i + 1 < text.size() && text[i + 1] == '#') break;
    }
    return absl::string_view::npos;
  }

  absl::StatusOr<Json> Block(int indent, int depth) {
    if (depth > kMaxDepth) {
      return At(lines_[pos_], indent, absl::StrCat("nested deeper than ", kMaxDepth, " levels"));
    }
    return IsItem(lines_[pos_]) ? Sequence(indent, depth) : Mapping(indent, depth);
  }

  absl::StatusOr<Json> Mapping(int indent, int depth) {
    Json out = Json::object();
    while (true) {
      SkipBlank();
      if (pos_ >= lines_.size()) break;
      Line& l = lines_[pos_];
      if (l.indent < indent) break;
      if (l.indent > indent) return At(l, l.indent, "unexpected indentation");
      if (IsItem(l)) break;
      size_t end = KeyEnd(l.text);
      if (end == absl::string_view::npos) {
        return At(l, l.indent, "expected 'key: value'");
      }
      std::string key(absl::StripAsciiWhitespace(l.text.substr(0, end)));
      if (out.contains(key)) return At(l, l.indent, absl::StrCat("duplicate key '", key, "'"));
      std::string rest(absl::StripLeadingAsciiWhitespace(l.text.substr(end + 1)));
      const int col = l.indent + static_cast<int>(l.text.size() - rest.size());
      if (rest.empty() || rest[0] == '#') {
        ++pos_;
        SkipBlank();
        if (pos_ < lines_.size() && lines_[pos_].indent > indent) {
          ASSIGN_OR_RETURN(out[key], Block(lines_[pos_].indent, depth + 1));
        } else if (pos_ < lines_.size() && lines_[pos_].indent == indent && IsItem(lines_[pos_])) {
          ASSIGN_OR_RETURN(out[key], Sequence(indent, depth + 1));
        } else {
          out[key] = nullptr;
        }
        continue;
      }
      ASSIGN_OR_RETURN(out[key], Scalar(indent, col, rest));
    }
    return out;
  }

  absl::StatusOr<Json> Sequence(int indent, int depth) {
    Json out = Json::array();
    while (true) {
      SkipBlank();
      if (pos_ >= lines_.size()) break;
      Line& l = lines_[pos_];
      if (l.indent != indent || !IsItem(l)) {
        if (l.indent > indent) return At(l, l.indent, "unexpected indentation");
        break;
      }
      std::string rest = l.text.size() > 2 ? l.text.substr(2) : "";
      if (rest.empty()) {
        ++pos_;
        SkipBlank();
        if (pos_ < lines_.size() && lines_[pos_].indent > indent) {
          ASSIGN_OR_RETURN(Json item, Block(lines_[pos_].indent, depth + 1));
          out.push_back(std::move(item));
        } else {
          out.push_back(nullptr);
        }
        continue;
      }
      if (KeyEnd(rest) != absl::string_view::npos || absl::StartsWith(rest, "- ")) {
        // "- key: value": a mapping (or sequence) whose first line starts after the dash.
        l.indent = indent + 2;
        l.text = rest;
        ASSIGN_OR_RETURN(Json item, Block(indent + 2, depth + 1));
        out.push_back(std::move(item));
        continue;
      }
      ASSIGN_OR_RETURN(Json item, Scalar(indent, indent + 2, rest));
      out.push_back(std::move(item));
    }
    return out;
  }

  // A scalar starting at column `col` of the current line; quoted and plain scalars may
  // continue on following lines indented deeper than `indent`. Advances past it.
  absl::StatusOr<Json> Scalar(int indent, int col, const std::string& first) {
    const Line& start = lines_[pos_];
    if (first[0] == '\'' || first[0] == '"') return Quoted(indent, col, first);
    // Plain (or flow) scalar: the line up to a comment, folded with deeper lines.
    auto strip_comment = [](absl::string_view s) {
      size_t c = s.find(" #");
      return std::string(absl::StripTrailingAsciiWhitespace(s.substr(0, c)));
    };
    std::string value = strip_comment(first);
    ++pos_;
    while (pos_ < lines_.size() && !lines_[pos_].blank && lines_[pos_].indent > indent) {
      if (KeyEnd(lines_[pos_].text) != absl::string_view::npos || IsItem(lines_[pos_])) {
        return At(lines_[pos_], lines_[pos_].indent, "unexpected indentation");
      }
      value += " " + strip_comment(lines_[pos_].text);
      ++pos_;
    }
    if (!value.empty() && (value[0] == '{' || value[0] == '[')) {
      Json flow = ParseJsonOr(value, Json());
      if (flow.is_null()) {
        return At(start, col, "flow collections are read only when written as JSON");
      }
      return flow;
    }
    if (value == "null" || value == "~") return Json(nullptr);
    return Json(value);
  }

  absl::StatusOr<Json> Quoted(int indent, int col, const std::string& first) {
    const char q = first[0];
    const Line& start = lines_[pos_];
    std::string out;
    absl::string_view cur(first);
    int base = col;  // the column of cur[0], for errors
    size_t i = 1;
    bool pending_space = false;  // a folded line break, written before the next text
    int empty_lines = 0;
    while (true) {
      if (i >= cur.size()) {
        // The string continues on the next line: fold.
        ++pos_;
        if (pos_ >= lines_.size()) return At(start, col, "unterminated quoted string");
        const Line& next = lines_[pos_];
        if (!next.blank && next.indent <= indent && next.text.size() > 0) {
          return At(next, next.indent, "unterminated quoted string (continuation not indented)");
        }
        if (next.text.empty()) {
          ++empty_lines;
          i = 0;
          cur = absl::string_view();
          continue;
        }
        base = next.indent;
        if (empty_lines > 0) {
          out.append(static_cast<size_t>(empty_lines), '\n');
          pending_space = false;
        } else if (!out.empty() && out.back() != '\n') {
          pending_space = true;
        }
        empty_lines = 0;
        cur = next.text;
        i = 0;
        continue;
      }
      char c = cur[i];
      if (pending_space) {
        out.push_back(' ');
        pending_space = false;
      }
      if (c == q) {
        if (q == '\'' && i + 1 < cur.size() && cur[i + 1] == '\'') {
          out.push_back('\'');
          i += 2;
          continue;
        }
        absl::string_view tail = absl::StripAsciiWhitespace(absl::string_view(cur.substr(i + 1)));
        if (!tail.empty() && tail[0] != '#') {
          return At(lines_[pos_], base + static_cast<int>(i + 1),
                    "unexpected text after a quoted string");
        }
        ++pos_;
        return Json(out);
      }
      if (q == '"' && c == '\\') {
        if (i + 1 >= cur.size()) {  // an escaped line break joins without a space
          ++pos_;
          if (pos_ >= lines_.size()) return At(start, col, "unterminated quoted string");
          cur = lines_[pos_].text;
          base = lines_[pos_].indent;
          i = 0;
          continue;
        }
        char e = cur[i + 1];
        i += 2;
        switch (e) {
          case 'n':
            out.push_back('\n');
            break;
          case 't':
            out.push_back('\t');
            break;
          case 'r':
            out.push_back('\r');
            break;
          case '0':
            out.push_back('\0');
            break;
          case '"':
          case '\\':
          case '/':
          case ' ':
            out.push_back(e);
            break;
          case 'x':
          case 'u': {
            const size_t len = e == 'x' ? 2 : 4;
            uint32_t cp = 0;
            if (i + len > cur.size()) {
              return At(lines_[pos_], base + static_cast<int>(i), "bad escape");
            }
            for (size_t k = 0; k < len; ++k) {
              char h = cur[i + k];
              int d = (h >= '0' && h <= '9')   ? h - '0'
                      : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                      : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                               : -1;
              if (d < 0) {
                return At(lines_[pos_], base + static_cast<int>(i + k), "bad hex escape");
              }
              cp = cp * 16 + static_cast<uint32_t>(d);
            }
            i += len;
            if (cp < 0x80) {
              out.push_back(static_cast<char>(cp));
            } else if (cp < 0x800) {
              out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
              out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
            } else {
              out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
              out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
              out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
            }
            break;
          }
          default:
            return At(lines_[pos_], base + static_cast<int>(i - 2),
                      absl::StrCat("unknown escape '\\", std::string(1, e), "'"));
        }
        continue;
      }
      out.push_back(c);
      ++i;
    }
  }

  std::vector<Line> lines_;
  size_t pos_ = 0;
  absl::Status error_;
};

std::string Text(const Json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return "";
  return j[key].get<std::string>();
}

}  // namespace

absl::StatusOr<Json> ParseMlmodelYaml(absl::string_view text) {
  return YamlReader(text).Document();
}

absl::StatusOr<MlflowModel> ReadMlmodel(absl::string_view text) {
  MlflowModel m;
  ASSIGN_OR_RETURN(m.doc, ParseMlmodelYaml(text));
  if (!m.doc.is_object()) return absl::InvalidArgumentError("MLmodel: expected a mapping");
  m.run_id = Text(m.doc, "run_id");
  m.artifact_path = Text(m.doc, "artifact_path");
  const Json flavors = m.doc.value("flavors", Json());
  if (!flavors.is_object() || flavors.empty()) {
    return absl::InvalidArgumentError("MLmodel: 'flavors' must name at least one flavor");
  }
  for (auto it = flavors.begin(); it != flavors.end(); ++it) m.flavors.push_back(it.key());
  if (flavors.contains("xgboost")) {
    const Json& x = flavors["xgboost"];
    std::string data = Text(x, "data");
    if (data.empty()) return absl::InvalidArgumentError("MLmodel: flavors.xgboost.data is missing");
    if (data.find("..") != std::string::npos || data[0] == '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("MLmodel: flavors.xgboost.data '", data, "' leaves the model directory"));
    }
    m.xgboost_file = data;
    m.xgboost_format = Text(x, "model_format");
  }
  const Json sig = m.doc.value("signature", Json());
  if (sig.is_object() && sig.contains("inputs") && !sig["inputs"].is_null()) {
    const Json& in = sig["inputs"];
    Json specs = in.is_string() ? ParseJsonOr(in.get<std::string>(), Json()) : in;
    if (!specs.is_array()) {
      return absl::InvalidArgumentError("MLmodel: signature.inputs is not a JSON list");
    }
    for (const auto& s : specs) {
      if (s.is_object() && s.contains("tensor-spec")) m.tensor_signature = true;
    }
    m.inputs = std::move(specs);
  }
  return m;
}

absl::StatusOr<std::vector<Feature>> FeaturesFromSignature(const Json& inputs) {
  std::vector<Feature> out;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Json& s = inputs[i];
    const std::string where = absl::StrCat("signature.inputs[", i, "]");
    if (!s.is_object() || !s.contains("name") || !s["name"].is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": Kade serves column-based signatures; this input has no name"));
    }
    Feature f;
    f.name = s["name"].get<std::string>();
    const std::string type = s.value("type", std::string());
    if (type == "double" || type == "float") {
      f.source_type = ColumnType::kFloat64;
    } else if (type == "long" || type == "integer") {
      f.source_type = ColumnType::kInt64;
    } else if (type == "boolean") {
      f.source_type = ColumnType::kBool;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          where, " '", f.name, "' has type '", type,
          "'; Kade serves numeric and boolean inputs of XGBoost models logged with MLflow"));
    }
    out.push_back(std::move(f));
  }
  if (out.empty()) return absl::InvalidArgumentError("signature.inputs is empty");
  return out;
}

}  // namespace kade::ml
