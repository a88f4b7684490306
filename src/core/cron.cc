#include "core/cron.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/status.h"

namespace kade {
namespace {

const char* const kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                               "jul", "aug", "sep", "oct", "nov", "dec"};
const char* const kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

absl::StatusOr<int> Value(absl::string_view text, const char* field, int lo, int hi,
                          const char* const* names, int name_base) {
  std::string t = absl::AsciiStrToLower(text);
  if (names != nullptr) {
    const int count = names == kMonths ? 12 : 7;
    for (int i = 0; i < count; ++i) {
      if (t == names[i]) return i + name_base;
    }
  }
  int v = 0;
  if (!absl::SimpleAtoi(t, &v) || v < lo || v > hi) {
    return absl::InvalidArgumentError(
        absl::StrCat("cron ", field, ": '", text, "' is not a value from ", lo, " to ", hi));
  }
  return v;
}

// Sets the bits of one field ("*/15", "1-5", "mon,wed", "0-30/10"); `any` tells whether it
// was a bare "*".
template <size_t N>
absl::Status Field(absl::string_view text, const char* field, int lo, int hi,
                   const char* const* names, int name_base, std::bitset<N>* bits, bool* any) {
  *any = text == "*";
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    if (part.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("cron ", field, ": empty list item"));
    }
    int step = 1;
    std::vector<absl::string_view> s = absl::StrSplit(part, absl::MaxSplits('/', 1));
    if (s.size() == 2) {
      if (!absl::SimpleAtoi(s[1], &step) || step < 1 || step > hi) {
        return absl::InvalidArgumentError(
            absl::StrCat("cron ", field, ": step '", s[1], "' is not a positive number"));
      }
    }
    int a = lo, b = hi;
    if (s[0] != "*") {
      std::vector<absl::string_view> r = absl::StrSplit(s[0], absl::MaxSplits('-', 1));
      ASSIGN_OR_RETURN(a, Value(r[0], field, lo, hi, names, name_base));
      b = s.size() == 2 ? hi : a;
      if (r.size() == 2) {
        ASSIGN_OR_RETURN(b, Value(r[1], field, lo, hi, names, name_base));
      }
      if (b < a) {
        return absl::InvalidArgumentError(
            absl::StrCat("cron ", field, ": range '", s[0], "' runs backwards"));
      }
    }
    for (int v = a; v <= b; v += step) bits->set(static_cast<size_t>(v));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CronSchedule> CronSchedule::Parse(absl::string_view expr, absl::string_view tz) {
  std::vector<absl::string_view> f = absl::StrSplit(expr, ' ', absl::SkipWhitespace());
  if (f.size() != 5) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cron: expected 5 fields (minute hour day-of-month month day-of-week), got ", f.size()));
  }
  CronSchedule c;
  c.expr_ = std::string(expr);
  c.tz_name_ = std::string(tz);
  if (tz.empty() || !absl::LoadTimeZone(std::string(tz), &c.tz_)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "time zone '", tz, "' is not known (use an IANA name such as UTC or Europe/Berlin)"));
  }
  bool any = false;
  RETURN_IF_ERROR(Field(f[0], "minute", 0, 59, nullptr, 0, &c.minute_, &any));
  RETURN_IF_ERROR(Field(f[1], "hour", 0, 23, nullptr, 0, &c.hour_, &any));
  RETURN_IF_ERROR(Field(f[2], "day of month", 1, 31, nullptr, 0, &c.dom_, &c.dom_any_));
  RETURN_IF_ERROR(Field(f[3], "month", 1, 12, kMonths, 1, &c.month_, &any));
  std::bitset<8> dow8;
  RETURN_IF_ERROR(Field(f[4], "day of week", 0, 7, kDays, 0, &dow8, &c.dow_any_));
  for (size_t d = 0; d < 7; ++d) c.dow_[d] = dow8[d];
  if (dow8[7]) c.dow_[0] = true;  // 7 is Sunday too
  return c;
}

absl::StatusOr<absl::Time> CronSchedule::Next(absl::Time after) const {
  absl::CivilMinute m = absl::ToCivilMinute(after, tz_) + 1;
  const absl::CivilMinute limit = m + 5 * 366 * 24 * 60;
  while (m < limit) {
    if (!month_[static_cast<size_t>(m.month())]) {
      m = absl::CivilMinute(absl::CivilMonth(m) + 1);
      continue;
    }
    const absl::CivilDay day(m);
    const bool dom = dom_[static_cast<size_t>(m.day())];
    const bool dow = dow_[static_cast<size_t>(absl::GetWeekday(day)) == 6
                              ? 0
                              : static_cast<size_t>(absl::GetWeekday(day)) + 1];
    const bool day_ok = dom_any_ || dow_any_ ? (dom && dow) : (dom || dow);
    if (!day_ok) {
      m = absl::CivilMinute(day + 1);
      continue;
    }
    if (!hour_[static_cast<size_t>(m.hour())]) {
      m = absl::CivilMinute(absl::CivilHour(m) + 1);
      continue;
    }
    if (!minute_[static_cast<size_t>(m.minute())]) {
      m += 1;
      continue;
    }
    // A minute skipped by a daylight-saving jump does not exist; FromCivil gives the moment
    // of the jump, so the run happens right after the clocks change.
    absl::Time t = absl::FromCivil(m, tz_);
    if (t > after) return t;
    m += 1;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("cron '", expr_, "' never matches within five years"));
}

}  // namespace kade
