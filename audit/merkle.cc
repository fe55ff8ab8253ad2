#include "audit/merkle.h"

#include <sodium.h>

namespace idv::audit {
namespace {

// The largest power of two smaller than n. REQUIRES: n > 1.
uint64_t SplitPoint(uint64_t n) {
  uint64_t k = 1;
  while (k << 1 < n) k <<= 1;
  return k;
}

// MTH(D[lo:hi]) from the leaves.
Hash SubtreeHash(uint64_t lo, uint64_t hi, const LeafHashes& leaves) {
  if (hi - lo == 1) return leaves(lo);
  const uint64_t k = SplitPoint(hi - lo);
  return NodeHash(SubtreeHash(lo, lo + k, leaves), SubtreeHash(lo + k, hi, leaves));
}

absl::Status Path(uint64_t index, uint64_t lo, uint64_t hi, const SubtreeHashes& tree,
                  std::vector<Hash>& out) {
  if (hi - lo <= 1) return absl::OkStatus();
  const uint64_t k = SplitPoint(hi - lo);
  const bool left = index < lo + k;
  absl::Status s = left ? Path(index, lo, lo + k, tree, out) : Path(index, lo + k, hi, tree, out);
  if (!s.ok()) return s;
  absl::StatusOr<Hash> sibling = left ? tree(lo + k, hi) : tree(lo, lo + k);
  if (!sibling.ok()) return sibling.status();
  out.push_back(*sibling);
  return absl::OkStatus();
}

// SUBPROOF(m, D[lo:hi], whole) of RFC 6962 section 2.1.2.
absl::Status SubProof(uint64_t m, uint64_t lo, uint64_t hi, bool whole, const SubtreeHashes& tree,
                      std::vector<Hash>& out) {
  const uint64_t n = hi - lo;
  if (m == n) {
    if (whole) return absl::OkStatus();
    absl::StatusOr<Hash> h = tree(lo, hi);
    if (!h.ok()) return h.status();
    out.push_back(*h);
    return absl::OkStatus();
  }
  const uint64_t k = SplitPoint(n);
  const bool left = m <= k;
  absl::Status s = left ? SubProof(m, lo, lo + k, whole, tree, out)
                        : SubProof(m - k, lo + k, hi, false, tree, out);
  if (!s.ok()) return s;
  absl::StatusOr<Hash> other = left ? tree(lo + k, hi) : tree(lo, lo + k);
  if (!other.ok()) return other.status();
  out.push_back(*other);
  return absl::OkStatus();
}

absl::Status Bad(const char* what) { return absl::DataLossError(what); }

}  // namespace

Hash LeafHash(absl::string_view record) {
  Hash h;
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  const uint8_t prefix = 0x00;
  crypto_hash_sha256_update(&st, &prefix, 1);
  crypto_hash_sha256_update(&st, reinterpret_cast<const uint8_t*>(record.data()), record.size());
  crypto_hash_sha256_final(&st, h.data());
  return h;
}

Hash NodeHash(const Hash& left, const Hash& right) {
  Hash h;
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  const uint8_t prefix = 0x01;
  crypto_hash_sha256_update(&st, &prefix, 1);
  crypto_hash_sha256_update(&st, left.data(), left.size());
  crypto_hash_sha256_update(&st, right.data(), right.size());
  crypto_hash_sha256_final(&st, h.data());
  return h;
}

Hash RootHash(uint64_t size, const LeafHashes& leaves) {
  if (size == 0) {
    Hash h;
    crypto_hash_sha256(h.data(), nullptr, 0);
    return h;
  }
  return SubtreeHash(0, size, leaves);
}

SubtreeHashes FromLeaves(LeafHashes leaves) {
  return [leaves = std::move(leaves)](uint64_t lo, uint64_t hi) -> absl::StatusOr<Hash> {
    return SubtreeHash(lo, hi, leaves);
  };
}

absl::StatusOr<std::vector<Hash>> InclusionProof(uint64_t index, uint64_t size,
                                                 const SubtreeHashes& tree) {
  if (index >= size) return absl::InvalidArgumentError("inclusion proof: index beyond the tree");
  std::vector<Hash> out;
  if (absl::Status s = Path(index, 0, size, tree, out); !s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<Hash>> ConsistencyProof(uint64_t old_size, uint64_t new_size,
                                                   const SubtreeHashes& tree) {
  if (old_size == 0 || old_size > new_size) {
    return absl::InvalidArgumentError("consistency proof: need 0 < old size <= new size");
  }
  std::vector<Hash> out;
  if (absl::Status s = SubProof(old_size, 0, new_size, true, tree, out); !s.ok()) return s;
  return out;
}

std::vector<Hash> InclusionProof(uint64_t index, uint64_t size, const LeafHashes& leaves) {
  return InclusionProof(index, size, FromLeaves(leaves)).value_or(std::vector<Hash>());
}

std::vector<Hash> ConsistencyProof(uint64_t old_size, uint64_t new_size, const LeafHashes& leaves) {
  return ConsistencyProof(old_size, new_size, FromLeaves(leaves)).value_or(std::vector<Hash>());
}

// RFC 9162 section 2.1.3.2.
absl::Status VerifyInclusion(uint64_t index, uint64_t size, const Hash& leaf,
                             const std::vector<Hash>& proof, const Hash& root) {
  if (index >= size) return Bad("inclusion proof: index beyond the tree");
  uint64_t fn = index, sn = size - 1;
  Hash r = leaf;
  for (const Hash& p : proof) {
    if (sn == 0) return Bad("inclusion proof: too long");
    if ((fn & 1) == 1 || fn == sn) {
      r = NodeHash(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return Bad("inclusion proof: too short");
  if (r != root) return Bad("inclusion proof: does not lead to the root");
  return absl::OkStatus();
}

// RFC 9162 section 2.1.4.2.
absl::Status VerifyConsistency(uint64_t old_size, uint64_t new_size, const Hash& old_root,
                               const Hash& new_root, const std::vector<Hash>& proof) {
  if (old_size == 0 || old_size > new_size) return Bad("consistency proof: sizes out of order");
  if (old_size == new_size) {
    if (!proof.empty()) return Bad("consistency proof: not empty for equal sizes");
    if (old_root != new_root) return Bad("consistency proof: equal sizes, different roots");
    return absl::OkStatus();
  }
  if (proof.empty()) return Bad("consistency proof: empty");
  std::vector<Hash> path;
  if ((old_size & (old_size - 1)) == 0) path.push_back(old_root);  // a power of two
  path.insert(path.end(), proof.begin(), proof.end());
  uint64_t fn = old_size - 1, sn = new_size - 1;
  while ((fn & 1) == 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = path[0], sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const Hash& c = path[i];
    if (sn == 0) return Bad("consistency proof: too long");
    if ((fn & 1) == 1 || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return Bad("consistency proof: too short");
  if (fr != old_root) return Bad("consistency proof: does not lead to the old root");
  if (sr != new_root) return Bad("consistency proof: does not lead to the new root");
  return absl::OkStatus();
}

}  // namespace idv::audit
