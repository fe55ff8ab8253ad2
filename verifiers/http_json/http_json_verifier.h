// The HTTP/JSON backend (config: idv.config.v1.HttpJsonConfig): commercial two- and
// three-element APIs (Alibaba cloudauth Id2MetaVerify-style, Tencent IdCardVerification-style)
// that take a JSON body and answer a result code. The request is the configured template with
// the claim's values put in; the answer's code, found by a JSON pointer, is looked up in the
// configured table. Calls go over the shared HTTP client (verifiers/http): no gRPC thread waits,
// connections are kept, each call ends by its deadline and on cancellation.
//
//   HTTP 200, code in the table        -> that outcome and reason; raw_code the code
//   HTTP 200, code not in the table    -> UNAVAILABLE / AUTHORITY_ERROR
//   no code, unreadable answer, another HTTP status -> UNAVAILABLE / AUTHORITY_ERROR
//   no answer by the deadline          -> UNAVAILABLE / AUTHORITY_TIMEOUT
#ifndef IDV_VERIFIERS_HTTP_JSON_HTTP_JSON_VERIFIER_H_
#define IDV_VERIFIERS_HTTP_JSON_HTTP_JSON_VERIFIER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "verifiers/http/http_client.h"
#include "verifiers/registry.h"

namespace idv::verifiers::http_json {

struct Settings {
  std::string name;
  std::string url;
  std::string body_template;  // validated JSON object
  std::vector<std::string> headers;
  std::string bearer_token;  // "" when not bearer
  std::string hmac_key_id;   // "" when not HMAC
  std::string hmac_secret;
  std::string ca_file;
  std::string result_pointer;
  std::string request_id_pointer;
  struct Meaning {
    idv::v1::Outcome outcome;
    idv::v1::ReasonCode reason;
  };
  std::map<std::string, Meaning> results;
  bool requires_phone = false;
  absl::Duration timeout = absl::Seconds(2);
};

// The outcome of one answer under `settings`.
CheckResult MapJsonAnswer(const Settings& settings, long http_status, absl::string_view body);

// The request body for `claim`: the template with its placeholders replaced.
std::string RenderBody(const std::string& body_template, const identity::NormalizedClaim& claim,
                       const std::string& request_id);

class HttpJsonVerifier final : public Verifier {
 public:
  HttpJsonVerifier(Settings settings, std::shared_ptr<http::Client> client);

  const VerifierInfo& Info() const override { return info_; }
  void Check(const CheckContext& ctx, const identity::NormalizedClaim& claim,
             absl::AnyInvocable<void(CheckResult) &&> done) override;

 private:
  const VerifierInfo info_;
  const Settings settings_;
  const std::string path_and_query_;
  const std::shared_ptr<http::Client> client_;
};

class HttpJsonFactory final : public VerifierFactory {
 public:
  std::string ConfigType() const override;
  absl::StatusOr<std::unique_ptr<Verifier>> Create(
      const idv::config::v1::BackendConfig& config) const override;
};

}  // namespace idv::verifiers::http_json

#endif  // IDV_VERIFIERS_HTTP_JSON_HTTP_JSON_VERIFIER_H_
