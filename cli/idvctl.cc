// idvctl: the command line for idv.
//
//   idvctl [--server HOST:PORT] [--token_file FILE] [--json] COMMAND [flags]
//
//   verify --account ID --type cn_resident_id --number NUMBER --name NAME [--bind]
//          [--idempotency_key KEY]
//   get-verification ID
//   get-binding ACCOUNT_ID
//   unbind ACCOUNT_ID                               account closure
//   accounts delete ACCOUNT_ID [--tenant T] [--reason TEXT]   a deletion request (admin)
//   accounts scrub                                  removed data leaves the database files
//   keys status | rotate [--dry-run] | retire OLDEST_KEPT [--dry-run]
//   backup create NAME | verify FILE --master_key KEY | restore FILE --master_key KEY --data_dir
//   DIR check --type TYPE [--country CCC] [INPUT...]   offline; reads stdin lines without INPUTs
//   backends list | put FILE [--dry-run] [--probe] | delete NAME [--dry-run] | history
//   policy get | put FILE [--dry-run] [--force]
//   audit list [TOKEN] [--account ID] | export FILE [csv] | stats [day] | checkpoint [NODE] |
//         get NODE INDEX | prove NODE INDEX [SIZE] | consistency NODE OLD [NEW] |
//         verify NODE [--trusted FILE,...]
//
// Prints a readable table, or with --json one JSON object (field names as in the .proto files).
// Exit status: 0 when the call succeeded, 1 when it failed, 2 for a usage error.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "cli/admin.h"
#include "cli/audit.h"
#include "cli/backup.h"
#include "cli/check.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "idv/v1/verification.grpc.pb.h"

ABSL_FLAG(std::string, server, "127.0.0.1:7443", "idvd address, HOST:PORT");
ABSL_FLAG(std::string, token_file, "data/admin.key", "file holding the API key");
ABSL_FLAG(std::string, ca_file, "",
          "PEM CA to verify idvd's TLS certificate; plaintext when empty");
ABSL_FLAG(bool, json, false, "print JSON instead of a table");
ABSL_FLAG(int32_t, timeout_ms, 10000, "call deadline in milliseconds");
ABSL_FLAG(std::string, account, "", "verify: the operator's account id");
ABSL_FLAG(std::string, type, "cn_resident_id", "verify/check: document type, lower case");
ABSL_FLAG(std::string, number, "", "verify: document number");
ABSL_FLAG(std::string, name, "", "verify: full name");
ABSL_FLAG(bool, bind, false, "verify: bind the identity to the account when verified");
ABSL_FLAG(std::string, idempotency_key, "",
          "verify: a retry with the same key gets the first answer (e.g. a UUID per attempt)");
ABSL_FLAG(std::string, country, "", "verify/check: issuing country of a passport (ISO alpha-3)");
ABSL_FLAG(bool, force, false,
          "policy put: accept a change that leaves a document type without any route");
ABSL_FLAG(bool, dry_run, false,
          "backends/policy: validate and show what would change, store nothing");
ABSL_FLAG(bool, probe, false, "backends put: call the backend's Describe before accepting it");
ABSL_FLAG(std::string, tenant, "", "clients: the tenant (default: the caller's; list: * for all)");
ABSL_FLAG(std::vector<std::string>, roles, {},
          "clients create: roles, comma-separated (verify, audit, admin, super-admin)");
ABSL_FLAG(std::string, expires, "", "clients create: expiry, RFC 3339 or a duration (720h)");
ABSL_FLAG(std::string, description, "", "clients/tenants create: what it is for");
ABSL_FLAG(std::string, reason, "",
          "accounts delete: why, kept in the audit record (no identity data)");
ABSL_FLAG(std::string, master_key, "", "backup verify/restore: the master key file");
ABSL_FLAG(std::string, data_dir, "", "backup restore: the data directory to restore into");
ABSL_FLAG(std::vector<std::string>, trusted, {},
          "audit verify: files of signed checkpoints kept outside idv, comma-separated");

