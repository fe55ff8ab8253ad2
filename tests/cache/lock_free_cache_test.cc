#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <random>
#include <thread>

#include "cache/cache.h"

namespace idv::cache {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1800000000);

CacheKey Key(uint64_t n) {
  // Fingerprints are uniform; a multiplicative hash of n stands in for one.
  CacheKey k{};
  for (int w = 0; w < 4; ++w) {
    const uint64_t v = (n + 1) * 0x9E3779B97F4A7C15ull ^ (static_cast<uint64_t>(w) << 56);
    std::memcpy(k.data() + 8 * w, &v, 8);
  }
  return k;
}

// The answer a key always carries in these tests, so a torn read would show.
CachedVerdict VerdictFor(uint64_t n) {
  static const idv::v1::Outcome kOutcomes[] = {idv::v1::VERIFIED, idv::v1::MISMATCH,
                                               idv::v1::NOT_FOUND};
  CachedVerdict v;
  v.outcome = kOutcomes[n % 3];
  v.reason = static_cast<idv::v1::ReasonCode>(20 + n % 3);
  return v;
}

std::unique_ptr<Cache> Make(size_t capacity) {
  CacheOptions o;
  o.capacity = capacity;
  o.positive_ttl = absl::Hours(1);
  o.negative_ttl = absl::Minutes(1);
  auto c = NewLockFreeCache(o);
  EXPECT_TRUE(c.ok());
  return *std::move(c);
}

TEST(LockFreeCacheTest, GetPutUpdateInvalidate) {
  auto cache = Make(1024);
  EXPECT_FALSE(cache->Get(Key(1), kNow).has_value());
  cache->Put(Key(1), VerdictFor(0), kNow);  // VERIFIED
  auto hit = cache->Get(Key(1), kNow);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->outcome, idv::v1::VERIFIED);
  EXPECT_EQ(hit->reason, 20);
  cache->Put(Key(1), VerdictFor(1), kNow);  // updated in place: MISMATCH
  EXPECT_EQ(cache->Get(Key(1), kNow)->outcome, idv::v1::MISMATCH);
  cache->Invalidate(Key(1));
  EXPECT_FALSE(cache->Get(Key(1), kNow).has_value());
  CacheStats s = cache->Stats();
  EXPECT_EQ(s.hits, 2u);
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.inserts, 2u);
  EXPECT_EQ(s.invalidations, 1u);
}

TEST(LockFreeCacheTest, AVerdictKeepsTheElementsItConfirmed) {
  auto cache = Make(1024);
  cache->Put(Key(7), {idv::v1::VERIFIED, idv::v1::ELEMENTS_MATCH, 0b1110}, kNow);
  auto hit = cache->Get(Key(7), kNow);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->outcome, idv::v1::VERIFIED);
  EXPECT_EQ(hit->reason, idv::v1::ELEMENTS_MATCH);
  EXPECT_EQ(hit->confirmed, 0b1110);
}

TEST(LockFreeCacheTest, OnlyDefinitiveAnswersAreCachedWithTheirOwnTtl) {
  auto cache = Make(1024);
  CachedVerdict unavailable{idv::v1::UNAVAILABLE, idv::v1::AUTHORITY_TIMEOUT};
  cache->Put(Key(1), unavailable, kNow);
  cache->Put(Key(2), CachedVerdict{idv::v1::PENDING, idv::v1::AUTHORITY_PENDING}, kNow);
  EXPECT_FALSE(cache->Get(Key(1), kNow).has_value());
  EXPECT_FALSE(cache->Get(Key(2), kNow).has_value());
  cache->Put(Key(3), VerdictFor(0), kNow);  // positive: 1 h
  cache->Put(Key(4), VerdictFor(1), kNow);  // negative: 1 min
  EXPECT_TRUE(cache->Get(Key(3), kNow + absl::Minutes(59)).has_value());
  EXPECT_FALSE(cache->Get(Key(3), kNow + absl::Minutes(61)).has_value());
  EXPECT_TRUE(cache->Get(Key(4), kNow + absl::Seconds(59)).has_value());
  EXPECT_FALSE(cache->Get(Key(4), kNow + absl::Seconds(61)).has_value());
}

