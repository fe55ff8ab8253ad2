#include "store/leveldb/leveldb_store.h"

#include <gtest/gtest.h>
#include <leveldb/db.h>
#include <leveldb/env.h>
#include <sodium.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>

#include "store/binding_rules.h"
#include "tests/store/commits.h"

namespace idv::store {
namespace {

using idv::store::v1::AccountBinding;
using idv::store::v1::AuditRecord;
using testing::CheckStoredLog;
using testing::Commit;
using testing::Fp;

// What only the LevelDB engine does: fail-stop after a failed disk write, shown through an
// injected Env. The contract every engine meets is in store_conformance_test.cc.

// Fails every Append to files opened through it while `fail` is set, as a full disk would.
class FaultEnv : public leveldb::EnvWrapper {
 public:
  FaultEnv() : EnvWrapper(leveldb::Env::Default()) {}
  std::atomic<bool> fail{false};

  leveldb::Status NewWritableFile(const std::string& f, leveldb::WritableFile** r) override {
    return Wrap(target()->NewWritableFile(f, r), r);
  }
  leveldb::Status NewAppendableFile(const std::string& f, leveldb::WritableFile** r) override {
    return Wrap(target()->NewAppendableFile(f, r), r);
  }

 private:
  class File : public leveldb::WritableFile {
   public:
    File(leveldb::WritableFile* base, FaultEnv* env) : base_(base), env_(env) {}
    leveldb::Status Append(const leveldb::Slice& data) override {
      if (env_->fail) return leveldb::Status::IOError("injected: no space left on device");
      return base_->Append(data);
    }
    leveldb::Status Close() override { return base_->Close(); }
    leveldb::Status Flush() override { return base_->Flush(); }
    leveldb::Status Sync() override { return base_->Sync(); }

   private:
    std::unique_ptr<leveldb::WritableFile> base_;
    FaultEnv* env_;
  };
  leveldb::Status Wrap(leveldb::Status s, leveldb::WritableFile** r) {
    if (s.ok()) *r = new File(*r, this);
    return s;
  }
};

class LevelDbStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/idv-store-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    Open();
  }
  void TearDown() override {
    store_.reset();
    std::system(("rm -rf " + dir_).c_str());
  }

  void Open(leveldb::Env* env = nullptr) {
    store_.reset();
    LevelDbStoreOptions o;
    o.data_dir = dir_;
    o.env = env;
    o.on_write_failure = [this](const absl::Status& s) { failures_.push_back(s); };
    absl::StatusOr<std::unique_ptr<Store>> s = OpenLevelDbStore(o);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
  }

  absl::StatusOr<CommitResult> CommitSync(VerificationCommit c) {
    return Await<CommitResult>(
        [&](auto done) { store_->CommitVerification(std::move(c), std::move(done)); });
  }
  absl::StatusOr<AuditRecord> GetVerification(const std::string& tenant, const std::string& id) {
    return Await<AuditRecord>(
        [&](auto done) { store_->GetVerification(tenant, id, std::move(done)); });
  }
  absl::StatusOr<AccountBinding> GetBinding(const std::string& tenant, const std::string& account) {
    return Await<AccountBinding>(
        [&](auto done) { store_->GetAccountBinding(tenant, account, std::move(done)); });
  }

  std::string dir_;
  // Outlives the store, which uses it until it is closed in TearDown.
  FaultEnv fault_env_;
  std::unique_ptr<Store> store_;
  std::vector<absl::Status> failures_;  // written by the writer thread, read after its callbacks
};

TEST(BindingRulesTest, Decisions) {
  constexpr uint32_t none = 0, full = 2;
  AccountBinding mine;
  mine.set_identity_fingerprint(Fp('x'));
  mine.set_key_version(1);
  EXPECT_EQ(DecideBinding(std::nullopt, none, Fp('x'), 1, 2), idv::v1::BOUND);
  EXPECT_EQ(DecideBinding(std::nullopt, full, Fp('x'), 1, 2), idv::v1::LIMIT_REACHED);
  EXPECT_EQ(DecideBinding(mine, full, Fp('x'), 1, 2), idv::v1::ALREADY_BOUND);
  EXPECT_EQ(DecideBinding(mine, none, Fp('y'), 1, 2), idv::v1::ACCOUNT_HAS_OTHER_IDENTITY);
}

TEST_F(LevelDbStoreTest, FailedWriteStoresNothingAndStopsWrites) {
  FaultEnv& env = fault_env_;
  Open(&env);
  ASSERT_TRUE(CommitSync(Commit("ID1", "a", Fp('a'), true)).ok());

  env.fail = true;
  auto failed = CommitSync(Commit("ID2", "b", Fp('b'), true));
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  ASSERT_EQ(failures_.size(), 1u);  // reported once, when the store stopped
  env.fail = false;
  // Fail-stop: no later commit is accepted by this instance, even with the disk healthy again.
  EXPECT_EQ(CommitSync(Commit("ID3", "c", Fp('c'), true)).status().code(),
            absl::StatusCode::kUnavailable);
  // Reads still work.
  EXPECT_TRUE(GetVerification("t", "ID1").ok());
  EXPECT_EQ(failures_.size(), 1u);

  Open(&env);
  EXPECT_TRUE(GetVerification("t", "ID1").ok());
  EXPECT_EQ(GetVerification("t", "ID2").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(GetBinding("t", "b").status().code(), absl::StatusCode::kNotFound);
  auto next = CommitSync(Commit("ID4", "b", Fp('b'), true));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->sequence, 2u);  // no gap where the failed record would have been
  EXPECT_TRUE(CheckStoredLog(*store_, "local", 2).ok());
}

// A database written before the Merkle log (schema 1: records chained with BLAKE2b) is migrated
// on open: its records keep their bytes and get leaf and stored hashes, and the log continues.
TEST_F(LevelDbStoreTest, SchemaOneLogIsMigratedToTheMerkleLog) {
  store_.reset();
  std::filesystem::remove_all(dir_ + "/db");
  {
    leveldb::Options o;
    o.create_if_missing = true;
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(o, dir_ + "/db", &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    ASSERT_TRUE(db->Put(leveldb::WriteOptions(), "m/schema", "1").ok());
    for (uint64_t seq = 1; seq <= 2; ++seq) {
      AuditRecord r = Commit("OLD" + std::to_string(seq), "a", Fp('o'), false).record;
      r.set_sequence(seq);
      idv::store::v1::AuditEntry e;
      e.set_record(r.SerializeAsString());
      e.set_hash(std::string(32, 'b'));  // a BLAKE2b chain hash, as schema 1 kept
      std::string key = "a/";
      for (int i = 7; i >= 0; --i) key.push_back(static_cast<char>((seq >> (8 * i)) & 0xff));
      ASSERT_TRUE(db->Put(leveldb::WriteOptions(), key, e.SerializeAsString()).ok());
    }
  }
  Open();
  ASSERT_NE(store_, nullptr);
  EXPECT_TRUE(CheckStoredLog(*store_, "local", 2).ok());
  auto next = CommitSync(Commit("NEW", "b", Fp('n'), true));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->sequence, 3u);
  EXPECT_TRUE(CheckStoredLog(*store_, "local", 3).ok());
}

}  // namespace
}  // namespace idv::store
