#include "platform/names.h"
#include "absl/strings/string_view.h"

#include "absl/strings/str_cat.h"

namespace kade {

absl::Status ValidateName(absl::string_view kind, absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError(absl::StrCat(kind, " name is empty"));
  if (name.size() > 63) {
    return absl::InvalidArgumentError(
        absl::StrCat(kind, " name is ", name.size(), " characters; the limit is 63"));
  }
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              (i > 0 && (c == '-' || c == '_' || c == '.'));
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          kind, " name '", name, "' has an invalid character at position ", i + 1,
          ": use lowercase letters, digits, '-', '_' or '.', starting with a letter or digit"));
    }
  }
  return absl::OkStatus();
}

}  // namespace kade
