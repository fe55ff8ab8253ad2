// A fixed array of 64-byte slots, each a small seqlock:
//
//   seq      even: stable; odd: a writer owns the slot. Writers take a slot with a CAS from even
//            to odd and release it by storing the next even value; readers never write it.
//   key[4]   the 32-byte fingerprint; all zero means empty.
//   value    expiry (unix seconds, 32 bits) | reason (16 bits) | outcome (8 bits).
//   visited  CLOCK reference bit, set by hits, cleared by the eviction hand.
//
// A key lives in one of the kNeighborhood slots after its home slot (its first 8 bytes, masked).
// Why lock-free: no operation waits for another. A reader that meets a slot mid-write treats it
// as a miss (or retries once); a writer that loses the CAS drops its write (the cache is best
// effort). Nothing is allocated after construction.
//
// Eviction uses the reference bit as an admission filter (in the spirit of S3-FIFO and SIEVE):
// new entries start unreferenced, a hit sets the bit, and a full neighborhood gives up an
// unreferenced slot first, without touching anyone's bit. So a burst of claims seen once evicts
// only other claims seen once, never the working set of repeated ones. When every slot of a
// neighborhood is referenced, all its bits are cleared (CLOCK's second chance, all at once) and
// one is evicted; and one insert in eight ages one slot's bit, so entries that stop being hit
// eventually become evictable.
#include <atomic>
#include <cstring>
#include <thread>

#include "cache/cache.h"

namespace idv::cache {
namespace {

constexpr size_t kNeighborhood = 8;
constexpr size_t kStripes = 16;

struct alignas(64) Slot {
  std::atomic<uint64_t> seq;
  std::atomic<uint64_t> key[4];
  std::atomic<uint64_t> value;
  std::atomic<uint8_t> visited;
};
static_assert(sizeof(Slot) == 64, "one slot per cache line");

struct alignas(64) Stripe {
  std::atomic<uint64_t> hits{0}, misses{0}, inserts{0}, evictions{0}, invalidations{0};
};

uint64_t Word(const CacheKey& k, int i) {
  uint64_t w;
  std::memcpy(&w, k.data() + 8 * i, 8);
  return w;
}

uint64_t Pack(const CachedVerdict& v, uint32_t expiry_s) {
  return (static_cast<uint64_t>(expiry_s) << 32) |
         (static_cast<uint64_t>(static_cast<uint16_t>(v.reason)) << 16) |
         (static_cast<uint64_t>(v.confirmed) << 8) | static_cast<uint8_t>(v.outcome);
}

uint32_t Expiry(uint64_t value) { return static_cast<uint32_t>(value >> 32); }

CachedVerdict Unpack(uint64_t value) {
  CachedVerdict v;
  v.outcome = static_cast<idv::v1::Outcome>(value & 0xff);
  v.reason = static_cast<idv::v1::ReasonCode>((value >> 16) & 0xffff);
  v.confirmed = static_cast<uint8_t>((value >> 8) & 0xff);
  return v;
}

uint32_t Seconds(absl::Time t) { return static_cast<uint32_t>(absl::ToUnixSeconds(t)); }

// A consistent copy of a slot's key and value.
struct Snapshot {
  bool stable = false;  // false: a writer held the slot, or it changed under us
  uint64_t seq = 0;
  uint64_t key[4] = {0, 0, 0, 0};
  uint64_t value = 0;
};

class LockFreeCache final : public Cache {
 public:
  explicit LockFreeCache(const CacheOptions& options, size_t slots)
      : options_(options), mask_(slots - 1), slots_(new Slot[slots]()) {}

  std::optional<CachedVerdict> Get(const CacheKey& key, absl::Time now) override {
    const uint64_t home = Word(key, 0);
    const uint32_t now_s = Seconds(now);
    for (size_t i = 0; i < kNeighborhood; ++i) {
      Slot& s = slots_[(home + i) & mask_];
      Snapshot snap = Read(s);
      if (!snap.stable && !(snap = Read(s)).stable) continue;  // one retry, then a miss here
      if (!Matches(snap, key)) continue;
      if (Expiry(snap.value) <= now_s) break;
      // Relaxed: the bit is a hint for the eviction hand; no other data is published with it.
      // Checking first avoids writing (and bouncing the cache line) on every hit.
      if (s.visited.load(std::memory_order_relaxed) == 0) {
        s.visited.store(1, std::memory_order_relaxed);
      }
      Count(&Stripe::hits);
      return Unpack(snap.value);
    }
    Count(&Stripe::misses);
    return std::nullopt;
  }

