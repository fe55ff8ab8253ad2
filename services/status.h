// The one place absl::Status becomes grpc::Status.
#ifndef IDV_SERVICES_STATUS_H_
#define IDV_SERVICES_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace idv::services {

inline grpc::Status ToGrpcStatus(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  // absl and gRPC share the canonical code numbering.
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

}  // namespace idv::services

#endif  // IDV_SERVICES_STATUS_H_
