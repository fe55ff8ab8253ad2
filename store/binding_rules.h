// The binding decision, shared by every Store implementation so they cannot drift apart.
#ifndef IDV_STORE_BINDING_RULES_H_
#define IDV_STORE_BINDING_RULES_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "idv/store/v1/store.pb.h"
#include "store/store.h"

namespace idv::store {

// What binding `account_id` to the identity `fingerprint` does, given the account's current
// binding (if any) and the number of accounts the identity is bound to now:
//  - the account is bound to this identity          -> ALREADY_BOUND
//  - the account is bound to another identity       -> ACCOUNT_HAS_OTHER_IDENTITY
//  - the identity has `max_accounts` accounts       -> LIMIT_REACHED
//  - otherwise                                      -> BOUND (the caller writes both records)
idv::v1::BindingStatus DecideBinding(const std::optional<idv::store::v1::AccountBinding>& account,
                                     uint32_t identity_accounts, absl::string_view fingerprint,
                                     uint32_t key_version, uint32_t max_accounts);

// Decides the binding `commit` asks for, with `identity` the bindings of the record's (current)
// fingerprint and earlier[i] those of commit.earlier_fingerprints[i]: the identity's accounts
// under every version count against the cap, and an account bound under any of them is
// ALREADY_BOUND. Then applies it, in memory:
//  - BOUND: adds the account to `identity` and sets `account` to the new reverse entry;
//  - ALREADY_BOUND under earlier[i]: moves the account from earlier[i] to `identity` (keeping when
//    and by which verification it was bound), rewrites `account` under the current version and
//    sets *moved_from = i.
// The caller stores what changed. *moved_from is -1 when nothing moved.
idv::v1::BindingStatus ApplyBinding(const VerificationCommit& commit,
                                    std::optional<idv::store::v1::AccountBinding>& account,
                                    idv::store::v1::IdentityBindings& identity,
                                    const std::vector<idv::store::v1::IdentityBindings*>& earlier,
                                    int* moved_from);

// Sets the binding decision in the response an idempotency entry keeps.
void SetAnsweredBinding(idv::v1::BindingStatus binding, idv::store::v1::IdempotencyEntry& entry);

// Whether an idempotency entry still holds its key at `now`.
bool IsLive(const idv::store::v1::IdempotencyEntry& entry, absl::Time now);

}  // namespace idv::store

#endif  // IDV_STORE_BINDING_RULES_H_
