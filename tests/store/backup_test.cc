#include "store/backup.h"

#include <gtest/gtest.h>
#include <leveldb/db.h>
#include <sodium.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "absl/strings/escaping.h"
#include "store/leveldb/leveldb_store.h"
#include "tests/store/commits.h"

namespace idv::store {
namespace {

using idv::store::v1::AccountBinding;
using testing::Commit;
using testing::Fp;

std::unique_ptr<crypto::KeyRing> RandomRing(uint32_t version = 1) {
  crypto::SecretBytes master = crypto::SecretBytes::Allocate(crypto::kKeyBytes);
  randombytes_buf(master.data(), master.size());
  return *crypto::KeyRing::Create(std::move(master), version);
}

// Every key and value of the LevelDB database at `path`.
std::map<std::string, std::string> Contents(const std::string& path) {
  leveldb::DB* raw = nullptr;
  leveldb::Options o;
  EXPECT_TRUE(leveldb::DB::Open(o, path, &raw).ok()) << path;
  std::unique_ptr<leveldb::DB> db(raw);
  std::map<std::string, std::string> out;
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next())
    out[it->key().ToString()] = it->value().ToString();
  return out;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitSodium().ok());
    char tmpl[] = "/tmp/idv-backup-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    keys_ = RandomRing();
    LevelDbStoreOptions o;
    o.data_dir = dir_ + "/source";
    std::filesystem::create_directories(o.data_dir);
    absl::StatusOr<std::unique_ptr<Store>> s = OpenLevelDbStore(o);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
    // Bindings, records, a client and a configuration version: what a restore must bring back.
    for (int i = 0; i < 300; ++i) {
      VerificationCommit c =
          Commit(absl::StrCat("v", i), absl::StrCat("acct-", i), Fp('a' + i % 20), i % 2 == 0, 5);
      if (i == 7) {
        idv::store::v1::ClientRecord client;
        client.set_client_id("flow");
        client.set_tenant("t");
        client.add_roles("verify");
        c.client = client;
      }
      if (i == 9) {
        c.config.emplace().set_version(1);
        c.config->set_actor("config-file");
      }
      ASSERT_TRUE(Await<CommitResult>([&](auto done) {
                    store_->CommitVerification(std::move(c), std::move(done));
                  }).ok());
    }
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Whether a restore of `file` failed and left nothing behind.
  void ExpectRefused(const std::string& file, absl::StatusCode code, const std::string& what) {
    absl::StatusOr<BackupSummary> v = VerifyBackup(*keys_, file);
    EXPECT_EQ(v.status().code(), code) << what << ": " << v.status();
    const std::string target = dir_ + "/restored-" + what + "/db";
    absl::StatusOr<BackupSummary> r = RestoreBackup(*keys_, file, target);
    EXPECT_EQ(r.status().code(), code) << what << ": " << r.status();
    EXPECT_FALSE(std::filesystem::exists(target)) << what;
    EXPECT_FALSE(std::filesystem::exists(target + ".restoring")) << what;
  }

  std::string dir_;
  std::unique_ptr<crypto::KeyRing> keys_;
  std::unique_ptr<Store> store_;
};

