// The result cache: recent definitive answers, keyed by claim fingerprint, so repeated claims
// (retries, re-verification, the same person at several products) are answered without asking an
// authority again.
//
// Keys are tenant-keyed BLAKE2b claim fingerprints: uniformly distributed, so their first bytes
// serve as the hash. Values are an outcome and reason with an expiry; positive (VERIFIED) and
// negative (MISMATCH, NOT_FOUND) answers have their own TTLs. The cache is bounded, allocates
// nothing after construction, and may forget anything at any time: a miss only costs a backend
// call. Implementations are thread-safe.
#ifndef IDV_CACHE_CACHE_H_
#define IDV_CACHE_CACHE_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "idv/v1/verification.pb.h"

namespace idv::cache {

using CacheKey = std::array<uint8_t, 32>;

struct CachedVerdict {
  idv::v1::Outcome outcome = idv::v1::OUTCOME_UNSPECIFIED;
  idv::v1::ReasonCode reason = idv::v1::REASON_CODE_UNSPECIFIED;
  // With VERIFIED: the elements confirmed, one bit each (1 << idv::v1::Element).
  uint8_t confirmed = 0;
};

struct CacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t inserts = 0;
  // Live entries pushed out to make room.
  uint64_t evictions = 0;
  uint64_t invalidations = 0;
};

struct CacheOptions {
  // Entries the cache holds; rounded up to a power of two. Default 1,048,576 (64 MiB).
  size_t capacity = 1 << 20;
  // How long a VERIFIED answer is served. Default 24 h.
  absl::Duration positive_ttl = absl::Hours(24);
  // How long a MISMATCH or NOT_FOUND answer is served. Default 10 min.
  absl::Duration negative_ttl = absl::Minutes(10);
};

class Cache {
 public:
  virtual ~Cache() = default;
  // The live answer for `key` at `now`, if cached.
  virtual std::optional<CachedVerdict> Get(const CacheKey& key, absl::Time now) = 0;
  // Caches a definitive answer (VERIFIED, MISMATCH, NOT_FOUND; others are ignored) from `now` on,
  // for the TTL of its kind. Best effort: under contention a write may be dropped.
  virtual void Put(const CacheKey& key, const CachedVerdict& verdict, absl::Time now) = 0;
  // Forgets `key` (a binding was removed, or an answer was superseded).
  virtual void Invalidate(const CacheKey& key) = 0;
  // Forgets every entry present when it starts (the configuration that produced them changed).
  // Entries put while it runs may survive. Takes time linear in the capacity.
  virtual void Clear() = 0;
  virtual CacheStats Stats() const = 0;
  virtual size_t capacity() const = 0;
};

// The lock-free implementation (cache/lock_free_cache.h).
absl::StatusOr<std::unique_ptr<Cache>> NewLockFreeCache(const CacheOptions& options);

}  // namespace idv::cache

#endif  // IDV_CACHE_CACHE_H_
