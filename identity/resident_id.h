// PRC resident identity numbers (GB 11643-1999).
//
// 18 characters: a 6-digit address code (GB/T 2260), the birth date as YYYYMMDD, a 3-digit sequence
// (odd for men, even for women) and a check character computed with ISO 7064 MOD 11-2 over the
// first 17 digits ("X" stands for 10). Pure functions; thread-safe.
#ifndef IDV_IDENTITY_RESIDENT_ID_H_
#define IDV_IDENTITY_RESIDENT_ID_H_

#include <optional>

#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "identity/claim.h"

namespace idv::identity {

// The ISO 7064 MOD 11-2 check character for the first 17 digits of `digits17`.
// REQUIRES: digits17.size() >= 17 and its first 17 characters are ASCII digits.
char ResidentIdCheckCharacter(absl::string_view digits17);

// Checks a normalized (see NormalizeDocumentNumber) resident ID number. Returns the rejection, or
// nullopt when the number is well-formed, in which case `*birth_date` is set.
std::optional<OfflineRejection> CheckResidentId(absl::string_view number, absl::CivilDay today,
                                                absl::CivilDay* birth_date);

}  // namespace idv::identity

#endif  // IDV_IDENTITY_RESIDENT_ID_H_
