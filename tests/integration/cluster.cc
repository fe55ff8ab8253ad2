#include "tests/integration/cluster.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <leveldb/db.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "identity/document.h"

namespace idv::testing {
namespace {

std::vector<Person> ReadPopulation(const std::string& csv) {
  std::vector<Person> people;
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, ',');
    people.push_back(Person{f[1], f[2], f.size() > 3 ? f[3] : ""});
  }
  return people;
}

}  // namespace

std::string UnknownValidNumber(const std::vector<Person>& people) {
  std::set<std::string> known;
  for (const Person& p : people) known.insert(p.number);
  for (int seq = 0; seq < 1000; ++seq) {
    std::string n = absl::StrCat("11010119800101", absl::Dec(seq, absl::kZeroPad3));
    n.push_back(identity::ResidentIdCheckCharacter(n));
    if (known.count(n) == 0) return n;
  }
  return "";
}

size_t Cluster::StartSim(const std::vector<std::string>& flags) {
  const size_t index = sims_.size();
  const std::string csv = absl::StrCat(dir_.path(), "/population", index, ".csv");
  std::vector<std::string> argv = {IDV_SIM_PATH, "--listen=127.0.0.1:0",
                                   absl::StrCat("--population=", options_.population), "--seed=11",
                                   "--export_csv=" + csv};
  argv.insert(argv.end(), flags.begin(), flags.end());
  auto sim = Process::Start(argv);
  EXPECT_TRUE(sim.ok()) << sim.status();
  sims_.push_back(*std::move(sim));
  auto address = sims_.back()->WaitForListening();
  EXPECT_TRUE(address.ok()) << address.status();
  sim_addresses_.push_back(address.value_or(""));
  if (index == 0) {
    people_ = ReadPopulation(csv);
    EXPECT_EQ(people_.size(), static_cast<size_t>(options_.population));
  }
  return index;
}

