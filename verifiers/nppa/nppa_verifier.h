// The NPPA backend (config: idv.config.v1.NppaConfig): China's game anti-addiction real-name
// interface, spoken over HTTP in-process (verifiers/http), signed and encrypted as
// nppa_crypto.h describes.
//
//   check  POST /idcard/authentication/check        body {"ai", "name", "idNum"}, encrypted
//   query  GET  /idcard/authentication/query?ai=    the state of an earlier check
//   (with a test code: /test/authentication/check/<code> and /test/authentication/query/<code>)
//
// A first check submits; a re-check of a verification the NPPA answered PENDING (CheckContext
// .recheck) queries by `ai` instead, and submits only when the NPPA has no record of it (2003).
// The `ai` is a keyed hash of the account id (AccountAi), so an account keeps its `ai` across
// checks, re-checks and nodes, and the identity never enters it; without an account id the
// verification id stands in.
//
// How the answers map onto idv's outcomes (MapNppaAnswer), the raw code kept as "status:N" or
// "errcode:N":
//   errcode 0, status 0 (authenticated)  -> VERIFIED    / ELEMENTS_MATCH (number and name)
//   errcode 0, status 1 (in progress)    -> PENDING     / AUTHORITY_PENDING
//   errcode 0, status 2 (failed)         -> MISMATCH    / ELEMENTS_MISMATCH (the NPPA does not
//                                           say which element)
//   2001 ID number invalid, 2003 no record for this ai -> NOT_FOUND / NO_RECORD
//   1001-1012 (system error, unknown resource or method, missing parameters, IP not allowed,
//   rate limit, request expired, caller unknown or not entitled, signature or body not
//   verified), 2002 (quota reached), 2004 (ai taken by another identity), any other errcode,
//   an HTTP error or an unreadable answer                -> UNAVAILABLE / AUTHORITY_ERROR
//   (2004 is about one account, not the NPPA's health: the breaker does not count it as a
//   failure, CheckResult::answered)
//   no answer by the deadline                            -> UNAVAILABLE / AUTHORITY_TIMEOUT
// The operator's `loginout` (player behaviour) reports are not part of verification and are not
// sent by idv.
#ifndef IDV_VERIFIERS_NPPA_NPPA_VERIFIER_H_
#define IDV_VERIFIERS_NPPA_NPPA_VERIFIER_H_

#include <memory>
#include <string>

#include "verifiers/http/http_client.h"
#include "verifiers/http_backend.h"
#include "verifiers/registry.h"

namespace idv::verifiers::nppa {

// The outcome of one NPPA answer (an HTTP status and body).
CheckResult MapNppaAnswer(long http_status, absl::string_view body);
// The errcode of an answer, or -1 when it has none.
int ErrcodeOf(absl::string_view body);

struct NppaSettings {
  std::string name;
  std::string base_url;  // no trailing slash
  std::string app_id;
  std::string biz_id;
  std::string secret_key;  // 32 hex characters
  std::string ai_key;      // 16 to 64 bytes
  std::string ca_file;
  std::string test_code;
  absl::Duration timeout = absl::Seconds(2);  // per HTTP call, within the check's deadline
};

class NppaVerifier final : public Verifier {
 public:
  NppaVerifier(NppaSettings settings, std::shared_ptr<http::Client> client);

  const VerifierInfo& Info() const override { return info_; }
  void Check(const CheckContext& ctx, const identity::NormalizedClaim& claim,
             absl::AnyInvocable<void(CheckResult) &&> done) override;

 private:
  using Done = absl::AnyInvocable<void(CheckResult) &&>;
  void Submit(const CheckContext& ctx, const identity::NormalizedClaim& claim,
              const std::string& ai, Done done);
  // Queries; `no_record` runs instead of `done` when the NPPA has no record of `ai`.
  void Query(const CheckContext& ctx, const std::string& ai, Done done,
             absl::AnyInvocable<void(Done) &&> no_record);
  // Signs `request` (its path's query parameters in `query`) and sends it; `then` gets the
  // answer and how long it took.
  void Send(const CheckContext& ctx, http::Request request,
            std::map<std::string, std::string> query, HttpAnswer then);

  const VerifierInfo info_;
  const NppaSettings settings_;
  const std::shared_ptr<http::Client> client_;
};

class NppaFactory final : public VerifierFactory {
 public:
  std::string ConfigType() const override;
  absl::StatusOr<std::unique_ptr<Verifier>> Create(
      const idv::config::v1::BackendConfig& config) const override;
};

}  // namespace idv::verifiers::nppa

#endif  // IDV_VERIFIERS_NPPA_NPPA_VERIFIER_H_
