// Removing an account's data: account closure (VerificationService.Unbind, by the operator's
// sign-up flow) and a deletion request (AdminService.DeleteAccountData, by an administrator)
// make the same store write, built here.
#ifndef IDV_SERVICES_ACCOUNT_REMOVAL_H_
#define IDV_SERVICES_ACCOUNT_REMOVAL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "store/store.h"

namespace idv::services {

inline constexpr size_t kMaxAccountId = 128;

// Whether `s` holds a byte below 0x20 or DEL.
bool HasControlCharacter(absl::string_view s);

// An account id as callers may send it: 1 to 128 bytes, no control characters (account ids are
// shown in listings and exports). InvalidArgument naming the field otherwise.
absl::Status CheckAccountId(absl::string_view id);

// The commit that removes (`tenant`, `account_id`)'s binding and idempotency entries, with an
// administrative audit record of `action` ("Unbind", "DeleteAccountData") by `client_id` saying
// `summary`. The record names the account, never the identity.
store::VerificationCommit AccountRemovalCommit(const std::string& tenant,
                                               const std::string& client_id,
                                               const std::string& account_id,
                                               const std::string& action,
                                               const std::string& summary, absl::Time now);

}  // namespace idv::services

#endif  // IDV_SERVICES_ACCOUNT_REMOVAL_H_
