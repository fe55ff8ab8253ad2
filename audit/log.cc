#include "audit/log.h"

namespace idv::audit {
namespace {

int TrailingOnes(int64_t n) {
  int c = 0;
  for (; n & 1; n >>= 1) ++c;
  return c;
}

// The largest power of two no larger than n, and its log. REQUIRES: n > 0.
int64_t LargestPow2AtMost(int64_t n, int* level) {
  int64_t k = 1;
  *level = 0;
  while ((k << 1) <= n) {
    k <<= 1;
    ++*level;
  }
  return k;
}

}  // namespace

// Level L's hash k is stored right after level L-1's hash 2k+1 (its right child); a level-0 hash n
// sits after every hash of the records before it: n + n/2 + n/4 + ... of them.
int64_t StoredHashIndex(int level, int64_t n) {
  for (int l = level; l > 0; --l) n = 2 * n + 1;
  int64_t i = 0;
  for (; n > 0; n >>= 1) i += n;
  return i + level;
}

int64_t StoredHashCount(int64_t n) {
  if (n == 0) return 0;
  return StoredHashIndex(0, n - 1) + 1 + TrailingOnes(n - 1);
}

absl::StatusOr<MerkleFrontier> MerkleFrontier::Load(int64_t size, const HashReader& reader) {
  MerkleFrontier f;
  f.size_ = size;
  std::vector<int64_t> indexes;
  for (int level = 0; (size >> level) > 0; ++level) {
    indexes.push_back(StoredHashIndex(level, (size >> level) - 1));
  }
  absl::StatusOr<std::vector<Hash>> hashes = reader.ReadHashes(indexes);
  if (!hashes.ok()) return hashes.status();
  if (hashes->size() != indexes.size()) return absl::DataLossError("stored hashes missing");
  f.by_level_ = *std::move(hashes);
  return f;
}

std::vector<Hash> MerkleFrontier::Append(const Hash& leaf) {
  std::vector<Hash> stored = {leaf};
  const int64_t n = size_;
  // Each trailing 1 bit of n closes a subtree: its left half is the frontier's hash at that level.
  Hash h = leaf;
  const int closes = TrailingOnes(n);
  for (int level = 0; level < closes; ++level) {
    h = NodeHash(by_level_[level], h);
    stored.push_back(h);
  }
  ++size_;
  // The new complete subtrees: level 0 is the leaf, levels 1..closes the hashes just made.
  for (int level = 0; (size_ >> level) > 0; ++level) {
    if (level > closes) break;  // higher levels' newest complete subtrees did not change
    const Hash& newest = stored[level];
    if (static_cast<size_t>(level) < by_level_.size()) {
      by_level_[level] = newest;
    } else {
      by_level_.push_back(newest);
    }
  }
  return stored;
}

Hash MerkleFrontier::Root() const {
  if (size_ == 0) return RootHash(0, nullptr);
  // The perfect subtrees of size_'s binary decomposition, folded from the smallest up.
  bool have = false;
  Hash h{};
  for (size_t level = 0; level < by_level_.size(); ++level) {
    if (((size_ >> level) & 1) == 0) continue;
    h = have ? NodeHash(by_level_[level], h) : by_level_[level];
    have = true;
  }
  return h;
}

SubtreeHashes StoredTree(const HashReader& reader) {
  return [&reader](uint64_t lo, uint64_t hi) -> absl::StatusOr<Hash> {
    std::vector<int64_t> indexes;
    for (int64_t l = static_cast<int64_t>(lo); l < static_cast<int64_t>(hi);) {
      int level;
      const int64_t k = LargestPow2AtMost(static_cast<int64_t>(hi) - l, &level);
      if ((l & (k - 1)) != 0) return absl::InternalError("unaligned subtree");
      indexes.push_back(StoredHashIndex(level, l >> level));
      l += k;
    }
    absl::StatusOr<std::vector<Hash>> hashes = reader.ReadHashes(indexes);
    if (!hashes.ok()) return hashes.status();
    if (hashes->size() != indexes.size()) return absl::DataLossError("stored hashes missing");
    Hash h = hashes->back();
    for (size_t i = hashes->size() - 1; i-- > 0;) h = NodeHash((*hashes)[i], h);
    return h;
  };
}

}  // namespace idv::audit
