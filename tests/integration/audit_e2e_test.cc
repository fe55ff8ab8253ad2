// AuditService against real processes, on LevelDB and on PostgreSQL: checkpoints that open as
// signed notes, proofs that check against them, and tampering with the stored log, found by
// VerifyIntegrity at the right record; exports, with verified_claims that validate against the
// OpenID Connect for Identity Assurance schema.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <leveldb/db.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "audit/log.h"
#include "audit/merkle.h"
#include "audit/note.h"
#include "google/protobuf/util/message_differencer.h"
#include "idv/store/v1/store.pb.h"
#include "idv/v1/audit.grpc.pb.h"
#include "tests/integration/cluster.h"

namespace idv {
namespace {

using idv::testing::Cluster;

audit::Hash H(const std::string& s) {
  audit::Hash h{};
  std::copy_n(s.begin(), std::min<size_t>(s.size(), 32), h.begin());
  return h;
}

class AuditE2eTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    Cluster::Options o;
    o.postgres = GetParam() == "postgres";
    o.nodes = 1;
    o.extra_config = "audit { origin_prefix: \"idv.test/audit\" checkpoint_every_records: 5 }";
    cluster_ = std::make_unique<Cluster>(o);
    cluster_->Start();
    ASSERT_FALSE(::testing::Test::HasFailure());
    for (int i = 0; i < 12; ++i) {
      const auto& p = cluster_->people()[i];
      idv::v1::VerifyResponse resp;
      ASSERT_TRUE(cluster_->Verify(absl::StrCat("audit-", i), p.number, p.name, true, &resp).ok());
    }
    Connect();
  }

  void Connect() {
    stub_ = idv::v1::AuditService::NewStub(grpc::CreateChannel(
        "localhost:" + cluster_->address(0).substr(cluster_->address(0).rfind(':') + 1),
        grpc::InsecureChannelCredentials()));
  }

  idv::v1::LogCheckpoint Checkpoint() {
    grpc::ClientContext ctx;
    cluster_->Authorize(ctx);
    idv::v1::GetCheckpointResponse resp;
    grpc::Status s = stub_->GetCheckpoint(&ctx, {}, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.logs_size(), 1);
    return resp.logs_size() > 0 ? resp.logs(0) : idv::v1::LogCheckpoint();
  }

  idv::v1::IntegrityReport Verify(const std::string& node, std::vector<std::string> trusted = {}) {
    grpc::ClientContext ctx;
    cluster_->Authorize(ctx);
    idv::v1::VerifyIntegrityRequest req;
    req.set_node_id(node);
    for (const std::string& t : trusted) req.add_trusted_checkpoints(t);
    idv::v1::IntegrityReport report;
    grpc::Status s = stub_->VerifyIntegrity(&ctx, req, &report);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return report;
  }

  // Stops idvd (it signs a last checkpoint), runs `tamper` on the stored log, starts it again.
  void WhileStopped(const std::function<void(const std::string& node)>& tamper,
                    const std::string& node) {
    cluster_->idvd().Signal(SIGTERM);
    cluster_->idvd().Wait();
    tamper(node);
    cluster_->StartNode(0);
    Connect();
  }

  // Flips one byte of record `seq`'s stored bytes, leaving its stored leaf hash as it was.
  void FlipByte(const std::string& node, uint64_t seq) {
    if (GetParam() == "postgres") {
      cluster_->QueryValue(
          absl::StrCat("UPDATE idv_audit SET record = set_byte(record, 3, get_byte(record, 3) # 1) "
                       "WHERE node_id = '",
                       node, "' AND seq = ", seq));
      return;
    }
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), cluster_->data_dir() + "/db", &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    std::string key = "a/", value;
    for (int i = 7; i >= 0; --i) key.push_back(static_cast<char>((seq >> (8 * i)) & 0xff));
    ASSERT_TRUE(db->Get(leveldb::ReadOptions(), key, &value).ok());
    idv::store::v1::AuditEntry entry;
    ASSERT_TRUE(entry.ParseFromString(value));
    (*entry.mutable_record())[3] ^= 1;
    ASSERT_TRUE(db->Put(leveldb::WriteOptions(), key, entry.SerializeAsString()).ok());
  }

  // `token`'s ListRecords of `filter`, every page.
  std::vector<idv::v1::AuditRecordEntry> ListAll(const idv::v1::RecordFilter& filter,
                                                 const std::string& token = "<own>",
                                                 grpc::StatusCode expect = grpc::StatusCode::OK) {
    std::vector<idv::v1::AuditRecordEntry> out;
    idv::v1::ListRecordsRequest req;
    *req.mutable_filter() = filter;
    req.set_page_size(100);
    for (;;) {
      grpc::ClientContext ctx;
      cluster_->Authorize(ctx, token);
      idv::v1::ListRecordsResponse resp;
      grpc::Status s = stub_->ListRecords(&ctx, req, &resp);
      EXPECT_EQ(s.error_code(), expect) << s.error_message();
      if (!s.ok()) return out;
      out.insert(out.end(), resp.records().begin(), resp.records().end());
      if (resp.next_page_token().empty()) return out;
      req.set_page_token(resp.next_page_token());
    }
  }

  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<idv::v1::AuditService::Stub> stub_;
};

