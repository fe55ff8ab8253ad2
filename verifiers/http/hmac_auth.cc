#include "verifiers/http/hmac_auth.h"

#include <sodium.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace idv::verifiers::http {
namespace {

std::string Hex(const unsigned char* data, size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data, n);
  out.pop_back();
  return out;
}

}  // namespace

std::string HmacSignature(absl::string_view secret, absl::string_view method,
                          absl::string_view path_and_query, absl::string_view timestamp,
                          absl::string_view nonce, absl::string_view body) {
  unsigned char body_hash[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(body_hash, reinterpret_cast<const unsigned char*>(body.data()), body.size());
  const std::string text = absl::StrCat(method, "\n", path_and_query, "\n", timestamp, "\n", nonce,
                                        "\n", Hex(body_hash, sizeof body_hash));
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(secret.data()),
                              secret.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(text.data()),
                                text.size());
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_final(&state, mac);
  return Hex(mac, sizeof mac);
}

std::vector<std::string> HmacHeaders(absl::string_view key_id, absl::string_view secret,
                                     absl::string_view method, absl::string_view path_and_query,
                                     absl::string_view body) {
  unsigned char random[16];
  randombytes_buf(random, sizeof random);
  const std::string nonce = Hex(random, sizeof random);
  const std::string timestamp = absl::StrCat(absl::ToUnixSeconds(absl::Now()));
  return {absl::StrCat("X-Idv-Key-Id: ", key_id), absl::StrCat("X-Idv-Timestamp: ", timestamp),
          absl::StrCat("X-Idv-Nonce: ", nonce),
          absl::StrCat("X-Idv-Signature: ",
                       HmacSignature(secret, method, path_and_query, timestamp, nonce, body))};
}

std::string PathAndQuery(absl::string_view url) {
  const size_t scheme = url.find("://");
  const size_t start = url.find('/', scheme == absl::string_view::npos ? 0 : scheme + 3);
  if (start == absl::string_view::npos) {
    const size_t query = url.find('?', scheme == absl::string_view::npos ? 0 : scheme + 3);
    return query == absl::string_view::npos ? "/" : absl::StrCat("/", url.substr(query));
  }
  return std::string(url.substr(start));
}

}  // namespace idv::verifiers::http
