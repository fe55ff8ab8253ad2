// Rate limits and the anti-enumeration budget (idv.config.v1.LimitsConfig): token buckets per API
// client, per account and per identity fingerprint, each of a tenant.
//
// Shared across nodes by division: each node's buckets hold the configured figure divided by the
// number of live nodes (set_live_nodes), so the cluster as a whole never allows more than the
// figure, however calls are spread over nodes; a caller using one node gets that node's share.
// Nothing on the request path waits for the store. Buckets live in memory, in shards under a
// mutex each; a full bucket is the same as no bucket, so idle ones are dropped when a shard grows
// past its cap. Thread-safe.
#ifndef IDV_SERVICES_LIMITS_H_
#define IDV_SERVICES_LIMITS_H_

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "idv/config/v1/config.pb.h"
#include "idv/v1/verification.pb.h"
#include "store/store.h"

namespace idv::services {

class Limits {
 public:
  explicit Limits(idv::config::v1::LimitsConfig config);
  ~Limits() { StopRefreshing(); }

  // Keeps the live node count from `store` current, asking every `every` on a thread of its own.
  void StartRefreshing(store::Store& store, absl::Duration every);
  void StopRefreshing();
  // Recounts now (a node started), without waiting for the next periodic count.
  void RefreshNow();

  // Each node enforces 1/n of every figure. At least 1.
  void set_live_nodes(int n);
  int live_nodes() const { return live_nodes_.load(std::memory_order_relaxed); }

  // Whether `tenant` answers MISMATCH and NOT_FOUND alike (LimitSet.uniform_not_verified).
  bool UniformNotVerified(absl::string_view tenant) const;
  // With that option: turns a MISMATCH or NOT_FOUND answer into the uniform one, in place.
  void MaskNotVerified(absl::string_view tenant, idv::v1::Outcome* outcome, idv::v1::Reason* reason,
                       google::protobuf::RepeatedPtrField<idv::v1::Check>* checks) const;

  // One call of `client_id` of `tenant`: false when over its rate, with how long until one more
  // call would be allowed.
  bool AllowCall(absl::string_view tenant, absl::string_view client_id, absl::Time now,
                 absl::Duration* retry_after);
  // One Verify for `account_id`: false when the account was tried too often.
  bool AllowAccount(absl::string_view tenant, absl::string_view account_id, absl::Time now);
  // Drops the account's bucket (its data was deleted): the next call starts from a full one.
  void ForgetAccount(absl::string_view tenant, absl::string_view account_id);
  // Before an authority is asked about `identity` (a fingerprint): reserves the cost of a failure
  // from its budget, or answers false when the budget has no room for one. Calls in flight
  // together cannot overdraw it.
  bool ReserveIdentity(absl::string_view tenant, absl::string_view identity, absl::Time now);
  // Once the authorities answered: a MISMATCH or NOT_FOUND keeps the reservation (cost 1), a
  // VERIFIED gives back all but 0.1, anything else (no answer) gives it all back.
  void SettleIdentity(absl::string_view tenant, absl::string_view identity,
                      idv::v1::Outcome outcome, absl::Time now);

 private:
  struct Rate {
    double per_second = 0;  // 0: unlimited
    double burst = 0;
  };
  struct Bucket {
    double tokens = 0;
    absl::Time refilled;
  };
  struct Shard {
    std::mutex mu;
    absl::flat_hash_map<std::string, Bucket> buckets ABSL_GUARDED_BY(mu);
  };
  enum Kind : char { kClient = 'c', kAccount = 'a', kIdentity = 'i' };

  const idv::config::v1::LimitSet& For(absl::string_view tenant) const;
  Rate RateOf(Kind kind, const idv::config::v1::LimitSet& set) const;
  // Refills the bucket of (kind, tenant, key) to `now`, then lets `fn(tokens)` look at and change
  // its tokens; returns what fn returns.
  static std::string BucketId(Kind kind, absl::string_view tenant, absl::string_view key);
  Shard& ShardOf(const std::string& id) { return shards_[absl::HashOf(id) % kShards]; }
  template <typename Fn>
  auto WithBucket(Kind kind, absl::string_view tenant, absl::string_view key, const Rate& rate,
                  absl::Time now, Fn fn);

  const idv::config::v1::LimitsConfig config_;
  std::mutex refresh_mu_;
  std::condition_variable refresh_wake_;
  bool stop_ = false;         // guarded by refresh_mu_
  bool refresh_now_ = false;  // guarded by refresh_mu_
  std::thread refresher_;
  std::atomic<int> live_nodes_{1};
  static constexpr size_t kShards = 16;
  static constexpr size_t kMaxBucketsPerShard = 1 << 16;
  std::array<Shard, kShards> shards_;
};

}  // namespace idv::services

#endif  // IDV_SERVICES_LIMITS_H_