namespace {

using google::protobuf::Message;

constexpr char kUsage[] =
    "idvctl [--server HOST:PORT] [--token_file FILE] [--json] COMMAND\n"
    "  verify --account ID --type cn_resident_id --number NUMBER --name NAME [--bind]\n"
    "         [--idempotency_key KEY]\n"
    "  get-verification VERIFICATION_ID\n"
    "  get-binding ACCOUNT_ID\n"
    "  unbind ACCOUNT_ID                     (account closure: the binding is removed)\n"
    "  check --type TYPE [--country CCC] [INPUT...]   (offline; without INPUTs reads stdin lines)\n"
    "        TYPE: cn_resident_id, cn_residence_permit_hmt, cn_permanent_residence,\n"
    "              hmt_travel_permit, passport, name, phone\n"
    "  backends list | put FILE [--dry-run] [--probe] | delete NAME [--dry-run] | history\n"
    "  policy get | put FILE [--dry-run] [--force]\n"
    "  clients create [ID] --roles R,... [--tenant T] [--expires 720h] [--description TEXT] |\n"
    "          list [--tenant T|*] | get ID | revoke ID | rotate ID\n"
    "  tenants create NAME [--description TEXT] | list\n"
    "  accounts delete ACCOUNT_ID [--tenant T] [--reason TEXT]   (a deletion request) |\n"
    "           scrub   (PostgreSQL: removed rows leave the table files and WAL)\n"
    "  keys status | rotate [--dry-run] | retire OLDEST_KEPT [--dry-run]\n"
    "  backup create NAME | verify FILE --master_key KEY_FILE |\n"
    "         restore FILE --master_key KEY_FILE --data_dir DIR   (LevelDB; offline)\n"
    "  audit list [PAGE_TOKEN] [--account ID] | export FILE [csv] | stats [day] |\n"
    "        checkpoint [NODE] |\n"
    "        get NODE INDEX |\n"
    "        prove NODE INDEX [TREE_SIZE] |\n"
    "        consistency NODE OLD_SIZE [NEW_SIZE] | verify NODE [--trusted FILE,...]";

int Usage(const std::string& why) {
  std::cerr << "idvctl: " << why << "\nusage: " << kUsage << "\n";
  return 2;
}

std::shared_ptr<grpc::Channel> Connect() {
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (const std::string ca = absl::GetFlag(FLAGS_ca_file); !ca.empty()) {
    std::ifstream in(ca);
    std::ostringstream pem;
    pem << in.rdbuf();
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = pem.str();
    creds = grpc::SslCredentials(ssl);
  }
  return grpc::CreateChannel(absl::GetFlag(FLAGS_server), creds);
}

bool PrepareContext(grpc::ClientContext& ctx) {
  std::ifstream in(absl::GetFlag(FLAGS_token_file));
  std::string token;
  if (!in || !std::getline(in, token)) {
    std::cerr << "idvctl: cannot read the API key from " << absl::GetFlag(FLAGS_token_file)
              << " (--token_file)\n";
    return false;
  }
  ctx.AddMetadata("authorization", "Bearer " + std::string(absl::StripAsciiWhitespace(token)));
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(absl::GetFlag(FLAGS_timeout_ms)));
  return true;
}

