#include "identity/regions.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>

namespace idv::identity {
namespace {

constexpr int32_t kAddressCodes[] = {
#include "identity/data/gb2260_codes.inc"
};

constexpr std::array<int, 34> kProvinces = {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34,
                                            35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
                                            53, 54, 61, 62, 63, 64, 65, 71, 81, 82};

}  // namespace

bool IsProvinceCode(int two_digits) {
  return std::find(kProvinces.begin(), kProvinces.end(), two_digits) != kProvinces.end();
}

bool IsListedAddressCode(int six_digits) {
  return std::binary_search(std::begin(kAddressCodes), std::end(kAddressCodes), six_digits);
}

}  // namespace idv::identity
