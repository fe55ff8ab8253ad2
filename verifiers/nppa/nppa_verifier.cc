#include "verifiers/nppa/nppa_verifier.h"

#include <sodium.h>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/proto_time.h"
#include "verifiers/http_backend.h"
#include "verifiers/nppa/nppa_crypto.h"

namespace idv::verifiers::nppa {
namespace {

constexpr int kNoRecord = 2003;
constexpr int kAiTaken = 2004;

CheckResult FromTransfer(const absl::StatusOr<http::Response>& response, absl::Duration latency) {
  CheckResult r =
      response.ok() ? MapNppaAnswer(response->status, response->body) : NoAnswer(response.status());
  r.latency = latency;
  return r;
}

// A URL query value: the `ai` is lowercase hex, so nothing needs escaping, but a value that would
// is refused rather than sent wrong.
bool PlainQueryValue(absl::string_view v) {
  for (char c : v) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

int ErrcodeOf(absl::string_view body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return -1;
  auto it = j.find("errcode");
  if (it == j.end() || !it->is_number_integer()) return -1;
  return it->get<int>();
}

CheckResult MapNppaAnswer(long http_status, absl::string_view body) {
  if (http_status != 200) {
    return Unavailable(idv::v1::AUTHORITY_ERROR, absl::StrCat("http:", http_status));
  }
  const int errcode = ErrcodeOf(body);
  if (errcode < 0) return Unavailable(idv::v1::AUTHORITY_ERROR, "nppa:unreadable-answer");
  CheckResult r;
  if (errcode != 0) {
    r.raw_code = absl::StrCat("errcode:", errcode);
    if (errcode == 2001 || errcode == kNoRecord) {
      r.outcome = idv::v1::NOT_FOUND;
      r.reason = idv::v1::NO_RECORD;
    } else {
      r.outcome = idv::v1::UNAVAILABLE;
      r.reason = idv::v1::AUTHORITY_ERROR;
      // The account's ai is bound to another identity: about this account, not the NPPA's health.
      r.answered = errcode == kAiTaken;
    }
    return r;
  }
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  const nlohmann::json* status = nullptr;
  if (auto d = j.find("data"); d != j.end() && d->is_object()) {
    if (auto res = d->find("result"); res != d->end() && res->is_object()) {
      if (auto st = res->find("status"); st != res->end() && st->is_number_integer()) {
        status = &*st;
      }
    }
  }
  if (status == nullptr) return Unavailable(idv::v1::AUTHORITY_ERROR, "nppa:no-status");
  const int s = status->get<int>();
  r.raw_code = absl::StrCat("status:", s);
  switch (s) {
    case 0:
      r.outcome = idv::v1::VERIFIED;
      r.reason = idv::v1::ELEMENTS_MATCH;
      r.confirmed = kNumberAndName;
      break;
    case 1:
      r.outcome = idv::v1::PENDING;
      r.reason = idv::v1::AUTHORITY_PENDING;
      break;
    case 2:
      r.outcome = idv::v1::MISMATCH;
      r.reason = idv::v1::ELEMENTS_MISMATCH;
      break;
    default:
      r.outcome = idv::v1::UNAVAILABLE;
      r.reason = idv::v1::AUTHORITY_ERROR;
      break;
  }
  return r;
}

NppaVerifier::NppaVerifier(NppaSettings settings, std::shared_ptr<http::Client> client)
    : info_{settings.name, /*authoritative=*/true, /*requires_phone=*/false, kNumberAndName,
            /*per_account=*/true},
      settings_(std::move(settings)),
      client_(std::move(client)) {}

void NppaVerifier::Check(const CheckContext& ctx, const identity::NormalizedClaim& claim,
                         Done done) {
  const std::string& account = ctx.account_id.empty() ? ctx.request_id : ctx.account_id;
  absl::StatusOr<std::string> ai = AccountAi(settings_.ai_key, account);
  if (!ai.ok()) return std::move(done)(Unavailable(idv::v1::AUTHORITY_ERROR, "nppa:ai-key"));
  if (claim.document_type != idv::v1::CN_RESIDENT_ID) {
    // The NPPA checks resident ID numbers only.
    return std::move(done)(Unavailable(idv::v1::AUTHORITY_ERROR, "nppa:document-type"));
  }
  if (!ctx.recheck) return Submit(ctx, claim, *ai, std::move(done));
  // A re-check: ask how the earlier submission stands; submit again only if it never arrived.
  Query(ctx, *ai, std::move(done),
        [this, ctx, &claim, ai = *ai](Done done) { Submit(ctx, claim, ai, std::move(done)); });
}

void NppaVerifier::Submit(const CheckContext& ctx, const identity::NormalizedClaim& claim,
                          const std::string& ai, Done done) {
  std::string plain =
      nlohmann::json{{"ai", ai}, {"name", claim.full_name}, {"idNum", claim.document_number}}
          .dump();
  Iv iv;
  randombytes_buf(iv.data(), iv.size());
  absl::StatusOr<std::string> sealed = Seal(settings_.secret_key, plain, iv);
  identity::Wipe(plain);
  if (!sealed.ok()) return std::move(done)(Unavailable(idv::v1::AUTHORITY_ERROR, "nppa:key"));
  http::Request request;
  request.method = "POST";
  request.url = settings_.base_url + (settings_.test_code.empty()
                                          ? "/idcard/authentication/check"
                                          : "/test/authentication/check/" + settings_.test_code);
  request.body = nlohmann::json{{"data", *sealed}}.dump();
  Send(ctx, std::move(request), {},
       [done = std::move(done)](absl::StatusOr<http::Response> response,
                                absl::Duration latency) mutable {
         std::move(done)(FromTransfer(response, latency));
       });
}

void NppaVerifier::Query(const CheckContext& ctx, const std::string& ai, Done done,
                         absl::AnyInvocable<void(Done) &&> no_record) {
  if (!PlainQueryValue(ai)) {
    return std::move(done)(Unavailable(idv::v1::AUTHORITY_ERROR, "nppa:ai"));
  }
  http::Request request;
  request.method = "GET";
  request.url = absl::StrCat(settings_.base_url,
                             settings_.test_code.empty()
                                 ? "/idcard/authentication/query"
                                 : "/test/authentication/query/" + settings_.test_code,
                             "?ai=", ai);
  Send(ctx, std::move(request), {{"ai", ai}},
       [done = std::move(done), no_record = std::move(no_record)](
           absl::StatusOr<http::Response> response, absl::Duration latency) mutable {
         if (response.ok() && response->status == 200 && ErrcodeOf(response->body) == kNoRecord) {
           return std::move(no_record)(std::move(done));
         }
         std::move(done)(FromTransfer(response, latency));
       });
}

void NppaVerifier::Send(const CheckContext& ctx, http::Request request,
                        std::map<std::string, std::string> query, HttpAnswer then) {
  std::map<std::string, std::string> params = std::move(query);
  params["appId"] = settings_.app_id;
  params["bizId"] = settings_.biz_id;
  params["timestamps"] = absl::StrCat(absl::ToUnixMillis(absl::Now()));
  const std::string sign = Sign(settings_.secret_key, params, request.body);
  request.headers = {"Content-Type: application/json;charset=utf-8", "appId: " + settings_.app_id,
                     "bizId: " + settings_.biz_id, "timestamps: " + params["timestamps"],
                     "sign: " + sign};
  request.deadline = std::min(ctx.deadline, absl::Now() + settings_.timeout);
  request.ca_file = settings_.ca_file;
  SendForCheck(client_, ctx, std::move(request), std::move(then));
}

std::string NppaFactory::ConfigType() const {
  return idv::config::v1::NppaConfig::descriptor()->full_name();
}

absl::StatusOr<std::unique_ptr<Verifier>> NppaFactory::Create(
    const idv::config::v1::BackendConfig& config) const {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("backend \"", config.name(), "\": ", why));
  };
  idv::config::v1::NppaConfig c;
  if (!config.typed_config().UnpackTo(&c)) return invalid("typed_config is not an NppaConfig");
  NppaSettings s;
  s.name = config.name();
  s.base_url = std::string(absl::StripSuffix(c.base_url(), "/"));
  if (absl::Status url = CheckAuthorityUrl(s.base_url); !url.ok()) return invalid(url.message());
  if (const absl::string_view rest =
          absl::string_view(s.base_url).substr(s.base_url.find("://") + 3);
      absl::StrContains(rest, '/') || absl::StrContains(rest, '?')) {
    return invalid("base_url is scheme, host and port, with no path");
  }
  if (c.app_id().empty() || c.biz_id().empty()) return invalid("app_id and biz_id are required");
  for (char ch : c.test_code()) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(ch))) {
      return invalid("test_code holds letters and digits only");
    }
  }
  s.app_id = c.app_id();
  s.biz_id = c.biz_id();
  s.test_code = c.test_code();
  s.ca_file = c.ca_file();
  absl::StatusOr<std::string> secret = ReadFile(c.secret_key_file());
  if (!secret.ok()) return invalid(absl::StrCat("secret_key_file: ", secret.status().message()));
  s.secret_key = std::string(absl::StripAsciiWhitespace(*secret));
  if (!Seal(s.secret_key, "", Iv{}).ok()) {
    return invalid("secret_key_file must hold the secret key as 32 hex characters");
  }
  absl::StatusOr<std::string> ai_key = ReadFile(c.ai_key_file());
  if (!ai_key.ok()) return invalid(absl::StrCat("ai_key_file: ", ai_key.status().message()));
  s.ai_key = std::string(absl::StripTrailingAsciiWhitespace(*ai_key));
  if (!AccountAi(s.ai_key, "").ok()) return invalid("ai_key_file must hold 16 to 64 bytes");
  if (config.has_timeout()) s.timeout = FromProto(config.timeout());
  if (c.max_connections() > 10000) return invalid("max_connections is at most 10000");
  return std::unique_ptr<Verifier>(std::make_unique<NppaVerifier>(
      std::move(s), std::make_shared<http::Client>(c.max_connections())));
}

}  // namespace idv::verifiers::nppa
