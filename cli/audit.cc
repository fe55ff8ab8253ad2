#include "cli/audit.h"

#include <unistd.h>

#include <fstream>
#include <iostream>

#include "absl/strings/numbers.h"
#include "audit/merkle.h"
#include "audit/note.h"
#include "common/files.h"
#include "idv/v1/audit.grpc.pb.h"

namespace idv::cli {
namespace {

using Stub = idv::v1::AuditService::Stub;

int Usage(const std::string& why) {
  std::cerr << "idvctl: " << why << "\n"
            << "  audit list [PAGE_TOKEN] [--account ID]  (newest first, 50 a page)\n"
            << "  audit export FILE [csv] [--account ID] [--verified_claims adult]\n"
            << "                                          (JSON Lines, or CSV)\n"
            << "  audit stats [day] [--account ID]        (per hour, or per day)\n"
            << "  audit checkpoint [NODE]\n"
            << "  audit get NODE INDEX\n"
            << "  audit prove NODE INDEX [TREE_SIZE]      (checked against the signed checkpoint)\n"
            << "  audit consistency NODE OLD_SIZE [NEW_SIZE]\n"
            << "  audit verify NODE [--first N] [--last N] [--trusted FILE,...]   (exit 1 when not "
               "intact)\n";
  return kExitUsage;
}

audit::Hash ToHash(const std::string& s) {
  audit::Hash h{};
  std::copy_n(s.begin(), std::min(s.size(), h.size()), h.begin());
  return h;
}

std::vector<audit::Hash> ToHashes(const google::protobuf::RepeatedPtrField<std::string>& in) {
  std::vector<audit::Hash> out;
  for (const std::string& s : in) out.push_back(ToHash(s));
  return out;
}

// The signed checkpoint of `node` as the server gives it, opened with the verifier key it gives
// (an auditor compares that key with the one published to them). Returns an exit code.
int SignedCheckpoint(const AdminContext& ctx, const std::string& node, audit::Checkpoint* out) {
  grpc::ClientContext call;
  if (!ctx.prepare(call)) return kExitCallFailed;
  idv::v1::GetCheckpointRequest req;
  req.set_node_id(node);
  idv::v1::GetCheckpointResponse resp;
  grpc::Status s = Stub(ctx.channel).GetCheckpoint(&call, req, &resp);
  if (!s.ok() || resp.logs_size() != 1) {
    std::cerr << "idvctl: no checkpoint of " << node << ": " << s.error_message() << "\n";
    return kExitCallFailed;
  }
  if (resp.logs(0).checkpoint().empty()) {
    std::cerr << "idvctl: " << node << " has no signed checkpoint yet (one follows within "
              << "audit.checkpoint_interval of a record, 10 s by default); try again then\n";
    return kExitCallFailed;
  }
  absl::StatusOr<std::string> text =
      audit::OpenNote(resp.logs(0).checkpoint(), resp.logs(0).verifier_key());
  absl::StatusOr<audit::Checkpoint> c =
      text.ok() ? audit::ParseCheckpoint(*text) : absl::StatusOr<audit::Checkpoint>(text.status());
  if (!c.ok()) {
    std::cerr << "idvctl: the checkpoint does not verify: " << c.status().message() << "\n";
    return kExitNegative;
  }
  *out = *c;
  return kExitOk;
}

int Check(const absl::Status& s, const std::string& what) {
  if (s.ok()) {
    std::cerr << "idvctl: " << what << ": verified\n";
    return 0;
  }
  std::cerr << "idvctl: " << what << ": FAILED: " << s.message() << "\n";
  return kExitNegative;
}

int Prove(const AdminContext& ctx, const std::string& node, uint64_t index, uint64_t size) {
  audit::Checkpoint signed_cp;
  if (int rc = SignedCheckpoint(ctx, node, &signed_cp); rc != kExitOk) return rc;
  grpc::ClientContext call;
  if (!ctx.prepare(call)) return kExitCallFailed;
  idv::v1::GetInclusionProofRequest req;
  req.set_node_id(node);
  req.set_index(index);
  req.set_tree_size(size == 0 ? signed_cp.size : size);
  idv::v1::InclusionProof proof;
  const int rc = ctx.report(Stub(ctx.channel).GetInclusionProof(&call, req, &proof), proof);
  if (rc != 0) return rc;
  absl::Status s =
      audit::VerifyInclusion(proof.index(), proof.tree_size(), ToHash(proof.leaf_hash()),
                             ToHashes(proof.hashes()), ToHash(proof.root()));
  if (s.ok() && proof.tree_size() == signed_cp.size && ToHash(proof.root()) != signed_cp.root) {
    s = absl::DataLossError("the proof's root is not the signed checkpoint's");
  }
  return Check(s, "inclusion proof");
}

int Consistency(const AdminContext& ctx, const std::string& node, uint64_t old_size,
                uint64_t new_size) {
  audit::Checkpoint signed_cp;
  if (int rc = SignedCheckpoint(ctx, node, &signed_cp); rc != kExitOk) return rc;
  grpc::ClientContext call;
  if (!ctx.prepare(call)) return kExitCallFailed;
  idv::v1::GetConsistencyProofRequest req;
  req.set_node_id(node);
  req.set_old_size(old_size);
  req.set_new_size(new_size == 0 ? signed_cp.size : new_size);
  idv::v1::ConsistencyProof proof;
  const int rc = ctx.report(Stub(ctx.channel).GetConsistencyProof(&call, req, &proof), proof);
  if (rc != 0) return rc;
  absl::Status s =
      audit::VerifyConsistency(proof.old_size(), proof.new_size(), ToHash(proof.old_root()),
                               ToHash(proof.new_root()), ToHashes(proof.hashes()));
  if (s.ok() && proof.new_size() == signed_cp.size && ToHash(proof.new_root()) != signed_cp.root) {
    s = absl::DataLossError("the proof's new root is not the signed checkpoint's");
  }
  return Check(s, "consistency proof");
}

// Streams the export into `path`, with a progress line when stderr is a terminal.
int Export(const AdminContext& ctx, const std::string& path, const std::string& account, bool csv,
           const std::vector<std::string>& verified_claims) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    std::cerr << "idvctl: cannot write " << path << "\n";
    return kExitUsage;
  }
  grpc::ClientContext call;
  if (!ctx.prepare(call)) return kExitCallFailed;
  call.set_deadline(std::chrono::system_clock::now() + std::chrono::hours(1));
  idv::v1::ExportRecordsRequest req;
  req.mutable_filter()->set_account_id(account);
  req.set_format(csv ? idv::v1::ExportRecordsRequest::CSV
                     : idv::v1::ExportRecordsRequest::JSON_LINES);
  for (const std::string& c : verified_claims) req.add_verified_claims(c);
  std::unique_ptr<grpc::ClientReader<idv::v1::ExportChunk>> reader =
      Stub(ctx.channel).ExportRecords(&call, req);
  const bool tty = ::isatty(2) != 0;
  idv::v1::ExportChunk chunk;
  uint64_t total = 0;
  while (reader->Read(&chunk)) {
    out << chunk.data();
    total = chunk.records_total();
    if (tty) std::cerr << "\r" << total << " records" << std::flush;
  }
  grpc::Status s = reader->Finish();
  if (tty) std::cerr << "\r";
  out.close();
  if (!s.ok() || !out) {
    std::cerr << "idvctl: export failed: " << s.error_message() << "\n";
    return kExitCallFailed;
  }
  std::cerr << "idvctl: " << total << " records written to " << path << "\n";
  return 0;
}

}  // namespace

