// The Store contract (store/store.h), run against every engine: LevelDB in a temporary directory
// and PostgreSQL on a real server this test starts. Multi-node behaviour (two stores with their
// own node ids on one database) runs where the engine has it.
#include <gtest/gtest.h>
#include <leveldb/db.h>
#include <leveldb/dumpfile.h>
#include <leveldb/env.h>
#include <sodium.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "audit/note.h"
#include "common/proto_time.h"
#include "idv/v1/verification.pb.h"
#include "store/binding_rules.h"
#include "store/open.h"
#include "tests/store/commits.h"
#include "tests/support/postgres_environment.h"

namespace idv::store {
namespace {

using idv::store::v1::AccountBinding;
using idv::store::v1::AuditRecord;
using idv::store::v1::RecheckEntry;
using ::idv::testing::PostgresServer;

// One PostgreSQL server for the whole binary; each test gets its own database.
const ::testing::Environment* const kPostgres =
    ::testing::AddGlobalTestEnvironment(new ::idv::testing::PostgresEnvironment);
PostgresServer* Pg() { return ::idv::testing::PostgresEnvironment::server(); }

using testing::CheckStoredLog;
using testing::Commit;
using testing::Fp;

// Counts changes a listener saw, and waits (bounded) for one.
class Changes {
 public:
  ChangeListener Listener() {
    return [this](const Change& c) {
      std::lock_guard<std::mutex> lock(mu_);
      seen_.push_back(c);
      cv_.notify_all();
    };
  }
  bool WaitFor(Change::Kind kind, const std::string& key, absl::Duration timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] {
      for (const Change& c : seen_) {
        if (c.kind == kind && c.key == key) return true;
      }
      return false;
    });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Change> seen_;
};

class StoreConformanceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    crypto_sign_keypair(pk_.data(), sk_);
    char tmpl[] = "/tmp/idv-store-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    if (postgres()) {
      ASSERT_NE(Pg(), nullptr);
      static int n = 0;
      db_ = "conformance_" + std::to_string(++n);
      absl::StatusOr<std::string> dsn = Pg()->CreateDatabase(db_);
      ASSERT_TRUE(dsn.ok()) << dsn.status();
      dsn_ = *dsn;
    }
    store_ = OpenNode("node-a");
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  bool postgres() const { return GetParam() == "postgres"; }

  std::unique_ptr<Store> OpenNode(const std::string& node_id, absl::Status* error = nullptr,
                                  const std::string& lease = "seconds: 2") {
    idv::config::v1::StoreConfig c;
    c.set_node_id(node_id);
    if (postgres()) {
      c.mutable_postgres()->set_dsn(dsn_);
      c.mutable_postgres()->mutable_node_lease()->set_seconds(2);
    } else {
      c.mutable_leveldb()->set_path(dir_ + "/db");
    }
    OpenOptions o;
    o.data_dir = dir_;
    // Checkpoints every 3 records, signed with this test's key.
    o.checkpoints.origin_prefix = "idv.test/audit";
    o.checkpoints.every_records = 3;
    o.checkpoints.every = absl::Hours(1);
    o.checkpoints.sign = [this](const audit::Checkpoint& c) {
      return *audit::SignNote(audit::CheckpointText(c), c.origin, pk_, [this](absl::string_view m) {
        std::array<uint8_t, 64> sig;
        crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const uint8_t*>(m.data()),
                             m.size(), sk_);
        return sig;
      });
    };
    o.on_health = [this](bool serving, const absl::Status&) {
      std::lock_guard<std::mutex> lock(health_mu_);
      health_.push_back(serving);
      health_cv_.notify_all();
    };
    absl::StatusOr<std::unique_ptr<Store>> s = Open(c, o);
    if (error != nullptr) *error = s.status();
    if (!s.ok()) {
      if (error == nullptr) ADD_FAILURE() << s.status();
      return nullptr;
    }
    return *std::move(s);
  }

  static absl::StatusOr<CommitResult> CommitOn(Store& s, VerificationCommit c) {
    return Await<CommitResult>(
        [&](auto done) { s.CommitVerification(std::move(c), std::move(done)); });
  }
  absl::StatusOr<CommitResult> CommitSync(VerificationCommit c) {
    return CommitOn(*store_, std::move(c));
  }
  absl::StatusOr<AuditRecord> GetVerification(const std::string& tenant, const std::string& id) {
    return Await<AuditRecord>(
        [&](auto done) { store_->GetVerification(tenant, id, std::move(done)); });
  }
  absl::StatusOr<AccountBinding> GetBinding(const std::string& tenant, const std::string& account) {
    return Await<AccountBinding>(
        [&](auto done) { store_->GetAccountBinding(tenant, account, std::move(done)); });
  }
  static absl::StatusOr<std::vector<RecheckEntry>> Claim(Store& s, absl::Duration lease) {
    return Await<std::vector<RecheckEntry>>(
        [&](auto done) { s.ClaimRechecks(100, lease, std::move(done)); });
  }
  bool WaitForHealth(bool serving, absl::Duration timeout) {
    std::unique_lock<std::mutex> lock(health_mu_);
    return health_cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                               [&] { return !health_.empty() && health_.back() == serving; });
  }

  audit::PublicKey pk_;
  uint8_t sk_[crypto_sign_SECRETKEYBYTES];
  std::string dir_;
  std::string db_;
  std::string dsn_;
  // Outlives the store (TearDown closes it first): notifications may still arrive after a test's
  // body returns.
  Changes changes_;
  std::unique_ptr<Store> store_;
  std::mutex health_mu_;
  std::condition_variable health_cv_;
  std::vector<bool> health_;  // guarded by health_mu_
};

TEST_P(StoreConformanceTest, CommitsAreReadBackAndInTheMerkleLog) {
  auto r1 = CommitSync(Commit("ID1", "acct", Fp('a'), /*bind=*/true));
  auto r2 = CommitSync(Commit("ID2", "acct", Fp('a'), /*bind=*/false));
  ASSERT_TRUE(r1.ok() && r2.ok()) << r1.status() << r2.status();
  EXPECT_EQ(r1->sequence, 1u);
  EXPECT_EQ(r1->binding, idv::v1::BOUND);
  EXPECT_EQ(r2->sequence, 2u);
  EXPECT_EQ(r2->binding, idv::v1::NOT_REQUESTED);

  auto a = GetVerification("t", "ID1");
  auto b = GetVerification("t", "ID2");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->binding(), idv::v1::BOUND);
  EXPECT_EQ(a->node_id(), "node-a");
  EXPECT_TRUE(CheckStoredLog(*store_, "node-a", 2).ok());

  auto binding = GetBinding("t", "acct");
  ASSERT_TRUE(binding.ok());
  EXPECT_EQ(binding->verification_id(), "ID1");
  EXPECT_EQ(binding->identity_fingerprint(), Fp('a'));
}

