// Validation of names users choose for projects and users: 1-63 characters, lowercase
// letters, digits, '-', '_' and '.', starting with a letter or digit. Such names are safe
// in URLs, file names and shell commands without quoting.
#pragma once

#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace kade {

absl::Status ValidateName(absl::string_view kind, absl::string_view name);

}  // namespace kade
