// The audit log's Merkle tree: RFC 6962 / RFC 9162 hashing (leaf = SHA-256(0x00 || record),
// interior node = SHA-256(0x01 || left || right)), tree heads, inclusion and consistency proofs,
// and their verification. Any RFC 9162 implementation (Go's golang.org/x/mod/sumdb/tlog, for one)
// checks what this produces; tests/audit/ holds such a check.
//
// Proofs are built from subtree hashes obtained through a callback: computed from the leaves
// (FromLeaves, O(n) hashing, for tests and small trees) or read from the hashes a log stores
// (audit/log.h: O(log n) reads). Pure functions; thread-safe.
#ifndef IDV_AUDIT_MERKLE_H_
#define IDV_AUDIT_MERKLE_H_

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace idv::audit {

using Hash = std::array<uint8_t, 32>;

// The hash of leaf `i` of the tree (0-based).
using LeafHashes = std::function<Hash(uint64_t index)>;
// MTH(D[lo:hi]), however it is obtained; an error when it cannot be read.
using SubtreeHashes = std::function<absl::StatusOr<Hash>(uint64_t lo, uint64_t hi)>;

// Subtree hashes computed from the leaves.
SubtreeHashes FromLeaves(LeafHashes leaves);

Hash LeafHash(absl::string_view record);
Hash NodeHash(const Hash& left, const Hash& right);

// MTH(D[0:size]); the hash of the empty string for size 0.
Hash RootHash(uint64_t size, const LeafHashes& leaves);

// PATH(index, D[0:size]), bottom-up. InvalidArgument unless index < size.
absl::StatusOr<std::vector<Hash>> InclusionProof(uint64_t index, uint64_t size,
                                                 const SubtreeHashes& tree);
// PROOF(old_size, D[0:new_size]), bottom-up. InvalidArgument unless 0 < old_size <= new_size.
absl::StatusOr<std::vector<Hash>> ConsistencyProof(uint64_t old_size, uint64_t new_size,
                                                   const SubtreeHashes& tree);

// The same over leaves in memory (empty for out-of-range arguments).
std::vector<Hash> InclusionProof(uint64_t index, uint64_t size, const LeafHashes& leaves);
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