TEST_P(StoreConformanceTest, TenantsAreIsolated) {
  ASSERT_TRUE(CommitSync(Commit("ID1", "acct", Fp('a'), true, 5, "t1")).ok());
  EXPECT_EQ(GetVerification("t2", "ID1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(GetBinding("t2", "acct").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(CommitSync(Commit("ID2", "acct", Fp('a'), true, 5, "t2"))->binding, idv::v1::BOUND);
  EXPECT_EQ(GetVerification("t1", "nope").status().code(), absl::StatusCode::kNotFound);
}

TEST_P(StoreConformanceTest, BindingOutcomes) {
  EXPECT_EQ(CommitSync(Commit("1", "a1", Fp('x'), true, 2))->binding, idv::v1::BOUND);
  EXPECT_EQ(CommitSync(Commit("2", "a1", Fp('x'), true, 2))->binding, idv::v1::ALREADY_BOUND);
  EXPECT_EQ(CommitSync(Commit("3", "a2", Fp('x'), true, 2))->binding, idv::v1::BOUND);
  EXPECT_EQ(CommitSync(Commit("4", "a3", Fp('x'), true, 2))->binding, idv::v1::LIMIT_REACHED);
  EXPECT_EQ(CommitSync(Commit("5", "a1", Fp('y'), true, 2))->binding,
            idv::v1::ACCOUNT_HAS_OTHER_IDENTITY);
  EXPECT_EQ(GetBinding("t", "a3").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(GetBinding("t", "a1")->identity_fingerprint(), Fp('x'));
}

// After a key rotation the same person has a new fingerprint; the commit carries the earlier
// one too. The cap counts the identity once across versions, the account bound under version 1
// is ALREADY_BOUND and moves to version 2, and what each version still holds is counted.
TEST_P(StoreConformanceTest, BindingsAreFoundAcrossKeyVersionsAndMoveToTheCurrentOne) {
  ASSERT_EQ(CommitSync(Commit("1", "a1", Fp('x'), true, 2))->binding, idv::v1::BOUND);
  ASSERT_EQ(CommitSync(Commit("2", "a2", Fp('x'), true, 2))->binding, idv::v1::BOUND);
  auto under_v2 = [](const std::string& id, const std::string& account) {
    VerificationCommit c = Commit(id, account, Fp('X'), true, 2);
    c.record.set_key_version(2);
    c.earlier_fingerprints.push_back({1, Fp('x')});
    return c;
  };
  // Without the earlier fingerprint the identity would look new, and a3 would be bound.
  absl::StatusOr<CommitResult> r = CommitSync(under_v2("3", "a3"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->binding, idv::v1::LIMIT_REACHED);
  r = CommitSync(under_v2("4", "a1"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->binding, idv::v1::ALREADY_BOUND);
  EXPECT_TRUE(r->binding_moved);
  absl::StatusOr<AccountBinding> b = GetBinding("t", "a1");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->key_version(), 2u);
  EXPECT_EQ(b->identity_fingerprint(), Fp('X'));
  EXPECT_EQ(b->verification_id(), "1");  // when and by which verification it was bound stays
  r = CommitSync(under_v2("5", "a1"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->binding, idv::v1::ALREADY_BOUND);
  EXPECT_FALSE(r->binding_moved);
  // Still one identity with two accounts.
  EXPECT_EQ(CommitSync(under_v2("6", "a3"))->binding, idv::v1::LIMIT_REACHED);
  // Another person's account is not moved by a fingerprint it does not have.
  EXPECT_EQ(CommitSync(Commit("8", "b1", Fp('y'), true, 2))->binding, idv::v1::BOUND);
  EXPECT_EQ(CommitSync(under_v2("9", "b1"))->binding, idv::v1::ACCOUNT_HAS_OTHER_IDENTITY);

  // Unbinding the moved account frees its place under the version it moved to.
  VerificationCommit removal = Commit("10", "a1", "", false);
  removal.remove_account = true;
  ASSERT_TRUE(CommitSync(std::move(removal))->binding_removed);
  EXPECT_EQ(CommitSync(under_v2("11", "a3"))->binding, idv::v1::BOUND);

  absl::StatusOr<std::vector<KeyUsage>> usage =
      Await<std::vector<KeyUsage>>([&](auto done) { store_->CountKeyUsage(std::move(done)); });
  ASSERT_TRUE(usage.ok()) << usage.status();
  ASSERT_EQ(usage->size(), 2u);
  EXPECT_EQ((*usage)[0].key_version, 1u);
  EXPECT_EQ((*usage)[0].bindings, 2u);  // a2, b1
  EXPECT_EQ((*usage)[1].key_version, 2u);
  EXPECT_EQ((*usage)[1].bindings, 1u);  // a3
}

// Many concurrent binds of one identity land in few groups; decisions inside a group must still
// see the group's earlier writes, so exactly `max` accounts get bound.
TEST_P(StoreConformanceTest, ConcurrentBindsRespectTheCap) {
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

TEST_P(StoreConformanceTest, ChainAndBindingsSurviveReopen) {
  ASSERT_TRUE(CommitSync(Commit("ID1", "a", Fp('a'), true)).ok());
  store_.reset();
  store_ = OpenNode("node-a");
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(GetBinding("t", "a")->verification_id(), "ID1");
  auto r = CommitSync(Commit("ID2", "a", Fp('a'), true));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->sequence, 2u);
  EXPECT_EQ(r->binding, idv::v1::ALREADY_BOUND);
  EXPECT_TRUE(CheckStoredLog(*store_, "node-a", 2).ok());
}

TEST_P(StoreConformanceTest, ClosedStoreAnswersUnavailable) {
  store_->Close();
  EXPECT_EQ(CommitSync(Commit("ID1", "a", Fp('a'), true)).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(GetVerification("t", "ID1").status().code(), absl::StatusCode::kUnavailable);
}

TEST_P(StoreConformanceTest, ClientsRoundTripAndFirstClientOnce) {
  Changes& changes = changes_;
  store_->Subscribe(changes.Listener());
  idv::store::v1::ClientRecord c;
  c.set_client_id("c1");
  c.set_tenant("t");
  c.add_roles("verify");
  ASSERT_TRUE(Await<bool>([&](auto done) { store_->PutClient(c, true, std::move(done)); }).ok());
  EXPECT_TRUE(changes.WaitFor(Change::kClient, "c1", absl::Seconds(5)));
  c.set_client_id("c2");
  EXPECT_EQ(
      Await<bool>([&](auto done) { store_->PutClient(c, true, std::move(done)); }).status().code(),
      absl::StatusCode::kAlreadyExists);
  c.add_roles("audit");
  c.set_client_id("c1");
  ASSERT_TRUE(Await<bool>([&](auto done) { store_->PutClient(c, false, std::move(done)); }).ok());
  auto clients = Await<std::vector<idv::store::v1::ClientRecord>>(
      [&](auto done) { store_->ListClients(std::move(done)); });
  ASSERT_TRUE(clients.ok());
  ASSERT_EQ(clients->size(), 1u);
  EXPECT_EQ((*clients)[0].roles_size(), 2);
}

TEST_P(StoreConformanceTest, ConfigVersionTakenTwiceIsAbortedAndNotified) {
  Changes& changes = changes_;
  store_->Subscribe(changes.Listener());
  VerificationCommit first = Commit("CFG1", "", "", false);
  first.config.emplace().set_version(1);
  first.config->set_actor("admin-1");
  ASSERT_TRUE(CommitSync(std::move(first)).ok());
  EXPECT_TRUE(changes.WaitFor(Change::kConfig, "1", absl::Seconds(5)));

  VerificationCommit again = Commit("CFG2", "", "", false);
  again.config.emplace().set_version(1);
  again.config->set_actor("admin-2");
  EXPECT_EQ(CommitSync(std::move(again)).status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(GetVerification("t", "CFG2").status().code(), absl::StatusCode::kNotFound);
  auto versions = Await<std::vector<idv::store::v1::ConfigVersion>>(
      [&](auto done) { store_->ReadConfigVersions(10, std::move(done)); });
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 1u);
  EXPECT_EQ((*versions)[0].actor(), "admin-1");
}

TEST_P(StoreConformanceTest, PendingEntryIsClaimedAndSettledOnce) {
  VerificationCommit pending = Commit("P1", "acct", Fp('p'), false);
  pending.record.set_outcome(idv::v1::PENDING);
  pending.recheck.emplace().set_verification_id("P1");
  ASSERT_TRUE(CommitSync(std::move(pending)).ok());
  auto claimed = Claim(*store_, absl::Seconds(30));
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ((*claimed)[0].verification_id(), "P1");

  VerificationCommit settle = Commit("P1", "acct", Fp('p'), true);
  settle.settles_recheck = true;
  settle.record.set_resolves_pending(true);
  auto settled = CommitSync(settle);
  ASSERT_TRUE(settled.ok()) << settled.status();
  EXPECT_EQ(settled->binding, idv::v1::BOUND);
  // The newest record of the verification is the settling one.
  EXPECT_TRUE(GetVerification("t", "P1")->resolves_pending());
  EXPECT_EQ(CommitSync(settle).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Claim(*store_, absl::Seconds(30))->empty());
}

VerificationCommit WithKey(VerificationCommit c, const std::string& key, absl::Time expires) {
  idv::store::v1::IdempotencyEntry& e = c.idempotency.emplace();
  e.set_tenant(c.record.tenant());
  e.set_key_hash(key);
  e.set_request_digest("digest-" + c.record.verification_id());
  e.set_account_id(c.record.account_id());
  *e.mutable_expires_at() = ToProto(expires);
  idv::v1::VerifyResponse answered;
  answered.set_verification_id(c.record.verification_id());
  answered.set_outcome(idv::v1::VERIFIED);
  e.set_response(answered.SerializeAsString());
  return c;
}

TEST_P(StoreConformanceTest, AnIdempotencyKeyKeepsOneAnswerUntilItExpires) {
  const absl::Time later = absl::Now() + absl::Hours(1);
  auto first = CommitSync(WithKey(Commit("K1", "acct", Fp('a'), true), "key-1", later));
  ASSERT_TRUE(first.ok()) << first.status();
  auto kept = Await<idv::store::v1::IdempotencyEntry>(
      [&](auto done) { store_->GetIdempotency("t", {"key-1"}, std::move(done)); });
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->request_digest(), "digest-K1");
  idv::v1::VerifyResponse answered;
  ASSERT_TRUE(answered.ParseFromString(kept->response()));
  EXPECT_EQ(answered.verification_id(), "K1");
  EXPECT_EQ(answered.binding(), idv::v1::BOUND);  // the store's decision, kept with the answer
  // Another tenant's key of the same hash is another key.
  EXPECT_EQ(Await<idv::store::v1::IdempotencyEntry>(
                [&](auto done) { store_->GetIdempotency("other", {"key-1"}, std::move(done)); })
                .status()
                .code(),
            absl::StatusCode::kNotFound);

  // The same key again, in another group and twice in one: refused, nothing written.
  EXPECT_EQ(
      CommitSync(WithKey(Commit("K2", "acct2", Fp('b'), true), "key-1", later)).status().code(),
      absl::StatusCode::kAlreadyExists);
  std::promise<absl::StatusOr<CommitResult>> pa, pb;
  store_->CommitVerification(WithKey(Commit("K3", "acct3", Fp('c'), true), "key-2", later),
                             [&](absl::StatusOr<CommitResult> r) { pa.set_value(r); });
  store_->CommitVerification(WithKey(Commit("K4", "acct4", Fp('d'), true), "key-2", later),
                             [&](absl::StatusOr<CommitResult> r) { pb.set_value(r); });
  auto ra = pa.get_future().get();
  auto rb = pb.get_future().get();
  EXPECT_TRUE(ra.ok()) << ra.status();
  EXPECT_EQ(rb.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(GetVerification("t", "K2").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(GetVerification("t", "K4").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(GetBinding("t", "acct2").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(CheckStoredLog(*store_, "node-a", 2).ok());

  // An expired entry is not found, is replaced by the next call with its key, and is purged.
  ASSERT_TRUE(CommitSync(WithKey(Commit("K5", "acct5", Fp('e'), true), "key-3", absl::Now())).ok());
  EXPECT_EQ(Await<idv::store::v1::IdempotencyEntry>(
                [&](auto done) { store_->GetIdempotency("t", {"key-3"}, std::move(done)); })
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(CommitSync(WithKey(Commit("K6", "acct6", Fp('f'), true), "key-3", later)).ok());
  ASSERT_TRUE(CommitSync(WithKey(Commit("K7", "acct7", Fp('g'), true), "key-4", absl::Now())).ok());
  auto purged =
      Await<uint64_t>([&](auto done) { store_->PurgeIdempotency(absl::Now(), std::move(done)); });
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(*purged, 1u);  // key-4; key-1, key-2 and the new key-3 live on
  for (const char* live : {"key-1", "key-2", "key-3"}) {
    EXPECT_TRUE(Await<idv::store::v1::IdempotencyEntry>([&](auto done) {
                  store_->GetIdempotency("t", {live}, std::move(done));
                }).ok())
        << live;
  }
}

// Lines of LevelDB's own dump of every file of its directory (write-ahead logs and tables, old
// versions included) that hold a value for `key`, as `put` or `val` entries.
std::vector<std::string> StoredVersions(const std::string& db_dir, const std::string& key) {
  std::string escaped;
  for (unsigned char c : key) {
    escaped += (c >= ' ' && c <= '~') ? std::string(1, static_cast<char>(c))
                                      : absl::StrFormat("\\x%02x", c);
  }
  std::vector<std::string> found;
  for (const auto& f : std::filesystem::directory_iterator(db_dir)) {
    class Sink : public leveldb::WritableFile {
     public:
      leveldb::Status Append(const leveldb::Slice& d) override {
        text.append(d.data(), d.size());
        return leveldb::Status::OK();
      }
      leveldb::Status Close() override { return leveldb::Status::OK(); }
      leveldb::Status Flush() override { return leveldb::Status::OK(); }
      leveldb::Status Sync() override { return leveldb::Status::OK(); }
      std::string text;
    } sink;
    if (!leveldb::DumpFile(leveldb::Env::Default(), f.path().string(), &sink).ok()) continue;
    for (absl::string_view line : absl::StrSplit(sink.text, '\n')) {
      const bool has_key = absl::StrContains(line, "'" + escaped + "'");
      if (has_key && (absl::StrContains(line, "put '") || absl::StrContains(line, " : val "))) {
        found.push_back(absl::StrCat(f.path().filename().string(), ": ", line.substr(0, 80)));
      }
    }
  }
  return found;
}

// Removing an account's binding frees its place under the identity's cap, takes its
// idempotency entries with it, and (LevelDB) leaves no version of the removed values in any file.
TEST_P(StoreConformanceTest, ARemovedAccountFreesItsIdentityAndLeavesNoTrace) {
  const std::string fp = Fp('r');
  ASSERT_EQ(CommitSync(Commit("B1", "closing", fp, true, 2))->binding, idv::v1::BOUND);
  ASSERT_EQ(CommitSync(Commit("B2", "staying", fp, true, 2))->binding, idv::v1::BOUND);
  ASSERT_EQ(CommitSync(Commit("B3", "waiting", fp, true, 2))->binding, idv::v1::LIMIT_REACHED);
  const absl::Time later = absl::Now() + absl::Hours(1);
  ASSERT_TRUE(CommitSync(WithKey(Commit("K1", "closing", fp, false), "k-closing", later)).ok());
  ASSERT_TRUE(CommitSync(WithKey(Commit("K2", "staying", fp, false), "k-staying", later)).ok());

  VerificationCommit close = Commit("U1", "closing", "", false);
  close.remove_account = true;
  absl::StatusOr<CommitResult> closed = CommitSync(std::move(close));
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_TRUE(closed->binding_removed);
  EXPECT_EQ(closed->idempotency_removed, 1u);
  EXPECT_EQ(GetBinding("t", "closing").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(GetBinding("t", "staying").ok());
  auto key = [&](const std::string& k) {
    return Await<idv::store::v1::IdempotencyEntry>(
               [&](auto done) { store_->GetIdempotency("t", {k}, std::move(done)); })
        .status()
        .code();
  };
  EXPECT_EQ(key("k-closing"), absl::StatusCode::kNotFound);
  EXPECT_EQ(key("k-staying"), absl::StatusCode::kOk);
  EXPECT_TRUE(GetVerification("t", "U1").ok());  // the removal is on the record
  // The identity's cap counts the removed account no more.
  EXPECT_EQ(CommitSync(Commit("B4", "waiting", fp, true, 2))->binding, idv::v1::BOUND);
  // An account without a binding: nothing to remove, still recorded.
  VerificationCommit none = Commit("U2", "never-bound", "", false);
  none.remove_account = true;
  EXPECT_FALSE(CommitSync(std::move(none))->binding_removed);

  for (const char* account : {"staying", "waiting"}) {
    VerificationCommit c = Commit(absl::StrCat("U-", account), account, "", false);
    c.remove_account = true;
    ASSERT_TRUE(CommitSync(std::move(c))->binding_removed) << account;
  }
  if (postgres()) {
    EXPECT_EQ(Pg()->QueryValue(db_, "SELECT count(*) FROM idv_identities").value_or("?"), "0");
    EXPECT_EQ(Pg()->QueryValue(db_, "SELECT count(*) FROM idv_accounts").value_or("?"), "0");
  } else {
    std::string account_key = "r/t";
    account_key.push_back('\0');
    for (const char* account : {"closing", "staying", "waiting"}) {
      const std::vector<std::string> left = StoredVersions(dir_ + "/db", account_key + account);
      EXPECT_TRUE(left.empty()) << account << ":\n" << absl::StrJoin(left, "\n");
    }
    std::string identity_key = "b/t";
    identity_key.push_back('\0');
    // The identity key: tenant, key version 1, fingerprint (see store/leveldb/leveldb_store.cc).
    std::string version = {'\0', '\0', '\0', '\1'};
    const std::vector<std::string> left = StoredVersions(dir_ + "/db", identity_key + version + fp);
    EXPECT_TRUE(left.empty()) << absl::StrJoin(left, "\n");
  }
}

// The LevelDB key prefixes ("r/") and PostgreSQL tables ("idv_accounts") the README's data
// classification table lists (its third and fourth columns).
// The files under `dir` (recursively) that hold any of `needles`.
std::vector<std::string> FilesHolding(const std::string& dir,
                                      const std::vector<std::string>& needles) {
  std::vector<std::string> found;
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir)) {
    if (!f.is_regular_file()) continue;
    std::ifstream in(f.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const std::string& n : needles) {
      if (bytes.find(n) != std::string::npos) {
        found.push_back(f.path().string());
        break;
      }
    }
  }
  return found;
}

// PostgreSQL keeps a deleted row's bytes in its table file (until the page is rewritten) and in
// WAL: after ScrubRemovedData no file of the database or of its WAL holds the removed binding's
// entries (the account's binding row, the identity's bindings as they were, the idempotency key).
TEST_P(StoreConformanceTest, ScrubbedDatabaseFilesHoldNoTraceOfARemovedBinding) {
  if (!postgres()) {
    GTEST_SKIP() << "LevelDB compacts at removal: ARemovedAccountFreesItsIdentityAndLeavesNoTrace";
  }
  std::string fp(32, '\0'), key(32, '\0');
  randombytes_buf(fp.data(), fp.size());  // bytes found nowhere else
  randombytes_buf(key.data(), key.size());
  const absl::Time later = absl::Now() + absl::Hours(1);
  ASSERT_EQ(CommitSync(WithKey(Commit("S1", "scrub-me", fp, true, 5), key, later))->binding,
            idv::v1::BOUND);
  // Neighbours on the same pages, written after it, and one more account of the same identity.
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(CommitSync(WithKey(Commit(absl::StrCat("N", i), absl::StrCat("keep-", i),
                                          Fp('a' + i % 20), true, 5),
                                   absl::StrCat("keep-key-", i), later))
                    .ok());
  }
  ASSERT_EQ(CommitSync(Commit("S2", "same-person", fp, true, 5))->binding, idv::v1::BOUND);
  absl::StatusOr<AccountBinding> bound = GetBinding("t", "scrub-me");
  ASSERT_TRUE(bound.ok());
  idv::store::v1::IdentityBindings before;
  before.add_accounts()->set_account_id("scrub-me");
  before.mutable_accounts(0)->set_verification_id("S1");
  *before.mutable_accounts(0)->mutable_bound_at() = bound->bound_at();
  const std::vector<std::string> needles = {bound->SerializeAsString(), before.SerializeAsString(),
                                            key};
  const std::string oid =
      Pg()->QueryValue(db_, "SELECT oid FROM pg_database WHERE datname = current_database()")
          .value_or("?");
  ASSERT_TRUE(Pg()->QueryValue(db_, "CHECKPOINT").ok());
  const std::string base = Pg()->data_dir() + "/base/" + oid;
  const std::string wal = Pg()->data_dir() + "/pg_wal";
  // The scan finds them while they are stored.
  ASSERT_FALSE(FilesHolding(base, needles).empty());

  VerificationCommit close = Commit("U1", "scrub-me", "", false);
  close.remove_account = true;
  ASSERT_TRUE(CommitSync(std::move(close))->binding_removed);
  absl::StatusOr<std::vector<std::string>> steps = Await<std::vector<std::string>>(
      [&](auto done) { store_->ScrubRemovedData(std::move(done)); });
  ASSERT_TRUE(steps.ok()) << steps.status();
  EXPECT_EQ(steps->size(), 4u) << absl::StrJoin(*steps, "\n");  // 3 tables, then the WAL
  EXPECT_EQ(FilesHolding(base, needles), std::vector<std::string>{});
  EXPECT_EQ(FilesHolding(wal, needles), std::vector<std::string>{});
  // What stays: the other account of the identity, the neighbours, the audit records.
  EXPECT_TRUE(GetBinding("t", "same-person").ok());
  EXPECT_TRUE(GetBinding("t", "keep-39").ok());
  EXPECT_TRUE(GetVerification("t", "S1").ok());
}

std::pair<std::set<std::string>, std::set<std::string>> ClassifiedItems() {
  std::ifstream in(IDV_README_PATH);
  std::string line;
  bool in_section = false;
  std::set<std::string> prefixes, tables;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, "## ")) in_section = absl::StartsWith(line, "## Data at rest");
    if (!in_section || !absl::StartsWith(line, "| ")) continue;
    std::vector<std::string> cells = absl::StrSplit(line, '|');
    if (cells.size() < 6) continue;
    for (size_t col : {3u, 4u}) {
      for (absl::string_view part : absl::StrSplit(cells[col], '`')) {
        if (col == 3 && part.size() == 2 && part[1] == '/') prefixes.insert(std::string(part));
        if (col == 4 && absl::StartsWith(part, "idv_")) tables.insert(std::string(part));
      }
    }
  }
  return {prefixes, tables};
}

// Whatever the store holds after one of each kind of write is in the README's classification.
TEST_P(StoreConformanceTest, EveryStoredItemIsClassified) {
  const auto [prefixes, tables] = ClassifiedItems();
  ASSERT_GE(prefixes.size(), 10u) << "the README's table was not found";
  ASSERT_GE(tables.size(), 10u);
  // One of each: a binding with a PENDING re-check and an idempotency key, enough records for a
  // checkpoint, a client, a tenant, a configuration version.
  VerificationCommit bound =
      WithKey(Commit("C1", "acct", Fp('a'), true), "key", absl::Now() + absl::Hours(1));
  bound.recheck.emplace().set_verification_id("C1");
  ASSERT_TRUE(CommitSync(std::move(bound)).ok());
  VerificationCommit admin = Commit("C2", "", Fp('b'), false);
  admin.client.emplace().set_client_id("client");
  admin.tenant.emplace().set_name("tenant");
  admin.config.emplace().set_version(1);
  ASSERT_TRUE(CommitSync(std::move(admin)).ok());
  ASSERT_TRUE(CommitSync(Commit("C3", "acct", Fp('a'), false)).ok());
  store_->Close();
  std::set<std::string> found;
  if (postgres()) {
    absl::StatusOr<std::string> names = Pg()->QueryValue(
        db_,
        "SELECT string_agg(c.relname, ',') FROM pg_class c JOIN pg_namespace n ON "
        "n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') "
        "AND NOT c.relispartition");
    ASSERT_TRUE(names.ok()) << names.status();
    for (absl::string_view t : absl::StrSplit(*names, ',')) found.insert(std::string(t));
    for (const std::string& t : found) EXPECT_TRUE(tables.count(t)) << t << " is not classified";
    for (const std::string& t : tables) EXPECT_TRUE(found.count(t)) << t << " does not exist";
  } else {
    store_.reset();
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), dir_ + "/db", &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next())
      found.insert(it->key().ToString().substr(0, 2));
    for (const std::string& p : found) EXPECT_TRUE(prefixes.count(p)) << p << " is not classified";
    EXPECT_GE(found.size(), 12u);  // the write above reached most kinds of key
  }
}

TEST_P(StoreConformanceTest, CheckpointsAreSignedAndCoverTheLog) {
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(CommitSync(Commit(absl::StrCat("C", i), "a", Fp('c'), false)).ok());
  }
  store_->Close();  // signs the last checkpoint
  store_.reset();
  store_ = OpenNode("node-a");
  ASSERT_NE(store_, nullptr);
  auto checkpoints = Await<std::vector<idv::store::v1::Checkpoint>>(
      [&](auto done) { store_->ReadCheckpoints("node-a", 10, std::move(done)); });
  ASSERT_TRUE(checkpoints.ok()) << checkpoints.status();
  std::vector<uint64_t> sizes;
  for (const auto& c : *checkpoints) sizes.push_back(c.size());
  EXPECT_EQ(sizes, (std::vector<uint64_t>{7, 6, 3}));
  const std::string vkey = *audit::VerifierKey("idv.test/audit/node-a", pk_);
  for (const auto& c : *checkpoints) {
    auto text = audit::OpenNote(c.note(), vkey);
    ASSERT_TRUE(text.ok()) << text.status();
    auto parsed = audit::ParseCheckpoint(*text);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->size, c.size());
    EXPECT_EQ(parsed->origin, "idv.test/audit/node-a");
    // The signed root is the root of the log's first `size` records, as stored.
    auto root = CheckStoredLog(*store_, "node-a", 7);
    ASSERT_TRUE(root.ok()) << root.status();
    auto records = Await<std::vector<StoredRecord>>(
        [&](auto done) { store_->ReadAuditRecords("node-a", 1, c.size(), std::move(done)); });
    ASSERT_TRUE(records.ok());
    std::vector<audit::Hash> leaves;
    for (const auto& r : *records) leaves.push_back(audit::LeafHash(r.bytes));
    EXPECT_EQ(parsed->root, audit::RootHash(c.size(), [&](uint64_t i) { return leaves[i]; }));
  }
  auto logs = Await<std::vector<LogInfo>>([&](auto done) { store_->ListLogs(std::move(done)); });
  ASSERT_TRUE(logs.ok());
  ASSERT_EQ(logs->size(), 1u);
  EXPECT_EQ((*logs)[0].node_id, "node-a");
  EXPECT_EQ((*logs)[0].size, 7u);
}

// A verification of `account` decided at `seconds` with one backend check of `latency_us`.
VerificationCommit Decided(const std::string& id, const std::string& account, int64_t seconds,
                           idv::v1::Outcome outcome, uint64_t latency_us,
                           const std::string& tenant = "t") {
  VerificationCommit c = Commit(id, account, Fp('s'), false, 5, tenant);
  c.record.set_kind(idv::store::v1::VERIFICATION);
  c.record.set_outcome(outcome);
  c.record.mutable_decided_at()->set_seconds(seconds);
  idv::v1::Check* check = c.record.add_checks();
  check->set_backend("sim");
  check->set_latency_us(latency_us);
  return c;
}

std::map<std::string, int64_t> CountsOf(Store& s, const std::string& tenant,
                                        const std::string& node, int64_t from, int64_t to) {
  auto counts = Await<std::vector<StatsCount>>(
      [&](auto done) { s.ReadStats(tenant, node, from, to, std::move(done)); });
  EXPECT_TRUE(counts.ok()) << counts.status();
  std::map<std::string, int64_t> out;
  if (!counts.ok()) return out;
  for (const StatsCount& c : *counts) {
    out[absl::StrCat(c.hour, " ", c.dimension, " ", c.key)] += c.count;
  }
  return out;
}

std::vector<std::string> AccountRecords(Store& s, const std::string& node,
                                        const std::string& tenant, const std::string& account,
                                        uint64_t before = UINT64_MAX, size_t limit = 100) {
  auto records = Await<std::vector<StoredRecord>>([&](auto done) {
    s.ReadAccountRecordsBackward(node, tenant, account, before, limit, std::move(done));
  });
  EXPECT_TRUE(records.ok()) << records.status();
  std::vector<std::string> ids;
  if (!records.ok()) return ids;
  for (const StoredRecord& r : *records) {
    AuditRecord parsed;
    EXPECT_TRUE(parsed.ParseFromString(r.bytes));
    ids.push_back(parsed.verification_id());
  }
  return ids;
}

constexpr int64_t kHour = 1795000000 - 1795000000 % 3600;

TEST_P(StoreConformanceTest, AccountIndexReadsOneAccountNewestFirst) {
  for (const auto& [id, account, tenant] :
       std::vector<std::tuple<std::string, std::string, std::string>>{{"A1", "alice", "t"},
                                                                      {"B1", "bob", "t"},
                                                                      {"A2", "alice", "t"},
                                                                      {"X1", "alice", "t2"},
                                                                      {"A3", "alice", "t"},
                                                                      {"B2", "bob", "t"}}) {
    ASSERT_TRUE(CommitSync(Decided(id, account, kHour, idv::v1::VERIFIED, 100, tenant)).ok());
  }
  // An administrative change names no account, whatever its fields hold.
  VerificationCommit admin = Commit("ADM", "alice", Fp('x'), false);
  admin.record.set_kind(idv::store::v1::ADMIN_CHANGE);
  admin.record.mutable_admin_action()->set_action("PutBackend");
  ASSERT_TRUE(CommitSync(std::move(admin)).ok());

  EXPECT_EQ(AccountRecords(*store_, "node-a", "t", "alice"),
            (std::vector<std::string>{"A3", "A2", "A1"}));
  EXPECT_EQ(AccountRecords(*store_, "node-a", "t2", "alice"), (std::vector<std::string>{"X1"}));
  EXPECT_EQ(AccountRecords(*store_, "node-a", "t", "bob"), (std::vector<std::string>{"B2", "B1"}));
  // Paging: below record A2 (sequence 3), and at most one.
  EXPECT_EQ(AccountRecords(*store_, "node-a", "t", "alice", 3), (std::vector<std::string>{"A1"}));
  EXPECT_EQ(AccountRecords(*store_, "node-a", "t", "alice", UINT64_MAX, 1),
            (std::vector<std::string>{"A3"}));
  EXPECT_TRUE(AccountRecords(*store_, "node-a", "t", "ali").empty());
  EXPECT_TRUE(AccountRecords(*store_, "node-a", "t", "nobody").empty());
}

TEST_P(StoreConformanceTest, HourlyCountersMatchTheRecordsAndSurviveReopen) {
  ASSERT_TRUE(CommitSync(Decided("1", "a", kHour + 5, idv::v1::VERIFIED, 100)).ok());
  ASSERT_TRUE(CommitSync(Decided("2", "b", kHour + 3599, idv::v1::MISMATCH, 1000)).ok());
  ASSERT_TRUE(CommitSync(Decided("3", "c", kHour + 3600, idv::v1::VERIFIED, 100)).ok());
  ASSERT_TRUE(CommitSync(Decided("4", "d", kHour + 10, idv::v1::VERIFIED, 100, "other")).ok());
  VerificationCommit read = Commit("R", "", Fp('r'), false);  // not a verification: not counted
  read.record.set_kind(idv::store::v1::AUDITOR_READ);
  read.record.mutable_decided_at()->set_seconds(kHour + 1);
  ASSERT_TRUE(CommitSync(std::move(read)).ok());

  const std::string h0 = std::to_string(kHour), h1 = std::to_string(kHour + 3600);
  const std::string b100 = std::to_string(LatencyBucket(100));
  const std::string b1000 = std::to_string(LatencyBucket(1000));
  const std::map<std::string, int64_t> want = {
      {h0 + " total ", 2},
      {h0 + " outcome VERIFIED", 1},
      {h0 + " outcome MISMATCH", 1},
      {h0 + " reason REASON_CODE_UNSPECIFIED", 2},
      {h0 + " document DOCUMENT_TYPE_UNSPECIFIED", 2},
      {h0 + " backend sim", 2},
      {h0 + " latency sim/" + b100, 1},
      {h0 + " latency sim/" + b1000, 1},
      {h1 + " total ", 1},
      {h1 + " outcome VERIFIED", 1},
      {h1 + " reason REASON_CODE_UNSPECIFIED", 1},
      {h1 + " document DOCUMENT_TYPE_UNSPECIFIED", 1},
      {h1 + " backend sim", 1},
      {h1 + " latency sim/" + b100, 1},
  };
  EXPECT_EQ(CountsOf(*store_, "t", "", kHour, kHour + 7200), want);
  EXPECT_EQ(CountsOf(*store_, "t", "", kHour, kHour + 3600).size(), 8u);  // the first hour only
  EXPECT_EQ(CountsOf(*store_, "other", "", kHour, kHour + 7200)[h0 + " total "], 1);
  EXPECT_TRUE(CountsOf(*store_, "t", "node-b", kHour, kHour + 7200).empty());

  store_->Close();
  store_.reset();
  store_ = OpenNode("node-a");
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(CountsOf(*store_, "t", "node-a", kHour, kHour + 7200), want);
  ASSERT_TRUE(CommitSync(Decided("5", "e", kHour + 7, idv::v1::VERIFIED, 100)).ok());
  EXPECT_EQ(CountsOf(*store_, "t", "", kHour, kHour + 3600)[h0 + " total "], 3);
}

// Records stored before the account index and the counters existed (LevelDB schema 2, PostgreSQL
// schema version 1) are indexed and counted when the store is opened by this version.
TEST_P(StoreConformanceTest, IndexesAreBuiltForRecordsFromBeforeThem) {
  ASSERT_TRUE(CommitSync(Decided("1", "alice", kHour, idv::v1::VERIFIED, 100)).ok());
  ASSERT_TRUE(CommitSync(Decided("2", "bob", kHour, idv::v1::MISMATCH, 100)).ok());
  ASSERT_TRUE(CommitSync(Decided("3", "alice", kHour + 3600, idv::v1::VERIFIED, 100)).ok());
  const auto want = CountsOf(*store_, "t", "", kHour, kHour + 7200);
  store_->Close();
  store_.reset();
  if (postgres()) {
    for (const char* sql :
         {"DROP TABLE idv_audit_stats", "DROP TABLE idv_audit_purges", "DROP TABLE idv_tenants",
          "DROP TABLE idv_idempotency", "ALTER TABLE idv_audit DROP COLUMN account_id",
          "DELETE FROM idv_schema WHERE version >= 2"}) {
      ASSERT_TRUE(Pg()->QueryValue(db_, sql).ok()) << sql;
    }
  } else {
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), dir_ + "/db", &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
    int removed = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (it->key().starts_with("x/") || it->key().starts_with("s/")) {
        ASSERT_TRUE(db->Delete(leveldb::WriteOptions(), it->key()).ok());
        ++removed;
      }
    }
    EXPECT_GT(removed, 0);
    ASSERT_TRUE(db->Put(leveldb::WriteOptions(), "m/schema", "2").ok());
  }
  store_ = OpenNode("node-a");
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(CountsOf(*store_, "t", "", kHour, kHour + 7200), want);
  EXPECT_EQ(AccountRecords(*store_, "node-a", "t", "alice"), (std::vector<std::string>{"3", "1"}));
  ASSERT_TRUE(CommitSync(Decided("4", "alice", kHour, idv::v1::VERIFIED, 100)).ok());
  EXPECT_EQ(AccountRecords(*store_, "node-a", "t", "alice"),
            (std::vector<std::string>{"4", "3", "1"}));
}

