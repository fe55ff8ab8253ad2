#include "audit/integrity.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <map>

namespace idv::audit {
namespace {

// A log kept in memory the way a store keeps it, which tests then tamper with.
class IntegrityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto_sign_keypair(pk_.data(), sk_);
    for (uint64_t seq = 1; seq <= 40; ++seq) Append("record " + std::to_string(seq));
  }

  void Append(const std::string& body) {
    LogRecord r;
    r.sequence = records_.size() + 1;
    r.inner_sequence = r.sequence;
    r.inner_node = "n1";
    r.bytes = body + " #" + std::to_string(r.sequence);
    const Hash leaf = LeafHash(r.bytes);
    r.leaf_hash.assign(leaf.begin(), leaf.end());
    int64_t index = StoredHashCount(frontier_.size());
    for (const Hash& h : frontier_.Append(leaf)) stored_.hashes[index++] = h;
    records_.push_back(r);
    if (records_.size() % 10 == 0) notes_.push_back(Sign(frontier_.size(), frontier_.Root()));
  }

  std::string Sign(uint64_t size, const Hash& root) const {
    Checkpoint c{"idv.test/audit/n1", size, root};
    return *SignNote(CheckpointText(c), c.origin, pk_, [this](absl::string_view m) {
      std::array<uint8_t, 64> sig;
      crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const uint8_t*>(m.data()),
                           m.size(), sk_);
      return sig;
    });
  }

  IntegrityReport Check(std::vector<std::string> extra = {}, uint64_t first = 0,
                        uint64_t last = 0) {
    IntegritySource s;
    s.first = first;
    s.last = last;
    s.node_id = "n1";
    s.hashes = &stored_;
    s.verifier_key = *VerifierKey("idv.test/audit/n1", pk_);
    s.checkpoint_notes = notes_;
    s.checkpoint_notes.insert(s.checkpoint_notes.end(), extra.begin(), extra.end());
    s.records = [this](uint64_t first, size_t limit) -> absl::StatusOr<std::vector<LogRecord>> {
      std::vector<LogRecord> out;
      for (const LogRecord& r : records_) {
        if (r.sequence >= first && out.size() < limit) out.push_back(r);
      }
      return out;
    };
    absl::StatusOr<IntegrityReport> r = VerifyLog(s);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.value_or(IntegrityReport());
  }

  // Rewrites record `seq` as an attacker with write access to the store would: new bytes, and
  // (when `cover`) a matching leaf hash and recomputed stored hashes.
  void Rewrite(uint64_t seq, bool cover) {
    LogRecord& r = records_[seq - 1];
    r.bytes[0] ^= 1;
    if (!cover) return;
    const Hash leaf = LeafHash(r.bytes);
    r.leaf_hash.assign(leaf.begin(), leaf.end());
    MerkleFrontier f;
    stored_.hashes.clear();
    for (const LogRecord& x : records_) {
      int64_t index = StoredHashCount(f.size());
      Hash l;
      std::copy(x.leaf_hash.begin(), x.leaf_hash.end(), l.begin());
      for (const Hash& h : f.Append(l)) stored_.hashes[index++] = h;
    }
  }

  struct Stored : HashReader {
    absl::StatusOr<std::vector<Hash>> ReadHashes(const std::vector<int64_t>& idx) const override {
      std::vector<Hash> out;
      for (int64_t i : idx) {
        auto it = hashes.find(i);
        if (it == hashes.end()) return absl::NotFoundError("missing");
        out.push_back(it->second);
      }
      return out;
    }
    std::map<int64_t, Hash> hashes;
  } stored_;
  MerkleFrontier frontier_;
  std::vector<LogRecord> records_;
  std::vector<std::string> notes_;
  PublicKey pk_;
  uint8_t sk_[crypto_sign_SECRETKEYBYTES];
};

TEST_F(IntegrityTest, AnUntouchedLogVerifies) {
  IntegrityReport r = Check();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records_checked, 40u);
  EXPECT_EQ(r.checkpoints_checked, 4u);
  EXPECT_EQ(r.root, frontier_.Root());
}

TEST_F(IntegrityTest, AFlippedByteIsFoundAtItsRecord) {
  Rewrite(17, /*cover=*/false);
  IntegrityReport r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_index, 17u);
}

TEST_F(IntegrityTest, ARewriteWithMatchingLeafIsFoundByTheStoredHashes) {
  LogRecord& rec = records_[22];
  rec.bytes[0] ^= 1;
  const Hash leaf = LeafHash(rec.bytes);
  rec.leaf_hash.assign(leaf.begin(), leaf.end());
  IntegrityReport r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_index, 23u);
}

