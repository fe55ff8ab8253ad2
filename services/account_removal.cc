#include "services/account_removal.h"

#include "audit/records.h"
#include "services/verification_id.h"

namespace idv::services {

bool HasControlCharacter(absl::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

absl::Status CheckAccountId(absl::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError("account_id is required");
  if (id.size() > kMaxAccountId) {
    return absl::InvalidArgumentError("account_id is longer than 128 bytes");
  }
  if (HasControlCharacter(id)) {
    return absl::InvalidArgumentError("account_id contains a control character");
  }
  return absl::OkStatus();
}

store::VerificationCommit AccountRemovalCommit(const std::string& tenant,
                                               const std::string& client_id,
                                               const std::string& account_id,
                                               const std::string& action,
                                               const std::string& summary, absl::Time now) {
  store::VerificationCommit commit;
  commit.record =
      audit::RecordBuilder::AdminChange(NewVerificationId(now), now, action, account_id, 0, summary)
          .By(tenant, client_id)
          .Account(account_id)
          .Build();
  commit.remove_account = true;
  return commit;
}

}  // namespace idv::services
