#include "verifiers/nppa/nppa_crypto.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <memory>
#include <vector>

namespace idv::verifiers::nppa {
namespace {

constexpr size_t kTagSize = 16;

std::string Hex(const uint8_t* data, size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data, n);
  out.pop_back();
  return out;
}

absl::StatusOr<std::array<uint8_t, 16>> KeyOf(absl::string_view secret_key) {
  std::array<uint8_t, 16> key{};
  size_t n = 0;
  if (secret_key.size() != 32 ||
      sodium_hex2bin(key.data(), key.size(), secret_key.data(), secret_key.size(), nullptr, &n,
                     nullptr) != 0 ||
      n != key.size()) {
    return absl::InvalidArgumentError("the NPPA secret key must be 32 hex characters");
  }
  return key;
}

using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

}  // namespace

std::string Sign(absl::string_view secret_key, const std::map<std::string, std::string>& params,
                 absl::string_view body) {
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  auto update = [&state](absl::string_view s) {
    crypto_hash_sha256_update(&state, reinterpret_cast<const uint8_t*>(s.data()), s.size());
  };
  update(secret_key);
  for (const auto& [name, value] : params) {
    update(name);
    update(value);
  }
  update(body);
  uint8_t digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&state, digest);
  return Hex(digest, sizeof digest);
}

absl::StatusOr<std::string> Seal(absl::string_view secret_key, absl::string_view plaintext,
                                 const Iv& iv) {
  absl::StatusOr<std::array<uint8_t, 16>> key = KeyOf(secret_key);
  if (!key.ok()) return key.status();
  std::vector<uint8_t> blob(iv.size() + plaintext.size() + kTagSize);
  std::copy(iv.begin(), iv.end(), blob.begin());
  CipherContext ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int n = 0;
  uint8_t* out = blob.data() + iv.size();
  if (ctx == nullptr ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(iv.size()),
                          nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key->data(), iv.data()) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out, &n, reinterpret_cast<const uint8_t*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out + n, &n) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize,
                          blob.data() + iv.size() + plaintext.size()) != 1) {
    sodium_memzero(key->data(), key->size());
    return absl::InternalError("AES-128-GCM encryption failed");
  }
  sodium_memzero(key->data(), key->size());
  std::string b64(sodium_base64_encoded_len(blob.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(b64.data(), b64.size(), blob.data(), blob.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  b64.pop_back();  // the terminating NUL
  return b64;
}

absl::StatusOr<std::string> Open(absl::string_view secret_key, absl::string_view data) {
  absl::StatusOr<std::array<uint8_t, 16>> key = KeyOf(secret_key);
  if (!key.ok()) return key.status();
  std::vector<uint8_t> blob(data.size());
  size_t len = 0;
  if (sodium_base642bin(blob.data(), blob.size(), data.data(), data.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      len < 12 + kTagSize) {
    sodium_memzero(key->data(), key->size());
    return absl::InvalidArgumentError("data is not base64 of iv, ciphertext and tag");
  }
  const size_t text_size = len - 12 - kTagSize;
  std::string plain(text_size, '\0');
  CipherContext ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int n = 0;
  const bool ok =
      ctx != nullptr &&
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_128_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, 12, nullptr) == 1 &&
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key->data(), blob.data()) == 1 &&
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<uint8_t*>(plain.data()), &n, blob.data() + 12,
                        static_cast<int>(text_size)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize,
                          blob.data() + 12 + text_size) == 1 &&
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<uint8_t*>(plain.data()) + n, &n) == 1;
  sodium_memzero(key->data(), key->size());
  if (!ok) {
    sodium_memzero(plain.data(), plain.size());
    return absl::DataLossError("the body does not decrypt under the secret key (tag mismatch)");
  }
  return plain;
}

absl::StatusOr<std::string> AccountAi(absl::string_view key, absl::string_view account_id) {
  if (key.size() < crypto_generichash_KEYBYTES_MIN ||
      key.size() > crypto_generichash_KEYBYTES_MAX) {
    return absl::InvalidArgumentError("the ai key must be 16 to 64 bytes");
  }
  uint8_t digest[16];
  crypto_generichash(digest, sizeof digest, reinterpret_cast<const uint8_t*>(account_id.data()),
                     account_id.size(), reinterpret_cast<const uint8_t*>(key.data()), key.size());
  return Hex(digest, sizeof digest);
}

}  // namespace idv::verifiers::nppa
