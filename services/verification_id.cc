#include "services/verification_id.h"

#include <sodium.h>

#include <cstring>

namespace idv::services {
namespace {
constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr size_t kLength = 26;
}  // namespace

std::string NewVerificationId(absl::Time now) {
  uint8_t bytes[16];
  const uint64_t ms = static_cast<uint64_t>(absl::ToUnixMillis(now));
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<uint8_t>(ms >> (8 * (5 - i)));
  randombytes_buf(bytes + 6, 10);
  // 128 bits as 26 five-bit digits, most significant first (the top digit holds 3 bits).
  std::string id(kLength, '0');
  for (size_t d = 0; d < kLength; ++d) {
    const size_t bit = d == 0 ? 0 : 3 + (d - 1) * 5;  // first bit of digit d in the 130-bit frame
    const size_t width = d == 0 ? 3 : 5;
    unsigned v = 0;
    for (size_t b = 0; b < width; ++b) {
      const size_t pos = bit + b;  // bit index within bytes, MSB first
      v = (v << 1) | ((bytes[pos / 8] >> (7 - pos % 8)) & 1u);
    }
    id[d] = kAlphabet[v];
  }
  return id;
}

bool IsWellFormedVerificationId(absl::string_view id) {
  if (id.size() != kLength || id[0] > '7') return false;
  for (char c : id) {
    if (std::strchr(kAlphabet, c) == nullptr || c == '\0') return false;
  }
  return true;
}

}  // namespace idv::services
