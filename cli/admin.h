// `idvctl backends ...` and `idvctl policy ...`: AdminService from the command line.
#ifndef IDV_CLI_ADMIN_H_
#define IDV_CLI_ADMIN_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "google/protobuf/message.h"

namespace idv::cli {

struct AdminContext {
  std::shared_ptr<grpc::Channel> channel;
  // Adds the API key and deadline to a call; false when the key cannot be read.
  std::function<bool(grpc::ClientContext&)> prepare;
  // Prints a result (table or JSON) and maps the status to an exit code.
  std::function<int(const grpc::Status&, const google::protobuf::Message&)> report;
  bool dry_run = false;
  bool probe = false;
};

// args: everything after "backends" or "policy". Returns the exit code (2 for usage errors).
int RunBackends(const AdminContext& ctx, const std::vector<std::string>& args);
int RunPolicy(const AdminContext& ctx, const std::vector<std::string>& args);

}  // namespace idv::cli

#endif  // IDV_CLI_ADMIN_H_
