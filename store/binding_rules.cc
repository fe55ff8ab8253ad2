#include "store/binding_rules.h"

namespace idv::store {

idv::v1::BindingStatus DecideBinding(const std::optional<idv::store::v1::AccountBinding>& account,
                                     const idv::store::v1::IdentityBindings& identity,
                                     absl::string_view fingerprint, uint32_t key_version,
                                     uint32_t max_accounts) {
  if (account.has_value()) {
    const bool same =
        account->identity_fingerprint() == fingerprint && account->key_version() == key_version;
    return same ? idv::v1::ALREADY_BOUND : idv::v1::ACCOUNT_HAS_OTHER_IDENTITY;
  }
  if (static_cast<uint32_t>(identity.accounts_size()) >= max_accounts) {
    return idv::v1::LIMIT_REACHED;
  }
  return idv::v1::BOUND;
}

}  // namespace idv::store
