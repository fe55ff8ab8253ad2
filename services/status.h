// The one place absl::Status becomes grpc::Status.
//
// Besides the code and message, every error carries the standard rich error model
// (google.rpc.Status in the `grpc-status-details-bin` trailer): an ErrorInfo (domain "idv.v1",
// the code's name as reason), a BadRequest naming the field when the message starts with one
// ("claim.full_name is longer than 256 bytes"), and a RetryInfo when the status carries a retry
// delay (WithRetryAfter).
#ifndef IDV_SERVICES_STATUS_H_
#define IDV_SERVICES_STATUS_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>
#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace idv::services {

grpc::Status ToGrpcStatus(const absl::Status& s);

// `s` with a retry delay attached, which ToGrpcStatus turns into a google.rpc.RetryInfo.
absl::Status WithRetryAfter(absl::Status s, absl::Duration delay);

// Answers a callback-API call at once with `status` (an error: nothing else is done).
inline grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* ctx,
                                           const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace idv::services

#endif  // IDV_SERVICES_STATUS_H_
