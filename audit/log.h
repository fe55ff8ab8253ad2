// How a Merkle log keeps its interior hashes so that tree heads and proofs cost O(log n) reads:
// the stored-hash layout of C2SP tlog-tiles and Go's sumdb/tlog. Appending record n stores its
// leaf hash and the root of every complete subtree it completes, at consecutive indexes from
// StoredHashCount(n); the hash of the complete subtree of level L (2^L leaves) numbered k sits at
// StoredHashIndex(L, k). A 256-leaf tile is a contiguous group of these.
//
// MerkleFrontier is the writer's side (what appending needs, in memory); StoredTree the reader's
// (subtree hashes read from storage for audit/merkle.h's proofs). Thread-compatible.
#ifndef IDV_AUDIT_LOG_H_
#define IDV_AUDIT_LOG_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "audit/merkle.h"

namespace idv::audit {

int64_t StoredHashIndex(int level, int64_t n);
// Hashes stored for a log of n records.
int64_t StoredHashCount(int64_t n);

// Reads stored hashes by index (all or an error).
class HashReader {
 public:
  virtual ~HashReader() = default;
  virtual absl::StatusOr<std::vector<Hash>> ReadHashes(
      const std::vector<int64_t>& indexes) const = 0;
};

// The right edge of a log: for each level, the newest complete subtree's hash. Enough to append
// and to compute the root, without reading anything.
class MerkleFrontier {
 public:
  // The frontier of a log of `size` records, read from its stored hashes.
  static absl::StatusOr<MerkleFrontier> Load(int64_t size, const HashReader& reader);

  int64_t size() const { return size_; }
  // Appends a record with this leaf hash; returns the hashes to store from StoredHashCount(size())
  // (as it was before the call) on.
  std::vector<Hash> Append(const Hash& leaf);
  // The root of the log as it stands (RFC 6962 MTH; SHA-256 of nothing when empty).
  Hash Root() const;

 private:
  int64_t size_ = 0;
  // by_level_[L]: hash of complete subtree (L, (size_ >> L) - 1), for every L with size_ >> L > 0.
  std::vector<Hash> by_level_;
};

// MTH(D[lo:hi]) of a log from its stored hashes: the range splits into complete aligned subtrees
// (at most 2 log n), read in one call. For proofs: InclusionProof(i, n, StoredTree(reader)).
SubtreeHashes StoredTree(const HashReader& reader);

}  // namespace idv::audit

#endif  // IDV_AUDIT_LOG_H_
