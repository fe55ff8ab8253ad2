#include "services/limits.h"

#include <pthread.h>

#include <algorithm>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"

namespace idv::services {

Limits::Limits(idv::config::v1::LimitsConfig config) : config_(std::move(config)) {}

void Limits::StartRefreshing(store::Store& store, absl::Duration every) {
  if (refresher_.joinable()) return;
  // The first count before serving: until then this node would allow the whole figure.
  absl::StatusOr<int> first =
      store::Await<int>([&](auto done) { store.CountLiveNodes(std::move(done)); });
  if (first.ok()) set_live_nodes(*first);
  refresher_ = std::thread([this, &store, every] {
    pthread_setname_np(pthread_self(), "idv-limits");
    std::unique_lock<std::mutex> lock(refresh_mu_);
    while (!stop_) {
      lock.unlock();
      absl::StatusOr<int> n =
          store::Await<int>([&](auto done) { store.CountLiveNodes(std::move(done)); });
      if (n.ok()) set_live_nodes(*n);  // unreachable store: keep the last count
      lock.lock();
      refresh_wake_.wait_for(lock, absl::ToChronoNanoseconds(every),
                             [this] { return stop_ || refresh_now_; });
      refresh_now_ = false;
    }
  });
}

void Limits::RefreshNow() {
  {
    std::lock_guard<std::mutex> lock(refresh_mu_);
    refresh_now_ = true;
  }
  refresh_wake_.notify_all();
}

void Limits::StopRefreshing() {
  {
    std::lock_guard<std::mutex> lock(refresh_mu_);
    stop_ = true;
  }
  refresh_wake_.notify_all();
  if (refresher_.joinable()) refresher_.join();
}

void Limits::set_live_nodes(int n) { live_nodes_.store(std::max(1, n), std::memory_order_relaxed); }

const idv::config::v1::LimitSet& Limits::For(absl::string_view tenant) const {
  auto it = config_.tenants().find(std::string(tenant));
  return it == config_.tenants().end() ? config_.defaults() : it->second;
}

Limits::Rate Limits::RateOf(Kind kind, const idv::config::v1::LimitSet& set) const {
  const idv::config::v1::LimitSet& d = config_.defaults();
  Rate r;
  switch (kind) {
    case kClient: {
      r.per_second = set.client_calls_per_second() > 0 ? set.client_calls_per_second()
                                                       : d.client_calls_per_second();
      const uint32_t burst = set.client_burst() > 0 ? set.client_burst() : d.client_burst();
      r.burst = burst > 0 ? burst : std::max(1.0, 2 * r.per_second);
      break;
    }
    case kAccount: {
      const uint32_t n = set.account_attempts_per_hour() > 0 ? set.account_attempts_per_hour()
                                                             : d.account_attempts_per_hour();
      r.per_second = n / 3600.0;
      r.burst = n;
      break;
    }
    case kIdentity: {
      if (set.identity_budget_disabled() || d.identity_budget_disabled()) break;
      uint32_t n = set.identity_failures_per_hour() > 0 ? set.identity_failures_per_hour()
                                                        : d.identity_failures_per_hour();
      if (n == 0) n = 10;
      r.per_second = n / 3600.0;
      r.burst = n;
      break;
    }
  }
  // This node's share of the cluster's figure.
  const double share = 1.0 / live_nodes();
  r.per_second *= share;
  r.burst *= share;
  return r;
}

std::string Limits::BucketId(Kind kind, absl::string_view tenant, absl::string_view key) {
  return absl::StrCat(std::string(1, kind), tenant.size(), ":", tenant, key);
}

template <typename Fn>
auto Limits::WithBucket(Kind kind, absl::string_view tenant, absl::string_view key,
                        const Rate& rate, absl::Time now, Fn fn) {
  const std::string id = BucketId(kind, tenant, key);
  Shard& shard = ShardOf(id);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.buckets.find(id);
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= kMaxBucketsPerShard) {
      // Drop the buckets that have refilled: they hold nothing a new one would not.
      absl::erase_if(shard.buckets, [&](const auto& entry) {
        const Bucket& b = entry.second;
        return b.tokens + absl::ToDoubleSeconds(now - b.refilled) * rate.per_second >= rate.burst;
      });
    }
    it = shard.buckets.emplace(std::move(id), Bucket{rate.burst, now}).first;
  }
  Bucket& b = it->second;
  b.tokens =
      std::min(rate.burst,
               b.tokens + std::max(0.0, absl::ToDoubleSeconds(now - b.refilled)) * rate.per_second);
  b.refilled = now;
  return fn(b.tokens);
}

bool Limits::UniformNotVerified(absl::string_view tenant) const {
  return For(tenant).uniform_not_verified() || config_.defaults().uniform_not_verified();
}

void Limits::MaskNotVerified(absl::string_view tenant, idv::v1::Outcome* outcome,
                             idv::v1::Reason* reason,
                             google::protobuf::RepeatedPtrField<idv::v1::Check>* checks) const {
  if ((*outcome != idv::v1::MISMATCH && *outcome != idv::v1::NOT_FOUND) ||
      !UniformNotVerified(tenant)) {
    return;
  }
  *outcome = idv::v1::MISMATCH;
  reason->Clear();
  reason->set_code(idv::v1::ELEMENTS_MISMATCH);
  reason->set_message("The identity could not be verified.");
  checks->Clear();
}

bool Limits::AllowCall(absl::string_view tenant, absl::string_view client_id, absl::Time now,
                       absl::Duration* retry_after) {
  const Rate rate = RateOf(kClient, For(tenant));
  if (rate.per_second <= 0) return true;
  return WithBucket(kClient, tenant, client_id, rate, now, [&](double& tokens) {
    if (tokens >= 1) {
      tokens -= 1;
      return true;
    }
    *retry_after = absl::Seconds((1 - tokens) / rate.per_second);
    return false;
  });
}

bool Limits::AllowAccount(absl::string_view tenant, absl::string_view account_id, absl::Time now) {
  const Rate rate = RateOf(kAccount, For(tenant));
  if (rate.per_second <= 0) return true;
  return WithBucket(kAccount, tenant, account_id, rate, now, [](double& tokens) {
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  });
}

void Limits::ForgetAccount(absl::string_view tenant, absl::string_view account_id) {
  const std::string id = BucketId(kAccount, tenant, account_id);
  Shard& shard = ShardOf(id);
  std::lock_guard<std::mutex> lock(shard.mu);
  shard.buckets.erase(id);
}

bool Limits::ReserveIdentity(absl::string_view tenant, absl::string_view identity, absl::Time now) {
  const Rate rate = RateOf(kIdentity, For(tenant));
  if (rate.per_second <= 0) return true;
  return WithBucket(kIdentity, tenant, identity, rate, now, [](double& tokens) {
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  });
}

void Limits::SettleIdentity(absl::string_view tenant, absl::string_view identity,
                            idv::v1::Outcome outcome, absl::Time now) {
  const Rate rate = RateOf(kIdentity, For(tenant));
  if (rate.per_second <= 0) return;
  double refund = 1.0;
  if (outcome == idv::v1::MISMATCH || outcome == idv::v1::NOT_FOUND) refund = 0;
  if (outcome == idv::v1::VERIFIED) refund = 0.9;
  if (refund == 0) return;
  WithBucket(kIdentity, tenant, identity, rate, now, [&](double& tokens) {
    tokens = std::min(rate.burst, tokens + refund);
    return true;
  });
}

}  // namespace idv::services