TEST(LatencyBucketsTest, BoundsHoldAndAreAtMostNinePercentApart) {
  for (uint64_t us : {0ull, 1ull, 2ull, 3ull, 99ull, 100ull, 101ull, 4096ull, 123456789ull}) {
    const int b = LatencyBucket(us);
    EXPECT_GE(LatencyBucketUpper(b), us);
    if (b > 0) {
      EXPECT_LT(LatencyBucketUpper(b - 1), us);
    }
  }
  for (int b = 40; b < 200; ++b) {
    EXPECT_LE(LatencyBucketUpper(b), LatencyBucketUpper(b - 1) * 1.091 + 1);
  }
}

// ---- several nodes on one database (engines that have them) ----

class MultiNodeTest : public StoreConformanceTest {};

TEST_P(MultiNodeTest, CountersAreSummedOverNodesAndIndexesArePerLog) {
  std::unique_ptr<Store> b = OpenNode("node-b");
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(CommitSync(Decided("1", "alice", kHour, idv::v1::VERIFIED, 100)).ok());
  ASSERT_TRUE(CommitOn(*b, Decided("2", "alice", kHour, idv::v1::VERIFIED, 100)).ok());
  ASSERT_TRUE(CommitOn(*b, Decided("3", "alice", kHour, idv::v1::MISMATCH, 100)).ok());
  const std::string h0 = std::to_string(kHour);
  EXPECT_EQ(CountsOf(*store_, "t", "", kHour, kHour + 3600)[h0 + " total "], 3);
  EXPECT_EQ(CountsOf(*b, "t", "node-a", kHour, kHour + 3600)[h0 + " total "], 1);
  EXPECT_EQ(CountsOf(*store_, "t", "node-b", kHour, kHour + 3600)[h0 + " outcome MISMATCH"], 1);
  EXPECT_EQ(AccountRecords(*store_, "node-b", "t", "alice"), (std::vector<std::string>{"3", "2"}));
  EXPECT_EQ(AccountRecords(*b, "node-a", "t", "alice"), (std::vector<std::string>{"1"}));
}

