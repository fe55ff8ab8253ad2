// Transport security with certificates made by openssl at test time: API keys and client
// certificates (mutual TLS) against idvd, every refusal made before any work (no authority
// question, no verification record), certificates renewed without a restart, and idvd showing
// its own client certificate to a backend that requires one.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "idv/v1/audit.grpc.pb.h"
#include "tests/integration/cluster.h"
#include "tests/support/process.h"

namespace idv {
namespace {

using idv::testing::Cluster;
using idv::testing::Process;
using idv::testing::ReadFileOrDie;
using idv::testing::TempDir;

// A key and certificate made by openssl: self-signed (a CA) when `ca` is empty, else issued by
// the CA `ca` (files <ca>.pem, <ca>.key). Files <dir>/<name>.pem and <dir>/<name>.key.
void MakeCert(const std::string& dir, const std::string& name, const std::string& cn,
              const std::string& ca = "") {
  std::vector<std::string> argv = {"/usr/bin/openssl",
                                   "req",
                                   "-x509",
                                   "-newkey",
                                   "ec",
                                   "-pkeyopt",
                                   "ec_paramgen_curve:prime256v1",
                                   "-nodes",
                                   "-days",
                                   "1",
                                   "-subj",
                                   "/CN=" + cn,
                                   "-keyout",
                                   absl::StrCat(dir, "/", name, ".key"),
                                   "-out",
                                   absl::StrCat(dir, "/", name, ".pem")};
  if (!ca.empty()) {
    for (const std::string& a :
         {std::string("-CA"), absl::StrCat(dir, "/", ca, ".pem"), std::string("-CAkey"),
          absl::StrCat(dir, "/", ca, ".key"), std::string("-addext"),
          std::string("basicConstraints=critical,CA:FALSE"), std::string("-addext"),
          std::string("subjectAltName=DNS:localhost,IP:127.0.0.1")}) {
      argv.push_back(a);
    }
  }
  auto openssl = Process::Start(argv);
  ASSERT_TRUE(openssl.ok());
  const int rc = (*openssl)->Wait();
  ASSERT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << (*openssl)->Output();
}

class MutualTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string& d = dir_.path();
    MakeCert(d, "server-ca", "idv test server CA");
    MakeCert(d, "server", "localhost", "server-ca");
    MakeCert(d, "client-ca", "idv test client CA");
    MakeCert(d, "rogue-ca", "someone else's CA");
    MakeCert(d, "flow", "mtls-flow", "client-ca");           // a client of idvd
    MakeCert(d, "stranger", "no-such-client", "client-ca");  // a good certificate, no client
    MakeCert(d, "rogue", "mtls-flow", "rogue-ca");           // the right name, the wrong CA
    MakeCert(d, "revoked", "mtls-revoked", "client-ca");
    ASSERT_FALSE(HasFatalFailure());
    Cluster::Options o;
    o.postgres = false;
    o.nodes = 1;
    o.tls = absl::StrCat("tls { cert_file: \"", d, "/server.pem\" key_file: \"", d,
                         "/server.key\" client_ca_file: \"", d,
                         "/client-ca.pem\" reload_interval { seconds: 1 } }");
    cluster_ = std::make_unique<Cluster>(o);
    cluster_->set_ca_pem(ReadFileOrDie(d + "/server-ca.pem"));
    cluster_->Start();
    ASSERT_FALSE(HasFatalFailure());
    CreateClient("mtls-flow", "verify");
    CreateClient("mtls-revoked", "verify");
    idv::v1::RevokeClientRequest revoke;
    revoke.set_client_id("mtls-revoked");
    idv::v1::Client revoked;
    grpc::ClientContext ctx;
    cluster_->Authorize(ctx);
    ASSERT_TRUE(cluster_->admin(0).RevokeClient(&ctx, revoke, &revoked).ok());
  }

  void CreateClient(const std::string& id, const std::string& role) {
    idv::v1::CreateClientRequest req;
    req.set_client_id(id);
    req.add_roles(role);
    idv::v1::ClientSecret secret;
    grpc::ClientContext ctx;
    cluster_->Authorize(ctx);
    const grpc::Status s = cluster_->admin(0).CreateClient(&ctx, req, &secret);
    ASSERT_TRUE(s.ok()) << s.error_message();
    keys_[id] = secret.api_key();
  }

