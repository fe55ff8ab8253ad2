// Persistence of idv's records: the audit trail, identity <-> account bindings, API clients,
// configuration versions and the re-check queue.
//
// This is the contract every engine meets (store/leveldb/: one embedded database, one node;
// store/postgres/: one shared database, any number of nodes). It is domain-level: no keys, rows
// or SQL. `store::Open` (store/open.h) picks the engine from the configuration; nothing outside
// store/ names one.
//
// Threading: every method is thread-safe and asynchronous. None blocks its caller on disk or on
// the network: each queues its work and runs `done` exactly once, later, on one of the store's
// own threads (or at once, on the caller's thread, when the store is closed). `done` must not
// block either: it typically completes an RPC. Start-up code may wait for a result with Await.
//
// Ordering and atomicity, per method, are stated below. Across nodes (PostgreSQL), what one node
// commits is visible to every node's reads once its `done` has run.
#ifndef IDV_STORE_STORE_H_
#define IDV_STORE_STORE_H_

#include <cstdint>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "audit/log.h"
#include "audit/merkle.h"
#include "idv/store/v1/store.pb.h"
#include "store/stats_rollup.h"

namespace idv::store {

// An identity fingerprint and the key version that made it.
struct KeyedFingerprint {
  uint32_t key_version = 0;
  std::string fingerprint;
};

// One verification (or administrative change, or settled PENDING verification) to record.
struct VerificationCommit {
  // Everything but `sequence`, `node_id` and `binding`, which the store fills in.
  idv::store::v1::AuditRecord record;
  // Bind `record.identity_fingerprint` to `record.account_id` (only for VERIFIED outcomes).
  bool bind = false;
  // With `bind`: the most accounts of the tenant one identity may be bound to.
  uint32_t max_accounts_per_identity = 5;
  // With `bind`: the same identity's fingerprints under the earlier live key versions (the
  // record's is the current one). The decision counts the identity's accounts under all of them
  // against the cap, finds the account bound under any of them (ALREADY_BOUND), and then moves
  // that binding to the record's fingerprint, in the same write.
  std::vector<KeyedFingerprint> earlier_fingerprints;
  // An administrative change: the new configuration version, stored in the same write as
  // `record`. The commit fails with Aborted when that version number is taken (a concurrent
  // change won, on this node or another), and nothing of it is written.
  std::optional<idv::store::v1::ConfigVersion> config;
  // A PENDING verification to re-ask later: stored with the record, leased to this node.
  std::optional<idv::store::v1::RecheckEntry> recheck;
  // An administrative change of an API client, stored with `record`; every node is notified
  // (kClient). With `client_must_be_new`, fails with AlreadyExists, writing nothing, when the
  // client id is taken.
  std::optional<idv::store::v1::ClientRecord> client;
  bool client_must_be_new = false;
  // A new tenant, stored with `record`; AlreadyExists, writing nothing, when the name is taken.
  std::optional<idv::store::v1::TenantRecord> tenant;
  // This record settles a PENDING verification: its re-check entry is deleted in the same write.
  // The commit fails with FailedPrecondition, and nothing of it is written, when the entry is gone
  // or leased to another node (it was settled, or another node took it over): one settlement
  // only.
  bool settles_recheck = false;
  // A Verify answer to keep under its idempotency key, stored with `record`; the store sets the
  // binding decision in its response. Fails with AlreadyExists, writing nothing, when a live
  // (unexpired) entry holds the same (tenant, key_hash): a concurrent call with the same key won,
  // on this node or another. An expired entry is replaced.
  std::optional<idv::store::v1::IdempotencyEntry> idempotency;
  // Account closure or a deletion request: removes the binding of (record.tenant,
  // record.account_id) — the account's entry and its place in its identity's list, so the
  // identity's cap counts it no more — and every idempotency entry of that account, in the same
  // write as `record`. Every node is notified (kBindingRemoved). On LevelDB the affected key
  // ranges are compacted before `done` runs, so the removed values leave the files.
  bool remove_account = false;
};

// One stored audit record: its sequence in its node's log, its exact bytes (what the Merkle leaf
// hashes) and the leaf hash stored beside it.
struct StoredRecord {
  uint64_t sequence = 0;
  std::string bytes;
  std::string leaf_hash;
};

// One node's audit log as stored: its node id and its number of records (removed ones included),
// and where retention left it: records 1..purged_through are gone, and record purge_record says
// so (0, 0: nothing was purged).
struct LogInfo {
  std::string node_id;
  uint64_t size = 0;
  uint64_t purged_through = 0;
  uint64_t purge_record = 0;
};

struct CommitResult {
  // The record's position in this node's log.
  uint64_t sequence = 0;
  idv::v1::BindingStatus binding = idv::v1::NOT_REQUESTED;
  // With bind: the binding was found under an earlier key version and moved to the current one.
  bool binding_moved = false;
  // With remove_account: whether the account had a binding, and how many idempotency entries of
  // it were removed.
  bool binding_removed = false;
  uint64_t idempotency_removed = 0;
};

// What stored data still depends on one key version (AdminService.GetKeyStatus): a version can
// be retired once nothing does.
struct KeyUsage {
  uint32_t key_version = 0;
  // Accounts bound under it (their identity's fingerprint is of this version).
  uint64_t bindings = 0;
  // API clients whose secret hash is keyed with it.
  uint64_t clients = 0;
  // PENDING verifications waiting for a re-check, their claim sealed under it.
  uint64_t rechecks = 0;
};

// What changed in the shared state, for nodes to react to (reload the configuration, the client
// table, drop cache entries).
struct Change {
  enum Kind {
    // A new configuration version; `key` is its number.
    kConfig,
    // A client was created or changed; `key` is its id.
    kClient,
    // A binding was removed; `key` is "<tenant>/<account id>".
    kBindingRemoved,
    // Notifications may have been missed (the engine lost its connection and has it back):
    // reload everything.
    kResync,
    // A node started (took its lease); `key` is its id.
    kNodeStarted,
  };
  Kind kind;
  std::string key;
};

// Called on a store thread for every change, whichever node made it (this one included), after
// it is durable. Must not block; may call the store.
using ChangeListener = std::function<void(const Change&)>;

class Store {
 public:
  template <typename T>
  using Callback = absl::AnyInvocable<void(absl::StatusOr<T>) &&>;

