#include "verifiers/nppa/nppa_crypto.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <fstream>
#include <map>
#include <sstream>

namespace idv::verifiers::nppa {
namespace {

// tests/verifiers/nppa_kat.txt, computed by Go's standard library (nppa_kat/main.go; ctest
// Nppa.GoComputesTheSameVectors checks that it still does): "name value" lines, and "param NAME
// VALUE" for the signed header parameters.
struct Vectors {
  std::map<std::string, std::string> fields;
  std::map<std::string, std::string> params;
};

Vectors ReadVectors() {
  Vectors v;
  std::ifstream in(IDV_NPPA_KAT_PATH);
  EXPECT_TRUE(in.good()) << IDV_NPPA_KAT_PATH;
  std::string line;
  while (std::getline(in, line)) {
    const size_t space = line.find(' ');
    if (space == std::string::npos) continue;
    const std::string name = line.substr(0, space), rest = line.substr(space + 1);
    if (name == "param") {
      const size_t second = rest.find(' ');
      v.params[rest.substr(0, second)] = rest.substr(second + 1);
    } else {
      v.fields[name] = rest;
    }
  }
  return v;
}

Iv IvOf(const std::string& hex) {
  Iv iv{};
  size_t n = 0;
  EXPECT_EQ(sodium_hex2bin(iv.data(), iv.size(), hex.data(), hex.size(), nullptr, &n, nullptr), 0);
  EXPECT_EQ(n, iv.size());
  return iv;
}

TEST(NppaCryptoTest, MatchesTheVectorsAnIndependentImplementationComputed) {
  Vectors v = ReadVectors();
  ASSERT_EQ(v.params.size(), 3u);
  const std::string& key = v.fields["secret_key"];
  absl::StatusOr<std::string> data = Seal(key, v.fields["plaintext"], IvOf(v.fields["iv"]));
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(*data, v.fields["data"]);
  const std::string body = "{\"data\":\"" + *data + "\"}";
  EXPECT_EQ(body, v.fields["body"]);
  EXPECT_EQ(Sign(key, v.params, body), v.fields["sign"]);
  absl::StatusOr<std::string> plain = Open(key, v.fields["data"]);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*plain, v.fields["plaintext"]);
}

TEST(NppaCryptoTest, AWrongKeyOrAChangedByteDoesNotDecrypt) {
  Vectors v = ReadVectors();
  const std::string& data = v.fields["data"];
  EXPECT_EQ(Open("ffeeddccbbaa99887766554433221100", data).status().code(),
            absl::StatusCode::kDataLoss);
  std::string changed = data;
  changed[20] = changed[20] == 'A' ? 'B' : 'A';
  EXPECT_EQ(Open(v.fields["secret_key"], changed).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Open(v.fields["secret_key"], "not base64!").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Open("short", data).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Seal("zz112233445566778899aabbccddeeff", "x", Iv{}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(NppaCryptoTest, TheSignatureCoversEveryParameterAndTheBody) {
  Vectors v = ReadVectors();
  const std::string& key = v.fields["secret_key"];
  const std::string sign = Sign(key, v.params, v.fields["body"]);
  auto other = v.params;
  other["timestamps"] = "1584949895759";
  EXPECT_NE(Sign(key, other, v.fields["body"]), sign);
  EXPECT_NE(Sign(key, v.params, v.fields["body"] + " "), sign);
  EXPECT_NE(Sign("ffeeddccbbaa99887766554433221100", v.params, v.fields["body"]), sign);
}

TEST(NppaCryptoTest, AnAccountsAiIsStableAndRevealsNothingOfIt) {
  const std::string key(32, 'k');
  absl::StatusOr<std::string> a = AccountAi(key, "account-1");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_EQ(*a, *AccountAi(key, "account-1"));
  EXPECT_NE(*a, *AccountAi(key, "account-2"));
  EXPECT_NE(*a, *AccountAi(std::string(32, 'j'), "account-1"));
  EXPECT_EQ(a->find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_FALSE(AccountAi("short", "account-1").ok());
}

}  // namespace
}  // namespace idv::verifiers::nppa
