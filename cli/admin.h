// `idvctl backends|policy|clients|tenants|accounts|keys ...`: AdminService from the command line.
#ifndef IDV_CLI_ADMIN_H_
#define IDV_CLI_ADMIN_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cli/output.h"
#include "google/protobuf/message.h"

namespace idv::cli {

struct AdminContext {
  std::shared_ptr<grpc::Channel> channel;
  // Adds the API key and deadline to a call; false when the key cannot be read.
  std::function<bool(grpc::ClientContext&)> prepare;
  // Prints a result (table or JSON) and maps the status to an exit code.
  std::function<int(const grpc::Status&, const google::protobuf::Message&)> report;
  bool dry_run = false;
  // policy put: accept leaving a document type without a route.
  bool force = false;
  bool probe = false;
  // clients create: the tenant (default: the caller's), roles, expiry, description.
  std::string tenant;
  std::vector<std::string> roles;
  std::string expires;  // RFC 3339 time, or a duration from now such as "720h"
  std::string description;
  // accounts delete: why (kept in the audit record).
  std::string reason;
};

// args: everything after "backends" or "policy". Returns the exit code (2 for usage errors).
int RunBackends(const AdminContext& ctx, const std::vector<std::string>& args);
int RunPolicy(const AdminContext& ctx, const std::vector<std::string>& args);
// `clients create [ID] --roles R,... [--tenant T] [--expires WHEN] [--description TEXT] | list
// [--tenant T|*] | get ID | revoke ID | rotate ID`, and `tenants create NAME | list`.
int RunClients(const AdminContext& ctx, const std::vector<std::string>& args);
int RunTenants(const AdminContext& ctx, const std::vector<std::string>& args);
// `accounts delete ACCOUNT_ID [--tenant T] [--reason TEXT]`: a deletion request; `accounts
// scrub`: make removed data leave the database files.
int RunAccounts(const AdminContext& ctx, const std::vector<std::string>& args);
// `keys status | rotate [--dry-run] | retire OLDEST_KEPT [--dry-run]`.
int RunKeys(const AdminContext& ctx, const std::vector<std::string>& args);

}  // namespace idv::cli

#endif  // IDV_CLI_ADMIN_H_
