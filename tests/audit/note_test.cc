#include "audit/note.h"

#include <gtest/gtest.h>
#include <sodium.h>

namespace idv::audit {
namespace {

class NoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    crypto_sign_keypair(pk_.data(), sk_);
    sign_ = [this](absl::string_view m) {
      std::array<uint8_t, 64> sig;
      crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const uint8_t*>(m.data()),
                           m.size(), sk_);
      return sig;
    };
  }
  PublicKey pk_;
  uint8_t sk_[crypto_sign_SECRETKEYBYTES];
  Signer sign_;
};

TEST_F(NoteTest, SignedCheckpointOpensWithItsVerifierKeyOnly) {
  Checkpoint c{"idv.test/audit/node-1", 42, LeafHash("x")};
  const std::string text = CheckpointText(c);
  auto note = SignNote(text, "idv.test/audit/node-1", pk_, sign_);
  ASSERT_TRUE(note.ok()) << note.status();
  auto vkey = VerifierKey("idv.test/audit/node-1", pk_);
  ASSERT_TRUE(vkey.ok());
  auto opened = OpenNote(*note, *vkey);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, text);
  auto parsed = ParseCheckpoint(*opened);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->size, 42u);
  EXPECT_EQ(parsed->root, c.root);
  EXPECT_EQ(parsed->origin, c.origin);

  std::string altered = *note;
  altered[altered.find("42")] = '3';
  EXPECT_EQ(OpenNote(altered, *vkey).status().code(), absl::StatusCode::kDataLoss);
  PublicKey other;
  uint8_t other_sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(other.data(), other_sk);
  EXPECT_EQ(OpenNote(*note, *VerifierKey("idv.test/audit/node-1", other)).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(NoteTest, MalformedInputsAreRefused) {
  EXPECT_FALSE(VerifierKey("has space", pk_).ok());
  EXPECT_FALSE(SignNote("no newline", "n", pk_, sign_).ok());
  EXPECT_FALSE(ParseCheckpoint("origin\nnot-a-number\nAAAA\n").ok());
  EXPECT_FALSE(OpenNote("text\n", "n+00000000+AQ==").ok());
}

}  // namespace
}  // namespace idv::audit