TEST_P(MultiNodeTest, CapHoldsAcrossNodes) {
  std::unique_ptr<Store> b = OpenNode("node-b");
  ASSERT_NE(b, nullptr);
  for (int round = 0; round < 5; ++round) {
    const std::string fp = Fp(static_cast<char>('A' + round));
    constexpr int kCalls = 60;
    std::vector<std::promise<absl::StatusOr<CommitResult>>> done(kCalls);
    for (int i = 0; i < kCalls; ++i) {
      Store& node = i % 2 ? *b : *store_;
      node.CommitVerification(
          Commit(absl::StrCat("R", round, "-", i), absl::StrCat("r", round, "-acct", i), fp, true,
                 5),
          [&done, i](absl::StatusOr<CommitResult> r) { done[i].set_value(std::move(r)); });
    }
    int bound = 0, limit = 0;
    for (auto& p : done) {
      absl::StatusOr<CommitResult> r = p.get_future().get();
      ASSERT_TRUE(r.ok()) << r.status();
      bound += r->binding == idv::v1::BOUND;
      limit += r->binding == idv::v1::LIMIT_REACHED;
    }
    EXPECT_EQ(bound, 5) << "round " << round;
    EXPECT_EQ(limit, kCalls - 5);
  }
  auto rows = Pg()->QueryValue(db_, "SELECT count(*) FROM idv_accounts");
  EXPECT_EQ(rows.value_or("?"), "25");
}