// Prints `m` as JSON or as "field  value" rows, one per set field (nested messages as JSON).
void Print(const Message& m) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  opts.always_print_primitive_fields = true;
  if (absl::GetFlag(FLAGS_json)) {
    std::string out;
    (void)google::protobuf::util::MessageToJsonString(m, &out, opts);
    std::cout << out << "\n";
    return;
  }
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(m, &json, opts);
  const google::protobuf::Descriptor* d = m.GetDescriptor();
  const google::protobuf::Reflection* r = m.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const auto* f : fields) {
    std::string value;
    if (f->is_repeated() && f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        std::string item;
        google::protobuf::TextFormat::PrintFieldValueToString(m, f, i, &item);
        if (f->type() == google::protobuf::FieldDescriptor::TYPE_BYTES) {
          absl::Base64Escape(r->GetRepeatedString(m, f, i), &item);
        } else if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_STRING) {
          item = r->GetRepeatedString(m, f, i);
        }
        absl::StrAppend(&value, i ? "\n" + std::string(26, ' ') : "", item);
      }
    } else if (f->is_repeated() || f->type() == google::protobuf::FieldDescriptor::TYPE_MESSAGE) {
      if (f->message_type() != nullptr &&
          f->message_type()->full_name() == "google.protobuf.Timestamp") {
        const auto& ts = static_cast<const google::protobuf::Timestamp&>(r->GetMessage(m, f));
        value = google::protobuf::util::TimeUtil::ToString(ts);
      } else if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(m, f); ++i) {
          std::string item;
          (void)google::protobuf::util::MessageToJsonString(r->GetRepeatedMessage(m, f, i), &item,
                                                            opts);
          absl::StrAppend(&value, i ? "\n" + std::string(26, ' ') : "", item);
        }
      } else {
        (void)google::protobuf::util::MessageToJsonString(r->GetMessage(m, f), &value, opts);
      }
    } else if (f->type() == google::protobuf::FieldDescriptor::TYPE_ENUM) {
      value = r->GetEnum(m, f)->name();
    } else if (f->type() == google::protobuf::FieldDescriptor::TYPE_BOOL) {
      value = r->GetBool(m, f) ? "true" : "false";
    } else if (f->type() == google::protobuf::FieldDescriptor::TYPE_BYTES) {
      absl::Base64Escape(r->GetString(m, f), &value);  // hashes and records, as in --json
    } else if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_STRING) {
      value = r->GetString(m, f);
    } else {
      std::string text;
      google::protobuf::TextFormat::PrintFieldValueToString(m, f, -1, &text);
      value = text;
    }
    std::cout << f->name() << std::string(f->name().size() < 24 ? 26 - f->name().size() : 2, ' ')
              << value << "\n";
  }
  (void)d;
}

int Report(const grpc::Status& status, const Message& m) {
  if (!status.ok()) {
    std::cerr << "idvctl: " << status.error_code() << " " << status.error_message() << "\n";
    return 1;
  }
  Print(m);
  return 0;
}

// Makes one unary call with the API key and deadline, and reports its result.
template <typename Request, typename Response>
int Call(grpc::Status (idv::v1::VerificationService::Stub::*method)(grpc::ClientContext*,
                                                                    const Request&, Response*),
         const Request& request) {
  grpc::ClientContext ctx;
  if (!PrepareContext(ctx)) return 1;
  Response response;
  auto stub = idv::v1::VerificationService::NewStub(Connect());
  return Report(((*stub).*method)(&ctx, request, &response), response);
}

int Verify() {
  std::string type = absl::AsciiStrToUpper(absl::GetFlag(FLAGS_type));
  idv::v1::DocumentType document_type;
  if (!idv::v1::DocumentType_Parse(type, &document_type)) {
    return Usage("unknown --type " + absl::GetFlag(FLAGS_type));
  }
  if (absl::GetFlag(FLAGS_account).empty()) return Usage("verify needs --account");
  idv::v1::VerifyRequest req;
  req.set_account_id(absl::GetFlag(FLAGS_account));
  req.set_bind(absl::GetFlag(FLAGS_bind));
  req.set_idempotency_key(absl::GetFlag(FLAGS_idempotency_key));
  req.mutable_claim()->set_document_type(document_type);
  req.mutable_claim()->set_document_number(absl::GetFlag(FLAGS_number));
  req.mutable_claim()->set_full_name(absl::GetFlag(FLAGS_name));
  req.mutable_claim()->set_issuing_country(absl::GetFlag(FLAGS_country));
  return Call(&idv::v1::VerificationService::Stub::Verify, req);
}

