// One group of commits as one PostgreSQL transaction (see postgres_store.h for the design).
#ifndef IDV_STORE_POSTGRES_GROUP_COMMIT_H_
#define IDV_STORE_POSTGRES_GROUP_COMMIT_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "audit/log.h"
#include "store/audit_log.h"
#include "store/postgres/pg.h"
#include "store/store.h"

namespace idv::store::pg {

struct GroupContext {
  std::string node_id;
  // This process's claim on node_id (idv_nodes.owner).
  std::string owner;
  absl::Duration node_lease;
  // Re-check entries this node commits are leased to it for this long.
  absl::Duration recheck_lease;
  CheckpointPolicy checkpoints;
};

struct GroupResult {
  // One per commit, in order.
  std::vector<absl::StatusOr<CommitResult>> results;
  // The log after the group.
  LogState log;
  // The sequence of the group's first record; 0 when it wrote none.
  uint64_t first_sequence = 0;
};

// Runs `commits` as one transaction on top of `log`: BEGIN, the node-lease fence,
// the row locks and reads decisions depend on, the decisions, the writes, COMMIT. On failure
// nothing of it is applied, except when COMMIT was sent (`*commit_sent`) and the connection is
// lost (!conn.ok()): then the caller must find out whether `out->first_sequence` is stored
// (HasRecord) to know if `*out` took effect. FailedPrecondition from the fence means another
// process holds this node id.
// With `force_checkpoint`, a checkpoint is signed whenever records were added since the last.
absl::Status RunGroup(Conn& conn, const GroupContext& ctx, const LogState& log,
                      const std::vector<VerificationCommit*>& commits, bool force_checkpoint,
                      GroupResult* out, bool* commit_sent);

// `node_id`'s log as stored.
absl::StatusOr<LogState> ReadLogState(Conn& conn, const std::string& node_id);

// Stored Merkle hashes of one node's log.
class HashReader : public audit::HashReader {
 public:
  HashReader(Conn& conn, std::string node_id) : conn_(conn), node_id_(std::move(node_id)) {}
  absl::StatusOr<std::vector<audit::Hash>> ReadHashes(
      const std::vector<int64_t>& indexes) const override;

 private:
  Conn& conn_;
  std::string node_id_;
};

// Adds `counts` to `node_id`'s hourly counters (idv_audit_stats), as one statement of `batch`.
void AddCounts(Batch& batch, const std::string& node_id, const std::map<StatsKey, int64_t>& counts);

// Whether record `sequence` of `node_id`'s log is stored.
absl::StatusOr<bool> HasRecord(Conn& conn, const std::string& node_id, uint64_t sequence);

}  // namespace idv::store::pg

#endif  // IDV_STORE_POSTGRES_GROUP_COMMIT_H_
