#include "store/binding_rules.h"

#include "common/proto_time.h"
#include "idv/v1/verification.pb.h"

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

idv::v1::BindingStatus ApplyBinding(const VerificationCommit& commit,
                                    std::optional<idv::store::v1::AccountBinding>& account,
                                    idv::store::v1::IdentityBindings& identity) {
  const idv::store::v1::AuditRecord& r = commit.record;
  const idv::v1::BindingStatus status =
      DecideBinding(account, identity, r.identity_fingerprint(), r.key_version(),
                    commit.max_accounts_per_identity);
  if (status != idv::v1::BOUND) return status;
  idv::store::v1::BoundAccount* bound = identity.add_accounts();
  bound->set_account_id(r.account_id());
  bound->set_verification_id(r.verification_id());
  *bound->mutable_bound_at() = r.decided_at();
  idv::store::v1::AccountBinding& reverse = account.emplace();
  reverse.set_identity_fingerprint(r.identity_fingerprint());
  reverse.set_key_version(r.key_version());
  reverse.set_document_type(r.document_type());
  reverse.set_masked_document_number(r.masked_document_number());
  reverse.set_verification_id(r.verification_id());
  *reverse.mutable_bound_at() = r.decided_at();
  return status;
}

void SetAnsweredBinding(idv::v1::BindingStatus binding, idv::store::v1::IdempotencyEntry& entry) {
  idv::v1::VerifyResponse response;
  if (!response.ParseFromString(entry.response())) return;
  response.set_binding(binding);
  entry.set_response(response.SerializeAsString());
}

bool IsLive(const idv::store::v1::IdempotencyEntry& entry, absl::Time now) {
  return FromProto(entry.expires_at()) > now;
}

}  // namespace idv::store
