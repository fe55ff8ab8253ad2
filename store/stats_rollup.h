// Hourly counts of verifications, kept by the store beside the audit log so that GetStats over
// any whole hours reads a few rows per hour instead of every record.
//
// Each verification or settlement record adds 1 to counters of its tenant and hour: "total", its
// outcome, its reason, its document type, and for each backend check the backend and one
// latency bucket of that backend. Engines add a group's counts in the same atomic write as its
// records, so the counters always match the log.
#ifndef IDV_STORE_STATS_ROLLUP_H_
#define IDV_STORE_STATS_ROLLUP_H_

#include <cstdint>
#include <map>
#include <string>
#include <tuple>

#include "idv/store/v1/store.pb.h"

namespace idv::store {

// (tenant, hour start in Unix seconds, dimension, key).
using StatsKey = std::tuple<std::string, int64_t, std::string, std::string>;

// Dimensions.
inline constexpr char kStatsTotal[] = "total";        // key ""
inline constexpr char kStatsOutcome[] = "outcome";    // key: the Outcome's name
inline constexpr char kStatsReason[] = "reason";      // key: the ReasonCode's name
inline constexpr char kStatsDocument[] = "document";  // key: the DocumentType's name
inline constexpr char kStatsBackend[] = "backend";    // key: the backend's name
inline constexpr char kStatsLatency[] = "latency";    // key: "<backend>/<bucket>"

// Whether `record` is a verification or a settlement (what the counters and the account index
// hold), rather than an administrative change, a security event or an auditor's read.
bool IsVerificationRecord(const idv::store::v1::AuditRecord& record);

// Adds what `record` counts to `counts` (nothing for other kinds than verifications and
// settlements).
void AddToRollup(const idv::store::v1::AuditRecord& record, std::map<StatsKey, int64_t>& counts);

// Latency buckets: bucket b holds latencies in (Upper(b-1), Upper(b)] microseconds, Upper(b) =
// 2^(b/8), so any percentile read from them is at most 9 % above the true value.
int LatencyBucket(uint64_t micros);
uint64_t LatencyBucketUpper(int bucket);

// One counter as read back: summed over nodes.
struct StatsCount {
  int64_t hour = 0;
  std::string dimension;
  std::string key;
  int64_t count = 0;
};

}  // namespace idv::store

#endif  // IDV_STORE_STATS_ROLLUP_H_
