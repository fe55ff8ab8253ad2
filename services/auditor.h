// What auditors ask of the stored audit logs, without gRPC: checkpoints, records, proofs and
// integrity checks over any node's log, tenant-scoped. Methods block (they wait for the store):
// call them from a pool of their own, never from a gRPC thread (AuditServiceImpl does).
// Thread-safe.
#ifndef IDV_SERVICES_AUDITOR_H_
#define IDV_SERVICES_AUDITOR_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "audit/note.h"
#include "idv/v1/audit.pb.h"
#include "store/store.h"

namespace idv::services {

class Auditor {
 public:
  // `origin_prefix` names the logs ("<prefix>/<node id>"); `key` verifies their checkpoints.
  Auditor(store::Store& store, std::string origin_prefix, audit::PublicKey key)
      : store_(store), origin_prefix_(std::move(origin_prefix)), key_(key) {}

  // Appends a record of an auditor's read (`action`, described by `what`) to this node's log,
  // durably; the read is answered only when that succeeded.
  absl::Status RecordRead(const std::string& tenant, const std::string& client_id,
                          const std::string& action, const std::string& what) const;

  // The verifier key of `node_id`'s checkpoints.
  std::string VerifierKey(const std::string& node_id) const;

  absl::StatusOr<idv::v1::GetCheckpointResponse> Checkpoints(const std::string& node_id) const;
  // NotFound for another tenant's record (indistinguishable from a missing one).
  absl::StatusOr<idv::v1::AuditRecordEntry> Record(const std::string& tenant,
                                                   const std::string& node_id,
                                                   uint64_t index) const;
  // The tenant's records newest first across logs (see idv.v1.ListRecordsRequest).
  absl::StatusOr<idv::v1::ListRecordsResponse> List(
      const std::string& tenant, const idv::v1::ListRecordsRequest& request) const;
  absl::StatusOr<idv::v1::GetStatsResponse> Stats(const std::string& tenant,
                                                  const idv::v1::GetStatsRequest& request) const;
  absl::StatusOr<idv::v1::InclusionProof> ProveInclusion(const std::string& node_id, uint64_t index,
                                                         uint64_t tree_size) const;
  absl::StatusOr<idv::v1::ConsistencyProof> ProveConsistency(const std::string& node_id,
                                                             uint64_t old_size,
                                                             uint64_t new_size) const;
  // The whole log, or records first..last (both 0: whole; last 0: to the end).
  absl::StatusOr<idv::v1::IntegrityReport> VerifyIntegrity(const std::string& node_id,
                                                           const std::vector<std::string>& trusted,
                                                           uint64_t first = 0,
                                                           uint64_t last = 0) const;

 private:
  // The size of the newest checkpoint of `node_id`'s log; FailedPrecondition when none exists.
  absl::StatusOr<uint64_t> NewestCheckpointSize(const std::string& node_id) const;
  // The first sequence of `node_id`'s log (of `size` records) whose record was decided at or
  // after `seconds`; size + 1 when none was.
  absl::StatusOr<uint64_t> FirstAfter(const std::string& node_id, uint64_t size,
                                      int64_t seconds) const;
  // GetStats from the store's hourly counters, for [from_hour, to_hour).
  absl::StatusOr<idv::v1::GetStatsResponse> StatsFromCounters(
      const std::string& tenant, const idv::v1::GetStatsRequest& request, int64_t from_hour,
      int64_t to_hour) const;
  // `node_id`'s log as the store lists it; NotFound for an unknown node.
  absl::StatusOr<store::LogInfo> Log(const std::string& node_id) const;
  // OK when the log's purge record says what the store's retention mark says.
  absl::Status CheckPurgeRecord(const std::string& node_id, const store::LogInfo& log) const;
  // The size of `node_id`'s log; NotFound for an unknown node.
  absl::StatusOr<uint64_t> LogSize(const std::string& node_id) const;

  store::Store& store_;
  const std::string origin_prefix_;
  const audit::PublicKey key_;
};

}  // namespace idv::services

#endif  // IDV_SERVICES_AUDITOR_H_