TEST_P(AuditE2eTest, CheckpointsOpenAndProofsCheckAgainstThem) {
  const idv::v1::LogCheckpoint cp = Checkpoint();
  EXPECT_GE(cp.log_size(), 12u);
  auto text = audit::OpenNote(cp.checkpoint(), cp.verifier_key());
  ASSERT_TRUE(text.ok()) << text.status();
  auto signed_cp = audit::ParseCheckpoint(*text);
  ASSERT_TRUE(signed_cp.ok());
  EXPECT_EQ(signed_cp->origin, "idv.test/audit/" + cp.node_id());
  EXPECT_EQ(signed_cp->size % 5, 0u);
  EXPECT_GE(signed_cp->size, 10u);

  for (uint64_t index : {0, 3, 9}) {
    grpc::ClientContext ctx;
    cluster_->Authorize(ctx);
    idv::v1::GetInclusionProofRequest req;
    req.set_node_id(cp.node_id());
    req.set_index(index);
    idv::v1::InclusionProof proof;
    ASSERT_TRUE(stub_->GetInclusionProof(&ctx, req, &proof).ok());
    EXPECT_EQ(proof.tree_size(), signed_cp->size);
    std::vector<audit::Hash> path;
    for (const auto& h : proof.hashes()) path.push_back(H(h));
    EXPECT_TRUE(audit::VerifyInclusion(index, proof.tree_size(), H(proof.leaf_hash()), path,
                                       signed_cp->root)
                    .ok());
    // The record's own bytes hash to the proven leaf. (Record 0 is the configuration seeded from
    // the file, no tenant's: its proof is given, its contents are not.)
    if (index == 0) continue;
    grpc::ClientContext rctx;
    cluster_->Authorize(rctx);
    idv::v1::GetRecordRequest rreq;
    rreq.set_node_id(cp.node_id());
    rreq.set_index(index);
    idv::v1::AuditRecordEntry record;
    ASSERT_TRUE(stub_->GetRecord(&rctx, rreq, &record).ok());
    EXPECT_EQ(H(record.leaf_hash()), audit::LeafHash(record.record()));
    EXPECT_EQ(record.leaf_hash(), proof.leaf_hash());
    EXPECT_EQ(record.kind(), "verification");
    EXPECT_EQ(record.verification().account_id(), absl::StrCat("audit-", index - 1));
  }
  grpc::ClientContext ctx;
  cluster_->Authorize(ctx);
  idv::v1::GetConsistencyProofRequest req;
  req.set_node_id(cp.node_id());
  req.set_old_size(5);
  req.set_new_size(signed_cp->size);  // the log has grown since: auditors' reads are records
  idv::v1::ConsistencyProof proof;
  ASSERT_TRUE(stub_->GetConsistencyProof(&ctx, req, &proof).ok());
  std::vector<audit::Hash> path;
  for (const auto& h : proof.hashes()) path.push_back(H(h));
  EXPECT_TRUE(
      audit::VerifyConsistency(5, proof.new_size(), H(proof.old_root()), signed_cp->root, path)
          .ok());

  const idv::v1::IntegrityReport report = Verify(cp.node_id());
  EXPECT_TRUE(report.intact()) << report.problem();
  // The log grew meanwhile: the auditor's own reads are records too.
  EXPECT_GT(report.records_checked(), cp.log_size());
}