  virtual ~Store() = default;

  // This node's id in the audit trail (StoreConfig.node_id).
  virtual const std::string& node_id() const = 0;

  // Appends the audit record to this node's log (a Merkle leaf, with the interior hashes it
  // completes, and a signed checkpoint when one is due) and applies the binding, the
  // configuration version and the re-check entry, all in one atomic, durable write: all or none.
  // `done` runs once the write is durable, or with an error when it was not written (Unavailable:
  // the engine could not write; Aborted, FailedPrecondition: as stated in VerificationCommit), or
  // with Unknown when the engine cannot tell: the database became unreachable after COMMIT was
  // sent and did not come back within the engine's resolve timeout (PostgreSQL only).
  //
  // Commits of one node are applied in the order they were queued, and binding decisions see
  // every earlier commit, of this node and of every other. The per-identity cap holds across
  // nodes: the engine serializes decisions about one (tenant, identity) itself, never by a read
  // in the caller followed by a write.
  //
  // After a failed write the engine never lets memory and storage disagree: LevelDB stops
  // accepting commits (Unavailable) until it is reopened; PostgreSQL rolls the transaction back,
  // re-reads its log head and serves the next commit once the database is reachable again.
  virtual void CommitVerification(VerificationCommit commit, Callback<CommitResult> done) = 0;

  // The newest audit record of verification `id` in `tenant` (a settled PENDING verification has
  // two; the settling one is returned), from any node's log. NotFound when there is none, or it
  // belongs to another tenant.
  virtual void GetVerification(std::string tenant, std::string id,
                               Callback<idv::store::v1::AuditRecord> done) = 0;

  // The identity `account_id` of `tenant` is bound to. NotFound when it has none.
  virtual void GetAccountBinding(std::string tenant, std::string account_id,
                                 Callback<idv::store::v1::AccountBinding> done) = 0;

