#include "core/json.h"
#include "absl/strings/string_view.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kade {

namespace {
const char* TypeName(const Json& v) { return v.type_name(); }

std::pair<int, int> LineColumn(absl::string_view text, size_t offset) {
  int line = 1, col = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return {line, col};
}
}  // namespace

absl::Status CheckJsonShape(absl::string_view text, const JsonLimits& limits, int first_line) {
  int depth = 0;
  size_t elements = 0;
  bool in_value = false;  // inside a bare scalar (number, true, false, null)
  const char* p = text.data();
  const char* end = p + text.size();
  auto fail = [&](const char* at, std::string what) {
    auto [line, col] = LineColumn(text, static_cast<size_t>(at - text.data()));
    return absl::InvalidArgumentError(
        absl::StrFormat("JSON %s (line %d, column %d)", what, line + first_line - 1, col));
  };
  for (; p < end; ++p) {
    char c = *p;
    switch (c) {
      case '"':
        in_value = false;
        if (++elements > limits.max_elements) break;
        for (++p; p < end && *p != '"'; ++p) {
          if (*p == '\\') ++p;
        }
        continue;
      case '[':
      case '{':
        in_value = false;
        ++elements;
        if (++depth > limits.max_depth) {
          return fail(p, absl::StrCat("is nested deeper than ", limits.max_depth, " levels"));
        }
        break;
      case ']':
      case '}':
        in_value = false;
        --depth;
        break;
      case ',':
      case ':':
      case ' ':
      case '\t':
      case '\n':
      case '\r':
        in_value = false;
        break;
      default:
        if (!in_value) {
          in_value = true;
          ++elements;
        }
        break;
    }
    if (elements > limits.max_elements) {
      return fail(p, absl::StrCat("has more than ", limits.max_elements, " values"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Json> ParseJsonObject(absl::string_view text, const JsonLimits& limits) {
  if (text.empty())
    return absl::InvalidArgumentError("request body is empty; expected a JSON object");
  if (absl::Status st = CheckJsonShape(text, limits); !st.ok()) return st;
  try {
    Json j = Json::parse(text.begin(), text.end());
    if (!j.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat("request body must be a JSON object, got ", TypeName(j)));
    }
    return j;
  } catch (const Json::parse_error& e) {
    size_t offset = e.byte > 0 ? e.byte - 1 : 0;
    auto [line, col] = LineColumn(text, offset);
    std::string what = e.what();
    // nlohmann's message starts with "[json.exception.parse_error.101] parse error at ...: ".
    size_t p = what.find("syntax error");
    std::string detail = p == std::string::npos ? what : what.substr(p);
    return absl::InvalidArgumentError(
        absl::StrFormat("malformed JSON at line %d, column %d: %s", line, col, detail));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("malformed JSON: ", e.what()));
  }
}

absl::StatusOr<std::optional<std::string>> OptionalString(const Json& obj,
                                                          absl::string_view field) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("field '", field, "' must be a string, got ", TypeName(*it)));
  }
  return std::optional<std::string>(it->get<std::string>());
}

absl::StatusOr<std::string> RequiredString(const Json& obj, absl::string_view field) {
  auto v = OptionalString(obj, field);
  if (!v.ok()) return v.status();
  if (!v->has_value())
    return absl::InvalidArgumentError(absl::StrCat("field '", field, "' is required"));
  return **v;
}

absl::StatusOr<std::optional<bool>> OptionalBool(const Json& obj, absl::string_view field) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return std::optional<bool>();
  if (!it->is_boolean()) {
    return absl::InvalidArgumentError(
        absl::StrCat("field '", field, "' must be a boolean, got ", TypeName(*it)));
  }
  return std::optional<bool>(it->get<bool>());
}

absl::StatusOr<std::optional<int64_t>> OptionalInt(const Json& obj, absl::string_view field) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return std::optional<int64_t>();
  if (!it->is_number_integer()) {
    return absl::InvalidArgumentError(
        absl::StrCat("field '", field, "' must be an integer, got ", TypeName(*it)));
  }
  return std::optional<int64_t>(it->get<int64_t>());
}

void AppendJsonString(std::string* out, absl::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
      ++i;
    } else if (c < 0x20) {
      out->append("\\u00");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
      ++i;
    } else if (c < 0x80) {
      out->push_back(static_cast<char>(c));
      ++i;
    } else {
      size_t len = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
      bool valid = len > 0 && i + len <= s.size();
      for (size_t k = 1; valid && k < len; ++k) {
        valid = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
      }
      if (valid) {
        out->append(s.data() + i, len);
        i += len;
      } else {
        out->append("\xef\xbf\xbd");
        ++i;
      }
    }
  }
  out->push_back('"');
}

absl::Status RejectUnknownFields(const Json& obj,
                                 std::initializer_list<absl::string_view> allowed) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool ok = false;
    for (auto a : allowed) ok = ok || it.key() == a;
    if (!ok) {
      std::string list;
      for (auto a : allowed) absl::StrAppend(&list, list.empty() ? "" : ", ", a);
      return absl::InvalidArgumentError(
          absl::StrCat("unknown field '", it.key(), "' (allowed: ", list, ")"));
    }
  }
  return absl::OkStatus();
}

size_t FindInvalidUtf8(absl::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    // ASCII fast path, 8 bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c >> 5) == 0x6) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c >> 4) == 0xe) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c >> 3) == 0x1e) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (i + len > n) return i;
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong encodings, surrogates and values past U+10FFFF are invalid.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
      return i;
    }
    i += len;
  }
  return absl::string_view::npos;
}

bool IsValidUtf8(absl::string_view s) { return FindInvalidUtf8(s) == absl::string_view::npos; }

Json ParseJsonOr(absl::string_view text, Json fallback) {
  if (!CheckJsonShape(text, JsonLimits{}).ok()) return fallback;
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? fallback : j;
}

}  // namespace kade