TEST_P(AuditE2eTest, ListRecordsFiltersAndPagesNewestFirst) {
  idv::v1::ListRecordsRequest req;
  req.mutable_filter()->set_account_id("audit-4");
  {
    grpc::ClientContext ctx;
    cluster_->Authorize(ctx);
    idv::v1::ListRecordsResponse resp;
    ASSERT_TRUE(stub_->ListRecords(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.records_size(), 1);
    EXPECT_EQ(resp.records(0).verification().account_id(), "audit-4");
    EXPECT_EQ(resp.records(0).verification().outcome(), idv::v1::VERIFIED);
    EXPECT_TRUE(resp.next_page_token().empty());
  }
  // Every verification, five at a time, newest first, each once.
  req.clear_filter();
  req.mutable_filter()->set_kind("verification");
  req.set_page_size(5);
  std::vector<std::string> accounts;
  for (int pages = 0; pages < 10; ++pages) {
    grpc::ClientContext ctx;
    cluster_->Authorize(ctx);
    idv::v1::ListRecordsResponse resp;
    ASSERT_TRUE(stub_->ListRecords(&ctx, req, &resp).ok());
    for (const auto& r : resp.records()) accounts.push_back(r.verification().account_id());
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  ASSERT_EQ(accounts.size(), 12u);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(accounts[i], absl::StrCat("audit-", 11 - i));

  // Every one of those reads is itself in the trail: who looked, and at what.
  grpc::ClientContext ctx;
  cluster_->Authorize(ctx);
  idv::v1::ListRecordsRequest reads;
  reads.mutable_filter()->set_kind("auditor_read");
  reads.set_page_size(100);
  idv::v1::ListRecordsResponse resp;
  ASSERT_TRUE(stub_->ListRecords(&ctx, reads, &resp).ok());
  EXPECT_GE(resp.records_size(), 4);  // 1 filtered + at least 3 pages (this call is recorded too)
  EXPECT_NE(resp.records(0).admin_action().find("ListRecords"), std::string::npos);
  EXPECT_NE(resp.records(0).admin_action().find("auditor_read"), std::string::npos);
}

TEST_P(AuditE2eTest, ExportStreamsEveryRecordAsJsonLinesAndCsv) {
  for (auto format :
       {idv::v1::ExportRecordsRequest::JSON_LINES, idv::v1::ExportRecordsRequest::CSV}) {
    grpc::ClientContext ctx;
    cluster_->Authorize(ctx);
    idv::v1::ExportRecordsRequest req;
    req.set_format(format);
    req.mutable_filter()->set_kind("verification");
    auto reader = stub_->ExportRecords(&ctx, req);
    idv::v1::ExportChunk chunk;
    std::string all;
    while (reader->Read(&chunk)) all += chunk.data();
    ASSERT_TRUE(reader->Finish().ok());
    const size_t lines = std::count(all.begin(), all.end(), '\n');
    if (format == idv::v1::ExportRecordsRequest::CSV) {
      EXPECT_EQ(lines, 13u);  // header and 12 verifications
      EXPECT_EQ(all.rfind("node_id,index,decided_at,", 0), 0u);
      EXPECT_NE(all.find(",audit-11,CN_RESIDENT_ID,"), std::string::npos);
    } else {
      EXPECT_EQ(lines, 12u);
      EXPECT_NE(all.find("\"account_id\":\"audit-0\""), std::string::npos);
    }
    for (const auto& p : cluster_->people()) {
      EXPECT_EQ(all.find(p.number), std::string::npos) << "plaintext in an export";
    }
    EXPECT_EQ(chunk.records_total(), 12u);
  }
}

// A JSON Lines export asking for verified_claims: every VERIFIED verification carries its
// rendering (the same object GetVerification gives, valid against the OIDC4IDA schema), a
// MISMATCH carries none; a CSV export or a claim idv cannot state is refused.
TEST_P(AuditE2eTest, ExportCarriesVerifiedClaimsForVerifiedRecords) {
  const auto& people = cluster_->people();
  idv::v1::VerifyResponse mismatch;
  ASSERT_TRUE(
      cluster_->Verify("audit-mismatch", people[0].number, people[1].name, false, &mismatch).ok());
  ASSERT_EQ(mismatch.outcome(), idv::v1::MISMATCH);

  auto exported = [this](idv::v1::ExportRecordsRequest::Format format,
                         std::vector<std::string> claims, std::string* all) {
    grpc::ClientContext ctx;
    cluster_->Authorize(ctx);
    idv::v1::ExportRecordsRequest req;
    req.set_format(format);
    req.mutable_filter()->set_kind("verification");
    for (const std::string& c : claims) req.add_verified_claims(c);
    auto reader = stub_->ExportRecords(&ctx, req);
    idv::v1::ExportChunk chunk;
    while (reader->Read(&chunk)) *all += chunk.data();
    return reader->Finish();
  };
  std::string all;
  grpc::Status s = exported(idv::v1::ExportRecordsRequest::JSON_LINES, {"adult"}, &all);
  ASSERT_TRUE(s.ok()) << s.error_message();
  testing::TempDir dir;
  std::string cmd = IDV_OIDC4IDA_VALIDATE;
  int verified = 0, others = 0;
  std::istringstream lines(all);
  for (std::string line; std::getline(lines, line);) {
    const nlohmann::json j = nlohmann::json::parse(line);
    const nlohmann::json& v = j["verification"];
    if (v["outcome"] != "VERIFIED") {
      ++others;
      EXPECT_FALSE(j.contains("verified_claims")) << line;
      continue;
    }
    ASSERT_TRUE(j.contains("verified_claims")) << line;
    const nlohmann::json& vc = j["verified_claims"];
    EXPECT_EQ(vc["verification"]["verification_process"], v["verification_id"]);
    EXPECT_EQ(vc["verification"]["trust_framework"], "cn_real_name");
    EXPECT_TRUE(vc["claims"]["adult"].is_boolean()) << line;
    // What GetVerification renders for the same verification.
    grpc::ClientContext ctx;
    cluster_->Authorize(ctx);
    idv::v1::GetVerificationRequest req;
    req.set_verification_id(v["verification_id"]);
    req.add_verified_claims("adult");
    idv::v1::Verification got;
    ASSERT_TRUE(cluster_->stub(0).GetVerification(&ctx, req, &got).ok());
    EXPECT_EQ(nlohmann::json::parse(got.verified_claims_json())["verified_claims"], vc);
    const std::string path = absl::StrCat(dir.path(), "/", verified++, ".json");
    std::ofstream(path) << nlohmann::json{{"verified_claims", vc}}.dump();
    absl::StrAppend(&cmd, " ", path);
  }
  EXPECT_EQ(verified, 12);
  EXPECT_EQ(others, 1);
  EXPECT_EQ(WEXITSTATUS(std::system(cmd.c_str())), 0) << "a rendering is not valid: " << cmd;

  std::string refused;
  s = exported(idv::v1::ExportRecordsRequest::CSV, {"adult"}, &refused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("JSON_LINES"), std::string::npos) << s.error_message();
  s = exported(idv::v1::ExportRecordsRequest::JSON_LINES, {"birthdate"}, &refused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("birthdate"), std::string::npos) << s.error_message();
  EXPECT_EQ(refused, "");
}

TEST_P(AuditE2eTest, StatsCountVerificationsByOutcomeAndBackend) {
  grpc::ClientContext ctx;
  cluster_->Authorize(ctx);
  idv::v1::GetStatsRequest req;
  req.set_bucket(idv::v1::GetStatsRequest::DAY);
  idv::v1::GetStatsResponse resp;
  ASSERT_TRUE(stub_->GetStats(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.records(), 12u);
  uint64_t total = 0, verified = 0, sim = 0;
  for (const auto& b : resp.buckets()) {
    total += b.total();
    if (b.by_outcome().count("VERIFIED")) verified += b.by_outcome().at("VERIFIED");
    if (b.by_backend().count("sim")) sim += b.by_backend().at("sim");
  }
  EXPECT_EQ(total, 12u);
  EXPECT_EQ(verified, 12u);
  EXPECT_EQ(sim, 12u);
  EXPECT_TRUE(resp.from_counters());

  // A range that does not start on the hour is counted from the records: the same answer.
  grpc::ClientContext scan_ctx;
  cluster_->Authorize(scan_ctx);
  req.mutable_filter()->mutable_from()->set_seconds(1);
  idv::v1::GetStatsResponse scanned;
  ASSERT_TRUE(stub_->GetStats(&scan_ctx, req, &scanned).ok());
  EXPECT_FALSE(scanned.from_counters());
  ASSERT_EQ(scanned.buckets_size(), resp.buckets_size());
  for (int i = 0; i < resp.buckets_size(); ++i) {
    EXPECT_TRUE(
        google::protobuf::util::MessageDifferencer::Equals(scanned.buckets(i), resp.buckets(i)))
        << scanned.buckets(i).DebugString() << " vs " << resp.buckets(i).DebugString();
  }
  ASSERT_EQ(scanned.latency_size(), 1);
  ASSERT_EQ(resp.latency_size(), 1);
  EXPECT_EQ(scanned.latency(0).calls(), resp.latency(0).calls());
  // The counters' percentiles are bucket upper bounds: at most 9 % above the exact ones.
  EXPECT_GE(resp.latency(0).p50_us(), scanned.latency(0).p50_us());
  EXPECT_LE(resp.latency(0).p50_us(), scanned.latency(0).p50_us() * 110 / 100 + 1);
  ASSERT_EQ(resp.latency_size(), 1);
  EXPECT_EQ(resp.latency(0).backend(), "sim");
  EXPECT_LE(resp.latency(0).p50_us(), resp.latency(0).p99_us());
}

TEST_P(AuditE2eTest, AFlippedByteInTheStoreIsNamedByVerifyIntegrity) {
  const std::string node = Checkpoint().node_id();
  WhileStopped([this](const std::string& n) { FlipByte(n, 7); }, node);
  const idv::v1::IntegrityReport report = Verify(node);
  EXPECT_FALSE(report.intact());
  EXPECT_EQ(report.first_bad_sequence(), 7u) << report.problem();
}

TEST_P(AuditE2eTest, ARolledBackStoreIsCaughtByACheckpointKeptOutside) {
  const idv::v1::LogCheckpoint kept = Checkpoint();  // an auditor exports it
  const std::string node = kept.node_id();
  WhileStopped(
      [this, &kept](const std::string& n) {
        // Roll the log back: drop its last records and checkpoints, as restoring an older copy
        // would.
        // The older copy's tree has only the first 6 records' stored hashes.
        const int64_t hashes = audit::StoredHashCount(6);
        if (GetParam() == "postgres") {
          cluster_->QueryValue(
              absl::StrCat("DELETE FROM idv_audit WHERE node_id = '", n, "' AND seq > 6"));
          cluster_->QueryValue(absl::StrCat("DELETE FROM idv_audit_hashes WHERE node_id = '", n,
                                            "' AND idx >= ", hashes));
          cluster_->QueryValue(
              absl::StrCat("DELETE FROM idv_checkpoints WHERE node_id = '", n, "' AND size > 5"));
          return;
        }
        leveldb::DB* raw = nullptr;
        ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), cluster_->data_dir() + "/db", &raw).ok());
        std::unique_ptr<leveldb::DB> db(raw);
        for (uint64_t seq = 7; seq <= kept.log_size() + 1; ++seq) {
          std::string a = "a/", k = "k/";
          for (int i = 7; i >= 0; --i) {
            a.push_back(static_cast<char>((seq >> (8 * i)) & 0xff));
            k.push_back(static_cast<char>((seq >> (8 * i)) & 0xff));
          }
          db->Delete(leveldb::WriteOptions(), a);
          db->Delete(leveldb::WriteOptions(), k);
        }
        for (int64_t idx = hashes; idx < hashes + 64; ++idx) {
          std::string h = "h/";
          for (int i = 7; i >= 0; --i) h.push_back(static_cast<char>((idx >> (8 * i)) & 0xff));
          db->Delete(leveldb::WriteOptions(), h);
        }
      },
      node);
  EXPECT_TRUE(Verify(node).intact());  // consistent with itself...
  const idv::v1::IntegrityReport report = Verify(node, {kept.checkpoint()});
  EXPECT_FALSE(report.intact());  // ...not with the checkpoint the auditor kept
  EXPECT_NE(report.problem().find("truncated or rolled back"), std::string::npos)
      << report.problem();
}

