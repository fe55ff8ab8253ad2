// The audit log's Merkle tree: RFC 6962 / RFC 9162 hashing (leaf = SHA-256(0x00 || record),
// interior node = SHA-256(0x01 || left || right)), tree heads, inclusion and consistency proofs,
// and their verification. Any RFC 9162 implementation (Go's golang.org/x/mod/sumdb/tlog, for one)
// checks what this produces; tests/audit/ holds such a check.
//
// Proofs are computed from leaf hashes read through a callback: O(n) hashing per proof for now.
// Pure functions; thread-safe.
#ifndef IDV_AUDIT_MERKLE_H_
#define IDV_AUDIT_MERKLE_H_

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace idv::audit {

using Hash = std::array<uint8_t, 32>;

// The hash of leaf `i` of the tree (0-based).
using LeafHashes = std::function<Hash(uint64_t index)>;

Hash LeafHash(absl::string_view record);
Hash NodeHash(const Hash& left, const Hash& right);

// MTH(D[0:size]); the hash of the empty string for size 0.
Hash RootHash(uint64_t size, const LeafHashes& leaves);

// PATH(index, D[0:size]), bottom-up. REQUIRES: index < size.
std::vector<Hash> InclusionProof(uint64_t index, uint64_t size, const LeafHashes& leaves);

// PROOF(old_size, D[0:new_size]), bottom-up. REQUIRES: 0 < old_size <= new_size.
std::vector<Hash> ConsistencyProof(uint64_t old_size, uint64_t new_size, const LeafHashes& leaves);

// OK when `proof` shows that `leaf` is leaf `index` of the tree of `size` leaves whose root is
// `root`; DataLoss (with what failed) otherwise.
absl::Status VerifyInclusion(uint64_t index, uint64_t size, const Hash& leaf,
                             const std::vector<Hash>& proof, const Hash& root);

// OK when `proof` shows that the tree of `new_size` leaves with root `new_root` extends the tree
// of `old_size` leaves with root `old_root`; DataLoss otherwise.
absl::Status VerifyConsistency(uint64_t old_size, uint64_t new_size, const Hash& old_root,
                               const Hash& new_root, const std::vector<Hash>& proof);

}  // namespace idv::audit

#endif  // IDV_AUDIT_MERKLE_H_