std::string Cluster::BackendsAndPolicies() const {
  std::string text =
      options_.backends_and_policies.value_or(absl::StrCat(R"(
      backends {
        name: "sim"
        typed_config {
          [type.googleapis.com/idv.config.v1.GrpcPluginConfig] { target: "{sim0}" plaintext: true }
        }
      }
      policies { document_types: CN_RESIDENT_ID backends: "sim" deadline { )",
                                                           options_.policy_deadline, " } }\n"));
  for (size_t i = 0; i < sim_addresses_.size(); ++i) {
    text = absl::StrReplaceAll(text, {{absl::StrCat("{sim", i, "}"), sim_addresses_[i]}});
  }
  return text;
}

void Cluster::StartIdvd() {
  const std::string config = dir_.path() + "/idvd.textproto";
  WriteFileOrDie(
      config, absl::StrCat("listen: \"127.0.0.1:0\"\ndata_dir: \"", data_dir(),
                           "\"\nkeys { master_key_file: \"", dir_.path(),
                           "/master.key\" create_if_missing: true }\n", BackendsAndPolicies(),
                           "binding { max_accounts_per_identity: ", options_.max_accounts, " }\n",
                           options_.tls, "\n", options_.extra_config));
  auto idvd = Process::Start({IDVD_PATH, "--config=" + config});
  ASSERT_TRUE(idvd.ok()) << idvd.status();
  idvd_ = *std::move(idvd);
  auto address = idvd_->WaitForListening();
  ASSERT_TRUE(address.ok()) << address.status();
  idvd_address_ = *address;
  std::string key = ReadFileOrDie(data_dir() + "/admin.key");
  token_ = key.substr(0, key.find('\n'));
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (!ca_pem_.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ca_pem_;
    creds = grpc::SslCredentials(ssl);
  }
  auto channel =
      grpc::CreateChannel("localhost:" + idvd_address_.substr(idvd_address_.rfind(':') + 1), creds);
  stub_ = idv::v1::VerificationService::NewStub(channel);
  admin_ = idv::v1::AdminService::NewStub(channel);
}

void Cluster::Start() { Start({{}}); }

void Cluster::Start(const std::vector<std::vector<std::string>>& simulators) {
  for (const auto& flags : simulators) StartSim(flags);
  if (::testing::Test::HasFailure()) return;
  StartIdvd();
}

void Cluster::Authorize(grpc::ClientContext& ctx, const std::string& token_override) {
  const std::string token = token_override == "<own>" ? token_ : token_override;
  if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
}

grpc::Status Cluster::Verify(const std::string& account, const std::string& number,
                             const std::string& name, bool bind, idv::v1::VerifyResponse* resp,
                             const std::string& token_override) {
  idv::v1::VerifyRequest req;
  req.set_account_id(account);
  req.set_bind(bind);
  req.mutable_claim()->set_document_type(idv::v1::CN_RESIDENT_ID);
  req.mutable_claim()->set_document_number(number);
  req.mutable_claim()->set_full_name(name);
  grpc::ClientContext ctx;
  Authorize(ctx, token_override);
  tested_.insert(number);
  tested_.insert(name);
  return stub_->Verify(&ctx, req, resp);
}

grpc::Status Cluster::VerifyRequest(const idv::v1::VerifyRequest& req,
                                    idv::v1::VerifyResponse* resp) {
  grpc::ClientContext ctx;
  Authorize(ctx);
  tested_.insert(req.claim().document_number());
  tested_.insert(req.claim().full_name());
  if (!req.claim().phone_number().empty()) tested_.insert(req.claim().phone_number());
  return stub_->Verify(&ctx, req, resp);
}

grpc::Status Cluster::GetBinding(const std::string& account, idv::v1::Binding* out) {
  idv::v1::GetBindingRequest req;
  req.set_account_id(account);
  grpc::ClientContext ctx;
  Authorize(ctx);
  return stub_->GetBinding(&ctx, req, out);
}

grpc::Status Cluster::GetVerification(const std::string& id, idv::v1::Verification* out) {
  idv::v1::GetVerificationRequest req;
  req.set_verification_id(id);
  grpc::ClientContext ctx;
  Authorize(ctx);
  return stub_->GetVerification(&ctx, req, out);
}

idv::sim::v1::Stats Cluster::SimStats(size_t sim) {
  auto stub = idv::sim::v1::SimulatorControl::NewStub(
      grpc::CreateChannel(sim_addresses_[sim], grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  idv::sim::v1::Stats stats;
  EXPECT_TRUE(stub->GetStats(&ctx, {}, &stats).ok());
  return stats;
}

void Cluster::SetFaults(size_t sim, const idv::sim::v1::Faults& faults) {
  auto stub = idv::sim::v1::SimulatorControl::NewStub(
      grpc::CreateChannel(sim_addresses_[sim], grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  idv::sim::v1::Faults out;
  grpc::Status s = stub->SetFaults(&ctx, faults, &out);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

void Cluster::ExpectNoPlaintext() {
  ASSERT_FALSE(idvd_->running()) << "stop idvd first";
  ASSERT_FALSE(tested_.empty());
  std::vector<std::string> blobs;
  for (const std::string& f : ListFiles(data_dir())) blobs.push_back(ReadFileOrDie(f));
  ASSERT_GT(blobs.size(), 3u);
  leveldb::DB* raw = nullptr;
  ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), data_dir() + "/db", &raw).ok());
  std::unique_ptr<leveldb::DB> db(raw);
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
  size_t entries = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++entries) {
    blobs.push_back(it->key().ToString() + it->value().ToString());
  }
  EXPECT_GT(entries, tested_.size() / 2);
  blobs.push_back(idvd_->Output());
  for (const std::string& secret : tested_) {
    if (secret.size() < 4) continue;
    for (const std::string& blob : blobs) {
      EXPECT_EQ(blob.find(secret), std::string::npos) << "plaintext found at rest";
    }
  }
}

}  // namespace idv::testing
