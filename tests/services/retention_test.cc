// Audit retention on both engines: the purge job removes the expired prefix of a node's log up to
// a signed checkpoint, the log still verifies and proves from there, and removing more than the
// purge did, or moving the store's retention mark, is found by VerifyIntegrity.
#include "services/retention.h"

#include <gtest/gtest.h>
#include <leveldb/db.h>
#include <sodium.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "audit/merkle.h"
#include "audit/note.h"
#include "services/auditor.h"
#include "store/open.h"
#include "tests/support/postgres_environment.h"

namespace idv::services {
namespace {

using ::idv::testing::PostgresServer;
using store::Await;

const ::testing::Environment* const kPostgres =
    ::testing::AddGlobalTestEnvironment(new ::idv::testing::PostgresEnvironment);
PostgresServer* Pg() { return ::idv::testing::PostgresEnvironment::server(); }

constexpr char kOrigin[] = "idv.test/audit";

class RetentionTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_EQ(sodium_init() >= 0, true);
    crypto_sign_keypair(pk_.data(), sk_);
    char tmpl[] = "/tmp/idv-retention-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    if (postgres()) {
      static int n = 0;
      db_ = "retention_" + std::to_string(++n);
      absl::StatusOr<std::string> dsn = Pg()->CreateDatabase(db_);
      ASSERT_TRUE(dsn.ok()) << dsn.status();
      dsn_ = *dsn;
    }
    Open();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  bool postgres() const { return GetParam() == "postgres"; }

  void Open() {
    idv::config::v1::StoreConfig c;
    c.set_node_id("node-a");
    if (postgres()) {
      c.mutable_postgres()->set_dsn(dsn_);
    } else {
      c.mutable_leveldb()->set_path(dir_ + "/db");
    }
    store::OpenOptions o;
    o.data_dir = dir_;
    o.checkpoints.origin_prefix = kOrigin;
    o.checkpoints.every_records = 5;
    o.checkpoints.every = absl::Hours(1);
    o.checkpoints.sign = [this](const audit::Checkpoint& cp) {
      return *audit::SignNote(
          audit::CheckpointText(cp), cp.origin, pk_, [this](absl::string_view m) {
            std::array<uint8_t, 64> sig;
            crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const uint8_t*>(m.data()),
                                 m.size(), sk_);
            return sig;
          });
    };
    absl::StatusOr<std::unique_ptr<store::Store>> s = store::Open(c, o);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
    auditor_ = std::make_unique<Auditor>(*store_, kOrigin, pk_);
  }

  void Close() {
    auditor_.reset();
    store_->Close();
    store_.reset();
  }

  // A verification of account "acct-<i>" decided `age` ago.
  void CommitOld(int i, absl::Duration age) {
    store::VerificationCommit c;
    c.record.set_kind(idv::store::v1::VERIFICATION);
    c.record.set_verification_id(absl::StrCat("V", i));
    c.record.set_tenant("t");
    c.record.set_account_id(absl::StrCat("acct-", i));
    c.record.set_outcome(idv::v1::VERIFIED);
    c.record.mutable_decided_at()->set_seconds(absl::ToUnixSeconds(absl::Now() - age));
    ASSERT_TRUE(Await<store::CommitResult>([&](auto done) {
                  store_->CommitVerification(std::move(c), std::move(done));
                }).ok());
  }

  store::LogInfo Log() {
    auto logs =
        Await<std::vector<store::LogInfo>>([&](auto done) { store_->ListLogs(std::move(done)); });
    EXPECT_TRUE(logs.ok() && logs->size() == 1);
    return logs.ok() && !logs->empty() ? (*logs)[0] : store::LogInfo();
  }

  idv::v1::IntegrityReport Verify() {
    auto report = auditor_->VerifyIntegrity("node-a", {});
    EXPECT_TRUE(report.ok()) << report.status();
    return report.value_or(idv::v1::IntegrityReport());
  }

  // 23 verifications of 200 days ago, purged as of now with steps of at most 10 records: the
  // first step stops at the checkpoint of 10, the second at 20; 21..23 stay, there being no
  // checkpoint between them and the purge records (records 24 and 25, decided now).
  void FillAndPurge() {
    for (int i = 1; i <= 23; ++i) CommitOld(i, absl::Hours(24 * 200));
    RetentionPolicy policy;
    policy.batch = 10;
    RetentionPurger purger(*store_, policy);
    absl::StatusOr<uint64_t> removed = purger.RunOnce(absl::Now());
    ASSERT_TRUE(removed.ok()) << removed.status();
    EXPECT_EQ(*removed, 20u);
    const store::LogInfo log = Log();
    EXPECT_EQ(log.purged_through, 20u);
    EXPECT_EQ(log.purge_record, 25u);
    EXPECT_EQ(log.size, 25u);
  }

  audit::PublicKey pk_;
  uint8_t sk_[crypto_sign_SECRETKEYBYTES];
  std::string dir_, db_, dsn_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Auditor> auditor_;
};

