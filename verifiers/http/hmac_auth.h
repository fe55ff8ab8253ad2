// Signed headers for HTTP authorities that authenticate callers by a shared secret:
//
//   X-Idv-Key-Id     which secret
//   X-Idv-Timestamp  Unix seconds
//   X-Idv-Nonce      32 random hex characters, never reused
//   X-Idv-Signature  lowercase hex HMAC-SHA-256(secret, method "\n" path-and-query "\n"
//                    timestamp "\n" nonce "\n" lowercase hex SHA-256(body))
//
// HMAC-SHA-256 and SHA-256 are libsodium's. This is idv's own scheme (a server checks the
// timestamp's age and the nonce's novelty); the commercial APIs' own request signatures
// (Alibaba's ACS3, Tencent's TC3) are not implemented.
#ifndef IDV_VERIFIERS_HTTP_HMAC_AUTH_H_
#define IDV_VERIFIERS_HTTP_HMAC_AUTH_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace idv::verifiers::http {

// The signature of a request.
std::string HmacSignature(absl::string_view secret, absl::string_view method,
                          absl::string_view path_and_query, absl::string_view timestamp,
                          absl::string_view nonce, absl::string_view body);

// The four headers ("Name: value") for a request made now, with a fresh nonce.
std::vector<std::string> HmacHeaders(absl::string_view key_id, absl::string_view secret,
                                     absl::string_view method, absl::string_view path_and_query,
                                     absl::string_view body);

// The path and query of a URL ("/" when it has none): "https://h:1/a?b=c" -> "/a?b=c".
std::string PathAndQuery(absl::string_view url);

}  // namespace idv::verifiers::http

#endif  // IDV_VERIFIERS_HTTP_HMAC_AUTH_H_
