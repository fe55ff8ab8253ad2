#include "audit/merkle.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace idv::audit {
namespace {

std::vector<Hash> Leaves(uint64_t n) {
  std::vector<Hash> out;
  for (uint64_t i = 0; i < n; ++i) out.push_back(LeafHash("record " + std::to_string(i)));
  return out;
}

LeafHashes From(const std::vector<Hash>& leaves) {
  return [&leaves](uint64_t i) { return leaves[i]; };
}

TEST(MerkleTest, SmallTreesHashAsRfc6962Says) {
  const std::vector<Hash> l = Leaves(3);
  EXPECT_EQ(RootHash(1, From(l)), l[0]);
  EXPECT_EQ(RootHash(2, From(l)), NodeHash(l[0], l[1]));
  EXPECT_EQ(RootHash(3, From(l)), NodeHash(NodeHash(l[0], l[1]), l[2]));
  EXPECT_NE(LeafHash("a"), LeafHash("b"));
  // A leaf and an interior node with the same bytes below hash differently (0x00 vs 0x01).
  const std::string two(reinterpret_cast<const char*>(l[0].data()), 32);
  EXPECT_NE(LeafHash(two + std::string(reinterpret_cast<const char*>(l[1].data()), 32)),
            NodeHash(l[0], l[1]));
}

// Every proof of every tree up to 40 leaves verifies, and none verifies once altered.
TEST(MerkleTest, EveryInclusionProofVerifiesAndNoAlteredOneDoes) {
  const std::vector<Hash> l = Leaves(40);
  for (uint64_t n = 1; n <= 40; ++n) {
    const Hash root = RootHash(n, From(l));
    for (uint64_t i = 0; i < n; ++i) {
      std::vector<Hash> p = InclusionProof(i, n, From(l));
      ASSERT_TRUE(VerifyInclusion(i, n, l[i], p, root).ok()) << i << " of " << n;
      if (n > 1) {
        EXPECT_FALSE(VerifyInclusion(i, n, l[(i + 1) % n], p, root).ok());
      }
      if (!p.empty()) {
        p[p.size() / 2][0] ^= 1;
        EXPECT_FALSE(VerifyInclusion(i, n, l[i], p, root).ok());
        p[p.size() / 2][0] ^= 1;
        p.pop_back();
        EXPECT_FALSE(VerifyInclusion(i, n, l[i], p, root).ok());
      }
      // The proof of another tree size does not verify against this root.
      if (n > 1) {
        EXPECT_FALSE(VerifyInclusion(i, n - 1 > i ? n - 1 : n + 1, l[i], p, root).ok());
      }
    }
  }
}

TEST(MerkleTest, EveryConsistencyProofVerifiesAndNoAlteredOneDoes) {
  const std::vector<Hash> l = Leaves(40);
  for (uint64_t n = 1; n <= 40; ++n) {
    const Hash new_root = RootHash(n, From(l));
    for (uint64_t m = 1; m <= n; ++m) {
      const Hash old_root = RootHash(m, From(l));
      std::vector<Hash> p = ConsistencyProof(m, n, From(l));
      ASSERT_TRUE(VerifyConsistency(m, n, old_root, new_root, p).ok()) << m << " to " << n;
      if (m == n) continue;
      Hash wrong = old_root;
      wrong[5] ^= 0x40;
      EXPECT_FALSE(VerifyConsistency(m, n, wrong, new_root, p).ok());
      EXPECT_FALSE(VerifyConsistency(m, n, old_root, wrong, p).ok());
      p.back()[0] ^= 1;
      EXPECT_FALSE(VerifyConsistency(m, n, old_root, new_root, p).ok());
    }
  }
}

// A log rewritten from some record on cannot be proven to extend the original.
TEST(MerkleTest, ARewrittenLogIsNotConsistentWithItsPast) {
  std::vector<Hash> l = Leaves(20);
  const Hash old_root = RootHash(12, From(l));
  l[7] = LeafHash("rewritten");
  const Hash new_root = RootHash(20, From(l));
  EXPECT_FALSE(
      VerifyConsistency(12, 20, old_root, new_root, ConsistencyProof(12, 20, From(l))).ok());
}

}  // namespace
}  // namespace idv::audit
