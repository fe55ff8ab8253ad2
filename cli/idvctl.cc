// idvctl: the command line for idv. `idvctl --help` and `idvctl COMMAND --help` describe every
// command; the exit codes are in cli/output.h and the help footer.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "cli/admin.h"
#include "cli/audit.h"
#include "cli/backup.h"
#include "cli/check.h"
#include "cli/output.h"
#include "google/protobuf/util/json_util.h"
#include "idv/v1/verification.grpc.pb.h"

namespace {

using google::protobuf::Message;

constexpr char kFooter[] = R"(Environment:
  IDV_SERVER, IDV_TOKEN_FILE, IDV_CA_FILE   defaults for --server, --token_file, --ca_file

Exit status:
  0  the call succeeded (verify: VERIFIED; audit prove/consistency/verify: the check passed)
  1  a negative answer: another Verify outcome, a proof, integrity or backup check that failed,
     an input `check` found invalid
  2  usage: bad flags, arguments or input files; nothing was sent
  3  the call failed: idvd unreachable, the API key unreadable or refused, any other gRPC error)";

struct Globals {
  std::string server = "127.0.0.1:7443";
  std::string token_file = "data/admin.key";
  std::string ca_file;
  std::string output = "table";
  bool json = false;
  int timeout_ms = 10000;

  idv::cli::Format format() const {
    return json ? idv::cli::Format::kJson : *idv::cli::ParseFormat(output);
  }
};

Globals g;

std::shared_ptr<grpc::Channel> Connect() {
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (!g.ca_file.empty()) {
    std::ifstream in(g.ca_file);
    std::ostringstream pem;
    pem << in.rdbuf();
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = pem.str();
    creds = grpc::SslCredentials(ssl);
  }
  return grpc::CreateChannel(g.server, creds);
}

bool PrepareContext(grpc::ClientContext& ctx) {
  std::ifstream in(g.token_file);
  std::string token;
  if (!in || !std::getline(in, token)) {
    std::cerr << "idvctl: cannot read the API key from " << g.token_file
              << " (--token_file or IDV_TOKEN_FILE)\n";
    return false;
  }
  ctx.AddMetadata("authorization", "Bearer " + std::string(absl::StripAsciiWhitespace(token)));
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(g.timeout_ms));
  return true;
}

// What to try next after a failed call, by status code.
std::string Hint(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      return absl::StrCat("cannot reach ", g.server,
                          " — is idvd running? (--server or IDV_SERVER; --ca_file for TLS)");
    case grpc::StatusCode::UNAUTHENTICATED:
      return absl::StrCat("the API key in ", g.token_file,
                          " was refused (--token_file or IDV_TOKEN_FILE)");
    case grpc::StatusCode::PERMISSION_DENIED:
      return "this client's roles or tenant do not allow it (idvctl clients get ID)";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::StrCat("no answer within ", g.timeout_ms, " ms (--timeout_ms)");
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "rate limited or over quota: retry later";
    default:
      return "";
  }
}

int Report(const grpc::Status& status, const Message& m) {
  if (!status.ok()) {
    std::cerr << "idvctl: "
              << absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()))
              << ": " << status.error_message() << "\n";
    if (const std::string hint = Hint(status); !hint.empty()) std::cerr << "  " << hint << "\n";
    return idv::cli::kExitCallFailed;
  }
  idv::cli::PrintMessage(m, g.format(), std::cout);
  return idv::cli::kExitOk;
}

template <typename Request, typename Response>
int Call(grpc::Status (idv::v1::VerificationService::Stub::*method)(grpc::ClientContext*,
                                                                    const Request&, Response*),
         const Request& request, Response* response) {
  grpc::ClientContext ctx;
  if (!PrepareContext(ctx)) return idv::cli::kExitCallFailed;
  auto stub = idv::v1::VerificationService::NewStub(Connect());
  return Report(((*stub).*method)(&ctx, request, response), *response);
}

