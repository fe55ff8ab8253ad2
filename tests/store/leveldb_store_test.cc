#include "store/leveldb_store.h"

#include <gtest/gtest.h>
#include <leveldb/env.h>
#include <sodium.h>

#include <atomic>
#include <cstdlib>
#include <future>

#include "store/binding_rules.h"

namespace idv::store {
namespace {

using idv::store::v1::AccountBinding;
using idv::store::v1::AuditRecord;

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

  static VerificationCommit Commit(const std::string& id, const std::string& account,
                                   const std::string& fp, bool bind, uint32_t max = 5,
                                   const std::string& tenant = "t") {
    VerificationCommit c;
    c.record.set_verification_id(id);
    c.record.set_tenant(tenant);
    c.record.set_account_id(account);
    c.record.set_identity_fingerprint(fp);
    c.record.set_key_version(1);
    c.record.set_outcome(idv::v1::VERIFIED);
    c.record.set_masked_document_number("110***********002X");
    c.bind = bind;
    c.max_accounts_per_identity = max;
    return c;
  }

  absl::StatusOr<CommitResult> CommitSync(VerificationCommit c) {
    std::promise<absl::StatusOr<CommitResult>> p;
    store_->CommitVerification(std::move(c),
                               [&p](absl::StatusOr<CommitResult> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  absl::StatusOr<AuditRecord> GetVerification(const std::string& tenant, const std::string& id) {
    std::promise<absl::StatusOr<AuditRecord>> p;
    store_->GetVerification(tenant, id,
                            [&p](absl::StatusOr<AuditRecord> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  absl::StatusOr<AccountBinding> GetBinding(const std::string& tenant, const std::string& account) {
    std::promise<absl::StatusOr<AccountBinding>> p;
    store_->GetAccountBinding(
        tenant, account, [&p](absl::StatusOr<AccountBinding> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }

  std::string dir_;
  std::unique_ptr<Store> store_;
  std::vector<absl::Status> failures_;  // written by the writer thread, read after its callbacks
};

std::string Fp(char c) { return std::string(32, c); }

std::string ChainHash(const std::string& record_bytes) {
  uint8_t h[32];
  crypto_generichash(h, sizeof h, reinterpret_cast<const uint8_t*>(record_bytes.data()),
                     record_bytes.size(), nullptr, 0);
  return std::string(reinterpret_cast<char*>(h), sizeof h);
}

TEST(BindingRulesTest, Decisions) {
  idv::store::v1::IdentityBindings none, full;
  for (int i = 0; i < 2; ++i) full.add_accounts()->set_account_id("a" + std::to_string(i));
  AccountBinding mine;
  mine.set_identity_fingerprint(Fp('x'));
  mine.set_key_version(1);
  EXPECT_EQ(DecideBinding(std::nullopt, none, Fp('x'), 1, 2), idv::v1::BOUND);
  EXPECT_EQ(DecideBinding(std::nullopt, full, Fp('x'), 1, 2), idv::v1::LIMIT_REACHED);
  EXPECT_EQ(DecideBinding(mine, full, Fp('x'), 1, 2), idv::v1::ALREADY_BOUND);
  EXPECT_EQ(DecideBinding(mine, none, Fp('y'), 1, 2), idv::v1::ACCOUNT_HAS_OTHER_IDENTITY);
}

TEST_F(LevelDbStoreTest, CommitsAreReadBackAndChained) {
  auto r1 = CommitSync(Commit("ID1", "acct", Fp('a'), /*bind=*/true));
  auto r2 = CommitSync(Commit("ID2", "acct", Fp('a'), /*bind=*/false));
  ASSERT_TRUE(r1.ok() && r2.ok());
  EXPECT_EQ(r1->sequence, 1u);
  EXPECT_EQ(r1->binding, idv::v1::BOUND);
  EXPECT_EQ(r2->sequence, 2u);
  EXPECT_EQ(r2->binding, idv::v1::NOT_REQUESTED);

  auto a = GetVerification("t", "ID1");
  auto b = GetVerification("t", "ID2");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->binding(), idv::v1::BOUND);
  EXPECT_EQ(a->prev_hash(), std::string(32, '\0'));
  EXPECT_EQ(b->prev_hash(), ChainHash(a->SerializeAsString()));

  auto binding = GetBinding("t", "acct");
  ASSERT_TRUE(binding.ok());
  EXPECT_EQ(binding->verification_id(), "ID1");
  EXPECT_EQ(binding->identity_fingerprint(), Fp('a'));
}

TEST_F(LevelDbStoreTest, TenantsAreIsolated) {
  ASSERT_TRUE(CommitSync(Commit("ID1", "acct", Fp('a'), true, 5, "t1")).ok());
  EXPECT_EQ(GetVerification("t2", "ID1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(GetBinding("t2", "acct").status().code(), absl::StatusCode::kNotFound);
  // The same identity and account in another tenant bind independently.
  EXPECT_EQ(CommitSync(Commit("ID2", "acct", Fp('a'), true, 5, "t2"))->binding, idv::v1::BOUND);
  EXPECT_EQ(GetVerification("t1", "nope").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(LevelDbStoreTest, BindingOutcomes) {
  EXPECT_EQ(CommitSync(Commit("1", "a1", Fp('x'), true, 2))->binding, idv::v1::BOUND);
  EXPECT_EQ(CommitSync(Commit("2", "a1", Fp('x'), true, 2))->binding, idv::v1::ALREADY_BOUND);
  EXPECT_EQ(CommitSync(Commit("3", "a2", Fp('x'), true, 2))->binding, idv::v1::BOUND);
  EXPECT_EQ(CommitSync(Commit("4", "a3", Fp('x'), true, 2))->binding, idv::v1::LIMIT_REACHED);
  EXPECT_EQ(CommitSync(Commit("5", "a1", Fp('y'), true, 2))->binding,
            idv::v1::ACCOUNT_HAS_OTHER_IDENTITY);
  EXPECT_EQ(GetBinding("t", "a3").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(GetBinding("t", "a1")->identity_fingerprint(), Fp('x'));
}

// Many concurrent binds of one identity land in few groups; decisions inside a group must still
// see the group's earlier writes, so exactly `max` accounts get bound.
TEST_F(LevelDbStoreTest, ConcurrentBindsRespectTheCap) {
  constexpr int kCalls = 200;
  std::vector<std::promise<absl::StatusOr<CommitResult>>> done(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    store_->CommitVerification(
        Commit("ID" + std::to_string(i), "acct" + std::to_string(i % 50), Fp('z'), true, 5),
        [&done, i](absl::StatusOr<CommitResult> r) { done[i].set_value(std::move(r)); });
  }
  int bound = 0, already = 0, limit = 0;
  std::set<uint64_t> sequences;
  for (auto& p : done) {
    absl::StatusOr<CommitResult> r = p.get_future().get();
    ASSERT_TRUE(r.ok()) << r.status();
    sequences.insert(r->sequence);
    bound += r->binding == idv::v1::BOUND;
    already += r->binding == idv::v1::ALREADY_BOUND;
    limit += r->binding == idv::v1::LIMIT_REACHED;
  }
  EXPECT_EQ(bound, 5);
  EXPECT_EQ(already, 15);  // the 5 bound accounts come back 3 more times each
  EXPECT_EQ(limit, kCalls - 20);
  EXPECT_EQ(sequences.size(), static_cast<size_t>(kCalls));
  EXPECT_EQ(*sequences.rbegin(), static_cast<uint64_t>(kCalls));
}

TEST_F(LevelDbStoreTest, ChainAndBindingsSurviveReopen) {
  ASSERT_TRUE(CommitSync(Commit("ID1", "a", Fp('a'), true)).ok());
  Open();
  EXPECT_EQ(GetBinding("t", "a")->verification_id(), "ID1");
  auto r = CommitSync(Commit("ID2", "a", Fp('a'), true));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->sequence, 2u);
  EXPECT_EQ(r->binding, idv::v1::ALREADY_BOUND);
  EXPECT_EQ(GetVerification("t", "ID2")->prev_hash(),
            ChainHash(GetVerification("t", "ID1")->SerializeAsString()));
}

TEST_F(LevelDbStoreTest, FailedWriteStoresNothingAndStopsWrites) {
  FaultEnv env;
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
  EXPECT_EQ(GetVerification("t", "ID4")->prev_hash(),
            ChainHash(GetVerification("t", "ID1")->SerializeAsString()));
}

TEST_F(LevelDbStoreTest, ClosedStoreAnswersUnavailable) {
  store_->Close();
  EXPECT_EQ(CommitSync(Commit("ID1", "a", Fp('a'), true)).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(GetVerification("t", "ID1").status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(LevelDbStoreTest, ClientsRoundTrip) {
  idv::store::v1::ClientRecord c;
  c.set_client_id("c1");
  c.set_tenant("t");
  c.add_roles("verify");
  ASSERT_TRUE(store_->PutClient(c).ok());
  Open();
  auto clients = store_->ListClients();
  ASSERT_TRUE(clients.ok());
  ASSERT_EQ(clients->size(), 1u);
  EXPECT_EQ((*clients)[0].tenant(), "t");
}

}  // namespace
}  // namespace idv::store
