#include "store/audit_log.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"

namespace idv::store {

AppendedRecord AppendToLog(idv::store::v1::AuditRecord& record, const std::string& node_id,
                           LogState& state) {
  AppendedRecord out;
  out.sequence = state.next_sequence();
  record.set_sequence(out.sequence);
  record.set_node_id(node_id);
  record.SerializeToString(&out.bytes);
  out.leaf = audit::LeafHash(out.bytes);
  out.first_hash_index = audit::StoredHashCount(state.frontier.size());
  out.hashes = state.frontier.Append(out.leaf);
  if (state.unsigned_since == absl::InfiniteFuture()) state.unsigned_since = absl::Now();
  return out;
}

bool CheckpointDue(const CheckpointPolicy& policy, const LogState& state, absl::Time now,
                   bool force) {
  const uint64_t size = static_cast<uint64_t>(state.frontier.size());
  if (!policy.sign || size == state.checkpoint_size) return false;
  return force || size - state.checkpoint_size >= policy.every_records ||
         now - state.unsigned_since >= policy.every;
}

std::chrono::nanoseconds IdleWake(const CheckpointPolicy& policy) {
  return absl::ToChronoNanoseconds(
      std::clamp(policy.every, absl::Milliseconds(10), absl::Seconds(1)));
}

std::optional<idv::store::v1::Checkpoint> DueCheckpoint(const CheckpointPolicy& policy,
                                                        const std::string& node_id, LogState& state,
                                                        absl::Time now, bool force) {
  if (!CheckpointDue(policy, state, now, force)) return std::nullopt;
  const uint64_t size = static_cast<uint64_t>(state.frontier.size());
  audit::Checkpoint c{absl::StrCat(policy.origin_prefix, "/", node_id), size,
                      state.frontier.Root()};
  idv::store::v1::Checkpoint out;
  out.set_node_id(node_id);
  out.set_size(size);
  out.set_root(c.root.data(), c.root.size());
  out.set_note(policy.sign(c));
  *out.mutable_created_at() = ToProto(now);
  state.checkpoint_size = size;
  state.unsigned_since = absl::InfiniteFuture();
  return out;
}

}  // namespace idv::store