TEST_P(MultiNodeTest, OneAccountBoundByTwoNodesAtOnceGetsOneIdentity) {
  std::unique_ptr<Store> b = OpenNode("node-b");
  ASSERT_NE(b, nullptr);
  for (int round = 0; round < 10; ++round) {
    const std::string account = "shared-" + std::to_string(round);
    std::promise<absl::StatusOr<CommitResult>> pa, pb;
    store_->CommitVerification(
        Commit("A" + account, account, Fp(static_cast<char>('a' + round)), true),
        [&](absl::StatusOr<CommitResult> r) { pa.set_value(r); });
    b->CommitVerification(Commit("B" + account, account, Fp(static_cast<char>('A' + round)), true),
                          [&](absl::StatusOr<CommitResult> r) { pb.set_value(r); });
    auto ra = pa.get_future().get();
    auto rb = pb.get_future().get();
    ASSERT_TRUE(ra.ok() && rb.ok()) << ra.status() << rb.status();
    std::multiset<idv::v1::BindingStatus> got = {ra->binding, rb->binding};
    EXPECT_EQ(got, (std::multiset<idv::v1::BindingStatus>{idv::v1::BOUND,
                                                          idv::v1::ACCOUNT_HAS_OTHER_IDENTITY}));
  }
}

TEST_P(MultiNodeTest, OneIdempotencyKeyUsedOnTwoNodesAtOnceKeepsOneAnswer) {
  std::unique_ptr<Store> b = OpenNode("node-b");
  ASSERT_NE(b, nullptr);
  const absl::Time later = absl::Now() + absl::Hours(1);
  for (int round = 0; round < 10; ++round) {
    const std::string key = absl::StrCat("race-", round);
    std::promise<absl::StatusOr<CommitResult>> pa, pb;
    store_->CommitVerification(
        WithKey(Commit(absl::StrCat("A", round), absl::StrCat("a", round), Fp('a'), false), key,
                later),
        [&](absl::StatusOr<CommitResult> r) { pa.set_value(r); });
    b->CommitVerification(
        WithKey(Commit(absl::StrCat("B", round), absl::StrCat("b", round), Fp('b'), false), key,
                later),
        [&](absl::StatusOr<CommitResult> r) { pb.set_value(r); });
    auto ra = pa.get_future().get();
    auto rb = pb.get_future().get();
    EXPECT_NE(ra.ok(), rb.ok()) << ra.status() << rb.status();
    const absl::Status lost = ra.ok() ? rb.status() : ra.status();
    EXPECT_EQ(lost.code(), absl::StatusCode::kAlreadyExists);
  }
  EXPECT_EQ(Pg()->QueryValue(db_, "SELECT count(*) FROM idv_idempotency").value_or("?"), "10");
  EXPECT_EQ(Pg()->QueryValue(db_, "SELECT count(*) FROM idv_audit").value_or("?"), "10");
}

