#include "audit/log.h"

#include <gtest/gtest.h>

#include <string>

namespace idv::audit {
namespace {

// Stored hashes in memory, by index.
class MemoryHashes : public HashReader {
 public:
  absl::StatusOr<std::vector<Hash>> ReadHashes(const std::vector<int64_t>& indexes) const override {
    std::vector<Hash> out;
    for (int64_t i : indexes) {
      if (i < 0 || i >= static_cast<int64_t>(hashes.size())) {
        return absl::NotFoundError("no stored hash " + std::to_string(i));
      }
      out.push_back(hashes[i]);
    }
    return out;
  }
  std::vector<Hash> hashes;
};

TEST(LogTest, StoredHashesGiveTheRootsAndProofsOfTheLeaves) {
  constexpr int64_t kRecords = 100;
  MemoryHashes stored;
  std::vector<Hash> leaves;
  MerkleFrontier frontier;
  for (int64_t n = 0; n < kRecords; ++n) {
    leaves.push_back(LeafHash("record " + std::to_string(n)));
    ASSERT_EQ(static_cast<int64_t>(stored.hashes.size()), StoredHashCount(n));
    std::vector<Hash> added = frontier.Append(leaves.back());
    stored.hashes.insert(stored.hashes.end(), added.begin(), added.end());
    ASSERT_EQ(static_cast<int64_t>(stored.hashes.size()), StoredHashCount(n + 1));
    ASSERT_EQ(stored.hashes[StoredHashIndex(0, n)], leaves.back());
    const LeafHashes from_leaves = [&](uint64_t i) { return leaves[i]; };
    ASSERT_EQ(frontier.Root(), RootHash(n + 1, from_leaves)) << "size " << n + 1;
  }
  const LeafHashes from_leaves = [&](uint64_t i) { return leaves[i]; };
  for (uint64_t size : {1, 2, 3, 7, 8, 9, 64, 65, 99, 100}) {
    for (uint64_t i = 0; i < size; ++i) {
      auto p = InclusionProof(i, size, StoredTree(stored));
      ASSERT_TRUE(p.ok()) << p.status();
      EXPECT_EQ(*p, InclusionProof(i, size, from_leaves)) << i << " of " << size;
    }
    for (uint64_t m = 1; m <= size; ++m) {
      auto p = ConsistencyProof(m, size, StoredTree(stored));
      ASSERT_TRUE(p.ok()) << p.status();
      EXPECT_EQ(*p, ConsistencyProof(m, size, from_leaves)) << m << " to " << size;
    }
  }
}

TEST(LogTest, FrontierLoadedFromStorageContinuesTheLog) {
  MemoryHashes stored;
  MerkleFrontier live;
  for (int n = 0; n < 77; ++n) {
    std::vector<Hash> added = live.Append(LeafHash(std::to_string(n)));
    stored.hashes.insert(stored.hashes.end(), added.begin(), added.end());
    absl::StatusOr<MerkleFrontier> loaded = MerkleFrontier::Load(n + 1, stored);
    ASSERT_TRUE(loaded.ok());
    ASSERT_EQ(loaded->Root(), live.Root());
    MerkleFrontier copy = live;
    EXPECT_EQ(loaded->Append(LeafHash("next")), copy.Append(LeafHash("next")));
  }
  // A missing stored hash is an error, not a wrong root.
  stored.hashes.resize(10);
  EXPECT_FALSE(MerkleFrontier::Load(77, stored).ok());
}

}  // namespace
}  // namespace idv::audit
