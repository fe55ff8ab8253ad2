// Mobile numbers for carrier three-element checks, through libphonenumber. Thread-safe.
#ifndef IDV_IDENTITY_PHONE_H_
#define IDV_IDENTITY_PHONE_H_

#include "absl/strings/string_view.h"
#include "identity/finding.h"

namespace idv::identity {

// Parses `raw` with default region CN ("138 0013 8000", "+86-138-0013-8000" and "008613800138000"
// are all +8613800138000), requires a valid mobile number, and returns it in E.164.
FieldResult CheckMobileNumber(absl::string_view raw);

}  // namespace idv::identity

#endif  // IDV_IDENTITY_PHONE_H_
