#include "store/binding_rules.h"

#include "common/proto_time.h"
#include "idv/v1/verification.pb.h"

namespace idv::store {

idv::v1::BindingStatus DecideBinding(const std::optional<idv::store::v1::AccountBinding>& account,
                                     uint32_t identity_accounts, absl::string_view fingerprint,
                                     uint32_t key_version, uint32_t max_accounts) {
  if (account.has_value()) {
    const bool same =
        account->identity_fingerprint() == fingerprint && account->key_version() == key_version;
    return same ? idv::v1::ALREADY_BOUND : idv::v1::ACCOUNT_HAS_OTHER_IDENTITY;
  }
  if (identity_accounts >= max_accounts) {
    return idv::v1::LIMIT_REACHED;
  }
  return idv::v1::BOUND;
}

namespace {

void SetReverse(const idv::store::v1::AuditRecord& r, idv::store::v1::AccountBinding& reverse) {
  reverse.set_identity_fingerprint(r.identity_fingerprint());
  reverse.set_key_version(r.key_version());
  reverse.set_document_type(r.document_type());
  reverse.set_masked_document_number(r.masked_document_number());
}

}  // namespace

idv::v1::BindingStatus ApplyBinding(const VerificationCommit& commit,
                                    std::optional<idv::store::v1::AccountBinding>& account,
                                    idv::store::v1::IdentityBindings& identity,
                                    const std::vector<idv::store::v1::IdentityBindings*>& earlier,
                                    int* moved_from) {
  *moved_from = -1;
  const idv::store::v1::AuditRecord& r = commit.record;
  if (account.has_value()) {
    for (size_t i = 0; i < commit.earlier_fingerprints.size() && i < earlier.size(); ++i) {
      const KeyedFingerprint& e = commit.earlier_fingerprints[i];
      if (account->identity_fingerprint() != e.fingerprint ||
          account->key_version() != e.key_version) {
        continue;
      }
      // Bound under an earlier version: move the binding to the current one.
      idv::store::v1::IdentityBindings kept;
      for (const auto& a : earlier[i]->accounts()) {
        if (a.account_id() == r.account_id()) {
          *identity.add_accounts() = a;
        } else {
          *kept.add_accounts() = a;
        }
      }
      *earlier[i] = std::move(kept);
      SetReverse(r, *account);
      *moved_from = static_cast<int>(i);
      return idv::v1::ALREADY_BOUND;
    }
  }
  uint32_t accounts = static_cast<uint32_t>(identity.accounts_size());
  for (const idv::store::v1::IdentityBindings* e : earlier) {
    accounts += static_cast<uint32_t>(e->accounts_size());
  }
  const idv::v1::BindingStatus status =
      DecideBinding(account, accounts, r.identity_fingerprint(), r.key_version(),
                    commit.max_accounts_per_identity);
  if (status != idv::v1::BOUND) return status;
  idv::store::v1::BoundAccount* bound = identity.add_accounts();
  bound->set_account_id(r.account_id());
  bound->set_verification_id(r.verification_id());
  *bound->mutable_bound_at() = r.decided_at();
  idv::store::v1::AccountBinding& reverse = account.emplace();
  SetReverse(r, reverse);
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
