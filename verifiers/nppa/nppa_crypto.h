// The cryptography of China's NPPA real-name interface (the game anti-addiction system's
// authentication API, interface document v1.7 era): request signatures, the encrypted request
// body, and the `ai` idv sends for an account.
//
//   sign  = lowercase hex SHA-256( secretKey ‖ for each header and query parameter, sorted by
//           name: name ‖ value ‖ body )      (the headers signed: appId, bizId, timestamps)
//   body  = {"data": base64( iv(12) ‖ AES-128-GCM ciphertext ‖ tag(16) )}, the key being the
//           hex-decoded secretKey (16 bytes)
//   ai    = 32 lowercase hex characters of a keyed BLAKE2b of the account id: stable per account,
//           never derived from the identity
//
// SHA-256, BLAKE2b and base64 are libsodium's. AES-128-GCM is OpenSSL's libcrypto: libsodium
// offers AES-GCM with 256-bit keys only, and the protocol fixes a 128-bit key.
#ifndef IDV_VERIFIERS_NPPA_NPPA_CRYPTO_H_
#define IDV_VERIFIERS_NPPA_NPPA_CRYPTO_H_

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace idv::verifiers::nppa {

using Iv = std::array<uint8_t, 12>;

// The `sign` header for a request with these header and query parameters (name -> value; the
// map keeps them sorted by name) and this body ("" for a GET).
std::string Sign(absl::string_view secret_key, const std::map<std::string, std::string>& params,
                 absl::string_view body);

// The `data` value of an encrypted body: base64(iv ‖ ciphertext ‖ tag). InvalidArgument when
// the secret key is not 32 hex characters.
absl::StatusOr<std::string> Seal(absl::string_view secret_key, absl::string_view plaintext,
                                 const Iv& iv);

// The plaintext of a `data` value; InvalidArgument for a bad key or encoding, DataLoss when the
// tag does not verify.
absl::StatusOr<std::string> Open(absl::string_view secret_key, absl::string_view data);

// The `ai` for an account under a key of 16 to 64 bytes (InvalidArgument otherwise).
absl::StatusOr<std::string> AccountAi(absl::string_view key, absl::string_view account_id);

}  // namespace idv::verifiers::nppa

#endif  // IDV_VERIFIERS_NPPA_NPPA_CRYPTO_H_