int GetVerification(const std::string& id) {
  idv::v1::GetVerificationRequest req;
  req.set_verification_id(id);
  return Call(&idv::v1::VerificationService::Stub::GetVerification, req);
}

int GetBinding(const std::string& account) {
  idv::v1::GetBindingRequest req;
  req.set_account_id(account);
  return Call(&idv::v1::VerificationService::Stub::GetBinding, req);
}

int Unbind(const std::string& account) {
  idv::v1::UnbindRequest req;
  req.set_account_id(account);
  return Call(&idv::v1::VerificationService::Stub::Unbind, req);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  // Accept --dry-run as well as --dry_run: flag names are spelled with '_', people type '-'.
  std::vector<std::string> spelled(argv, argv + argc);
  std::vector<char*> argv_fixed;
  for (std::string& a : spelled) {
    if (a.rfind("--", 0) == 0) {
      const size_t end = std::min(a.find('='), a.size());
      std::replace(a.begin() + 2, a.begin() + static_cast<std::ptrdiff_t>(end), '-', '_');
    }
    argv_fixed.push_back(a.data());
  }
  std::vector<char*> args = absl::ParseCommandLine(argc, argv_fixed.data());
  if (args.size() < 2) return Usage("no command");
  const std::string command = args[1];
  if (command == "verify" && args.size() == 2) return Verify();
  if (command == "get-verification" && args.size() == 3) return GetVerification(args[2]);
  if (command == "get-binding" && args.size() == 3) return GetBinding(args[2]);
  if (command == "unbind" && args.size() == 3) return Unbind(args[2]);
  if (command == "backends" || command == "policy" || command == "audit" || command == "clients" ||
      command == "tenants" || command == "accounts" || command == "keys" || command == "backup") {
    idv::cli::AdminContext ctx;
    ctx.channel = Connect();
    ctx.prepare = PrepareContext;
    ctx.report = Report;
    ctx.dry_run = absl::GetFlag(FLAGS_dry_run);
    ctx.force = absl::GetFlag(FLAGS_force);
    ctx.probe = absl::GetFlag(FLAGS_probe);
    ctx.tenant = absl::GetFlag(FLAGS_tenant);
    ctx.roles = absl::GetFlag(FLAGS_roles);
    ctx.expires = absl::GetFlag(FLAGS_expires);
    ctx.description = absl::GetFlag(FLAGS_description);
    ctx.reason = absl::GetFlag(FLAGS_reason);
    const std::vector<std::string> rest(args.begin() + 2, args.end());
    if (command == "audit") {
      return idv::cli::RunAudit(ctx, rest, absl::GetFlag(FLAGS_trusted),
                                absl::GetFlag(FLAGS_account));
    }
    if (command == "clients") return idv::cli::RunClients(ctx, rest);
    if (command == "tenants") return idv::cli::RunTenants(ctx, rest);
    if (command == "accounts") return idv::cli::RunAccounts(ctx, rest);
    if (command == "keys") return idv::cli::RunKeys(ctx, rest);
    if (command == "backup") {
      idv::cli::BackupOptions options;
      options.master_key_file = absl::GetFlag(FLAGS_master_key);
      options.data_dir = absl::GetFlag(FLAGS_data_dir);
      return idv::cli::RunBackup(ctx, options, rest);
    }
    return command == "backends" ? idv::cli::RunBackends(ctx, rest)
                                 : idv::cli::RunPolicy(ctx, rest);
  }
  if (command == "check") {
    idv::cli::CheckOptions options;
    options.type = absl::GetFlag(FLAGS_type);
    options.country = absl::GetFlag(FLAGS_country);
    options.json = absl::GetFlag(FLAGS_json);
    return idv::cli::RunCheck(options, std::vector<std::string>(args.begin() + 2, args.end()),
                              stdin, stdout);
  }
  return Usage("unknown command or wrong number of arguments: " + command);
}