// Refused calls are security records: a wrong secret, an unknown client, a missing role. The
// caller learns only "invalid API key"; the record says what was wrong, and never the secret.
TEST_P(AuditE2eTest, RefusedCallsAreSecurityRecords) {
  const std::string verifier = cluster_->AddClient("verifier-1", "default", {"verify"});
  Connect();
  const auto& p = cluster_->people()[40];
  idv::v1::VerifyResponse resp;
  const std::string wrong = "verifier-1.not-the-secret-XYZ";
  grpc::Status s = cluster_->Verify("sec-1", p.number, p.name, false, &resp, wrong);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(s.error_message(), "invalid API key");
  s = cluster_->Verify("sec-2", p.number, p.name, false, &resp, "nobody.whatever");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(s.error_message(), "invalid API key");
  // A verify-only client asking for the audit trail.
  ListAll({}, verifier, grpc::StatusCode::PERMISSION_DENIED);

  // Each refusal was queued to this node's log before it was answered, and the auditor's own
  // read is recorded (durably, in queue order) before the listing: no waiting needed.
  idv::v1::RecordFilter f;
  f.set_kind("security_event");
  const std::vector<idv::v1::AuditRecordEntry> events = ListAll(f);
  ASSERT_EQ(events.size(), 2u);  // the unknown client's belongs to no tenant
  EXPECT_EQ(events[0].verification().client_id(), "verifier-1");
  EXPECT_NE(events[0].admin_action().find("ListRecords"), std::string::npos);
  EXPECT_NE(events[0].admin_action().find("permission_denied"), std::string::npos);
  EXPECT_EQ(events[1].verification().client_id(), "verifier-1");
  EXPECT_NE(events[1].admin_action().find("Verify "), std::string::npos);
  EXPECT_NE(events[1].admin_action().find("wrong secret"), std::string::npos);
  EXPECT_NE(events[1].admin_action().find("127.0.0.1"), std::string::npos);  // the caller
  for (const auto& e : events) {
    EXPECT_EQ(e.record().find("not-the-secret"), std::string::npos);
    EXPECT_EQ(e.record().find(p.number), std::string::npos);
  }
  const idv::v1::IntegrityReport report = Verify(events[0].node_id());
  EXPECT_TRUE(report.intact()) << report.problem();
}

