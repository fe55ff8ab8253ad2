// Identity claims after offline checking.
//
// `CheckClaim` turns the raw `idv.v1.IdentityClaim` a client sent into a `NormalizedClaim` (the
// canonical form that is fingerprinted and sent to authorities) or a `Finding` saying
// which field is wrong and why. It is a pure function of its inputs: thread-safe, no I/O.
//
// A NormalizedClaim holds plaintext personal data. It wipes its buffers when destroyed; never log
// it, and mask it (identity/mask.h) for anything a person or a file will see.
#ifndef IDV_IDENTITY_CLAIM_H_
#define IDV_IDENTITY_CLAIM_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "identity/finding.h"
#include "idv/v1/verification.pb.h"

namespace idv::identity {

struct NormalizedClaim {
  NormalizedClaim() = default;
  NormalizedClaim(NormalizedClaim&&) = default;
  NormalizedClaim& operator=(NormalizedClaim&&) = default;
  NormalizedClaim(const NormalizedClaim&) = delete;
  NormalizedClaim& operator=(const NormalizedClaim&) = delete;
  ~NormalizedClaim();

  idv::v1::DocumentType document_type = idv::v1::DOCUMENT_TYPE_UNSPECIFIED;
  std::string document_number;  // canonical: ASCII, upper case, no separators
  std::string full_name;        // NFKC, single spaces, trimmed
  std::string phone_number;     // E.164 when present
  std::string issuing_country;  // ISO 3166-1 alpha-3 when present
  // Birth date carried by the document, when it has one. Used only to derive attributes.
  std::optional<absl::CivilDay> birth_date;
};

// Either a normalized claim or the reason it was rejected.
struct OfflineResult {
  std::optional<Finding> rejection;
  NormalizedClaim claim;  // complete only when !rejection
  // Non-fatal observations (e.g. ADDRESS_CODE_UNLISTED).
  std::vector<Finding> notes;
  bool ok() const { return !rejection.has_value(); }
};

// Normalizes and checks `claim` offline: the document number (identity/document.h), the name
// (identity/name.h) and, when present, the phone number (identity/phone.h). The first failing
// field is reported. `today` is the current date in China Standard Time.
OfflineResult CheckClaim(const idv::v1::IdentityClaim& claim, absl::CivilDay today);

// Today's date in China Standard Time (UTC+8, no daylight saving).
absl::CivilDay TodayInChina(absl::Time now);

// Overwrites the bytes of `s` with zeros and empties it.
void Wipe(std::string& s);

}  // namespace idv::identity

#endif  // IDV_IDENTITY_CLAIM_H_