  // Configuration versions, newest first, at most `limit`.
  virtual void ReadConfigVersions(size_t limit,
                                  Callback<std::vector<idv::store::v1::ConfigVersion>> done) = 0;

  // API clients, by id. On PostgreSQL this node also records that it has read every client
  // change committed before the read (see ClientChangeUnseenBy).
  virtual void ListClients(Callback<std::vector<idv::store::v1::ClientRecord>> done) = 0;

  // The live nodes that have not read the latest change of `client_id` yet (ListClients since it
  // committed); empty when every one has, or when the engine has one node (LevelDB).
  virtual void ClientChangeUnseenBy(std::string client_id,
                                    Callback<std::vector<std::string>> done) = 0;

  // The number of nodes alive now (holding a lease; LevelDB: 1), for sharing cluster-wide limits.
  virtual void CountLiveNodes(Callback<int> done) = 0;

  // Tenants, by name (made by CommitVerification with a `tenant`).
  virtual void ListTenants(Callback<std::vector<idv::store::v1::TenantRecord>> done) = 0;

  // Creates or replaces a client; durable before `done`; every node is notified (kClient).
  // With `only_if_none`, fails with AlreadyExists, writing nothing, when any client exists
  // (the first-start bootstrap: of nodes starting together, exactly one creates the admin).
  virtual void PutClient(idv::store::v1::ClientRecord client, bool only_if_none,
                         Callback<bool> done) = 0;

  // The re-check entries this node may work on: those leased to it already (the lease is
  // renewed) and those no node holds a live lease on (now leased to this node for `lease`), at
  // most `limit`. Two nodes never hold a live lease on one entry. Entries this node committed
  // are leased to it from the start.
  virtual void ClaimRechecks(size_t limit, absl::Duration lease,
                             Callback<std::vector<idv::store::v1::RecheckEntry>> done) = 0;

  // ---- the audit logs (store/audit_log.h): read from any node ----

  // Every node's log the store holds, with its size.
  virtual void ListLogs(Callback<std::vector<LogInfo>> done) = 0;

  // The stored Merkle hashes of `node_id`'s log at `indexes` (audit/log.h layout), in the order
  // asked. NotFound when one is not stored.
  virtual void ReadAuditHashes(std::string node_id, std::vector<int64_t> indexes,
                               Callback<std::vector<audit::Hash>> done) = 0;

  // Up to `limit` records of `node_id`'s log from sequence `first` on, in order, all tenants:
  // for proofs and integrity checks, which answer with hashes only beyond the caller's tenant.
  virtual void ReadAuditRecords(std::string node_id, uint64_t first, size_t limit,
                                Callback<std::vector<StoredRecord>> done) = 0;

  // Up to `limit` records of `node_id`'s log with sequence below `before`, newest first (for
  // listing). All tenants: the caller filters.
  virtual void ReadAuditRecordsBackward(std::string node_id, uint64_t before, size_t limit,
                                        Callback<std::vector<StoredRecord>> done) = 0;

  // Up to `limit` records of `node_id`'s log about `account_id` of `tenant` (verifications and
  // settlements; the store keeps this index), with sequence below `before`, newest first.
  virtual void ReadAccountRecordsBackward(std::string node_id, std::string tenant,
                                          std::string account_id, uint64_t before, size_t limit,
                                          Callback<std::vector<StoredRecord>> done) = 0;

  // The hourly counters (store/stats_rollup.h) of `tenant` for the hours starting in
  // [from_hour, to_hour) (Unix seconds), summed over every node's log, or only `node_id`'s when
  // it is not empty; in no particular order.
  virtual void ReadStats(std::string tenant, std::string node_id, int64_t from_hour,
                         int64_t to_hour, Callback<std::vector<StatsCount>> done) = 0;

  // Signed checkpoints of `node_id`'s log, newest first, at most `limit`.
  virtual void ReadCheckpoints(std::string node_id, size_t limit,
                               Callback<std::vector<idv::store::v1::Checkpoint>> done) = 0;