TEST_P(RetentionTest, NothingYoungerThanItsRetentionGoes) {
  for (int i = 1; i <= 12; ++i) CommitOld(i, absl::Hours(24 * 179));
  RetentionPurger purger(*store_, RetentionPolicy());
  absl::StatusOr<uint64_t> removed = purger.RunOnce(absl::Now());
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 0u);
  EXPECT_EQ(Log().purged_through, 0u);
  // At 181 days they go, up to the checkpoint of 10.
  removed = purger.RunOnce(absl::Now() + absl::Hours(48));
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 10u);
}

TEST_P(RetentionTest, ThePurgedLogStillVerifiesAndProves) {
  FillAndPurge();
  const idv::v1::IntegrityReport report = Verify();
  EXPECT_TRUE(report.intact()) << report.problem();
  EXPECT_EQ(report.purged_through(), 20u);
  EXPECT_EQ(report.log_size(), 25u);

  EXPECT_EQ(auditor_->Record("t", "node-a", 4).status().code(), absl::StatusCode::kNotFound);
  auto kept = auditor_->Record("t", "node-a", 21);  // sequence 22
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->verification().account_id(), "acct-22");
  // A purged record's inclusion still proves against the newest checkpoint.
  auto proof = auditor_->ProveInclusion("node-a", 3, 0);
  ASSERT_TRUE(proof.ok()) << proof.status();
  auto cp = auditor_->Checkpoints("node-a");
  ASSERT_TRUE(cp.ok());
  auto text = audit::OpenNote(cp->logs(0).checkpoint(), cp->logs(0).verifier_key());
  ASSERT_TRUE(text.ok());
  auto signed_cp = audit::ParseCheckpoint(*text);
  ASSERT_TRUE(signed_cp.ok());
  EXPECT_EQ(cp->logs(0).purged_through(), 20u);
  std::vector<audit::Hash> path;
  for (const std::string& h : proof->hashes()) {
    audit::Hash x;
    std::copy(h.begin(), h.end(), x.begin());
    path.push_back(x);
  }
  audit::Hash leaf;
  std::copy(proof->leaf_hash().begin(), proof->leaf_hash().end(), leaf.begin());
  EXPECT_TRUE(audit::VerifyInclusion(3, signed_cp->size, leaf, path, signed_cp->root).ok());
  // The account index forgot the purged records; listing finds the kept ones only.
  idv::v1::ListRecordsRequest list;
  list.mutable_filter()->set_account_id("acct-5");
  EXPECT_EQ(auditor_->List("t", list)->records_size(), 0);
  list.mutable_filter()->set_account_id("acct-23");
  EXPECT_EQ(auditor_->List("t", list)->records_size(), 1);
  list.clear_filter();
  list.set_page_size(100);
  EXPECT_EQ(auditor_->List("t", list)->records_size(), 3);  // 21..23 (purge records: no tenant)
}

