#include "cli/admin.h"

#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/files.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "idv/v1/admin.grpc.pb.h"

namespace idv::cli {
namespace {

int Usage(const std::string& why) {
  std::cerr << "idvctl: " << why << "\n"
            << "  backends list | put FILE [--dry-run] [--probe] | delete NAME [--dry-run] | "
               "history\n"
            << "  policy get | put FILE [--dry-run] [--force]\n"
            << "  clients create [ID] --roles verify,audit,admin,super-admin [--tenant T] "
               "[--expires 720h|RFC3339] [--description TEXT] | list [--tenant T|*] | get ID | "
               "revoke ID | rotate ID\n"
            << "  tenants create NAME [--description TEXT] | list\n"
            << "  accounts delete ACCOUNT_ID [--tenant T] [--reason TEXT]\n"
            << "  keys status | rotate [--dry-run] | retire OLDEST_KEPT [--dry-run]\n"
            << "  accounts scrub   (PostgreSQL: rewrite the tables removed data was in)\n"
            << "FILE is a BackendConfig or Policy in text format (.textproto, .txtpb) or JSON "
               "(.json).\n";
  return kExitUsage;
}

// Reads a message from a text-format or (by extension) JSON file.
bool ReadMessage(const std::string& path, google::protobuf::Message* m) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    std::cerr << "idvctl: " << text.status().message() << "\n";
    return false;
  }
  if (absl::EndsWith(path, ".json")) {
    google::protobuf::util::Status s = google::protobuf::util::JsonStringToMessage(*text, m);
    if (!s.ok()) std::cerr << "idvctl: " << path << ": " << s.ToString() << "\n";
    return s.ok();
  }
  if (!google::protobuf::TextFormat::ParseFromString(*text, m)) {
    std::cerr << "idvctl: " << path << " is not a valid " << m->GetTypeName() << "\n";
    return false;
  }
  return true;
}

template <typename Request, typename Response>
int Call(const AdminContext& ctx,
         grpc::Status (idv::v1::AdminService::Stub::*method)(grpc::ClientContext*, const Request&,
                                                             Response*),
         const Request& request) {
  grpc::ClientContext call;
  if (!ctx.prepare(call)) return kExitCallFailed;
  Response response;
  auto stub = idv::v1::AdminService::NewStub(ctx.channel);
  return ctx.report(((*stub).*method)(&call, request, &response), response);
}

}  // namespace

int RunBackends(const AdminContext& ctx, const std::vector<std::string>& args) {
  using Stub = idv::v1::AdminService::Stub;
  const std::string verb = args.empty() ? "" : args[0];
  if (verb == "list" && args.size() == 1) {
    return Call(ctx, &Stub::ListBackends, idv::v1::ListBackendsRequest());
  }
  if (verb == "history" && args.size() == 1) {
    return Call(ctx, &Stub::ListConfigVersions, idv::v1::ListConfigVersionsRequest());
  }
  if (verb == "put" && args.size() == 2) {
    idv::v1::PutBackendRequest req;
    if (!ReadMessage(args[1], req.mutable_backend())) return kExitUsage;
    req.set_dry_run(ctx.dry_run);
    req.set_probe(ctx.probe);
    return Call(ctx, &Stub::PutBackend, req);
  }
  if (verb == "delete" && args.size() == 2) {
    idv::v1::DeleteBackendRequest req;
    req.set_name(args[1]);
    req.set_dry_run(ctx.dry_run);
    return Call(ctx, &Stub::DeleteBackend, req);
  }
  return Usage("backends: unknown verb or wrong number of arguments");
}

int RunPolicy(const AdminContext& ctx, const std::vector<std::string>& args) {
  using Stub = idv::v1::AdminService::Stub;
  const std::string verb = args.empty() ? "" : args[0];
  if (verb == "get" && args.size() == 1) {
    return Call(ctx, &Stub::GetPolicy, idv::v1::GetPolicyRequest());
  }
  if (verb == "put" && args.size() == 2) {
    idv::v1::PutPolicyRequest req;
    if (!ReadMessage(args[1], req.mutable_policy())) return kExitUsage;
    req.set_dry_run(ctx.dry_run);
    req.set_force(ctx.force);
    return Call(ctx, &Stub::PutPolicy, req);
  }
  return Usage("policy: unknown verb or wrong number of arguments");
}