TEST(LockFreeCacheTest, EntriesThatWereHitOutliveThoseThatWereNot) {
  auto cache = Make(8);  // one neighborhood: every key competes for the same 8 slots
  for (uint64_t n = 0; n < 8; ++n) cache->Put(Key(n), VerdictFor(n), kNow);
  for (uint64_t n = 0; n < 8; n += 2) ASSERT_TRUE(cache->Get(Key(n), kNow).has_value()) << n;
  for (uint64_t n = 100; n < 103; ++n) cache->Put(Key(n), VerdictFor(n), kNow);
  int kept = 0;
  for (uint64_t n = 0; n < 8; n += 2) kept += cache->Get(Key(n), kNow).has_value();
  // Three inserts may age at most a few bits (1 insert in 8); the hit entries stay.
  EXPECT_GE(kept, 3);
  EXPECT_EQ(cache->Stats().evictions, 3u);
}

TEST(LockFreeCacheTest, OneOffClaimsDoNotFlushTheWorkingSet) {
  auto cache = Make(4096);
  constexpr int kWorking = 1024;
  for (int n = 0; n < kWorking; ++n) cache->Put(Key(n), VerdictFor(n), kNow);
  int hits = 0, asks = 0;
  for (int round = 0; round < 20; ++round) {
    for (int n = 0; n < kWorking; ++n, ++asks) {
      if (cache->Get(Key(n), kNow)) {
        ++hits;
      } else {
        cache->Put(Key(n), VerdictFor(n), kNow);
      }
    }
    // Between rounds, a burst of claims seen once (twice the cache) passes through.
    for (int n = 0; n < 8192; ++n) {
      const uint64_t once = 1000000 + round * 10000 + n;
      cache->Put(Key(once), VerdictFor(once), kNow);
    }
  }
  EXPECT_GT(static_cast<double>(hits) / asks, 0.7) << hits << " of " << asks;
}

// Every hit must carry exactly the value written for its key: a torn read between a writer's key
// and value stores would show as a mismatch.
void Hammer(size_t capacity, uint64_t keys, int put_percent) {
  auto cache = Make(capacity);
  constexpr int kThreads = 4;
#ifdef IDV_UNDER_TSAN
  constexpr int kOps = 20000;
#else
  constexpr int kOps = 400000;
#endif
  std::atomic<int> wrong{0};
  std::atomic<uint64_t> hits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      for (int i = 0; i < kOps; ++i) {
        const uint64_t n = rng() % keys;
        const uint64_t op = rng() % 100;
        if (op >= static_cast<uint64_t>(put_percent + 2)) {
          if (auto v = cache->Get(Key(n), kNow)) {
            hits.fetch_add(1, std::memory_order_relaxed);
            const CachedVerdict want = VerdictFor(n);
            if (v->outcome != want.outcome || v->reason != want.reason) wrong.fetch_add(1);
          }
        } else if (op >= 2) {
          cache->Put(Key(n), VerdictFor(n), kNow);
        } else {
          cache->Invalidate(Key(n));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(hits.load(), 0u);
}

TEST(LockFreeCacheTest, ConcurrentUseNeverReturnsAnotherKeysAnswer) {
  Hammer(1 << 12, 20000, 28);  // 5x the capacity: constant eviction
  Hammer(8, 64, 50);           // one neighborhood, half writes: maximal contention per slot
}

#ifndef IDV_UNDER_TSAN
size_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t total = 0, resident = 0;
  statm >> total >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

TEST(LockFreeCacheTest, MemoryStaysFlatPastCapacity) {
  constexpr size_t kCapacity = 1 << 20;
  auto cache = Make(kCapacity);
  uint64_t n = 0;
  for (; n < kCapacity; ++n) cache->Put(Key(n), VerdictFor(n), kNow);
  const size_t at_capacity = ResidentBytes();
  for (; n < 10 * kCapacity; ++n) cache->Put(Key(n), VerdictFor(n), kNow);
  const size_t at_ten_times = ResidentBytes();
  std::cout << "RSS after 1x capacity: " << at_capacity / (1 << 20)
            << " MiB, after 10x: " << at_ten_times / (1 << 20) << " MiB\n";
  EXPECT_LE(static_cast<double>(at_ten_times), 1.1 * static_cast<double>(at_capacity));
  EXPECT_GT(cache->Stats().evictions, 8 * kCapacity);
}
#endif

TEST(LockFreeCacheTest, RejectsBadOptions) {
  CacheOptions o;
  o.capacity = 0;
  EXPECT_FALSE(NewLockFreeCache(o).ok());
  o.capacity = 16;
  o.negative_ttl = -absl::Seconds(1);
  EXPECT_FALSE(NewLockFreeCache(o).ok());
}

}  // namespace
}  // namespace idv::cache
