// Hashing and randomness on OpenSSL 3. Thread-safe: every function is reentrant.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include "absl/strings/string_view.h"

namespace kade {

// Incremental SHA-256 for streaming content (artifact uploads, audit chain).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(absl::string_view data);
  // Returns the lowercase hex digest. The object must not be used afterwards.
  std::string HexDigest();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string Sha256Hex(absl::string_view data);
// HMAC-SHA256 of `data` with `key`, lowercase hex (webhook signatures).
std::string HmacSha256Hex(absl::string_view key, absl::string_view data);
std::string HexEncode(absl::string_view bytes);
// Cryptographically secure random bytes (RAND_bytes). Aborts if the RNG fails, since no
// caller can continue safely without randomness.
std::string RandomBytes(size_t n);
// Unpadded URL-safe base64, used for tokens.
std::string Base64UrlEncode(absl::string_view bytes);
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

}  // namespace kade
