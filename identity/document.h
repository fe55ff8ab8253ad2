// Offline checks of document numbers, one function per document type. Pure functions of their
// inputs; thread-safe.
//
// Each check takes a number already normalized by NormalizeDocumentNumber (NFKC, no spaces or
// hyphens, upper case) and rejects only what is certainly wrong. Where a rule comes from:
//
//  CN_RESIDENT_ID (GB 11643-1999): 6-digit address code (GB/T 2260), YYYYMMDD birth date,
//    3-digit sequence, ISO 7064 MOD 11-2 check character ("X" = 10). A province outside GB/T
//    2260, an impossible date, a date before 1900 or after today, or a wrong check character is
//    rejected; a full address code missing from the bundled table (which includes retired codes)
//    is only noted (ADDRESS_CODE_UNLISTED), because the table can lag behind new codes. A 15-digit
//    number is the first-generation form, replaced by the 18-character one (LEGACY_FORMAT).
//  CN_RESIDENCE_PERMIT_HMT (State Council residence permit rules for Hong Kong, Macau and Taiwan
//    residents, 2018): the GB 11643 layout with address code 810000, 820000 or 830000.
//  CN_PERMANENT_RESIDENCE: the 2023 card (National Immigration Administration, "machine-readable
//    information rules of the new foreigner's permanent residence ID card", in use since
//    2023-12-01): 18 characters, "9" + 2-digit province of issue + 3-digit ISO 3166-1 numeric
//    nationality + YYYYMMDD + 3-digit sequence + check character computed exactly as for resident
//    IDs. The earlier card (2004 and 2017 versions): 15 characters, ISO 3166-1 alpha-3
//    nationality + 2-digit province + YYMMDD birth date + 4 digits (sequence and a check digit
//    whose algorithm is not published, so it is not verified).
//  HMT_TRAVEL_PERMIT: mainland travel permits. Hong Kong / Macau residents: "H" or "M" + 8 digits
//    (card since 2012), or + 10 digits (8 + a 2-digit issue count, earlier booklets). Taiwan
//    residents: 8 digits (card since 2015), or 10 digits optionally followed by a letter (earlier
//    booklets, printed like "1234567890(B)"; the parentheses are dropped). Structure only.
//  PASSPORT: `issuing_country` must be an ISO 3166-1 alpha-3 or ICAO 9303 code. Numbers are A-Z
//    and 0-9 only. Chinese (CHN) passports follow known series: E+8 digits, E+letter+7 digits,
//    G+8, DE/SE/PE+7 and D/S/P+7 (diplomatic, service, public affairs), 14/15+7 (before 2006), and
//    the SAR series K/H+8 (Hong Kong) and M+7, M+letter+7 (Macau). Others: 5 to 17 characters
//    (ICAO 9303 prints 9 in the MRZ number field and continues longer numbers in optional data).
#ifndef IDV_IDENTITY_DOCUMENT_H_
#define IDV_IDENTITY_DOCUMENT_H_

#include <optional>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "identity/finding.h"
#include "idv/v1/verification.pb.h"

namespace idv::identity {

struct DocumentResult {
  std::optional<Finding> rejection;
  // The canonical number (what is fingerprinted and sent to authorities).
  std::string canonical;
  // The birth date the number carries, for document types that carry one.
  std::optional<absl::CivilDay> birth_date;
  // Non-fatal observations, e.g. ADDRESS_CODE_UNLISTED.
  std::vector<Finding> notes;
  bool ok() const { return !rejection.has_value(); }
};

// Normalizes `raw` and checks it as a number of `type`. `issuing_country` (upper-cased here) is
// used for passports only. `today` is the current date in China Standard Time.
DocumentResult CheckDocument(idv::v1::DocumentType type, absl::string_view raw,
                             absl::string_view issuing_country, absl::CivilDay today);

// The ISO 7064 MOD 11-2 check character over the first 17 digits of `digits17`.
// REQUIRES: the first 17 characters are ASCII digits.
char ResidentIdCheckCharacter(absl::string_view digits17);

}  // namespace idv::identity

#endif  // IDV_IDENTITY_DOCUMENT_H_
