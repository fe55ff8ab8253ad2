// A latency histogram with about 1.5% resolution from 1 us to over an hour, recorded without
// locks (relaxed atomic counters: each bucket is an independent tally, read after the run).
#ifndef IDV_LOAD_TESTS_HISTOGRAM_H_
#define IDV_LOAD_TESTS_HISTOGRAM_H_

#include <array>
#include <atomic>
#include <cstdint>

namespace idv::load {

class Histogram {
 public:
  void Record(uint64_t micros) {
    buckets_[Index(micros)].fetch_add(1, std::memory_order_relaxed);
    uint64_t seen = max_.load(std::memory_order_relaxed);
    while (micros > seen && !max_.compare_exchange_weak(seen, micros, std::memory_order_relaxed)) {
    }
  }

  uint64_t Count() const {
    uint64_t n = 0;
    for (const auto& b : buckets_) n += b.load(std::memory_order_relaxed);
    return n;
  }

  // The smallest recorded value v such that a share `q` of values are <= v (upper bucket edge).
  uint64_t Percentile(double q) const {
    const uint64_t total = Count();
    if (total == 0) return 0;
    const uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total - 1)) + 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += buckets_[i].load(std::memory_order_relaxed);
      if (seen >= rank) return std::min(UpperEdge(i), Max());
    }
    return Max();
  }

  uint64_t Max() const { return max_.load(std::memory_order_relaxed); }

  // Calls fn(upper_edge, count) for each non-empty bucket, smallest first.
  template <typename Fn>
  void ForEachBucket(Fn fn) const {
    for (size_t i = 0; i < kBuckets; ++i) {
      const uint64_t n = buckets_[i].load(std::memory_order_relaxed);
      if (n != 0) fn(UpperEdge(i), n);
    }
  }

 private:
  // 64 linear sub-buckets per power of two.
  static constexpr int kSubBits = 6;
  static constexpr size_t kBuckets = (64 - kSubBits + 1) << kSubBits;

  static size_t Index(uint64_t v) {
    if (v < (1u << kSubBits)) return static_cast<size_t>(v);
    const int msb = 63 - __builtin_clzll(v);
    const int shift = msb - kSubBits;
    return (static_cast<size_t>(shift + 1) << kSubBits) + ((v >> shift) & ((1u << kSubBits) - 1));
  }

  static uint64_t UpperEdge(size_t i) {
    if (i < (1u << kSubBits)) return i;
    const int shift = static_cast<int>(i >> kSubBits) - 1;
    const uint64_t sub = i & ((1u << kSubBits) - 1);
    return (((uint64_t{1} << kSubBits) + sub + 1) << shift) - 1;
  }

  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> max_{0};
};

}  // namespace idv::load

#endif  // IDV_LOAD_TESTS_HISTOGRAM_H_