struct VerifyFlags {
  std::string account, type = "cn_resident_id", number, name, phone, country, idempotency_key;
  std::string claim_file;
  bool bind = false;
};

int Usage(const std::string& why) {
  std::cerr << "idvctl: " << why << "\nRun with --help for more information.\n";
  return idv::cli::kExitUsage;
}

int Verify(const VerifyFlags& f) {
  idv::v1::VerifyRequest req;
  idv::v1::IdentityClaim& claim = *req.mutable_claim();
  if (!f.claim_file.empty()) {
    // The claim as JSON (an idv.v1.IdentityClaim), from a file or stdin, so the number and name
    // stay out of the process list and the shell history.
    std::ostringstream text;
    if (f.claim_file == "-") {
      text << std::cin.rdbuf();
    } else {
      std::ifstream in(f.claim_file);
      if (!in) return Usage("cannot read --claim_file " + f.claim_file);
      text << in.rdbuf();
    }
    google::protobuf::util::JsonParseOptions opts;
    if (auto s = google::protobuf::util::JsonStringToMessage(text.str(), &claim, opts); !s.ok()) {
      return Usage("--claim_file: not an IdentityClaim in JSON: " + s.ToString());
    }
  }
  if (claim.document_type() == idv::v1::DOCUMENT_TYPE_UNSPECIFIED) {
    idv::v1::DocumentType type;
    if (!idv::v1::DocumentType_Parse(absl::AsciiStrToUpper(f.type), &type) ||
        type == idv::v1::DOCUMENT_TYPE_UNSPECIFIED) {
      return Usage("unknown --type " + f.type);
    }
    claim.set_document_type(type);
  }
  if (!f.number.empty()) claim.set_document_number(f.number);
  if (!f.name.empty()) claim.set_full_name(f.name);
  if (!f.phone.empty()) claim.set_phone_number(f.phone);
  if (!f.country.empty()) claim.set_issuing_country(f.country);
  req.set_account_id(f.account);
  req.set_bind(f.bind);
  req.set_idempotency_key(f.idempotency_key);
  idv::v1::VerifyResponse response;
  const int rc = Call(&idv::v1::VerificationService::Stub::Verify, req, &response);
  if (rc != idv::cli::kExitOk) return rc;
  return response.outcome() == idv::v1::VERIFIED ? idv::cli::kExitOk : idv::cli::kExitNegative;
}

std::string VersionText() {
  return absl::StrCat("idvctl ", IDV_VERSION, " (build ", IDV_BUILD, ")");
}

// Subcommands record what to run here; it runs once every flag, the global ones after the
// subcommand included, has been parsed.
std::function<int()> action;

// A leaf command: `fn` runs when it is the one given.
CLI::App* Leaf(CLI::App* parent, const std::string& name, const std::string& what,
               std::function<int()> fn) {
  CLI::App* sub = parent->add_subcommand(name, what);
  sub->callback([fn = std::move(fn)] { action = fn; });
  return sub;
}

idv::cli::AdminContext Admin(bool dry_run = false) {
  idv::cli::AdminContext ctx;
  ctx.channel = Connect();
  ctx.prepare = PrepareContext;
  ctx.report = Report;
  ctx.dry_run = dry_run;
  return ctx;
}

