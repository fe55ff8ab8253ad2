// Retention of the audit trail: a job on each node removes its own log's oldest records once they
// are past their kind's retention (idv.config.v1.AuditRetention), in steps that each end at a
// signed checkpoint. Each step first appends a RetentionPurge record to the log, then removes the
// records in one atomic write (Store::PurgeAuditLog); VerifyIntegrity starts from that checkpoint
// and checks the purge record says the same, so removing more than retention allowed, or moving
// the mark, is found.
#ifndef IDV_SERVICES_RETENTION_H_
#define IDV_SERVICES_RETENTION_H_

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "idv/config/v1/config.pb.h"
#include "store/store.h"

namespace idv::services {

struct RetentionPolicy {
  absl::Duration verification = absl::Hours(24 * 180);
  absl::Duration security = absl::Hours(24 * 180);
  absl::Duration admin = absl::Hours(24 * 365);
  absl::Duration auditor_read = absl::Hours(24 * 180);
  absl::Duration interval = absl::Hours(1);
  uint64_t batch = 100000;
  bool disabled = false;

  // How long a record of `kind` is kept.
  absl::Duration For(idv::store::v1::RecordKind kind) const;
};

// The policy `config` asks for; InvalidArgument below the legal minimum (180 days for
// verification and security records) or for a zero retention.
absl::StatusOr<RetentionPolicy> RetentionPolicyFor(const idv::config::v1::AuditRetention& config);

class RetentionPurger {
 public:
  RetentionPurger(store::Store& store, RetentionPolicy policy) : store_(store), policy_(policy) {}
  ~RetentionPurger() { Stop(); }

  // Runs RunOnce now and every `policy.interval` on a thread of its own (unless disabled), and
  // deletes expired idempotency keys (Store::PurgeIdempotency) on the same schedule.
  void Start();
  void Stop();

  // Purges this node's log as far as the policy allows at `now`, step by step; returns the
  // records removed. Blocks on the store.
  absl::StatusOr<uint64_t> RunOnce(absl::Time now);

 private:
  // One step: at most policy_.batch records, up to a checkpoint. 0 when nothing can go.
  absl::StatusOr<uint64_t> Step(absl::Time now);
  void Loop();

  store::Store& store_;
  const RetentionPolicy policy_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace idv::services

#endif  // IDV_SERVICES_RETENTION_H_
