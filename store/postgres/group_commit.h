// One group of commits as one PostgreSQL transaction (see postgres_store.h for the design).
#ifndef IDV_STORE_POSTGRES_GROUP_COMMIT_H_
#define IDV_STORE_POSTGRES_GROUP_COMMIT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "store/chain.h"
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
};

struct GroupResult {
  // One per commit, in order.
  std::vector<absl::StatusOr<CommitResult>> results;
  // The log head after the group.
  LogHead head;
  // The sequence of the group's first record; 0 when it wrote none.
  uint64_t first_sequence = 0;
};

// Runs `commits` as one transaction on top of the log at `head`: BEGIN, the node-lease fence,
// the row locks and reads decisions depend on, the decisions, the writes, COMMIT. On failure
// nothing of it is applied, except when COMMIT was sent (`*commit_sent`) and the connection is
// lost (!conn.ok()): then the caller must find out whether `out->first_sequence` is stored
// (HasRecord) to know if `*out` took effect. FailedPrecondition from the fence means another
// process holds this node id.
absl::Status RunGroup(Conn& conn, const GroupContext& ctx, const LogHead& head,
                      const std::vector<VerificationCommit*>& commits, GroupResult* out,
                      bool* commit_sent);

// The head of `node_id`'s log as stored.
absl::StatusOr<LogHead> ReadLogHead(Conn& conn, const std::string& node_id);

// Whether record `sequence` of `node_id`'s log is stored.
absl::StatusOr<bool> HasRecord(Conn& conn, const std::string& node_id, uint64_t sequence);

}  // namespace idv::store::pg

#endif  // IDV_STORE_POSTGRES_GROUP_COMMIT_H_
