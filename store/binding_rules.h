// The binding decision, shared by every Store implementation so they cannot drift apart.
#ifndef IDV_STORE_BINDING_RULES_H_
#define IDV_STORE_BINDING_RULES_H_

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "idv/store/v1/store.pb.h"
#include "store/store.h"

namespace idv::store {

// What binding `account_id` to the identity `fingerprint` does, given the account's current
// binding (if any) and the accounts the identity is bound to now:
//  - the account is bound to this identity          -> ALREADY_BOUND
//  - the account is bound to another identity       -> ACCOUNT_HAS_OTHER_IDENTITY
//  - the identity has `max_accounts` accounts       -> LIMIT_REACHED
//  - otherwise                                      -> BOUND (the caller writes both records)
idv::v1::BindingStatus DecideBinding(const std::optional<idv::store::v1::AccountBinding>& account,
                                     const idv::store::v1::IdentityBindings& identity,
                                     absl::string_view fingerprint, uint32_t key_version,
                                     uint32_t max_accounts);

// Decides the binding `commit` asks for and, when it is BOUND, applies it: adds the account to
// `identity` and sets `account` to the new reverse entry. The caller stores both when BOUND.
idv::v1::BindingStatus ApplyBinding(const VerificationCommit& commit,
                                    std::optional<idv::store::v1::AccountBinding>& account,
                                    idv::store::v1::IdentityBindings& identity);

// Sets the binding decision in the response an idempotency entry keeps.
void SetAnsweredBinding(idv::v1::BindingStatus binding, idv::store::v1::IdempotencyEntry& entry);

// Whether an idempotency entry still holds its key at `now`.
bool IsLive(const idv::store::v1::IdempotencyEntry& entry, absl::Time now);

}  // namespace idv::store

#endif  // IDV_STORE_BINDING_RULES_H_