void AddDryRun(CLI::App* sub, bool* dry_run) {
  sub->add_flag("--dry-run,--dry_run", *dry_run,
                "validate and show what would change (old -> new), store nothing");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "idvctl: verify identities and run idv (AdminService, AuditService) from the "
      "command line.",
      "idvctl"};
  app.set_version_flag("--version", VersionText());
  app.set_help_all_flag("--help-all", "Print the help of every command and exit");
  app.require_subcommand(1);
  app.fallthrough();
  app.footer(kFooter);
  app.add_option("--server", g.server, "idvd address, HOST:PORT")
      ->envname("IDV_SERVER")
      ->capture_default_str();
  app.add_option("--token_file,--token-file", g.token_file, "file holding the API key")
      ->envname("IDV_TOKEN_FILE")
      ->capture_default_str();
  app.add_option("--ca_file,--ca-file", g.ca_file,
                 "PEM CA to verify idvd's TLS certificate; plaintext when not given")
      ->envname("IDV_CA_FILE")
      ->check(CLI::ExistingFile);
  app.add_option("-o,--output", g.output, "table, json, jsonl (one line per list item) or yaml")
      ->check(CLI::IsMember({"table", "json", "jsonl", "yaml"}))
      ->capture_default_str();
  app.add_flag("--json", g.json, "the same as -o json");
  app.add_option("--timeout_ms,--timeout-ms", g.timeout_ms, "call deadline in milliseconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();

  // Verification.
  VerifyFlags vf;
  CLI::App* verify = Leaf(&app, "verify", "verify a claim (and bind it to the account)",
                          [&vf] { return Verify(vf); });
  verify->add_option("--account", vf.account, "the operator's account id")->required();
  verify->add_option("--type", vf.type, "document type, lower case")->capture_default_str();
  verify->add_option("--number", vf.number, "document number");
  verify->add_option("--name", vf.name, "full name");
  verify->add_option("--phone", vf.phone, "mobile number (three-element checks)");
  verify->add_option("--country", vf.country, "issuing country of a passport (ISO alpha-3)");
  verify->add_option("--claim_file,--claim-file", vf.claim_file,
                     "the claim as JSON (idv.v1.IdentityClaim) from FILE, or - for stdin; keeps "
                     "it out of the process list");
  verify->add_flag("--bind", vf.bind, "bind the identity to the account when verified");
  verify->add_option("--idempotency_key,--idempotency-key", vf.idempotency_key,
                     "a retry with the same key gets the first answer (e.g. a UUID per attempt)");

  std::string id;
  std::vector<std::string> verified_claims;
  CLI::App* get_verification =
      Leaf(&app, "get-verification", "a verification by id", [&id, &verified_claims] {
        idv::v1::GetVerificationRequest req;
        req.set_verification_id(id);
        for (const std::string& c : verified_claims) req.add_verified_claims(c);
        idv::v1::Verification resp;
        return Call(&idv::v1::VerificationService::Stub::GetVerification, req, &resp);
      });
  get_verification->add_option("VERIFICATION_ID", id)->required();
  get_verification->add_option(
      "--verified_claims,--verified-claims", verified_claims,
      "also render it as an OpenID Connect for Identity Assurance verified_claims object "
      "stating these claims (adult)");
  Leaf(&app, "get-binding", "the identity binding of an account (masked)",
       [&id] {
         idv::v1::GetBindingRequest req;
         req.set_account_id(id);
         idv::v1::Binding resp;
         return Call(&idv::v1::VerificationService::Stub::GetBinding, req, &resp);
       })
      ->add_option("ACCOUNT_ID", id)
      ->required();
  Leaf(&app, "unbind", "account closure: the binding is removed",
       [&id] {
         idv::v1::UnbindRequest req;
         req.set_account_id(id);
         idv::v1::UnbindResponse resp;
         return Call(&idv::v1::VerificationService::Stub::Unbind, req, &resp);
       })
      ->add_option("ACCOUNT_ID", id)
      ->required();

  // Offline checks.
  idv::cli::CheckOptions check_options;
  std::vector<std::string> inputs;
  CLI::App* check =
      Leaf(&app, "check",
           "offline checks of numbers, names and phones (reads stdin without INPUTs)", [&] {
             check_options.json = g.json || g.output == "json" || g.output == "jsonl";
             return idv::cli::RunCheck(check_options, inputs, stdin, stdout);
           });
  check
      ->add_option("--type", check_options.type,
                   "cn_resident_id, cn_residence_permit_hmt, cn_permanent_residence, "
                   "hmt_travel_permit, passport, name or phone")
      ->required();
  check->add_option("--country", check_options.country, "passport: issuing country");
  check->add_option("INPUT", inputs, "values to check");

  // Administration: each leaf fills `args` as the AdminService commands read them.
  std::string file, name;
  bool dry_run = false, force = false, probe = false;
  auto run_with = [&](int (*fn)(const idv::cli::AdminContext&, const std::vector<std::string>&),
                      std::vector<std::string> a,
                      idv::cli::AdminContext ctx) { return fn(ctx, a); };

  CLI::App* backends = app.add_subcommand("backends", "verifier backends")->require_subcommand(1);
  Leaf(backends, "list", "backends with their health",
       [&] { return run_with(idv::cli::RunBackends, {"list"}, Admin()); });
  Leaf(backends, "history", "configuration versions: who changed what",
       [&] { return run_with(idv::cli::RunBackends, {"history"}, Admin()); });
  CLI::App* put = Leaf(backends, "put", "add or replace a backend from a file", [&] {
    idv::cli::AdminContext ctx = Admin(dry_run);
    ctx.probe = probe;
    return run_with(idv::cli::RunBackends, {"put", file}, ctx);
  });
  put->add_option("FILE", file, "a BackendConfig in text format (.textproto) or JSON (.json)")
      ->required()
      ->check(CLI::ExistingFile);
  AddDryRun(put, &dry_run);
  put->add_flag("--probe", probe, "call the backend's Describe before accepting it");
  CLI::App* del = Leaf(backends, "delete", "remove a backend no policy routes to", [&] {
    return run_with(idv::cli::RunBackends, {"delete", name}, Admin(dry_run));
  });
  del->add_option("NAME", name)->required();
  AddDryRun(del, &dry_run);

  CLI::App* policy = app.add_subcommand("policy", "the routing policy")->require_subcommand(1);
  Leaf(policy, "get", "the policies in force",
       [&] { return run_with(idv::cli::RunPolicy, {"get"}, Admin()); });
  CLI::App* policy_put = Leaf(policy, "put", "add or replace a policy from a file", [&] {
    idv::cli::AdminContext ctx = Admin(dry_run);
    ctx.force = force;
    return run_with(idv::cli::RunPolicy, {"put", file}, ctx);
  });
  policy_put->add_option("FILE", file, "a Policy in text format or JSON")
      ->required()
      ->check(CLI::ExistingFile);
  AddDryRun(policy_put, &dry_run);
  policy_put->add_flag("--force", force,
                       "accept a change that leaves a document type without any route");

  std::string tenant, expires, description, reason;
  std::vector<std::string> roles;
  CLI::App* clients =
      app.add_subcommand("clients", "API clients and their keys")->require_subcommand(1);
  auto client_ctx = [&] {
    idv::cli::AdminContext ctx = Admin();
    ctx.tenant = tenant;
    ctx.roles = roles;
    ctx.expires = expires;
    ctx.description = description;
    return ctx;
  };
  CLI::App* create = Leaf(clients, "create", "a client with a new API key (printed once)", [&] {
    std::vector<std::string> a = {"create"};
    if (!id.empty()) a.push_back(id);
    return run_with(idv::cli::RunClients, a, client_ctx());
  });
  create->add_option("ID", id, "client id (default: generated)");
  create->add_option("--roles", roles, "verify, audit, admin, super-admin")
      ->required()
      ->delimiter(',');
  create->add_option("--tenant", tenant, "the tenant (default: the caller's)");
  create->add_option("--expires", expires, "RFC 3339 time or a duration from now (720h)");
  create->add_option("--description", description, "what it is for");
  Leaf(clients, "list", "clients of a tenant", [&] {
    return run_with(idv::cli::RunClients, {"list"}, client_ctx());
  })->add_option("--tenant", tenant, "the tenant (default: the caller's; * for all)");
  for (const char* verb : {"get", "revoke", "rotate"}) {
    Leaf(clients, verb,
         std::string(verb) == "get"      ? "one client"
         : std::string(verb) == "revoke" ? "revoke a client's key at once"
                                         : "a new API key for a client (printed once)",
         [&, verb] {
           return run_with(idv::cli::RunClients, {verb, id}, client_ctx());
         })
        ->add_option("ID", id)
        ->required();
  }

  CLI::App* tenants = app.add_subcommand("tenants", "tenants (super-admin)")->require_subcommand(1);
  CLI::App* tcreate = Leaf(tenants, "create", "a tenant", [&] {
    return run_with(idv::cli::RunTenants, {"create", name}, client_ctx());
  });
  tcreate->add_option("NAME", name)->required();
  tcreate->add_option("--description", description, "what it is for");
  Leaf(tenants, "list", "every tenant",
       [&] { return run_with(idv::cli::RunTenants, {"list"}, client_ctx()); });

  CLI::App* accounts = app.add_subcommand("accounts", "account data")->require_subcommand(1);
  CLI::App* adelete = Leaf(accounts, "delete", "a deletion request: the binding goes", [&] {
    idv::cli::AdminContext ctx = client_ctx();
    ctx.reason = reason;
    return run_with(idv::cli::RunAccounts, {"delete", id}, ctx);
  });
  adelete->add_option("ACCOUNT_ID", id)->required();
  adelete->add_option("--tenant", tenant, "the account's tenant (default: the caller's)");
  adelete->add_option("--reason", reason, "why, kept in the audit record (no identity data)");
  Leaf(accounts, "scrub", "PostgreSQL: removed rows leave the table files and WAL",
       [&] { return run_with(idv::cli::RunAccounts, {"scrub"}, Admin()); });

  std::string oldest;
  CLI::App* keys = app.add_subcommand("keys", "fingerprint key versions")->require_subcommand(1);
  Leaf(keys, "status", "live versions and what is stored under each",
       [&] { return run_with(idv::cli::RunKeys, {"status"}, Admin()); });
  AddDryRun(Leaf(keys, "rotate", "make a new key version current",
                 [&] { return run_with(idv::cli::RunKeys, {"rotate"}, Admin(dry_run)); }),
            &dry_run);
  CLI::App* retire = Leaf(keys, "retire", "stop using versions below OLDEST_KEPT", [&] {
    return run_with(idv::cli::RunKeys, {"retire", oldest}, Admin(dry_run));
  });
  retire->add_option("OLDEST_KEPT", oldest)->required()->check(CLI::PositiveNumber);
  AddDryRun(retire, &dry_run);

  idv::cli::BackupOptions backup_options;
  CLI::App* backup =
      app.add_subcommand("backup", "encrypted backups (LevelDB)")->require_subcommand(1);
  Leaf(backup, "create", "idvd writes a backup NAME into its backup.dir",
       [&] {
         return idv::cli::RunBackup(Admin(), backup_options, {"create", name});
       })
      ->add_option("NAME", name)
      ->required();
  for (const char* verb : {"verify", "restore"}) {
    CLI::App* sub = Leaf(backup, verb,
                         std::string(verb) == "verify"
                             ? "check a backup file offline"
                             : "restore a backup file into an empty data directory (offline)",
                         [&, verb] {
                           return idv::cli::RunBackup(Admin(), backup_options, {verb, file});
                         });
    sub->add_option("FILE", file)->required()->check(CLI::ExistingFile);
    sub->add_option("--master_key,--master-key", backup_options.master_key_file,
                    "the master key file the backup was made under")
        ->required()
        ->check(CLI::ExistingFile);
    if (std::string(verb) == "restore") {
      sub->add_option("--data_dir,--data-dir", backup_options.data_dir,
                      "the data directory to restore into")
          ->required();
    }
  }

  std::string account, node, page_token;
  std::vector<std::string> trusted;
  uint64_t index = 0, size = 0;
  std::string export_format = "jsonl", bucket = "hour";
  CLI::App* audit =
      app.add_subcommand("audit", "the audit log (AuditService)")->require_subcommand(1);
  auto audit_run = [&](std::vector<std::string> a) {
    return idv::cli::RunAudit(Admin(), a, trusted, account, verified_claims);
  };
  CLI::App* alist = Leaf(audit, "list", "records, newest first, 50 a page", [&] {
    std::vector<std::string> a = {"list"};
    if (!page_token.empty()) a.push_back(page_token);
    return audit_run(a);
  });
  alist->add_option("PAGE_TOKEN", page_token, "next_page_token of the page before");
  alist->add_option("--account", account, "only this account's records");
  CLI::App* aexport = Leaf(audit, "export", "stream records into FILE", [&] {
    std::vector<std::string> a = {"export", file};
    if (export_format == "csv") a.push_back("csv");
    return audit_run(a);
  });
  aexport->add_option("FILE", file)->required();
  aexport->add_option("FORMAT", export_format, "jsonl (JSON Lines) or csv")
      ->check(CLI::IsMember({"jsonl", "csv"}))
      ->capture_default_str();
  aexport->add_option("--account", account, "only this account's records");
  aexport->add_option("--verified_claims,--verified-claims", verified_claims,
                      "JSON Lines: each VERIFIED verification also as an OpenID Connect for "
                      "Identity Assurance verified_claims object stating these claims (adult)");
  CLI::App* astats = Leaf(audit, "stats", "outcomes per hour (or day)", [&] {
    return audit_run(bucket == "day" ? std::vector<std::string>{"stats", "day"}
                                     : std::vector<std::string>{"stats"});
  });
  astats->add_option("BUCKET", bucket, "hour or day")
      ->check(CLI::IsMember({"hour", "day"}))
      ->capture_default_str();
  astats->add_option("--account", account, "only this account's records");
  Leaf(audit, "checkpoint", "signed checkpoints (one node, or all)", [&] {
    return audit_run(node.empty() ? std::vector<std::string>{"checkpoint"}
                                  : std::vector<std::string>{"checkpoint", node});
  })->add_option("NODE", node);
  CLI::App* aget = Leaf(audit, "get", "one record", [&] {
    return audit_run({"get", node, std::to_string(index)});
  });
  aget->add_option("NODE", node)->required();
  aget->add_option("INDEX", index)->required();
  CLI::App* prove = Leaf(audit, "prove", "inclusion proof, checked against the checkpoint", [&] {
    return audit_run({"prove", node, std::to_string(index), std::to_string(size)});
  });
  prove->add_option("NODE", node)->required();
  prove->add_option("INDEX", index)->required();
  prove->add_option("TREE_SIZE", size, "default: the signed checkpoint's");
  CLI::App* consistency =
      Leaf(audit, "consistency", "consistency proof between two tree sizes", [&] {
        return audit_run({"consistency", node, std::to_string(index), std::to_string(size)});
      });
  consistency->add_option("NODE", node)->required();
  consistency->add_option("OLD_SIZE", index)->required();
  consistency->add_option("NEW_SIZE", size, "default: the signed checkpoint's");
  uint64_t first = 0, last = 0;
  CLI::App* averify = Leaf(audit, "verify", "recompute a node's log (exit 1 when not intact)", [&] {
    return audit_run({"verify", node, std::to_string(first), std::to_string(last)});
  });
  averify->add_option("NODE", node)->required();
  averify->add_option("--first", first, "check records FIRST.. only (default: the whole log)");
  averify->add_option("--last", last, "check records ..LAST only (default: to the end)");
  averify->add_option("--trusted", trusted, "signed checkpoints kept outside idv")
      ->delimiter(',')
      ->check(CLI::ExistingFile);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? idv::cli::kExitOk : idv::cli::kExitUsage;
  }
  return action ? action() : Usage("no command");
}