TEST_F(IntegrityTest, AFullyCoveredRewriteIsFoundByTheSignedCheckpoint) {
  Rewrite(23, /*cover=*/true);
  IntegrityReport r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_index, 30u);  // the first checkpoint after the rewrite
  EXPECT_NE(r.problem.find("at or before record 30"), std::string::npos) << r.problem;
}

TEST_F(IntegrityTest, ADeletedRecordIsNamed) {
  records_.erase(records_.begin() + 8);  // sequence 9
  IntegrityReport r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_index, 9u);
}

TEST_F(IntegrityTest, SwappedRecordsAreNamed) {
  std::swap(records_[4].bytes, records_[11].bytes);
  std::swap(records_[4].leaf_hash, records_[11].leaf_hash);
  std::swap(records_[4].inner_sequence, records_[11].inner_sequence);
  IntegrityReport r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_index, 5u);
}

TEST_F(IntegrityTest, TruncationAndRollbackAreCaughtByACheckpointKeptOutside) {
  const std::string kept = notes_.back();  // size 40, kept by the auditor
  records_.resize(33);
  notes_.resize(3);                   // the store's own later checkpoint went with the rollback
  EXPECT_TRUE(Check().ok);            // consistent with itself...
  IntegrityReport r = Check({kept});  // ...but not with what the auditor kept
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_index, 34u);
  EXPECT_NE(r.problem.find("truncated or rolled back"), std::string::npos);
}

TEST_F(IntegrityTest, AForgedCheckpointIsRefused) {
  std::string forged = notes_[0];
  forged[forged.find('\n') + 1] = '9';
  IntegrityReport r = Check({forged});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.problem.find("does not verify"), std::string::npos);
}

TEST_F(IntegrityTest, ARangeVerifiesAgainstTheCheckpointsInAndAfterIt) {
  IntegrityReport r = Check({}, 21, 26);  // no checkpoint inside; 30 and 40 after it
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records_checked, 6u);
  EXPECT_EQ(r.checkpoints_checked, 1u);  // the newest one past the range
  r = Check({}, 25, 35);                 // checkpoint 30 inside, 40 after
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records_checked, 11u);
  EXPECT_EQ(r.checkpoints_checked, 2u);
  r = Check({}, 1, 40);
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.root, frontier_.Root());
}

TEST_F(IntegrityTest, ARangeNamesItsFirstBadRecordAndIgnoresOthers) {
  Rewrite(5, /*cover=*/false);
  Rewrite(23, /*cover=*/false);
  IntegrityReport r = Check({}, 21, 26);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_index, 23u);
  EXPECT_TRUE(Check({}, 24, 26).ok);  // record 5 and 23 are outside it
}

TEST_F(IntegrityTest, ACoveredRewriteInARangeIsFoundByTheCheckpointAfterIt) {
  Rewrite(23, /*cover=*/true);
  IntegrityReport r = Check({}, 21, 26);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.problem.find("do not have the root of the signed checkpoint of size 40"),
            std::string::npos)
      << r.problem;
}

TEST_F(IntegrityTest, StoredHashesAcrossTheRangeEdgeCannotHideARewrite) {
  // The attacker rewrites record 23 with every stored hash to match, then puts back the original
  // hashes of the subtrees that end past record 26: the stored tree's own root is the signed one
  // again, and every stored hash the range's records complete (which the check compares with the
  // records) matches them. The range must still fail.
  const std::map<int64_t, Hash> original = stored_.hashes;
  Rewrite(23, /*cover=*/true);
  for (int level = 0; level < 7; ++level) {
    for (int64_t n = 0; (n + 1) << level <= 40; ++n) {
      const int64_t hi = (n + 1) << level;
      if (hi <= 20 || hi > 26)
        stored_.hashes[StoredHashIndex(level, n)] = original.at(StoredHashIndex(level, n));
    }
  }
  MerkleFrontier stored_root = *MerkleFrontier::Load(40, stored_);
  ASSERT_EQ(stored_root.Root(), frontier_.Root());  // the stored tree alone looks untouched
  IntegrityReport r = Check({}, 21, 26);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.problem.find("rewritten"), std::string::npos) << r.problem;
}

TEST_F(IntegrityTest, ARangeBeforeTheRetentionBoundaryOrPastTheEndIsRefusedOrNamed) {
  IntegritySource s;
  s.node_id = "n1";
  s.hashes = &stored_;
  s.purged_through = 10;
  s.first = 5;
  s.last = 12;
  EXPECT_EQ(VerifyLog(s).status().code(), absl::StatusCode::kInvalidArgument);
  IntegrityReport r = Check({}, 38, 45);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_index, 41u);
}

}  // namespace
}  // namespace idv::audit
