#include "cli/backup.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "crypto/keyring.h"
#include "idv/v1/admin.grpc.pb.h"
#include "store/backup.h"

namespace idv::cli {
namespace {

int Usage(const std::string& why) {
  std::cerr << "idvctl: " << why << "\n"
            << "  backup create NAME                       (idvd writes it to its backup.dir)\n"
            << "  backup verify FILE --master_key KEY_FILE\n"
            << "  backup restore FILE --master_key KEY_FILE --data_dir DIR\n";
  return kExitUsage;
}

// A key ring from `key_file` that has the version `path` was made under.
absl::StatusOr<std::unique_ptr<crypto::KeyRing>> RingFor(const std::string& key_file,
                                                         const std::string& path) {
  if (absl::Status s = crypto::InitSodium(); !s.ok()) return s;
  absl::StatusOr<uint32_t> version = store::BackupKeyVersion(path);
  if (!version.ok()) return version.status();
  if (*version == 0 || *version > crypto::KeyRing::kMaxVersions) {
    return absl::DataLossError("the backup names an impossible key version");
  }
  absl::StatusOr<crypto::SecretBytes> master = crypto::LoadMasterKey(key_file, false);
  if (!master.ok()) return master.status();
  return crypto::KeyRing::Create(*std::move(master), *version);
}

int Print(const store::BackupSummary& s, const std::string& verb) {
  std::cout << verb << "  " << s.trailer.pairs() << " pairs, " << s.trailer.audit_records()
            << " audit records, " << s.file_bytes << " bytes; made "
            << absl::FormatTime(absl::RFC3339_sec,
                                absl::FromUnixSeconds(s.manifest.created_at().seconds()),
                                absl::UTCTimeZone())
            << " on node " << s.manifest.node_id() << " under key version "
            << s.manifest.key_version() << "\n";
  return 0;
}

}  // namespace

int RunBackup(const AdminContext& ctx, const BackupOptions& options,
              const std::vector<std::string>& args) {
  const std::string verb = args.empty() ? "" : args[0];
  if (verb == "create" && args.size() == 2) {
    grpc::ClientContext call;
    if (!ctx.prepare(call)) return kExitCallFailed;
    idv::v1::CreateBackupRequest req;
    req.set_name(args[1]);
    idv::v1::BackupInfo info;
    auto stub = idv::v1::AdminService::NewStub(ctx.channel);
    return ctx.report(stub->CreateBackup(&call, req, &info), info);
  }
  if ((verb == "verify" || verb == "restore") && args.size() == 2) {
    if (options.master_key_file.empty()) return Usage("backup " + verb + " needs --master_key");
    if (verb == "restore" && options.data_dir.empty()) return Usage("restore needs --data_dir");
    absl::StatusOr<std::unique_ptr<crypto::KeyRing>> ring =
        RingFor(options.master_key_file, args[1]);
    absl::StatusOr<store::BackupSummary> done =
        !ring.ok()         ? absl::StatusOr<store::BackupSummary>(ring.status())
        : verb == "verify" ? store::VerifyBackup(**ring, args[1])
                           : store::RestoreBackup(**ring, args[1], options.data_dir + "/db");
    if (!done.ok()) {
      std::cerr << "idvctl: backup " << verb << " " << args[1] << ": " << done.status().message()
                << (verb == "restore" ? " (nothing was restored)" : "") << "\n";
      return kExitNegative;
    }
    return Print(*done, verb == "verify" ? "intact  " : "restored");
  }
  return Usage("backup: unknown verb or wrong number of arguments");
}

}  // namespace idv::cli
