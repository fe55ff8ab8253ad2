#include "store/stats_rollup.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace idv::store {

int LatencyBucket(uint64_t micros) {
  if (micros <= 1) return 0;
  int b = static_cast<int>(std::ceil(8 * std::log2(static_cast<double>(micros))));
  // Floating point may land one off at exact powers; settle on the defining inequality.
  while (b > 0 && LatencyBucketUpper(b - 1) >= micros) --b;
  while (LatencyBucketUpper(b) < micros) ++b;
  return b;
}

uint64_t LatencyBucketUpper(int bucket) {
  return static_cast<uint64_t>(std::ceil(std::exp2(bucket / 8.0)));
}

bool IsVerificationRecord(const idv::store::v1::AuditRecord& r) {
  switch (r.kind()) {
    case idv::store::v1::VERIFICATION:
    case idv::store::v1::SETTLEMENT:
      return true;
    case idv::store::v1::RECORD_KIND_UNSPECIFIED:
      return !r.has_admin_action();  // records from before kinds: administrative changes had this
    default:
      return false;
  }
}

void AddToRollup(const idv::store::v1::AuditRecord& r, std::map<StatsKey, int64_t>& counts) {
  if (!IsVerificationRecord(r)) return;
  const int64_t hour = r.decided_at().seconds() - ((r.decided_at().seconds() % 3600) + 3600) % 3600;
  auto add = [&](const char* dim, std::string key) {
    ++counts[StatsKey{r.tenant(), hour, dim, std::move(key)}];
  };
  add(kStatsTotal, "");
  add(kStatsOutcome, idv::v1::Outcome_Name(r.outcome()));
  add(kStatsReason, idv::v1::ReasonCode_Name(r.reason().code()));
  add(kStatsDocument, idv::v1::DocumentType_Name(r.document_type()));
  for (const idv::v1::Check& c : r.checks()) {
    add(kStatsBackend, c.backend());
    add(kStatsLatency, absl::StrCat(c.backend(), "/", LatencyBucket(c.latency_us())));
  }
}

}  // namespace idv::store
