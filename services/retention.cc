#include "services/retention.h"

#include <pthread.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "audit/records.h"
#include "common/proto_time.h"
#include "services/verification_id.h"
#include "spdlog/spdlog.h"

namespace idv::services {

using store::Await;

absl::Duration RetentionPolicy::For(idv::store::v1::RecordKind kind) const {
  switch (kind) {
    case idv::store::v1::SECURITY_EVENT:
      return security;
    case idv::store::v1::ADMIN_CHANGE:
      return admin;
    case idv::store::v1::AUDITOR_READ:
      return auditor_read;
    default:  // verifications, settlements, records from before kinds
      return verification;
  }
}

absl::StatusOr<RetentionPolicy> RetentionPolicyFor(const idv::config::v1::AuditRetention& c) {
  RetentionPolicy p;
  constexpr uint32_t kLegalMinimumDays = 180;
  auto days = [](uint32_t d) { return absl::Hours(24) * static_cast<int64_t>(d); };
  if (c.verification_days() != 0) {
    if (c.verification_days() < kLegalMinimumDays) {
      return absl::InvalidArgumentError(absl::StrCat(
          "audit.retention.verification_days is ", c.verification_days(),
          ": verification records are kept at least 180 days (network logs, six months)"));
    }
    p.verification = days(c.verification_days());
  }
  if (c.security_days() != 0) {
    if (c.security_days() < kLegalMinimumDays) {
      return absl::InvalidArgumentError(
          absl::StrCat("audit.retention.security_days is ", c.security_days(),
                       ": security records are kept at least 180 days"));
    }
    p.security = days(c.security_days());
  }
  if (c.admin_days() != 0) p.admin = days(c.admin_days());
  if (c.auditor_read_days() != 0) p.auditor_read = days(c.auditor_read_days());
  if (c.has_purge_interval())
    p.interval = std::max(absl::Seconds(1), FromProto(c.purge_interval()));
  if (c.purge_batch() != 0) p.batch = c.purge_batch();
  p.disabled = c.disabled();
  return p;
}

void RetentionPurger::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

void RetentionPurger::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RetentionPurger::Loop() {
  pthread_setname_np(pthread_self(), "idv-retention");
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    if (!policy_.disabled) {
      absl::StatusOr<uint64_t> removed = RunOnce(absl::Now());
      if (!removed.ok()) {
        spdlog::warn("audit retention: {}", std::string(removed.status().message()));
      }
    }
    absl::StatusOr<uint64_t> expired = store::Await<uint64_t>(
        [&](auto done) { store_.PurgeIdempotency(absl::Now(), std::move(done)); });
    if (!expired.ok()) {
      spdlog::warn("expired idempotency keys: {}", std::string(expired.status().message()));
    } else if (*expired > 0) {
      spdlog::info("{} expired idempotency keys deleted", *expired);
    }
    lock.lock();
    wake_.wait_for(lock, absl::ToChronoNanoseconds(policy_.interval), [this] { return stop_; });
  }
}

absl::StatusOr<uint64_t> RetentionPurger::RunOnce(absl::Time now) {
  uint64_t total = 0;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) break;
    }
    absl::StatusOr<uint64_t> removed = Step(now);
    if (!removed.ok()) return removed.status();
    if (*removed == 0) break;
    total += *removed;
  }
  return total;
}

absl::StatusOr<uint64_t> RetentionPurger::Step(absl::Time now) {
  const std::string& node = store_.node_id();
  absl::StatusOr<std::vector<store::LogInfo>> logs =
      Await<std::vector<store::LogInfo>>([&](auto done) { store_.ListLogs(std::move(done)); });
  if (!logs.ok()) return logs.status();
  auto log = std::find_if(logs->begin(), logs->end(),
                          [&](const store::LogInfo& l) { return l.node_id == node; });
  if (log == logs->end()) return 0;
  const uint64_t purged = log->purged_through;
  // The oldest records, while each is past its kind's retention.
  uint64_t last_expired = purged;
  absl::Time newest_removed = absl::InfinitePast();
  std::vector<absl::Time> decided;  // of records purged+1 .. last_expired
  const uint64_t limit = purged + policy_.batch;
  while (last_expired < limit) {
    absl::StatusOr<std::vector<store::StoredRecord>> page =
        Await<std::vector<store::StoredRecord>>([&](auto done) {
          store_.ReadAuditRecords(node, last_expired + 1,
                                  std::min<uint64_t>(1000, limit - last_expired), std::move(done));
        });
    if (!page.ok()) return page.status();
    bool kept = page->empty();
    for (const store::StoredRecord& r : *page) {
      idv::store::v1::AuditRecord record;
      if (r.sequence != last_expired + 1 || !record.ParseFromString(r.bytes)) {
        return absl::DataLossError(absl::StrCat("record ", last_expired + 1,
                                                " of this node's log is missing or unreadable"));
      }
      const absl::Time at = FromProto(record.decided_at());
      if (at + policy_.For(record.kind()) > now) {
        kept = true;
        break;
      }
      decided.push_back(at);
      last_expired = r.sequence;
    }
    if (kept) break;
  }
  if (last_expired == purged) return 0;
  // Up to the newest signed checkpoint within the expired records.
  absl::StatusOr<std::vector<idv::store::v1::Checkpoint>> checkpoints =
      Await<std::vector<idv::store::v1::Checkpoint>>(
          [&](auto done) { store_.ReadCheckpoints(node, SIZE_MAX, std::move(done)); });
  if (!checkpoints.ok()) return checkpoints.status();
  uint64_t through = 0;
  for (const idv::store::v1::Checkpoint& c : *checkpoints) {
    if (c.size() > purged && c.size() <= last_expired) through = std::max(through, c.size());
  }
  if (through == 0) return 0;
  for (uint64_t s = purged + 1; s <= through; ++s) {
    newest_removed = std::max(newest_removed, decided[s - purged - 1]);
  }
  store::VerificationCommit commit;
  commit.record = audit::RecordBuilder::RetentionPurge(NewVerificationId(now), absl::Now(), node,
                                                       through, newest_removed)
                      .Build();
  absl::StatusOr<store::CommitResult> written = Await<store::CommitResult>(
      [&](auto done) { store_.CommitVerification(std::move(commit), std::move(done)); });
  if (!written.ok()) return written.status();
  absl::StatusOr<uint64_t> removed = Await<uint64_t>(
      [&](auto done) { store_.PurgeAuditLog(through, written->sequence, std::move(done)); });
  if (!removed.ok()) return removed.status();
  spdlog::info("audit retention: removed records {}..{} of log {} (purge record {})", purged + 1,
               through, node, written->sequence);
  return *removed;
}

}  // namespace idv::services
