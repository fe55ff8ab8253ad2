#include "crypto/keyring.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

namespace idv::crypto {
namespace {

class KeyRingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitSodium().ok());
    char tmpl[] = "/tmp/idv-keyring-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  std::unique_ptr<KeyRing> Ring(const std::string& file, uint32_t version = 1) {
    absl::StatusOr<SecretBytes> key = LoadMasterKey(dir_ + "/" + file, true);
    EXPECT_TRUE(key.ok()) << key.status();
    absl::StatusOr<std::unique_ptr<KeyRing>> ring = KeyRing::Create(*std::move(key), version);
    EXPECT_TRUE(ring.ok()) << ring.status();
    return *std::move(ring);
  }

  static identity::NormalizedClaim Claim(const std::string& number, const std::string& name) {
    identity::NormalizedClaim c;
    c.document_type = idv::v1::CN_RESIDENT_ID;
    c.document_number = number;
    c.full_name = name;
    return c;
  }

  std::string dir_;
};

TEST_F(KeyRingTest, CreatesKeyFileWithOwnerOnlyMode) {
  Ring("master.key");
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/master.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
}

TEST_F(KeyRingTest, RefusesMissingShortOrExposedKeys) {
  absl::StatusOr<SecretBytes> missing = LoadMasterKey(dir_ + "/absent.key", false);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(missing.status().message().find("absent.key"), absl::string_view::npos);

  const std::string shortkey = dir_ + "/short.key";
  std::ofstream(shortkey) << "0123456789";
  chmod(shortkey.c_str(), 0600);
  EXPECT_EQ(LoadMasterKey(shortkey, false).status().code(), absl::StatusCode::kFailedPrecondition);

  Ring("open.key");
  chmod((dir_ + "/open.key").c_str(), 0644);
  absl::StatusOr<SecretBytes> exposed = LoadMasterKey(dir_ + "/open.key", false);
  EXPECT_EQ(exposed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(exposed.status().message().find("chmod 600"), absl::string_view::npos);
}

TEST_F(KeyRingTest, FingerprintsAreStableAcrossLoadsOfTheSameKey) {
  auto a = Ring("master.key");
  auto b = Ring("master.key");  // loads the file a created
  const auto claim = Claim("11010519491231002X", "张三");
  EXPECT_EQ(a->IdentityFingerprint("t1", claim), b->IdentityFingerprint("t1", claim));
  EXPECT_EQ(a->ClaimFingerprint("t1", claim), b->ClaimFingerprint("t1", claim));
}

TEST_F(KeyRingTest, FingerprintsDifferByTenantKeyPurposeAndVersion) {
  auto ring = Ring("master.key", 2);
  auto other = Ring("other.key");
  const auto claim = Claim("11010519491231002X", "张三");
  const Fingerprint base = ring->IdentityFingerprint("t1", claim, 1);
  EXPECT_NE(base.bytes, ring->IdentityFingerprint("t2", claim, 1).bytes);
  EXPECT_NE(base.bytes, ring->IdentityFingerprint("t1", claim, 2).bytes);
  EXPECT_NE(base.bytes, other->IdentityFingerprint("t1", claim, 1).bytes);
  EXPECT_NE(base.bytes, ring->ClaimFingerprint("t1", claim).bytes);
  EXPECT_EQ(ring->IdentityFingerprint("t1", claim).version, 2u);
}

TEST_F(KeyRingTest, IdentityIgnoresTheNameClaimDoesNot) {
  auto ring = Ring("master.key");
  const auto a = Claim("11010519491231002X", "张三");
  const auto b = Claim("11010519491231002X", "李四");
  EXPECT_EQ(ring->IdentityFingerprint("t", a), ring->IdentityFingerprint("t", b));
  EXPECT_NE(ring->ClaimFingerprint("t", a), ring->ClaimFingerprint("t", b));
  // Field boundaries are unambiguous.
  EXPECT_NE(ring->ClaimFingerprint("t", Claim("1", "23")),
            ring->ClaimFingerprint("t", Claim("12", "3")));
}

// The canonical form is what is fingerprinted: the same person typed two ways is one identity.
TEST_F(KeyRingTest, TypedTwoWaysOneFingerprint) {
  auto ring = Ring("master.key");
  auto check = [](const std::string& number, const std::string& name) {
    idv::v1::IdentityClaim c;
    c.set_document_type(idv::v1::CN_RESIDENT_ID);
    c.set_document_number(number);
    c.set_full_name(name);
    identity::OfflineResult r = identity::CheckClaim(c, absl::CivilDay(2026, 1, 1));
    EXPECT_TRUE(r.ok());
    return r;
  };
  identity::OfflineResult a = check("11010519491231002x", "阿依古丽・买买提");
  identity::OfflineResult b = check("１１０１０５ １９４９１２３１ ００２Ｘ", "阿依古丽·买买提");
  EXPECT_EQ(ring->IdentityFingerprint("t", a.claim), ring->IdentityFingerprint("t", b.claim));
  EXPECT_EQ(ring->ClaimFingerprint("t", a.claim), ring->ClaimFingerprint("t", b.claim));
}

// A version added at run time is the one a ring created with it has (derived from the same
// master key), every live version is looked up current first, and versions never go back.
TEST_F(KeyRingTest, VersionsAddedAtRunTimeMatchAndOnlyMoveForward) {
  auto ring = Ring("master.key");
  auto two = Ring("master.key", 2);
  const auto claim = Claim("11010519491231002X", "张三");
  const std::string box = ring->Seal("pending claim", "v-1");
  ASSERT_TRUE(ring->SetLiveVersions(2, 1).ok());
  EXPECT_EQ(ring->current_version(), 2u);
  std::vector<Fingerprint> live = ring->LiveIdentityFingerprints("t", claim);
  ASSERT_EQ(live.size(), 2u);
  EXPECT_EQ(live[0], two->IdentityFingerprint("t", claim, 2));
  EXPECT_EQ(live[1], two->IdentityFingerprint("t", claim, 1));
  EXPECT_NE(live[0].bytes, live[1].bytes);
  EXPECT_EQ(ring->Unseal(box, "v-1").value_or(""), "pending claim");  // sealed under version 1
  EXPECT_EQ(two->Unseal(ring->Seal("new", "v-2"), "v-2").value_or(""), "new");
  EXPECT_EQ(ring->IdempotencyKeyHash("t", "c", "k", 2), two->IdempotencyKeyHash("t", "c", "k", 2));

  ASSERT_TRUE(ring->SetLiveVersions(2, 2).ok());
  EXPECT_EQ(ring->LiveIdentityFingerprints("t", claim).size(), 1u);
  EXPECT_EQ(ring->SetLiveVersions(1, 1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ring->SetLiveVersions(3, 4).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ring->SetLiveVersions(KeyRing::kMaxVersions + 1, 1).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ring->current_version(), 2u);
}

TEST_F(KeyRingTest, SealedBoxesOpenOnlyIntactAndForTheirOwner) {
  auto ring = Ring("master.key");
  const std::string box = ring->Seal("11010519491231002X|张三", "verification-1");
  EXPECT_EQ(box.find("11010519491231002X"), std::string::npos);
  absl::StatusOr<std::string> open = ring->Unseal(box, "verification-1");
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(*open, "11010519491231002X|张三");
  EXPECT_EQ(ring->Unseal(box, "verification-2").status().code(), absl::StatusCode::kDataLoss);
  std::string tampered = box;
  tampered.back() ^= 1;
  EXPECT_EQ(ring->Unseal(tampered, "verification-1").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(Ring("other.key")->Unseal(box, "verification-1").ok());
  EXPECT_NE(ring->Seal("same", "a"), ring->Seal("same", "a"));  // fresh nonce each time
}

TEST_F(KeyRingTest, ClientSecretHashDependsOnIdAndSecret) {
  auto ring = Ring("master.key");
  EXPECT_EQ(ring->ClientSecretHash("c1", "s", 1), ring->ClientSecretHash("c1", "s", 1));
  EXPECT_NE(ring->ClientSecretHash("c1", "s", 1), ring->ClientSecretHash("c2", "s", 1));
  EXPECT_NE(ring->ClientSecretHash("c1", "s", 1), ring->ClientSecretHash("c1", "t", 1));
  EXPECT_EQ(ring->IdentityFingerprint("t", Claim("1", "")).ToString().rfind("v1:", 0), 0u);
}

}  // namespace
}  // namespace idv::crypto