int RunClients(const AdminContext& ctx, const std::vector<std::string>& args) {
  using Stub = idv::v1::AdminService::Stub;
  const std::string verb = args.empty() ? "" : args[0];
  if (verb == "create" && args.size() <= 2) {
    idv::v1::CreateClientRequest req;
    if (args.size() == 2) req.set_client_id(args[1]);
    req.set_tenant(ctx.tenant);
    for (const std::string& r : ctx.roles) req.add_roles(r);
    req.set_description(ctx.description);
    if (!ctx.expires.empty()) {
      absl::Time at;
      absl::Duration d;
      std::string err;
      if (absl::ParseDuration(ctx.expires, &d)) {
        at = absl::Now() + d;
      } else if (!absl::ParseTime(absl::RFC3339_full, ctx.expires, &at, &err)) {
        return Usage("--expires: an RFC 3339 time or a duration such as 720h");
      }
      req.mutable_expires_at()->set_seconds(absl::ToUnixSeconds(at));
    }
    return Call(ctx, &Stub::CreateClient, req);
  }
  if (verb == "list" && args.size() == 1) {
    idv::v1::ListClientsRequest req;
    req.set_tenant(ctx.tenant);
    return Call(ctx, &Stub::ListClients, req);
  }
  if ((verb == "get" || verb == "revoke" || verb == "rotate") && args.size() == 2) {
    if (verb == "get") {
      idv::v1::GetClientRequest req;
      req.set_client_id(args[1]);
      return Call(ctx, &Stub::GetClient, req);
    }
    if (verb == "revoke") {
      idv::v1::RevokeClientRequest req;
      req.set_client_id(args[1]);
      return Call(ctx, &Stub::RevokeClient, req);
    }
    idv::v1::RotateClientSecretRequest req;
    req.set_client_id(args[1]);
    return Call(ctx, &Stub::RotateClientSecret, req);
  }
  return Usage("clients: unknown verb or wrong number of arguments");
}

int RunTenants(const AdminContext& ctx, const std::vector<std::string>& args) {
  using Stub = idv::v1::AdminService::Stub;
  const std::string verb = args.empty() ? "" : args[0];
  if (verb == "create" && args.size() == 2) {
    idv::v1::CreateTenantRequest req;
    req.set_name(args[1]);
    req.set_description(ctx.description);
    return Call(ctx, &Stub::CreateTenant, req);
  }
  if (verb == "list" && args.size() == 1) {
    return Call(ctx, &Stub::ListTenants, idv::v1::ListTenantsRequest());
  }
  return Usage("tenants: unknown verb or wrong number of arguments");
}

int RunAccounts(const AdminContext& ctx, const std::vector<std::string>& args) {
  if (args.size() == 2 && args[0] == "delete") {
    idv::v1::DeleteAccountDataRequest req;
    req.set_tenant(ctx.tenant);
    req.set_account_id(args[1]);
    req.set_reason(ctx.reason);
    return Call(ctx, &idv::v1::AdminService::Stub::DeleteAccountData, req);
  }
  if (args.size() == 1 && args[0] == "scrub") {
    return Call(ctx, &idv::v1::AdminService::Stub::ScrubDeletedData,
                idv::v1::ScrubDeletedDataRequest());
  }
  return Usage("accounts: unknown verb or wrong number of arguments");
}

int RunKeys(const AdminContext& ctx, const std::vector<std::string>& args) {
  using Stub = idv::v1::AdminService::Stub;
  const std::string verb = args.empty() ? "" : args[0];
  if (verb == "status" && args.size() == 1) {
    return Call(ctx, &Stub::GetKeyStatus, idv::v1::GetKeyStatusRequest());
  }
  if (verb == "rotate" && args.size() == 1) {
    idv::v1::RotateKeysRequest req;
    req.set_dry_run(ctx.dry_run);
    return Call(ctx, &Stub::RotateKeys, req);
  }
  uint32_t oldest = 0;
  if (verb == "retire" && args.size() == 2 && absl::SimpleAtoi(args[1], &oldest)) {
    idv::v1::RetireKeyVersionsRequest req;
    req.set_oldest_kept(oldest);
    req.set_dry_run(ctx.dry_run);
    return Call(ctx, &Stub::RetireKeyVersions, req);
  }
  return Usage("keys: unknown verb or wrong number of arguments");
}

}  // namespace idv::cli
