#include "identity/mask.h"

#include <unicode/utf8.h>

namespace idv::identity {

std::string MaskDocumentNumber(absl::string_view number) {
  constexpr size_t kHead = 3, kTail = 4;
  std::string out(number.size(), '*');
  if (number.size() <= kHead + kTail) return out;
  out.replace(0, kHead, number.substr(0, kHead).data(), kHead);
  out.replace(out.size() - kTail, kTail, number.substr(number.size() - kTail).data(), kTail);
  return out;
}

std::string MaskName(absl::string_view name) {
  if (name.empty()) return "";
  int32_t i = 0;
  UChar32 c;
  U8_NEXT(reinterpret_cast<const uint8_t*>(name.data()), i, static_cast<int32_t>(name.size()), c);
  std::string out(name.substr(0, static_cast<size_t>(i)));
  out.push_back('*');
  return out;
}

}  // namespace idv::identity
