// What an offline check found wrong (or worth noting) about one field of a claim.
#ifndef IDV_IDENTITY_FINDING_H_
#define IDV_IDENTITY_FINDING_H_

#include <optional>
#include <string>
#include <vector>

#include "idv/v1/verification.pb.h"

namespace idv::identity {

inline constexpr char kNumberField[] = "claim.document_number";
inline constexpr char kNameField[] = "claim.full_name";
inline constexpr char kPhoneField[] = "claim.phone_number";
inline constexpr char kCountryField[] = "claim.issuing_country";
inline constexpr char kTypeField[] = "claim.document_type";

struct Finding {
  idv::v1::ReasonCode code = idv::v1::REASON_CODE_UNSPECIFIED;
  std::string field;    // request field path, e.g. "claim.document_number"
  std::string message;  // short English sentence; never contains the input
};

// A checked field: its canonical form, or why it was rejected.
struct FieldResult {
  std::optional<Finding> rejection;
  std::string canonical;
  bool ok() const { return !rejection.has_value(); }
};

inline FieldResult Rejected(idv::v1::ReasonCode code, const char* field, const char* message) {
  FieldResult r;
  r.rejection = Finding{code, field, message};
  return r;
}

}  // namespace idv::identity

#endif  // IDV_IDENTITY_FINDING_H_
