// What the backends that speak HTTP (NPPA, HTTP/JSON) share: a call that ends on the check's
// cancellation, and the outcome of a call that got no answer.
#ifndef IDV_VERIFIERS_HTTP_BACKEND_H_
#define IDV_VERIFIERS_HTTP_BACKEND_H_

#include <memory>

#include "verifiers/http/http_client.h"
#include "verifiers/verifier.h"

namespace idv::verifiers {

// Gets the answer (or why there was none) and the time from sending to answer.
using HttpAnswer = absl::AnyInvocable<void(absl::StatusOr<http::Response>, absl::Duration) &&>;

// Starts `request` on `client`; the call ends when `ctx.cancellation` fires.
void SendForCheck(const std::shared_ptr<http::Client>& client, const CheckContext& ctx,
                  http::Request request, HttpAnswer then);

// UNAVAILABLE for a call without an answer: AUTHORITY_TIMEOUT ("http:timeout") for a deadline,
// AUTHORITY_ERROR ("http:cancelled", "http:unreachable") otherwise.
CheckResult NoAnswer(const absl::Status& status);

// UNAVAILABLE with `reason` and `raw_code`.
CheckResult Unavailable(idv::v1::ReasonCode reason, std::string raw_code);

}  // namespace idv::verifiers

#endif  // IDV_VERIFIERS_HTTP_BACKEND_H_