int RunAudit(const AdminContext& ctx, const std::vector<std::string>& args,
             const std::vector<std::string>& trusted, const std::string& account,
             const std::vector<std::string>& verified_claims) {
  const std::string verb = args.empty() ? "" : args[0];
  uint64_t a = 0, b = 0;
  if (verb == "export" && (args.size() == 2 || (args.size() == 3 && args[2] == "csv"))) {
    return Export(ctx, args[1], account, args.size() == 3, verified_claims);
  }
  if (verb == "list" && args.size() <= 2) {
    grpc::ClientContext call;
    if (!ctx.prepare(call)) return kExitCallFailed;
    idv::v1::ListRecordsRequest req;
    req.mutable_filter()->set_account_id(account);
    if (args.size() == 2) req.set_page_token(args[1]);
    idv::v1::ListRecordsResponse resp;
    return ctx.report(Stub(ctx.channel).ListRecords(&call, req, &resp), resp);
  }
  if (verb == "stats" && (args.size() == 1 || (args.size() == 2 && args[1] == "day"))) {
    grpc::ClientContext call;
    if (!ctx.prepare(call)) return kExitCallFailed;
    idv::v1::GetStatsRequest req;
    req.mutable_filter()->set_account_id(account);
    if (args.size() == 2) req.set_bucket(idv::v1::GetStatsRequest::DAY);
    idv::v1::GetStatsResponse resp;
    return ctx.report(Stub(ctx.channel).GetStats(&call, req, &resp), resp);
  }
  if (verb == "checkpoint" && args.size() <= 2) {
    grpc::ClientContext call;
    if (!ctx.prepare(call)) return kExitCallFailed;
    idv::v1::GetCheckpointRequest req;
    if (args.size() == 2) req.set_node_id(args[1]);
    idv::v1::GetCheckpointResponse resp;
    return ctx.report(Stub(ctx.channel).GetCheckpoint(&call, req, &resp), resp);
  }
  if (verb == "get" && args.size() == 3 && absl::SimpleAtoi(args[2], &a)) {
    grpc::ClientContext call;
    if (!ctx.prepare(call)) return kExitCallFailed;
    idv::v1::GetRecordRequest req;
    req.set_node_id(args[1]);
    req.set_index(a);
    idv::v1::AuditRecordEntry resp;
    return ctx.report(Stub(ctx.channel).GetRecord(&call, req, &resp), resp);
  }
  if (verb == "prove" && (args.size() == 3 || args.size() == 4) && absl::SimpleAtoi(args[2], &a) &&
      (args.size() == 3 || absl::SimpleAtoi(args[3], &b))) {
    return Prove(ctx, args[1], a, b);
  }
  if (verb == "consistency" && (args.size() == 3 || args.size() == 4) &&
      absl::SimpleAtoi(args[2], &a) && (args.size() == 3 || absl::SimpleAtoi(args[3], &b))) {
    return Consistency(ctx, args[1], a, b);
  }
  if (verb == "verify" && args.size() == 4 && absl::SimpleAtoi(args[2], &a) &&
      absl::SimpleAtoi(args[3], &b)) {
    idv::v1::VerifyIntegrityRequest req;
    req.set_node_id(args[1]);
    req.set_first(a);
    req.set_last(b);
    for (const std::string& file : trusted) {
      absl::StatusOr<std::string> note = ReadFile(file);
      if (!note.ok()) {
        std::cerr << "idvctl: " << note.status().message() << "\n";
        return kExitUsage;
      }
      req.add_trusted_checkpoints(*note);
    }
    grpc::ClientContext call;
    if (!ctx.prepare(call)) return kExitCallFailed;
    idv::v1::IntegrityReport report;
    const int rc = ctx.report(Stub(ctx.channel).VerifyIntegrity(&call, req, &report), report);
    return rc != kExitOk ? rc : (report.intact() ? kExitOk : kExitNegative);
  }
  return Usage("audit: unknown verb or wrong arguments");
}

}  // namespace idv::cli
