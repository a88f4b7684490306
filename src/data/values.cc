#include "data/values.h"

#include "data/plain_decimal.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <ctime>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"

namespace kade {

const char* ColumnTypeName(ColumnType t) {
  switch (t) {
    case ColumnType::kBool:
      return "bool";
    case ColumnType::kInt64:
      return "int64";
    case ColumnType::kFloat64:
      return "float64";
    case ColumnType::kCategorical:
      return "categorical";
    case ColumnType::kString:
      return "string";
    case ColumnType::kTimestamp:
      return "timestamp";
  }
  return "string";
}

std::optional<ColumnType> ParseColumnType(absl::string_view name) {
  for (ColumnType t : {ColumnType::kBool, ColumnType::kInt64, ColumnType::kFloat64,
                       ColumnType::kCategorical, ColumnType::kString, ColumnType::kTimestamp}) {
    if (name == ColumnTypeName(t)) return t;
  }
  return std::nullopt;
}

bool IsNumeric(ColumnType t) { return t == ColumnType::kInt64 || t == ColumnType::kFloat64; }

const std::vector<std::string>& DefaultNullTokens() {
  static const auto* kTokens =
      new std::vector<std::string>{"", "NA", "N/A", "null", "NULL", "NaN", "nan", "None"};
  return *kTokens;
}

std::optional<bool> ParseBool(absl::string_view s) {
  if (s.size() == 4 && absl::EqualsIgnoreCase(s, "true")) return true;
  if (s.size() == 5 && absl::EqualsIgnoreCase(s, "false")) return false;
  return std::nullopt;
}

std::optional<int64_t> ParseInt64(absl::string_view s) {
  if (s.empty()) return std::nullopt;
  const char* b = s.data();
  if (*b == '+') ++b;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(b, s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

namespace {
constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                             1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
}  // namespace

std::optional<double> ParseDouble(absl::string_view s) {
  if (s.empty()) return std::nullopt;
  const char* p = s.data();
  const char* const end = p + s.size();
  bool neg = false;
  if (*p == '+' || *p == '-') {
    neg = *p == '-';
    ++p;
  }
  // Fast path for plain decimals ("-123.4567"), the bulk of numeric CSV cells: with at most
  // 19 digits whose integer value m is at most 2^53 and f <= 22 fraction digits, both m and
  // 10^f are exact doubles, so m / 10^f is the correctly rounded value, the same result as
  // from_chars (Clinger's fast path). Anything else takes from_chars.
  {
    const char* q = p;
    uint64_t m = 0;
    int digits = 0;
    while (q < end && static_cast<unsigned>(*q - '0') < 10 && digits < 20) {
      m = m * 10 + static_cast<unsigned>(*q - '0');
      ++digits;
      ++q;
    }
    int frac = 0;
    if (q < end && *q == '.') {
      ++q;
      while (q < end && static_cast<unsigned>(*q - '0') < 10 && digits < 20) {
        m = m * 10 + static_cast<unsigned>(*q - '0');
        ++digits;
        ++frac;
        ++q;
      }
    }
    if (q == end && digits > 0 && digits <= 19 && m <= (uint64_t{1} << 53)) {
      double v = static_cast<double>(m) / kPow10[frac];
      return neg ? -v : v;
    }
  }
  // from_chars takes no sign but '-', and accepts "inf" and "nan", which a profile has no use
  // for as numbers.
  if (p < end && (*p == '+' || *p == '-')) return std::nullopt;
  if (p == end || !((*p >= '0' && *p <= '9') || *p == '.')) return std::nullopt;
  const char* b = neg ? p - 1 : p;
  double v = 0;
  auto [e, ec] = std::from_chars(b, end, v);
  if (ec != std::errc() || e != end || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<double> ParseDoublePadded(absl::string_view s) {
  double v;
  if (ParsePlainDecimalPadded(s, &v)) return v;
  return ParseDouble(s);
}

namespace {
bool Digits(absl::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

int64_t DaysFromCivil(int y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}
}  // namespace

std::optional<int64_t> ParseTimestamp(absl::string_view s) {
  int y, mo, d, h = 0, mi = 0, se = 0;
  if (s.size() < 10 || !Digits(s, 0, 4, &y) || s[4] != '-' || !Digits(s, 5, 2, &mo) ||
      s[7] != '-' || !Digits(s, 8, 2, &d)) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return std::nullopt;
  int64_t micros = 0;
  size_t pos = 10;
  if (pos < s.size()) {
    if (s[pos] != 'T' && s[pos] != ' ') return std::nullopt;
    if (!Digits(s, pos + 1, 2, &h) || s.size() < pos + 6 || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, &mi)) {
      return std::nullopt;
    }
    pos += 6;
    if (pos < s.size() && s[pos] == ':') {
      if (!Digits(s, pos + 1, 2, &se)) return std::nullopt;
      pos += 3;
      if (pos < s.size() && s[pos] == '.') {
        ++pos;
        int64_t frac = 0;
        int digits = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
          if (digits < 6) {
            frac = frac * 10 + (s[pos] - '0');
            ++digits;
          }
          ++pos;
        }
        if (digits == 0) return std::nullopt;
        while (digits++ < 6) frac *= 10;
        micros = frac;
      }
    }
    if (h > 23 || mi > 59 || se > 60) return std::nullopt;
    if (pos < s.size()) {
      if (s[pos] == 'Z' && pos + 1 == s.size()) {
        ++pos;
      } else if ((s[pos] == '+' || s[pos] == '-') && pos + 6 == s.size() && s[pos + 3] == ':') {
        int oh, om;
        if (!Digits(s, pos + 1, 2, &oh) || !Digits(s, pos + 4, 2, &om)) return std::nullopt;
        int64_t off = (oh * 60 + om) * 60;
        micros -= (s[pos] == '+' ? off : -off) * 1000000;
        pos += 6;
      } else {
        return std::nullopt;
      }
    }
  }
  int64_t secs = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
  return secs * 1000000 + micros;
}

std::string FormatTimestampMicros(int64_t micros) {
  time_t secs = static_cast<time_t>(micros / 1000000);
  if (micros < 0 && micros % 1000000 != 0) --secs;
  struct tm t;
  gmtime_r(&secs, &t);
  return absl::StrFormat("%04d-%02d-%02dT%02d:%02d:%02dZ", t.tm_year + 1900, t.tm_mon + 1,
                         t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec);
}

}  // namespace kade
