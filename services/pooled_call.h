// A unary RPC whose work waits for the store: authenticated on gRPC's thread, then run on a pool
// of the service's own, never blocking gRPC's threads.
#ifndef IDV_SERVICES_POOLED_CALL_H_
#define IDV_SERVICES_POOLED_CALL_H_

#include <grpcpp/grpcpp.h>

#include "absl/functional/any_invocable.h"
#include "services/auth.h"
#include "services/status.h"
#include "store/thread_pool.h"

namespace idv::services {

// Authenticates the caller for `method`, then runs `work(principal)` on `pool`; its result
// (absl::StatusOr<Response>) becomes the response, or the call's error.
template <typename Response, typename Work>
grpc::ServerUnaryReactor* RunPooled(const Authenticator& auth, store::ThreadPool& pool,
                                    grpc::CallbackServerContext* ctx, absl::string_view method,
                                    Response* response, Work work) {
  absl::StatusOr<Principal> principal = auth.Authenticate(*ctx, method);
  if (!principal.ok()) return FinishNow(ctx, principal.status());
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::AnyInvocable<void()&&> task = [reactor, response, work = std::move(work),
                                       p = *std::move(principal)]() mutable {
    absl::StatusOr<Response> r = work(p);
    if (r.ok()) *response = *std::move(r);
    reactor->Finish(ToGrpcStatus(r.status()));
  };
  if (!pool.Schedule(task)) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is stopping"));
  }
  return reactor;
}

}  // namespace idv::services

#endif  // IDV_SERVICES_POOLED_CALL_H_