TEST_F(BackupTest, ARestoredStoreEqualsTheSource) {
  const std::string file = dir_ + "/full.idvbak";
  absl::StatusOr<BackupSummary> made = CreateBackup(*store_, *keys_, "node-a", file);
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_EQ(made->trailer.audit_records(), 300u);
  EXPECT_EQ(made->manifest.node_id(), "node-a");
  EXPECT_EQ(made->file_bytes, std::filesystem::file_size(file));
  EXPECT_FALSE(std::filesystem::exists(file + ".partial"));
  // Nothing in the file reads as the store's keys or values.
  const std::string bytes = ReadAll(file);
  EXPECT_EQ(bytes.find("acct-1"), std::string::npos);
  EXPECT_EQ(bytes.find("config-file"), std::string::npos);
  store_->Close();
  store_.reset();

  absl::StatusOr<BackupSummary> verified = VerifyBackup(*keys_, file);
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->trailer.pairs(), made->trailer.pairs());
  absl::StatusOr<BackupSummary> restored = RestoreBackup(*keys_, file, dir_ + "/restored/db");
  ASSERT_TRUE(restored.ok()) << restored.status();
  const std::map<std::string, std::string> source = Contents(dir_ + "/source/db");
  EXPECT_EQ(source.size(), made->trailer.pairs());
  const std::map<std::string, std::string> copy = Contents(dir_ + "/restored/db");
  EXPECT_EQ(copy.size(), source.size());
  for (const auto& [k, v] : source) {
    auto it = copy.find(k);
    if (it == copy.end() || it->second != v) {
      ADD_FAILURE() << "the restored store differs at key " << absl::CEscape(k);
      break;
    }
  }

  // The restored database opens as a store: bindings and records are there.
  LevelDbStoreOptions o;
  o.data_dir = dir_ + "/restored";
  absl::StatusOr<std::unique_ptr<Store>> reopened = OpenLevelDbStore(o);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  absl::StatusOr<AccountBinding> b = Await<AccountBinding>(
      [&](auto done) { (*reopened)->GetAccountBinding("t", "acct-4", std::move(done)); });
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->verification_id(), "v4");
  EXPECT_TRUE(testing::CheckStoredLog(**reopened, "local", 300).ok());

  // Never over a store, never over an existing file.
  EXPECT_EQ(RestoreBackup(*keys_, file, dir_ + "/restored/db").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CreateBackup(**reopened, *keys_, "node-a", file).status().code(),
            absl::StatusCode::kAlreadyExists);
}

// A backup truncated anywhere, with any byte changed, or opened with another key is refused with
// a clear error, and a restore from it writes nothing.
TEST_F(BackupTest, DamagedTruncatedOrForeignBackupsAreRefused) {
  const std::string file = dir_ + "/good.idvbak";
  ASSERT_TRUE(CreateBackup(*store_, *keys_, "node-a", file).ok());
  const std::string good = ReadAll(file);
  ASSERT_GT(good.size(), 1000u);
  std::mt19937_64 rng(20261123);
  for (int i = 0; i < 20; ++i) {
    const size_t cut = 1 + rng() % (good.size() - 1);
    const std::string bad = dir_ + "/cut-" + std::to_string(i);
    WriteAll(bad, good.substr(0, cut));
    ExpectRefused(bad, cut < 12 ? absl::StatusCode::kInvalidArgument : absl::StatusCode::kDataLoss,
                  absl::StrCat("truncated at ", cut));
  }
  for (int i = 0; i < 20; ++i) {
    std::string changed = good;
    const size_t at = 12 + rng() % (good.size() - 12);  // past the magic and version
    changed[at] = static_cast<char>(changed[at] ^ (1 + rng() % 255));
    const std::string bad = dir_ + "/flip-" + std::to_string(i);
    WriteAll(bad, changed);
    // A change in the stream header or the first message is "not this key", later "altered".
    absl::StatusOr<BackupSummary> v = VerifyBackup(*keys_, bad);
    EXPECT_FALSE(v.ok()) << "byte " << at << " changed";
    ExpectRefused(bad, v.status().code(), absl::StrCat("byte ", at, " changed"));
    EXPECT_TRUE(v.status().code() == absl::StatusCode::kDataLoss ||
                v.status().code() == absl::StatusCode::kPermissionDenied)
        << v.status();
  }
  WriteAll(dir_ + "/longer", good + "x");
  ExpectRefused(dir_ + "/longer", absl::StatusCode::kDataLoss, "appended");
  ExpectRefused(dir_ + "/missing", absl::StatusCode::kNotFound, "missing");
  WriteAll(dir_ + "/text", "not a backup at all, just some text");
  ExpectRefused(dir_ + "/text", absl::StatusCode::kInvalidArgument, "text");
  // Another master key: refused at once, saying so.
  std::unique_ptr<crypto::KeyRing> other = RandomRing();
  absl::StatusOr<BackupSummary> foreign = VerifyBackup(*other, file);
  EXPECT_EQ(foreign.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(foreign.status().message().find("master key"), absl::string_view::npos);
  EXPECT_EQ(RestoreBackup(*other, file, dir_ + "/foreign/db").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/foreign/db"));
  // The good one still restores.
  EXPECT_TRUE(RestoreBackup(*keys_, file, dir_ + "/ok/db").ok());
}

}  // namespace
}  // namespace idv::store
