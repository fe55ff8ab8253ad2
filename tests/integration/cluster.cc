#include "tests/integration/cluster.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <leveldb/db.h>
#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <future>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "crypto/keyring.h"
#include "identity/document.h"
#include "idv/store/v1/store.pb.h"

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
  return StartSimBinary(IDV_SIM_PATH, flags);
}

size_t Cluster::StartNppaSim(const std::vector<std::string>& flags) {
  std::ofstream(nppa_secret_file()) << "5a1f0e83c2d4b6a79e8f0d1c2b3a4958\n";
  std::ofstream(nppa_ai_key_file()) << "the test cluster's ai key, 32 b.";
  std::vector<std::string> all = {"--secret_key_file=" + nppa_secret_file()};
  all.insert(all.end(), flags.begin(), flags.end());
  return StartSimBinary(IDV_NPPA_SIM_PATH, all);
}

size_t Cluster::StartJsonSim(const std::vector<std::string>& flags) {
  return StartSimBinary(IDV_JSON_SIM_PATH, flags);
}

std::string Cluster::NppaBackend(const std::string& name, size_t sim) const {
  return absl::StrCat("backends { name: \"", name,
                      "\" typed_config { [type.googleapis.com/idv.config.v1.NppaConfig] { "
                      "base_url: \"http://{sim",
                      sim,
                      "}\" app_id: \"idv-demo-app\" biz_id: \"1199999999\" secret_key_file: \"",
                      nppa_secret_file(), "\" ai_key_file: \"", nppa_ai_key_file(), "\" } } }\n");
}

size_t Cluster::StartSimBinary(const std::string& binary, const std::vector<std::string>& flags) {
  const size_t index = sims_.size();
  const std::string csv = absl::StrCat(dir_.path(), "/population", index, ".csv");
  std::vector<std::string> argv = {binary, "--listen=127.0.0.1:0",
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

bool Cluster::Options::DefaultPostgres() {
  const char* store = std::getenv("IDV_TEST_STORE");
  return store != nullptr && std::string(store) == "postgres";
}

std::string Cluster::NodeDataDir(size_t node) const {
  return node == 0 ? data_dir() : absl::StrCat(dir_.path(), "/data-", node);
}

std::string Cluster::StoreConfig(size_t node) const {
  if (!options_.postgres) return "";
  // A short node lease: a node killed with SIGKILL gets its log back within 2 s of restarting.
  return absl::StrCat("store { node_id: \"node-", node, "\" postgres { dsn: \"", dsn_,
                      "\" node_lease { seconds: 2 } recheck_lease { seconds: 3 } } }\n");
}

void Cluster::StartIdvd() {
  if (options_.postgres && postgres_ == nullptr) {
    absl::StatusOr<std::unique_ptr<PostgresServer>> pg = PostgresServer::Start();
    ASSERT_TRUE(pg.ok()) << pg.status();
    postgres_ = *std::move(pg);
    absl::StatusOr<std::string> dsn = postgres_->CreateDatabase("idv");
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    dsn_ = *dsn;
  }
  nodes_.resize(std::max<size_t>(nodes_.size(), options_.postgres ? options_.nodes : 1));
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].process == nullptr || !nodes_[i].process->running()) StartNode(i);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

void Cluster::StartNode(size_t node) {
  const std::string config = absl::StrCat(dir_.path(), "/idvd-", node, ".textproto");
  WriteFileOrDie(
      config, absl::StrCat("listen: \"127.0.0.1:0\"\ndata_dir: \"", NodeDataDir(node),
                           "\"\nkeys { master_key_file: \"", dir_.path(),
                           "/master.key\" create_if_missing: true }\n", BackendsAndPolicies(),
                           "binding { max_accounts_per_identity: ", options_.max_accounts, " }\n",
                           StoreConfig(node), options_.tls, "\n", options_.extra_config));
  Node& n = nodes_[node];
  n.process.reset();
  auto idvd = Process::Start({IDVD_PATH, "--config=" + config});
  ASSERT_TRUE(idvd.ok()) << idvd.status();
  n.process = *std::move(idvd);
  auto address = n.process->WaitForListening();
  ASSERT_TRUE(address.ok()) << address.status();
  n.address = *address;
  if (node == 0) {
    std::string key = ReadFileOrDie(data_dir() + "/admin.key");
    token_ = key.substr(0, key.find('\n'));
  }
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (!ca_pem_.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ca_pem_;
    creds = grpc::SslCredentials(ssl);
  }
  n.channel = grpc::CreateChannel("localhost:" + n.address.substr(n.address.rfind(':') + 1), creds);
  n.stub = idv::v1::VerificationService::NewStub(n.channel);
  n.admin = idv::v1::AdminService::NewStub(n.channel);
}

size_t Cluster::NodeForClaim(const std::string& number) const {
  return std::hash<std::string>()(number) % nodes_.size();
}

size_t Cluster::NextReader() { return next_reader_++ % nodes_.size(); }

uint64_t Cluster::LiveConfigVersion(size_t node) {
  grpc::ClientContext ctx;
  Authorize(ctx);
  idv::v1::GetPolicyResponse resp;
  grpc::Status s = nodes_[node].admin->GetPolicy(&ctx, {}, &resp);
  return s.ok() ? resp.config_version() : 0;
}

bool Cluster::AwaitConfigVersion(size_t node, uint64_t version, absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  for (;;) {
    if (LiveConfigVersion(node) >= version) return true;
    if (absl::Now() >= give_up) return false;
    absl::SleepFor(absl::Milliseconds(5));  // polling the node's live version
  }
}

bool Cluster::Serving(size_t node, const std::string& service) {
  // grpc.health.v1.Health/Check through the generic stub: the request is field 1 (service) as a
  // string, absent for ""; the response is field 1 (status) as a varint, SERVING = 1.
  grpc::GenericStub stub(nodes_[node].channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  std::string encoded;
  if (!service.empty()) {
    encoded.push_back('\x0a');
    encoded.push_back(static_cast<char>(service.size()));  // names under 128 bytes
    encoded += service;
  }
  grpc::Slice slice(encoded);
  grpc::ByteBuffer request(&slice, 1), response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status s) { done.set_value(s); });
  if (!done.get_future().get().ok()) return false;
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return false;
  std::string bytes;
  for (const grpc::Slice& sl : slices)
    bytes.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
  return bytes == std::string("\x08\x01", 2);
}