  // A channel to idvd trusting `server_ca`, showing the client certificate `cert` (none when
  // empty).
  std::shared_ptr<grpc::Channel> Channel(const std::string& cert,
                                         const std::string& server_ca = "server-ca") {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadFileOrDie(absl::StrCat(dir_.path(), "/", server_ca, ".pem"));
    if (!cert.empty()) {
      ssl.pem_cert_chain = ReadFileOrDie(absl::StrCat(dir_.path(), "/", cert, ".pem"));
      ssl.pem_private_key = ReadFileOrDie(absl::StrCat(dir_.path(), "/", cert, ".key"));
    }
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a handshake of its own
    const std::string port = cluster_->address(0).substr(cluster_->address(0).rfind(':') + 1);
    return grpc::CreateCustomChannel("localhost:" + port, grpc::SslCredentials(ssl), args);
  }

  idv::v1::VerifyRequest Request(const std::string& account) const {
    idv::v1::VerifyRequest req;
    req.set_account_id(account);
    req.set_bind(true);
    req.mutable_claim()->set_document_type(idv::v1::CN_RESIDENT_ID);
    req.mutable_claim()->set_document_number(cluster_->people()[7].number);
    req.mutable_claim()->set_full_name(cluster_->people()[7].name);
    return req;
  }

  // Verify over `channel` with `key` in the metadata (none when empty).
  grpc::Status VerifyOver(const std::shared_ptr<grpc::Channel>& channel, const std::string& key,
                          const std::string& account, idv::v1::VerifyResponse* resp) {
    grpc::ClientContext ctx;
    if (!key.empty()) ctx.AddMetadata("authorization", "Bearer " + key);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return idv::v1::VerificationService::NewStub(channel)->Verify(&ctx, Request(account), resp);
  }

  TempDir dir_;
  std::unique_ptr<Cluster> cluster_;
  std::map<std::string, std::string> keys_;
};