// Tenant B's auditor lists, exports and counts only tenant B's records; tenant A's auditor does
// not see B's, not even one record by its index.
TEST_P(AuditE2eTest, AnAuditorSeesOnlyItsTenantsRecords) {
  const std::string beta_verify = cluster_->AddClient("beta-verify", "beta", {"verify"});
  const std::string beta_audit = cluster_->AddClient("beta-audit", "beta", {"audit"});
  Connect();
  for (int i = 0; i < 3; ++i) {
    const auto& p = cluster_->people()[50 + i];
    idv::v1::VerifyResponse resp;
    grpc::Status s =
        cluster_->Verify(absl::StrCat("beta-", i), p.number, p.name, true, &resp, beta_verify);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  idv::v1::RecordFilter f;
  f.set_kind("verification");
  const auto beta = ListAll(f, beta_audit);
  ASSERT_EQ(beta.size(), 3u);
  for (const auto& r : beta) EXPECT_EQ(r.verification().account_id().rfind("beta-", 0), 0u);
  const auto alpha = ListAll(f);
  ASSERT_EQ(alpha.size(), 12u);
  for (const auto& r : alpha) EXPECT_EQ(r.verification().account_id().rfind("audit-", 0), 0u);

  {  // counts
    grpc::ClientContext ctx;
    cluster_->Authorize(ctx, beta_audit);
    idv::v1::GetStatsResponse stats;
    ASSERT_TRUE(stub_->GetStats(&ctx, {}, &stats).ok());
    EXPECT_EQ(stats.records(), 3u);
  }
  {  // export
    grpc::ClientContext ctx;
    cluster_->Authorize(ctx, beta_audit);
    idv::v1::ExportRecordsRequest req;
    auto reader = stub_->ExportRecords(&ctx, req);
    idv::v1::ExportChunk chunk;
    std::string all;
    while (reader->Read(&chunk)) all += chunk.data();
    ASSERT_TRUE(reader->Finish().ok());
    EXPECT_EQ(all.find("audit-"), std::string::npos) << "another tenant's record exported";
    EXPECT_NE(all.find("beta-2"), std::string::npos);
  }
  {  // one of beta's records, asked for by the default tenant's auditor
    grpc::ClientContext ctx;
    cluster_->Authorize(ctx);
    idv::v1::GetRecordRequest req;
    req.set_node_id(beta[0].node_id());
    req.set_index(beta[0].index());
    idv::v1::AuditRecordEntry out;
    EXPECT_EQ(stub_->GetRecord(&ctx, req, &out).error_code(), grpc::StatusCode::NOT_FOUND);
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, AuditE2eTest, ::testing::Values("leveldb", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace idv
