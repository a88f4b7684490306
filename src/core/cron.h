// Cron expressions for scheduled jobs: the five classic fields (minute, hour, day of month,
// month, day of week) with lists, ranges, steps and names (jan-dec, sun-sat), evaluated in an
// explicit IANA time zone. When both day fields are restricted a day matches either (as in
// Vixie cron). Immutable; safe to share.
#pragma once

#include <bitset>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace kade {

class CronSchedule {
 public:
  // InvalidArgument names the field and what is wrong with it.
  static absl::StatusOr<CronSchedule> Parse(absl::string_view expr, absl::string_view tz);
  // The first matching minute strictly after `after`; InvalidArgument when none comes within
  // five years (an impossible date such as 30 February).
  absl::StatusOr<absl::Time> Next(absl::Time after) const;
  const std::string& expr() const { return expr_; }
  const std::string& tz_name() const { return tz_name_; }

 private:
  std::string expr_, tz_name_;
  absl::TimeZone tz_;
  std::bitset<60> minute_;
  std::bitset<24> hour_;
  std::bitset<32> dom_;
  std::bitset<13> month_;
  std::bitset<7> dow_;
  bool dom_any_ = true, dow_any_ = true;
};

}  // namespace kade