  // Removes records purged_through+1 .. `through` of this node's log (with their index entries),
  // keeping the stored Merkle hashes and checkpoints, and records that `purge_record` (already in
  // the log, a RetentionPurge saying `through`) describes the purge: all in one atomic write.
  // InvalidArgument when `through` is not after what was purged, or beyond the log.
  virtual void PurgeAuditLog(uint64_t through, uint64_t purge_record, Callback<uint64_t> done) = 0;

  // The live idempotency entry of (`tenant`, k) for the first k of `key_hashes` that has one (one
  // key hashed under each live key version, the current one first); NotFound when none has one.
  virtual void GetIdempotency(std::string tenant, std::vector<std::string> key_hashes,
                              Callback<idv::store::v1::IdempotencyEntry> done) = 0;

  // Deletes idempotency entries that expired before `now`; the number deleted.
  virtual void PurgeIdempotency(absl::Time now, Callback<uint64_t> done) = 0;

  // For every key version some stored binding, client or re-check entry was made under, how many;
  // ordered by version. Reads every such row: an administrative call, not for request paths.
  virtual void CountKeyUsage(Callback<std::vector<KeyUsage>> done) = 0;

  // Makes the bytes of removed bindings and idempotency entries leave the database's files: on
  // PostgreSQL it rewrites the tables that held them (VACUUM FULL: their dead row versions and
  // index entries go with the old files), then CHECKPOINT and a WAL switch, twice, so the WAL
  // segments that held the rows are no longer needed (and, with wal_recycle=off, deleted). The
  // rewrite locks those tables, holding binding decisions back while it runs: an operator's
  // maintenance step. LevelDB compacts at each removal already: nothing to do. Returns what it
  // did, one line per step.
  virtual void ScrubRemovedData(Callback<std::vector<std::string>> done) {
    std::move(done)(std::vector<std::string>{
        "nothing to do: removals compact the affected keys when they are made"});
  }

  // For backups: every stored key and value, from one consistent snapshot, in key order, given to
  // `sink`; stops at the first error `sink` returns. Blocks its caller (an administrative
  // thread), never the writer: commits go on meanwhile and are not in the snapshot. LevelDB only:
  // Unimplemented on PostgreSQL, whose own tools back it up (README "Backups").
  virtual absl::Status ExportSnapshot(
      const std::function<absl::Status(absl::string_view key, absl::string_view value)>& sink) {
    (void)sink;
    return absl::UnimplementedError(
        "this store engine is backed up with its own tools (README \"Backups\")");
  }

  // Adds a listener for changes (see ChangeListener). Call before serving.
  virtual void Subscribe(ChangeListener listener) = 0;

  // Completes every queued operation, signs a last checkpoint when records were appended since
  // the newest, then stops the store's threads and gives up this node's lease. Later calls fail
  // with Unavailable. Idempotent.
  virtual void Close() = 0;
};

// Runs `start(callback)` and waits for the callback. For start-up code and tests only: request
// paths never wait.
template <typename T, typename Start>
absl::StatusOr<T> Await(Start start) {
  std::promise<absl::StatusOr<T>> promise;
  std::future<absl::StatusOr<T>> future = promise.get_future();
  start([&promise](absl::StatusOr<T> result) { promise.set_value(std::move(result)); });
  return future.get();
}

// One node's stored Merkle hashes as an audit::HashReader, for proofs and integrity checks. Each
// read waits for the store (see Await): not for request paths.
class StoredHashReader : public audit::HashReader {
 public:
  StoredHashReader(Store& store, std::string node_id)
      : store_(store), node_id_(std::move(node_id)) {}
  absl::StatusOr<std::vector<audit::Hash>> ReadHashes(
      const std::vector<int64_t>& indexes) const override {
    return Await<std::vector<audit::Hash>>(
        [&](auto done) { store_.ReadAuditHashes(node_id_, indexes, std::move(done)); });
  }

 private:
  Store& store_;
  const std::string node_id_;
};

}  // namespace idv::store

#endif  // IDV_STORE_STORE_H_