std::string Cluster::QueryValue(const std::string& sql) {
  if (postgres_ == nullptr) return "";
  absl::StatusOr<std::string> v = postgres_->QueryValue("idv", sql);
  EXPECT_TRUE(v.ok()) << v.status();
  return v.value_or("");
}

std::string Cluster::AddClient(const std::string& client_id, const std::string& tenant,
                               const std::vector<std::string>& roles) {
  for (Node& n : nodes_) {
    n.process->Signal(SIGTERM);
    n.process->Wait();
  }
  EXPECT_TRUE(crypto::InitSodium().ok());
  absl::StatusOr<crypto::SecretBytes> master =
      crypto::LoadMasterKey(dir_.path() + "/master.key", false);
  EXPECT_TRUE(master.ok()) << master.status();
  if (!master.ok()) return "";
  absl::StatusOr<std::unique_ptr<crypto::KeyRing>> keys =
      crypto::KeyRing::Create(*std::move(master), 1);
  EXPECT_TRUE(keys.ok()) << keys.status();
  if (!keys.ok()) return "";
  const std::string secret = absl::StrCat("secret-of-", client_id);
  idv::store::v1::ClientRecord client;
  client.set_client_id(client_id);
  client.set_tenant(tenant);
  for (const std::string& r : roles) client.add_roles(r);
  client.set_key_version(1);
  const auto hash = (*keys)->ClientSecretHash(client_id, secret, 1);
  client.set_secret_hash(hash.data(), hash.size());
  if (options_.postgres) {
    QueryValue(absl::StrCat("INSERT INTO idv_clients (client_id, tenant, record) VALUES ('",
                            client_id, "', '", tenant, "', '\\x",
                            absl::BytesToHexString(client.SerializeAsString()), "')"));
  } else {
    leveldb::DB* raw = nullptr;
    leveldb::Status s = leveldb::DB::Open(leveldb::Options(), data_dir() + "/db", &raw);
    EXPECT_TRUE(s.ok()) << s.ToString();
    std::unique_ptr<leveldb::DB> db(raw);
    if (db) {
      EXPECT_TRUE(
          db->Put(leveldb::WriteOptions(), "c/" + client_id, client.SerializeAsString()).ok());
    }
  }
  StartIdvd();
  return absl::StrCat(client_id, ".", secret);
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
  return VerifyOn(NodeForClaim(number), req, resp, token_override);
}

