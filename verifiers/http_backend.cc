#include "verifiers/http_backend.h"

namespace idv::verifiers {

void SendForCheck(const std::shared_ptr<http::Client>& client, const CheckContext& ctx,
                  http::Request request, HttpAnswer then) {
  const absl::Time started = absl::Now();
  const uint64_t id = client->Start(
      std::move(request),
      [then = std::move(then), started](absl::StatusOr<http::Response> response) mutable {
        std::move(then)(std::move(response), absl::Now() - started);
      });
  if (ctx.cancellation != nullptr) {
    ctx.cancellation->OnCancel([client, id] { client->Cancel(id); });
  }
}

CheckResult Unavailable(idv::v1::ReasonCode reason, std::string raw_code) {
  CheckResult r;
  r.outcome = idv::v1::UNAVAILABLE;
  r.reason = reason;
  r.raw_code = std::move(raw_code);
  return r;
}

CheckResult NoAnswer(const absl::Status& status) {
  if (absl::IsDeadlineExceeded(status)) {
    return Unavailable(idv::v1::AUTHORITY_TIMEOUT, "http:timeout");
  }
  return Unavailable(idv::v1::AUTHORITY_ERROR,
                     absl::IsCancelled(status) ? "http:cancelled" : "http:unreachable");
}

}  // namespace idv::verifiers
