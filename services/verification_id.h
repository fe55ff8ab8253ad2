// Verification ids: 26 characters of Crockford base32 encoding 48 bits of Unix milliseconds
// followed by 80 random bits (the ULID layout), so ids sort by creation time and never collide in
// practice. Thread-safe.
#ifndef IDV_SERVICES_VERIFICATION_ID_H_
#define IDV_SERVICES_VERIFICATION_ID_H_

#include <string>

#include "absl/time/time.h"

namespace idv::services {

std::string NewVerificationId(absl::Time now);

// True when `id` has the shape NewVerificationId produces.
bool IsWellFormedVerificationId(absl::string_view id);

}  // namespace idv::services

#endif  // IDV_SERVICES_VERIFICATION_ID_H_
