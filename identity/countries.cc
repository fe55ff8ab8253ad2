#include "identity/countries.h"

#include <unicode/locid.h>
#include <unicode/region.h>
#include <unicode/uloc.h>

#include <set>
#include <string>

namespace idv::identity {
namespace {

const std::set<std::string, std::less<>>& Alpha3() {
  static const auto* codes = [] {
    auto* s = new std::set<std::string, std::less<>>;
    for (const char* const* cc = uloc_getISOCountries(); *cc != nullptr; ++cc) {
      const char* a3 = icu::Locale("", *cc).getISO3Country();
      if (a3 != nullptr && a3[0] != '\0') s->insert(a3);
    }
    return s;
  }();
  return *codes;
}

constexpr const char* kIcaoExtras[] = {"D",   "GBD", "GBN", "GBO", "GBP", "GBS", "UNO", "UNA",
                                       "UNK", "XXA", "XXB", "XXC", "XXX", "EUE", "XOM", "XPO",
                                       "XCC", "XES", "XMP", "XBA", "XIM", "XCE", "XDC", "RKS"};

}  // namespace

bool IsIsoAlpha3(absl::string_view code) { return code.size() == 3 && Alpha3().count(code) != 0; }

bool IsTravelDocumentCountry(absl::string_view code) {
  if (IsIsoAlpha3(code)) return true;
  for (const char* extra : kIcaoExtras) {
    if (code == extra) return true;
  }
  return false;
}

bool IsIsoNumericCountry(int code) {
  if (code <= 0 || code > 999) return false;
  UErrorCode err = U_ZERO_ERROR;
  const icu::Region* region = icu::Region::getInstance(code, err);
  return U_SUCCESS(err) && region != nullptr && region->getType() == URGN_TERRITORY;
}

}  // namespace idv::identity