grpc::Status Cluster::VerifyOn(size_t node, const idv::v1::VerifyRequest& req,
                               idv::v1::VerifyResponse* resp, const std::string& token_override) {
  {
    std::lock_guard<std::mutex> lock(tested_mu_);  // tests call from many threads
    tested_.insert(req.claim().document_number());
    tested_.insert(req.claim().full_name());
    if (!req.claim().phone_number().empty()) tested_.insert(req.claim().phone_number());
  }
  if (nodes_.size() > 1) {
    uint64_t newest = 0;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i].process->running()) newest = std::max(newest, LiveConfigVersion(i));
    }
    EXPECT_TRUE(AwaitConfigVersion(node, newest, absl::Seconds(1)))
        << "configuration version " << newest << " did not reach node " << node << " in 1 s";
  }
  admin_node_ = node;
  grpc::ClientContext ctx;
  Authorize(ctx, token_override);
  return nodes_[node].stub->Verify(&ctx, req, resp);
}

grpc::Status Cluster::VerifyRequest(const idv::v1::VerifyRequest& req,
                                    idv::v1::VerifyResponse* resp) {
  return VerifyOn(NodeForClaim(req.claim().document_number()), req, resp);
}

grpc::Status Cluster::GetBinding(const std::string& account, idv::v1::Binding* out) {
  size_t node = NextReader();
  while (!nodes_[node].process->running()) node = NextReader();
  return GetBindingOn(node, account, out);
}

grpc::Status Cluster::GetBindingOn(size_t node, const std::string& account, idv::v1::Binding* out) {
  idv::v1::GetBindingRequest req;
  req.set_account_id(account);
  grpc::ClientContext ctx;
  Authorize(ctx);
  return nodes_[node].stub->GetBinding(&ctx, req, out);
}

grpc::Status Cluster::GetVerification(const std::string& id, idv::v1::Verification* out) {
  idv::v1::GetVerificationRequest req;
  req.set_verification_id(id);
  grpc::ClientContext ctx;
  Authorize(ctx);
  size_t node = NextReader();
  while (!nodes_[node].process->running()) node = NextReader();
  return nodes_[node].stub->GetVerification(&ctx, req, out);
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
  ASSERT_FALSE(idvd().running()) << "stop idvd first";
  ASSERT_FALSE(tested_.empty());
  std::vector<std::string> blobs;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    for (const std::string& f : ListFiles(NodeDataDir(i))) blobs.push_back(ReadFileOrDie(f));
    blobs.push_back(nodes_[i].process->Output());
  }
  if (postgres_ != nullptr) {
    // Every file of the database cluster: tables, indexes, WAL. Rows this small are stored
    // uncompressed, so a plaintext value would appear as is.
    size_t files = 0;
    for (const std::string& f : ListFiles(postgres_->data_dir())) {
      blobs.push_back(ReadFileOrDie(f));
      ++files;
    }
    ASSERT_GT(files, 100u);
    blobs.push_back(postgres_->Output());
    EXPECT_GT(std::stoi(QueryValue("SELECT count(*) FROM idv_audit")), 0);
  } else {
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
  }
  for (const std::string& secret : tested_) {
    if (secret.size() < 4) continue;
    for (const std::string& blob : blobs) {
      EXPECT_EQ(blob.find(secret), std::string::npos) << "plaintext found at rest";
    }
  }
}

}  // namespace idv::testing
