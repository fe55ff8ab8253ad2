#include "cli/admin.h"

#include <iostream>

#include "absl/strings/match.h"
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
            << "  policy get | put FILE [--dry-run]\n"
            << "FILE is a BackendConfig or Policy in text format (.textproto, .txtpb) or JSON "
               "(.json).\n";
  return 2;
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
  if (!ctx.prepare(call)) return 1;
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
    if (!ReadMessage(args[1], req.mutable_backend())) return 1;
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
    if (!ReadMessage(args[1], req.mutable_policy())) return 1;
    req.set_dry_run(ctx.dry_run);
    return Call(ctx, &Stub::PutPolicy, req);
  }
  return Usage("policy: unknown verb or wrong number of arguments");
}

}  // namespace idv::cli
