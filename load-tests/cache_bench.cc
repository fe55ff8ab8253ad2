// The result cache against the alternatives, in one run (Google Benchmark):
//   BM_ClaimFingerprint   one keyed BLAKE2b of a claim (what every Verify computes anyway)
//   BM_*Hit               one cache hit, single thread
//   BM_*Mix/<put %>       get/put mix over 1M keys on a 1M-entry cache, 1 and 2 threads
// for LockFree (cache/), MutexLru (absl::flat_hash_map + LRU list under one std::mutex), and
// Cuckoo (libcuckoo's cuckoohash_map, fine-grained locks, unbounded: no eviction).
//
//   build/load-tests/cache_bench --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <cstring>
#include <libcuckoo/cuckoohash_map.hh>
#include <list>
#include <mutex>
#include <random>

#include "absl/container/flat_hash_map.h"
#include "cache/cache.h"
#include "crypto/keyring.h"

namespace {

using idv::cache::CachedVerdict;
using idv::cache::CacheKey;

constexpr size_t kKeys = 1 << 20;
const absl::Time kNow = absl::FromUnixSeconds(1800000000);

struct KeyHash {
  size_t operator()(const CacheKey& k) const {
    size_t h;
    std::memcpy(&h, k.data(), sizeof h);
    return h;
  }
};

const std::vector<CacheKey>& Keys() {
  static const auto* keys = [] {
    auto* v = new std::vector<CacheKey>(kKeys);
    std::mt19937_64 rng(42);
    for (CacheKey& k : *v) {
      for (size_t i = 0; i < k.size(); i += 8) {
        const uint64_t r = rng();
        std::memcpy(k.data() + i, &r, 8);
      }
    }
    return v;
  }();
  return *keys;
}

const CachedVerdict kVerdict{idv::v1::VERIFIED, idv::v1::ELEMENTS_MATCH};

class MutexLru {
 public:
  explicit MutexLru(size_t capacity) : capacity_(capacity) { map_.reserve(capacity); }
  std::optional<CachedVerdict> Get(const CacheKey& k) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(k);
    if (it == map_.end()) return std::nullopt;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->second;
  }
  void Put(const CacheKey& k, const CachedVerdict& v) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(k);
    if (it != map_.end()) {
      it->second->second = v;
      lru_.splice(lru_.begin(), lru_, it->second);
      return;
    }
    if (map_.size() >= capacity_) {
      map_.erase(lru_.back().first);
      lru_.pop_back();
    }
    lru_.emplace_front(k, v);
    map_.emplace(k, lru_.begin());
  }

 private:
  const size_t capacity_;
  std::mutex mu_;
  std::list<std::pair<CacheKey, CachedVerdict>> lru_;
  absl::flat_hash_map<CacheKey, std::list<std::pair<CacheKey, CachedVerdict>>::iterator, KeyHash>
      map_;
};

struct LockFree {
  std::unique_ptr<idv::cache::Cache> cache;
  LockFree() {
    idv::cache::CacheOptions o;
    o.capacity = kKeys;
    cache = *idv::cache::NewLockFreeCache(o);
  }
  bool Get(const CacheKey& k) { return cache->Get(k, kNow).has_value(); }
  void Put(const CacheKey& k) { cache->Put(k, kVerdict, kNow); }
};

struct Lru {
  MutexLru lru{kKeys};
  bool Get(const CacheKey& k) { return lru.Get(k).has_value(); }
  void Put(const CacheKey& k) { lru.Put(k, kVerdict); }
};

struct Cuckoo {
  libcuckoo::cuckoohash_map<CacheKey, CachedVerdict, KeyHash> map{kKeys};
  bool Get(const CacheKey& k) {
    CachedVerdict v;
    return map.find(k, v);
  }
  void Put(const CacheKey& k) { map.insert_or_assign(k, kVerdict); }
};

// One shared, pre-filled instance per implementation (shared by the benchmark's threads).
template <typename Impl>
Impl& Filled() {
  static Impl* impl = [] {
    auto* i = new Impl;
    for (const CacheKey& k : Keys()) i->Put(k);
    return i;
  }();
  return *impl;
}

template <typename Impl>
void BM_Mix(benchmark::State& state) {
  Impl& impl = Filled<Impl>();
  const int put_percent = static_cast<int>(state.range(0));
  const auto& keys = Keys();
  std::mt19937_64 rng(state.thread_index() + 1);
  uint64_t hits = 0;
  for (auto _ : state) {
    const uint64_t r = rng();
    const CacheKey& k = keys[r % kKeys];
    if (static_cast<int>((r >> 32) % 100) < put_percent) {
      impl.Put(k);
    } else {
      hits += impl.Get(k);
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["hit_share"] =
      benchmark::Counter(static_cast<double>(hits), benchmark::Counter::kAvgIterations);
}

template <typename Impl>
void BM_Hit(benchmark::State& state) {
  Impl& impl = Filled<Impl>();
  const auto& keys = Keys();
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(impl.Get(keys[i]));
    i = (i + 7919) & (kKeys - 1);
  }
}

void BM_ClaimFingerprint(benchmark::State& state) {
  (void)idv::crypto::InitSodium();
  idv::crypto::SecretBytes master = idv::crypto::SecretBytes::Allocate(32);
  std::memset(master.data(), 7, 32);
  auto ring = *idv::crypto::KeyRing::Create(std::move(master), 1);
  idv::identity::NormalizedClaim claim;
  claim.document_type = idv::v1::CN_RESIDENT_ID;
  claim.document_number = "11010519491231002X";
  claim.full_name = "阿依古丽·买买提";
  for (auto _ : state) benchmark::DoNotOptimize(ring->ClaimFingerprint("default", claim));
}

BENCHMARK(BM_ClaimFingerprint);
BENCHMARK_TEMPLATE(BM_Hit, LockFree);
BENCHMARK_TEMPLATE(BM_Hit, Lru);
BENCHMARK_TEMPLATE(BM_Hit, Cuckoo);
BENCHMARK_TEMPLATE(BM_Mix, LockFree)->Arg(5)->Arg(50)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK_TEMPLATE(BM_Mix, Lru)->Arg(5)->Arg(50)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK_TEMPLATE(BM_Mix, Cuckoo)->Arg(5)->Arg(50)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
