// Country codes: ISO 3166-1 (from ICU's region data) and the extra codes ICAO Doc 9303 uses in
// travel documents. Thread-safe; the tables are built once, on first use.
#ifndef IDV_IDENTITY_COUNTRIES_H_
#define IDV_IDENTITY_COUNTRIES_H_

#include "absl/strings/string_view.h"

namespace idv::identity {

// An ISO 3166-1 alpha-3 code, or an ICAO 9303 issuing-state code that is not one ("D" for
// Germany, "GBD"/"GBN"/"GBO"/"GBP"/"GBS" British nationality classes, "UNO"/"UNA"/"UNK" United
// Nations, "XXA"/"XXB"/"XXC"/"XXX" stateless and refugees, "EUE", "XOM", "XPO", "XCC", "XES",
// "XMP", "XBA", "XIM", "XCE", "XDC", "RKS"). REQUIRES: upper case.
bool IsTravelDocumentCountry(absl::string_view code);

// An ISO 3166-1 alpha-3 code. REQUIRES: upper case.
bool IsIsoAlpha3(absl::string_view code);

// An ISO 3166-1 numeric code of a territory (e.g. 840 for the United States).
bool IsIsoNumericCountry(int code);

}  // namespace idv::identity

#endif  // IDV_IDENTITY_COUNTRIES_H_