  void Put(const CacheKey& key, const CachedVerdict& verdict, absl::Time now) override {
    absl::Duration ttl;
    switch (verdict.outcome) {
      case idv::v1::VERIFIED:
        ttl = options_.positive_ttl;
        break;
      case idv::v1::MISMATCH:
      case idv::v1::NOT_FOUND:
        ttl = options_.negative_ttl;
        break;
      default:
        return;  // only definitive answers are cached
    }
    const uint64_t home = Word(key, 0);
    const uint32_t now_s = Seconds(now);
    Slot* victim = nullptr;
    bool evicts_live = false;
    // Same key first (update in place), then an empty or expired slot, then the CLOCK hand.
    for (size_t i = 0; i < kNeighborhood && victim == nullptr; ++i) {
      Slot& s = slots_[(home + i) & mask_];
      Snapshot snap = Read(s);
      if (snap.stable && Matches(snap, key)) victim = &s;
    }
    for (size_t i = 0; i < kNeighborhood && victim == nullptr; ++i) {
      Slot& s = slots_[(home + i) & mask_];
      Snapshot snap = Read(s);
      if (snap.stable && (IsEmpty(snap) || Expiry(snap.value) <= now_s)) victim = &s;
    }
    if (victim == nullptr) {  // the neighborhood is full of live entries: evict one
      const uint64_t mix = Word(key, 1);
      // Relaxed, here and below: the bits steer eviction only; a lost update makes an entry a
      // little likelier or less likely to be evicted, never wrong.
      if ((mix & 7) == 0) {
        slots_[(home + ((mix >> 3) & 7)) & mask_].visited.store(0, std::memory_order_relaxed);
      }
      for (size_t i = 0; i < kNeighborhood && victim == nullptr; ++i) {
        Slot& s = slots_[(home + i) & mask_];
        if (s.visited.load(std::memory_order_relaxed) == 0) victim = &s;
      }
      if (victim == nullptr) {  // everyone was hit: all lose their reference, one goes
        for (size_t i = 0; i < kNeighborhood; ++i) {
          slots_[(home + i) & mask_].visited.store(0, std::memory_order_relaxed);
        }
        victim = &slots_[(home + ((mix >> 6) & 7)) & mask_];
      }
      evicts_live = true;
    }
    if (victim == nullptr) return;
    if (!Write(*victim, key, Pack(verdict, Seconds(now + ttl)))) return;  // lost a race
    Count(&Stripe::inserts);
    if (evicts_live) Count(&Stripe::evictions);
  }

  void Invalidate(const CacheKey& key) override {
    const uint64_t home = Word(key, 0);
    for (size_t i = 0; i < kNeighborhood; ++i) {
      Slot& s = slots_[(home + i) & mask_];
      Snapshot snap = Read(s);
      if (!snap.stable || !Matches(snap, key)) continue;
      if (Write(s, CacheKey{}, 0)) Count(&Stripe::invalidations);
    }
  }

  void Clear() override {
    for (size_t i = 0; i <= mask_; ++i) {
      Slot& s = slots_[i];
      // A writer holds a slot only for a few stores: retry until this clear wins the slot or
      // finds it empty. What a concurrent Put wrote after that is a new entry and may stay.
      for (;;) {
        Snapshot snap = Read(s);
        if (snap.stable && IsEmpty(snap)) break;
        if (snap.stable && Write(s, CacheKey{}, 0)) {
          Count(&Stripe::invalidations);
          break;
        }
        std::this_thread::yield();
      }
    }
  }