TEST_F(MutualTlsTest, EveryBadCredentialIsRefusedBeforeAnyWork) {
  const uint64_t asked = cluster_->SimChecks();
  struct Case {
    std::string what, cert, key;
    grpc::StatusCode want;
  };
  const std::vector<Case> cases = {
      {"no key, no certificate", "", "", grpc::StatusCode::UNAUTHENTICATED},
      {"a wrong key", "", "mtls-flow.not-the-secret", grpc::StatusCode::UNAUTHENTICATED},
      {"a revoked client's key", "", keys_["mtls-revoked"], grpc::StatusCode::UNAUTHENTICATED},
      {"a certificate naming no client", "stranger", "", grpc::StatusCode::UNAUTHENTICATED},
      {"a revoked client's certificate", "revoked", "", grpc::StatusCode::UNAUTHENTICATED},
      // The TLS handshake fails: no call ever reaches idvd.
      {"a certificate from an unknown CA", "rogue", "", grpc::StatusCode::UNAVAILABLE},
  };
  for (const Case& c : cases) {
    idv::v1::VerifyResponse resp;
    const grpc::Status s = VerifyOver(Channel(c.cert), c.key, "refused-" + c.cert, &resp);
    EXPECT_EQ(s.error_code(), c.want) << c.what << ": " << s.error_message();
  }
  // No authority was asked and nothing was bound.
  EXPECT_EQ(cluster_->SimChecks(), asked);
  idv::v1::Binding binding;
  for (const Case& c : cases) {
    EXPECT_EQ(cluster_->GetBinding("refused-" + c.cert, &binding).error_code(),
              grpc::StatusCode::NOT_FOUND)
        << c.what;
  }

  // A verify client, by certificate alone or by key, may verify but not administer or audit.
  idv::v1::VerifyResponse resp;
  grpc::Status s = VerifyOver(Channel("flow"), "", "by-certificate", &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.outcome(), idv::v1::VERIFIED);
  s = VerifyOver(Channel(""), keys_["mtls-flow"], "by-key", &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    idv::v1::ListClientsResponse clients;
    EXPECT_EQ(idv::v1::AdminService::NewStub(Channel("flow"))
                  ->ListClients(&ctx, {}, &clients)
                  .error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    idv::v1::ListRecordsResponse records;
    EXPECT_EQ(idv::v1::AuditService::NewStub(Channel("flow"))
                  ->ListRecords(&ctx, {}, &records)
                  .error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
}

// New certificate files are served within the reload interval (1 s here), without a restart.
TEST_F(MutualTlsTest, RenewedServerCertificateIsServedWithoutARestart) {
  const std::string& d = dir_.path();
  idv::v1::VerifyResponse resp;
  ASSERT_TRUE(VerifyOver(Channel("flow"), "", "before-renewal", &resp).ok());
  MakeCert(d, "server-ca-2", "idv test server CA, next year");
  MakeCert(d, "server-2", "localhost", "server-ca-2");
  ASSERT_FALSE(HasFatalFailure());
  // Replaced the way certificate tools do: new files renamed over the old ones.
  std::filesystem::rename(d + "/server-2.key", d + "/server.key.new");
  std::filesystem::rename(d + "/server-2.pem", d + "/server.pem.new");
  std::filesystem::rename(d + "/server.key.new", d + "/server.key");
  std::filesystem::rename(d + "/server.pem.new", d + "/server.pem");
  grpc::Status s;
  for (absl::Time until = absl::Now() + absl::Seconds(10); absl::Now() < until;) {
    s = VerifyOver(Channel("flow", "server-ca-2"), "", "after-renewal", &resp);
    if (s.ok()) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(s.ok()) << "the renewed certificate was not served: " << s.error_message();
  EXPECT_EQ(cluster_->idvd().Output().find("Assertion"), std::string::npos);
}

// idvd shows its client certificate to a backend that requires mutual TLS; without one the
// backend refuses the connection and the verification is UNAVAILABLE, never VERIFIED.
TEST(BackendMutualTlsTest, IdvdAuthenticatesToABackendWithItsClientCertificate) {
  TempDir certs;
  const std::string& d = certs.path();
  MakeCert(d, "backend-ca", "registry CA");
  MakeCert(d, "backend", "localhost", "backend-ca");
  MakeCert(d, "idvd-ca", "operator CA");
  MakeCert(d, "idvd", "idvd.operator", "idvd-ca");
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  auto backend = [&](const std::string& name, bool with_cert) {
    return absl::StrCat(
        "backends { name: \"", name,
        "\" typed_config { [type.googleapis.com/idv.config.v1.GrpcPluginConfig] { target: "
        "\"{sim0}\" ca_file: \"",
        d, "/backend-ca.pem\"",
        with_cert ? absl::StrCat(" client_cert_file: \"", d, "/idvd.pem\" client_key_file: \"", d,
                                 "/idvd.key\"")
                  : "",
        " } } }\n");
  };
  Cluster::Options o;
  o.postgres = false;
  o.nodes = 1;
  o.backends_and_policies =
      backend("mtls", true) + backend("anonymous", false) +
      "policies { name: \"resident\" document_types: CN_RESIDENT_ID backends: \"mtls\" }\n";
  Cluster c(o);
  c.Start({{"--tls_cert=" + d + "/backend.pem", "--tls_key=" + d + "/backend.key",
            "--client_ca=" + d + "/idvd-ca.pem"}});
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  idv::v1::VerifyResponse resp;
  ASSERT_TRUE(c.Verify("mtls-1", c.people()[3].number, c.people()[3].name, false, &resp).ok());
  EXPECT_EQ(resp.outcome(), idv::v1::VERIFIED);
  ASSERT_EQ(resp.checks_size(), 1);
  EXPECT_EQ(resp.checks(0).backend(), "mtls");

  // The same backend without idvd's certificate: the handshake fails, nothing is verified.
  idv::v1::PutPolicyRequest policy;
  policy.mutable_policy()->set_name("resident");
  policy.mutable_policy()->add_document_types(idv::v1::CN_RESIDENT_ID);
  policy.mutable_policy()->add_backends("anonymous");
  idv::v1::ConfigChange change;
  grpc::ClientContext ctx;
  c.Authorize(ctx);
  ASSERT_TRUE(c.admin(0).PutPolicy(&ctx, policy, &change).ok());
  ASSERT_TRUE(c.Verify("mtls-2", c.people()[4].number, c.people()[4].name, false, &resp).ok());
  EXPECT_EQ(resp.outcome(), idv::v1::UNAVAILABLE);
}

}  // namespace
}  // namespace idv
