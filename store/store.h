// Persistence of idv's records: the audit trail, identity <-> account bindings and API clients.
//
// The interface is domain-level (no keys or values) so that a second implementation over a shared
// SQL engine can stand beside the embedded LevelDB one. Every method is thread-safe.
//
// Asynchronous methods never block the caller on disk: they queue the work and run `done` later on
// one of the store's own threads. `done` must not block either (it typically completes an RPC).
#ifndef IDV_STORE_STORE_H_
#define IDV_STORE_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "idv/store/v1/store.pb.h"

namespace idv::store {

// One verification to record.
struct VerificationCommit {
  // Everything but `sequence`, `prev_hash` and `binding`, which the store fills in.
  idv::store::v1::AuditRecord record;
  // Bind `record.identity_fingerprint` to `record.account_id` (only for VERIFIED outcomes).
  bool bind = false;
  // With `bind`: the most accounts of the tenant one identity may be bound to.
  uint32_t max_accounts_per_identity = 5;
  // An administrative change: the new configuration version, stored in the same write as
  // `record`. The commit fails with Aborted when that version number is taken (a concurrent
  // change won), and nothing is written.
  std::optional<idv::store::v1::ConfigVersion> config;
  // A PENDING verification to re-ask later: stored with the record.
  std::optional<idv::store::v1::RecheckEntry> recheck;
  // This record settles a PENDING verification: its re-check entry is deleted in the same write.
  bool settles_recheck = false;
};

struct CommitResult {
  uint64_t sequence = 0;
  idv::v1::BindingStatus binding = idv::v1::NOT_REQUESTED;
};

class Store {
 public:
  template <typename T>
  using Callback = absl::AnyInvocable<void(absl::StatusOr<T>) &&>;

  virtual ~Store() = default;

  // Appends the audit record and applies the binding in one atomic, synced write. `done` runs
  // once the write is durable, or with an error when it was not. Commits are applied in the order
  // they were queued; binding decisions see every earlier commit. After a write fails, every
  // later commit fails with Unavailable until the store is reopened (fail-stop), so memory and
  // disk never disagree.
  virtual void CommitVerification(VerificationCommit commit, Callback<CommitResult> done) = 0;

  // The audit record of verification `id` in `tenant`. NotFound when there is none, or it belongs
  // to another tenant.
  virtual void GetVerification(std::string tenant, std::string id,
                               Callback<idv::store::v1::AuditRecord> done) = 0;

  // The identity `account_id` of `tenant` is bound to. NotFound when it has none.
  virtual void GetAccountBinding(std::string tenant, std::string account_id,
                                 Callback<idv::store::v1::AccountBinding> done) = 0;

  // Configuration versions, newest first, at most `limit`. Synchronous: start-up and
  // administrative calls only.
  virtual absl::StatusOr<std::vector<idv::store::v1::ConfigVersion>> ConfigVersions(
      size_t limit) = 0;

  // The same, read on the store's reader threads.
  virtual void ReadConfigVersions(size_t limit,
                                  Callback<std::vector<idv::store::v1::ConfigVersion>> done) = 0;

  // Every re-check entry. Synchronous: start-up only.
  virtual absl::StatusOr<std::vector<idv::store::v1::RecheckEntry>> ListRechecks() = 0;

  // API clients. Synchronous: used at start-up and by administrative calls, not per request.
  virtual absl::StatusOr<std::vector<idv::store::v1::ClientRecord>> ListClients() = 0;
  virtual absl::Status PutClient(const idv::store::v1::ClientRecord& client) = 0;

  // Completes every queued operation, then stops the store's threads. Later calls fail with
  // Unavailable. Idempotent.
  virtual void Close() = 0;
};

}  // namespace idv::store

#endif  // IDV_STORE_STORE_H_