  CacheStats Stats() const override {
    CacheStats out;
    for (const Stripe& st : stripes_) {
      out.hits += st.hits.load(std::memory_order_relaxed);
      out.misses += st.misses.load(std::memory_order_relaxed);
      out.inserts += st.inserts.load(std::memory_order_relaxed);
      out.evictions += st.evictions.load(std::memory_order_relaxed);
      out.invalidations += st.invalidations.load(std::memory_order_relaxed);
    }
    return out;
  }

  size_t capacity() const override { return mask_ + 1; }

 private:
  // Seqlock read. The first load of `seq` is acquire: it pairs with the writer's release store
  // of the even value, so a stable snapshot sees everything written before it. The data loads
  // are acquire too: that keeps the second load of `seq` (which detects a write that overlapped
  // them) from moving before them. (The textbook form uses relaxed data loads and an acquire
  // fence; ThreadSanitizer does not model fences, and on x86 acquire loads cost nothing extra.)
  // A torn view is never a data race here, since every field is an atomic; it is simply
  // discarded.
  static Snapshot Read(const Slot& s) {
    Snapshot snap;
    snap.seq = s.seq.load(std::memory_order_acquire);
    if (snap.seq & 1) return snap;
    for (int i = 0; i < 4; ++i) snap.key[i] = s.key[i].load(std::memory_order_acquire);
    snap.value = s.value.load(std::memory_order_acquire);
    snap.stable = s.seq.load(std::memory_order_relaxed) == snap.seq;
    return snap;
  }

  // Takes the slot (CAS even -> odd), stores key and value, releases it (next even). Returns false
  // when another writer holds or just took the slot. The CAS is relaxed: mutual exclusion among
  // writers needs only its atomicity. The data stores are release, so a reader whose acquire
  // load sees new data also sees the odd `seq` stored before it and discards the view; the final
  // release store publishes the data together with the even value. (Release stores instead of a
  // release fence, for ThreadSanitizer; on x86 they are plain stores.)
  static bool Write(Slot& s, const CacheKey& key, uint64_t value) {
    uint64_t seq = s.seq.load(std::memory_order_relaxed);
    if ((seq & 1) || !s.seq.compare_exchange_strong(seq, seq + 1, std::memory_order_relaxed)) {
      return false;
    }
    for (int i = 0; i < 4; ++i) s.key[i].store(Word(key, i), std::memory_order_release);
    s.value.store(value, std::memory_order_release);
    s.visited.store(0, std::memory_order_relaxed);  // new entries start unreferenced
    s.seq.store(seq + 2, std::memory_order_release);
    return true;
  }

  static bool Matches(const Snapshot& snap, const CacheKey& key) {
    for (int i = 0; i < 4; ++i) {
      if (snap.key[i] != Word(key, i)) return false;
    }
    return !IsEmpty(snap);
  }

  static bool IsEmpty(const Snapshot& snap) {
    return (snap.key[0] | snap.key[1] | snap.key[2] | snap.key[3]) == 0;
  }

  // Counters are striped by thread so concurrent hits do not contend on one cache line. Relaxed:
  // they are statistics, read as a sum that may lag.
  void Count(std::atomic<uint64_t> Stripe::*counter) {
    static std::atomic<size_t> next_stripe{0};
    thread_local const size_t stripe =
        next_stripe.fetch_add(1, std::memory_order_relaxed) % kStripes;
    (stripes_[stripe].*counter).fetch_add(1, std::memory_order_relaxed);
  }

  const CacheOptions options_;
  const size_t mask_;
  const std::unique_ptr<Slot[]> slots_;
  Stripe stripes_[kStripes];
};

}  // namespace

absl::StatusOr<std::unique_ptr<Cache>> NewLockFreeCache(const CacheOptions& options) {
  if (options.capacity == 0 || options.capacity > (size_t{1} << 30)) {
    return absl::InvalidArgumentError("cache capacity must be between 1 and 2^30 entries");
  }
  if (options.positive_ttl < absl::ZeroDuration() || options.negative_ttl < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("cache TTLs must not be negative");
  }
  size_t slots = kNeighborhood;
  while (slots < options.capacity) slots <<= 1;
  return std::unique_ptr<Cache>(new LockFreeCache(options, slots));
}

}  // namespace idv::cache
