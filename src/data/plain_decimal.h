// A branch-light parser for the common shape of numeric cells, "-123.456789": up to 8
// integer digits, a '.', up to 8 fraction digits. Inline, because the profiler calls it
// once per cell. Internal to the data library.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>

#include "absl/strings/string_view.h"

namespace kade {
namespace plain_decimal {

inline constexpr uint64_t kAsciiZeros = 0x3030303030303030ull;
inline constexpr double kPow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};
inline constexpr uint64_t kPow10Int[] = {1,      10,      100,      1000,     10000,
                                         100000, 1000000, 10000000, 100000000};

// True when all eight bytes are ASCII digits.
inline bool EightDigits(uint64_t v) {
  return ((v & 0xF0F0F0F0F0F0F0F0ull) |
          (((v + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) >> 4)) == 0x3333333333333333ull;
}

// Value of eight ASCII digits, the most significant in the lowest byte (SWAR).
inline uint64_t EightDigitsValue(uint64_t v) {
  v -= kAsciiZeros;
  v = (v * 10) + (v >> 8);  // pairs
  return (((v & 0x000000FF000000FFull) * (100 + (1000000ull << 32))) +
          (((v >> 16) & 0x000000FF000000FFull) * (1 + (10000ull << 32)))) >>
         32;
}

// The k (0..8) low bytes of `w` as eight digits, right-aligned behind leading '0's.
inline uint64_t RightAlign(uint64_t w, unsigned k) {
  if (k == 0) return kAsciiZeros;
  uint64_t shifted = w << (64 - 8 * k);
  return k == 8 ? shifted : shifted | (kAsciiZeros >> (8 * k));
}

// Byte index of the first '.' in the 16 bytes lo, hi, or 16.
inline unsigned FirstDot(uint64_t lo, uint64_t hi) {
  auto dots = [](uint64_t v) {
    v ^= 0x2E2E2E2E2E2E2E2Eull;
    return (v - 0x0101010101010101ull) & ~v & 0x8080808080808080ull;
  };
  uint64_t a = dots(lo), b = dots(hi);
  if (a != 0) return static_cast<unsigned>(std::countr_zero(a)) / 8;
  if (b != 0) return 8 + static_cast<unsigned>(std::countr_zero(b)) / 8;
  return 16;
}

}  // namespace plain_decimal

// Parses `s` when it has the plain shape and returns true; false means "use ParseDouble"
// (another shape, or not a number). Requires 16 readable bytes after the end of `s`. The
// digits form an integer m <= 2^53 and f <= 8 fraction digits, so m and 10^f are exact
// doubles and m / 10^f is correctly rounded: the same value as from_chars gives.
__attribute__((always_inline)) inline bool ParsePlainDecimalPadded(absl::string_view s,
                                                                   double* out) {
  using namespace plain_decimal;
  const char* p = s.data();
  size_t n = s.size();
  if (n == 0) return false;
  const bool neg = *p == '-';
  const size_t sign = static_cast<size_t>(neg) | static_cast<size_t>(*p == '+');
  p += sign;
  n -= sign;
  if (n < 1 || n > 17) return false;
  uint64_t lo, hi;
  std::memcpy(&lo, p, 8);
  std::memcpy(&hi, p + 8, 8);
  const unsigned dot = std::min<unsigned>(FirstDot(lo, hi), static_cast<unsigned>(n));
  const unsigned frac = dot < n ? static_cast<unsigned>(n) - dot - 1 : 0;
  if (dot > 8 || frac > 8 || dot + frac == 0) return false;
  const unsigned __int128 x = (static_cast<unsigned __int128>(hi) << 64) | lo;
  const uint64_t ip = RightAlign(static_cast<uint64_t>(x), dot);
  const uint64_t fp = RightAlign(static_cast<uint64_t>(x >> (8 * (dot + 1))), frac);
  if (!EightDigits(ip) || !EightDigits(fp)) return false;
  const uint64_t m = EightDigitsValue(ip) * kPow10Int[frac] + EightDigitsValue(fp);
  if (m > (uint64_t{1} << 53)) return false;
  // The sign goes in by flipping the sign bit: a branch on it mispredicts on mixed signs.
  const double v = static_cast<double>(m) / kPow10[frac];
  *out = std::bit_cast<double>(std::bit_cast<uint64_t>(v) ^ (uint64_t{neg} << 63));
  return true;
}

}  // namespace kade
