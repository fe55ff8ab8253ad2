#include "verifiers/http_json/http_json_verifier.h"

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/proto_time.h"
#include "identity/claim.h"
#include "verifiers/http/hmac_auth.h"
#include "verifiers/http_backend.h"

namespace idv::verifiers::http_json {
namespace {

using Json = nlohmann::json;

// The text of a JSON value found by `pointer`: a string as it is, an integer in decimal; "" when
// absent or of another kind.
std::string TextAt(const Json& doc, const std::string& pointer) {
  if (pointer.empty()) return "";
  Json::json_pointer p(pointer);
  if (!doc.contains(p)) return "";
  const Json& v = doc.at(p);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  return "";
}

// Replaces the placeholders among the string values of `node`, recursively.
void Fill(Json& node, const std::map<std::string, const std::string*>& values) {
  if (node.is_object() || node.is_array()) {
    for (Json& child : node) Fill(child, values);
  } else if (node.is_string()) {
    auto it = values.find(node.get_ref<const std::string&>());
    if (it != values.end()) node = *it->second;
  }
}

idv::v1::ReasonCode DefaultReason(idv::v1::Outcome outcome) {
  switch (outcome) {
    case idv::v1::VERIFIED:
      return idv::v1::ELEMENTS_MATCH;
    case idv::v1::MISMATCH:
      return idv::v1::ELEMENTS_MISMATCH;
    case idv::v1::NOT_FOUND:
      return idv::v1::NO_RECORD;
    default:
      return idv::v1::AUTHORITY_ERROR;
  }
}

}  // namespace

std::string RenderBody(const std::string& body_template, const identity::NormalizedClaim& claim,
                       const std::string& request_id) {
  Json body = Json::parse(body_template);  // validated by the factory
  Fill(body, {{"{{document_number}}", &claim.document_number},
              {"{{full_name}}", &claim.full_name},
              {"{{phone_number}}", &claim.phone_number},
              {"{{request_id}}", &request_id}});
  return body.dump();
}

CheckResult MapJsonAnswer(const Settings& settings, long http_status, absl::string_view body) {
  if (http_status != 200) {
    return Unavailable(idv::v1::AUTHORITY_ERROR, absl::StrCat("http:", http_status));
  }
  const Json doc = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Unavailable(idv::v1::AUTHORITY_ERROR, "json:unreadable-answer");
  const std::string code = TextAt(doc, settings.result_pointer);
  if (code.empty()) return Unavailable(idv::v1::AUTHORITY_ERROR, "json:no-result");
  CheckResult r;
  auto it = settings.results.find(code);
  if (it == settings.results.end()) {
    r = Unavailable(idv::v1::AUTHORITY_ERROR, code);
  } else {
    r.outcome = it->second.outcome;
    r.reason = it->second.reason;
    r.raw_code = code;
    if (r.outcome == idv::v1::VERIFIED) {
      r.confirmed = settings.requires_phone ? kNumberAndName | ElementBit(idv::v1::PHONE_NUMBER)
                                            : kNumberAndName;
    }
  }
  r.authority_request_id = TextAt(doc, settings.request_id_pointer);
  return r;
}

HttpJsonVerifier::HttpJsonVerifier(Settings settings, std::shared_ptr<http::Client> client)
    : info_{settings.name, /*authoritative=*/true, settings.requires_phone,
            settings.requires_phone ? kNumberAndName | ElementBit(idv::v1::PHONE_NUMBER)
                                    : kNumberAndName},
      settings_(std::move(settings)),
      path_and_query_(http::PathAndQuery(settings_.url)),
      client_(std::move(client)) {}

void HttpJsonVerifier::Check(const CheckContext& ctx, const identity::NormalizedClaim& claim,
                             absl::AnyInvocable<void(CheckResult) &&> done) {
  http::Request request;
  request.method = "POST";
  request.url = settings_.url;
  request.body = RenderBody(settings_.body_template, claim, ctx.request_id);
  request.headers = settings_.headers;
  request.headers.push_back("Content-Type: application/json");
  if (!settings_.bearer_token.empty()) {
    request.headers.push_back("Authorization: Bearer " + settings_.bearer_token);
  }
  if (!settings_.hmac_key_id.empty()) {
    for (std::string& h : http::HmacHeaders(settings_.hmac_key_id, settings_.hmac_secret, "POST",
                                            path_and_query_, request.body)) {
      request.headers.push_back(std::move(h));
    }
  }
  request.deadline = std::min(ctx.deadline, absl::Now() + settings_.timeout);
  request.ca_file = settings_.ca_file;
  SendForCheck(client_, ctx, std::move(request),
               [this, done = std::move(done)](absl::StatusOr<http::Response> response,
                                              absl::Duration latency) mutable {
                 CheckResult r = response.ok()
                                     ? MapJsonAnswer(settings_, response->status, response->body)
                                     : NoAnswer(response.status());
                 r.latency = latency;
                 std::move(done)(std::move(r));
               });
}

std::string HttpJsonFactory::ConfigType() const {
  return idv::config::v1::HttpJsonConfig::descriptor()->full_name();
}

absl::StatusOr<std::unique_ptr<Verifier>> HttpJsonFactory::Create(
    const idv::config::v1::BackendConfig& config) const {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("backend \"", config.name(), "\": ", why));
  };
  idv::config::v1::HttpJsonConfig c;
  if (!config.typed_config().UnpackTo(&c)) return invalid("typed_config is not an HttpJsonConfig");
  Settings s;
  s.name = config.name();
  s.url = c.url();
  if (absl::Status url = CheckAuthorityUrl(s.url); !url.ok()) return invalid(url.message());
  const Json body = Json::parse(c.body_template(), nullptr, false);
  if (!body.is_object()) return invalid("body_template must be a JSON object");
  s.body_template = c.body_template();
  for (const std::string& h : c.headers()) {
    if (!absl::StrContains(h, ':') || absl::StrContains(h, '\n') || absl::StrContains(h, '\r')) {
      return invalid(absl::StrCat("header \"", h, "\" is not \"Name: value\""));
    }
    s.headers.push_back(h);
  }
  if (c.has_bearer()) {
    absl::StatusOr<std::string> token = ReadFile(c.bearer().token_file());
    if (!token.ok()) return invalid(absl::StrCat("bearer.token_file: ", token.status().message()));
    s.bearer_token = std::string(absl::StripAsciiWhitespace(*token));
    if (s.bearer_token.empty() || absl::StrContains(s.bearer_token, '\n')) {
      return invalid("bearer.token_file must hold one token");
    }
  }
  if (c.has_hmac()) {
    absl::StatusOr<std::string> secret = ReadFile(c.hmac().secret_file());
    if (!secret.ok()) return invalid(absl::StrCat("hmac.secret_file: ", secret.status().message()));
    s.hmac_secret = std::string(absl::StripTrailingAsciiWhitespace(*secret));
    if (s.hmac_secret.size() < 16) return invalid("hmac.secret_file must hold at least 16 bytes");
    if (c.hmac().key_id().empty()) return invalid("hmac.key_id is required");
    s.hmac_key_id = c.hmac().key_id();
  }
  s.ca_file = c.ca_file();
  for (const std::string* pointer : {&c.result_pointer(), &c.request_id_pointer()}) {
    if (pointer->empty()) continue;
    try {
      Json::json_pointer p(*pointer);
    } catch (const Json::exception&) {
      return invalid(absl::StrCat("\"", *pointer, "\" is not a JSON pointer"));
    }
  }
  if (c.result_pointer().empty()) return invalid("result_pointer is required");
  s.result_pointer = c.result_pointer();
  s.request_id_pointer = c.request_id_pointer();
  if (c.results().empty()) return invalid("results must list the API's result codes");
  for (const auto& r : c.results()) {
    switch (r.outcome()) {
      case idv::v1::VERIFIED:
      case idv::v1::MISMATCH:
      case idv::v1::NOT_FOUND:
      case idv::v1::UNAVAILABLE:
        break;
      default:
        return invalid(absl::StrCat("result \"", r.code(), "\": the outcome must be VERIFIED, ",
                                    "MISMATCH, NOT_FOUND or UNAVAILABLE"));
    }
    const idv::v1::ReasonCode reason =
        r.reason() == idv::v1::REASON_CODE_UNSPECIFIED ? DefaultReason(r.outcome()) : r.reason();
    if (!s.results.emplace(r.code(), Settings::Meaning{r.outcome(), reason}).second) {
      return invalid(absl::StrCat("result \"", r.code(), "\" is listed twice"));
    }
  }
  s.requires_phone = c.requires_phone();
  if (config.has_timeout()) s.timeout = FromProto(config.timeout());
  if (c.max_connections() > 10000) return invalid("max_connections is at most 10000");
  return std::unique_ptr<Verifier>(std::make_unique<HttpJsonVerifier>(
      std::move(s), std::make_shared<http::Client>(c.max_connections())));
}

}  // namespace idv::verifiers::http_json