TEST_P(RetentionTest, APurgeThatIsNotAfterTheMarkIsRefusedAndChangesNothing) {
  FillAndPurge();
  for (auto [through, record] : std::vector<std::pair<uint64_t, uint64_t>>{
           {15, 25}, {20, 25}, {24, 24}, {30, 31}, {22, 99}}) {
    auto r = Await<uint64_t>(
        [&](auto done) { store_->PurgeAuditLog(through, record, std::move(done)); });
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << through << " " << record;
  }
  EXPECT_EQ(Log().purged_through, 20u);
  EXPECT_TRUE(Verify().intact());
}

TEST_P(RetentionTest, RemovingARecordPastTheMarkIsFound) {
  FillAndPurge();
  if (postgres()) {
    ASSERT_TRUE(Pg()->QueryValue(db_, "DELETE FROM idv_audit WHERE seq = 21").ok());
  } else {
    Close();
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), dir_ + "/db", &raw).ok());
    std::string key = "a/";
    for (int i = 7; i >= 0; --i) key.push_back(static_cast<char>((21ull >> (8 * i)) & 0xff));
    ASSERT_TRUE(raw->Delete(leveldb::WriteOptions(), key).ok());
    delete raw;
    Open();
  }
  const idv::v1::IntegrityReport report = Verify();
  EXPECT_FALSE(report.intact());
  EXPECT_EQ(report.first_bad_sequence(), 21u) << report.problem();
}

TEST_P(RetentionTest, MovingTheRetentionMarkIsFound) {
  FillAndPurge();
  // Claim that 1..25 were purged (there is a signed checkpoint of 25), and remove 21..23.
  if (postgres()) {
    ASSERT_TRUE(Pg()->QueryValue(db_,
                                 "WITH d AS (DELETE FROM idv_audit WHERE seq BETWEEN 21 AND 23) "
                                 "UPDATE idv_audit_purges SET purged_through = 25")
                    .ok());
  } else {
    Close();
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), dir_ + "/db", &raw).ok());
    std::string mark;
    for (uint64_t v : {25ull, 25ull}) {
      for (int i = 7; i >= 0; --i) mark.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    }
    ASSERT_TRUE(raw->Put(leveldb::WriteOptions(), "p/purge", mark).ok());
    for (uint64_t seq : {21ull, 22ull, 23ull}) {
      std::string key = "a/";
      for (int i = 7; i >= 0; --i) key.push_back(static_cast<char>((seq >> (8 * i)) & 0xff));
      ASSERT_TRUE(raw->Delete(leveldb::WriteOptions(), key).ok());
    }
    delete raw;
    Open();
  }
  const idv::v1::IntegrityReport report = Verify();
  EXPECT_FALSE(report.intact());
  EXPECT_NE(report.problem().find("says records 1..20"), std::string::npos) << report.problem();
}

TEST(RetentionPolicyTest, VerificationAndSecurityRecordsAreKeptAtLeast180Days) {
  idv::config::v1::AuditRetention c;
  c.set_verification_days(90);
  EXPECT_EQ(RetentionPolicyFor(c).status().code(), absl::StatusCode::kInvalidArgument);
  c.set_verification_days(365);
  c.set_security_days(179);
  EXPECT_EQ(RetentionPolicyFor(c).status().code(), absl::StatusCode::kInvalidArgument);
  c.set_security_days(180);
  c.set_auditor_read_days(30);
  absl::StatusOr<RetentionPolicy> p = RetentionPolicyFor(c);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->For(idv::store::v1::VERIFICATION), absl::Hours(24 * 365));
  EXPECT_EQ(p->For(idv::store::v1::SETTLEMENT), absl::Hours(24 * 365));
  EXPECT_EQ(p->For(idv::store::v1::AUDITOR_READ), absl::Hours(24 * 30));
  EXPECT_EQ(RetentionPolicyFor({})->For(idv::store::v1::SECURITY_EVENT), absl::Hours(24 * 180));
}

INSTANTIATE_TEST_SUITE_P(Engines, RetentionTest, ::testing::Values("leveldb", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace idv::services