TEST_P(MultiNodeTest, EachNodeHasItsOwnLogAndReadsEveryLog) {
  std::unique_ptr<Store> b = OpenNode("node-b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(CommitOn(*b, Commit("B1", "x", Fp('b'), false))->sequence, 1u);
  EXPECT_EQ(CommitSync(Commit("A1", "y", Fp('a'), false))->sequence, 1u);
  EXPECT_EQ(GetVerification("t", "B1")->node_id(), "node-b");
}

TEST_P(MultiNodeTest, NodeIdIsFencedWhileItsOwnerLives) {
  absl::Status error;
  EXPECT_EQ(OpenNode("node-a", &error), nullptr);
  EXPECT_EQ(error.code(), absl::StatusCode::kFailedPrecondition) << error;
  ASSERT_TRUE(CommitSync(Commit("A1", "y", Fp('a'), false)).ok());
  store_->Close();  // gives the lease up
  store_ = OpenNode("node-a");
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(CommitSync(Commit("A2", "y", Fp('a'), false))->sequence, 2u);
}

TEST_P(MultiNodeTest, PendingEntriesAreLeasedToOneNode) {
  std::unique_ptr<Store> b = OpenNode("node-b");
  ASSERT_NE(b, nullptr);
  VerificationCommit pending = Commit("P1", "acct", Fp('p'), false);
  pending.recheck.emplace().set_verification_id("P1");
  ASSERT_TRUE(CommitSync(std::move(pending)).ok());
  EXPECT_TRUE(Claim(*b, absl::Seconds(30))->empty());  // node-a holds it
  EXPECT_EQ(Claim(*store_, absl::Milliseconds(1))->size(), 1u);
  // node-a let its lease lapse: node-b takes the entry over, and node-a may no longer settle it.
  std::unique_ptr<Store>& a = store_;
  auto taken = Claim(*b, absl::Seconds(30));
  for (int i = 0; i < 100 && taken.ok() && taken->empty(); ++i) {
    taken = Claim(*b, absl::Seconds(30));
  }
  ASSERT_EQ(taken->size(), 1u);
  VerificationCommit settle = Commit("P1", "acct", Fp('p'), false);
  settle.settles_recheck = true;
  EXPECT_EQ(CommitOn(*a, settle).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(CommitOn(*b, settle).ok());
}

TEST_P(MultiNodeTest, DatabaseRestartIsUnavailableThenRecovers) {
  ASSERT_TRUE(CommitSync(Commit("A1", "a1", Fp('a'), true)).ok());
  ASSERT_TRUE(GetVerification("t", "A1").ok());  // leaves an idle reader connection
  ASSERT_TRUE(Pg()->Stop().ok());
  EXPECT_EQ(CommitSync(Commit("A2", "a2", Fp('b'), true)).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_TRUE(WaitForHealth(false, absl::Seconds(10)));
  ASSERT_TRUE(Pg()->Restart().ok());
  EXPECT_TRUE(WaitForHealth(true, absl::Seconds(10)));
  // Serving again means reads too: the reader connection the old server closed is not used.
  const auto read = GetVerification("t", "A1");
  EXPECT_TRUE(read.ok()) << read.status();
  auto r = CommitSync(Commit("A3", "a2", Fp('b'), true));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->sequence, 2u);  // the failed commit left no gap and no record
  EXPECT_EQ(r->binding, idv::v1::BOUND);
  EXPECT_EQ(GetVerification("t", "A2").status().code(), absl::StatusCode::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Engines, StoreConformanceTest, ::testing::Values("leveldb", "postgres"),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Engines, MultiNodeTest, ::testing::Values("postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace idv::store
