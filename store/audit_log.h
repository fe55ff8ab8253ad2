// The per-node audit log every engine keeps: a Merkle tree over the node's records (audit/), its
// interior hashes stored in the tlog layout beside the records, and signed checkpoints.
//
// LogState is the writer's view of its node's log; engines copy it before a group and keep the
// copy only when the group's write succeeded, so memory never runs ahead of storage.
#ifndef IDV_STORE_AUDIT_LOG_H_
#define IDV_STORE_AUDIT_LOG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "audit/log.h"
#include "audit/note.h"
#include "idv/store/v1/store.pb.h"

namespace idv::store {

// When the writer signs a checkpoint of its log, and how.
struct CheckpointPolicy {
  // Makes the signed note of a checkpoint (C2SP signed-note text). Unset: no checkpoints.
  std::function<std::string(const audit::Checkpoint&)> sign;
  // The log's name in its checkpoints is "<origin_prefix>/<node id>".
  std::string origin_prefix = "idv/audit";
  // A checkpoint once this many records were appended since the last. Default 1000.
  uint64_t every_records = 1000;
  // ... or once this long passed since the first record appended after the last. Default 10 s.
  absl::Duration every = absl::Seconds(10);
};

struct LogState {
  audit::MerkleFrontier frontier;  // size() records so far
  uint64_t checkpoint_size = 0;    // the size of the newest checkpoint
  // When the first record after the newest checkpoint was appended (or the log was opened with
  // such records); InfiniteFuture when there is none.
  absl::Time unsigned_since = absl::InfiniteFuture();
  uint64_t next_sequence() const { return static_cast<uint64_t>(frontier.size()) + 1; }
};

// One record appended: what the engine stores.
struct AppendedRecord {
  uint64_t sequence = 0;
  std::string bytes;   // the record exactly as hashed
  audit::Hash leaf{};  // RFC 6962 leaf hash of `bytes`
  // Stored hashes to write at indexes first_hash_index, first_hash_index + 1, ...
  int64_t first_hash_index = 0;
  std::vector<audit::Hash> hashes;
};

// Stamps `record` as the next entry of `node_id`'s log, serializes and hashes it, and advances
// `state`.
AppendedRecord AppendToLog(idv::store::v1::AuditRecord& record, const std::string& node_id,
                           LogState& state);

// Whether a checkpoint of `state` is due at `now` (with `force`: whenever records were appended
// since the last), given a signer.
bool CheckpointDue(const CheckpointPolicy& policy, const LogState& state, absl::Time now,
                   bool force);

// How long an idle writer waits for commits before it looks whether a checkpoint came due:
// `policy.every`, kept between 10 ms and 1 s.
std::chrono::nanoseconds IdleWake(const CheckpointPolicy& policy);

// The signed checkpoint due at `now` (or, with `force`, whenever records were appended since the
// last), recorded in `state`; nullopt when none is due or no signer is set.
std::optional<idv::store::v1::Checkpoint> DueCheckpoint(const CheckpointPolicy& policy,
                                                        const std::string& node_id, LogState& state,
                                                        absl::Time now, bool force);

}  // namespace idv::store

#endif  // IDV_STORE_AUDIT_LOG_H_
