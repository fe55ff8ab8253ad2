// End to end: idv-registry-sim and idvd as real processes on loopback ports, called over gRPC.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <leveldb/db.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "identity/document.h"
#include "idv/sim/v1/sim.grpc.pb.h"
#include "idv/v1/verification.grpc.pb.h"
#include "tests/integration/cluster.h"

namespace idv {
namespace {

using idv::testing::Process;
using idv::testing::TempDir;

using idv::testing::Cluster;
using idv::testing::Person;
using idv::testing::UnknownValidNumber;

class VerifyE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<Cluster>(Cluster::Options{});
    cluster_->Start();
  }
  std::unique_ptr<Cluster> cluster_;
};

TEST_F(VerifyE2eTest, KnownPersonIsVerifiedAndBound) {
  const Person& p = cluster_->people()[0];
  idv::v1::VerifyResponse resp;
  ASSERT_TRUE(cluster_->Verify("acct-1", p.number, p.name, true, &resp).ok());
  EXPECT_EQ(resp.outcome(), idv::v1::VERIFIED);
  EXPECT_EQ(resp.reason().code(), idv::v1::ELEMENTS_MATCH);
  EXPECT_EQ(resp.binding(), idv::v1::BOUND);
  ASSERT_EQ(resp.checks_size(), 1);
  EXPECT_EQ(resp.checks(0).backend(), "sim");
  EXPECT_EQ(resp.checks(0).raw_code(), "SIM-200");
  EXPECT_TRUE(resp.has_derived());

  idv::v1::Binding binding;
  ASSERT_TRUE(cluster_->GetBinding("acct-1", &binding).ok());
  EXPECT_EQ(binding.verification_id(), resp.verification_id());
  EXPECT_EQ(binding.masked_document_number(),
            p.number.substr(0, 3) + std::string(11, '*') + p.number.substr(14));

  idv::v1::Verification record;
  ASSERT_TRUE(cluster_->GetVerification(resp.verification_id(), &record).ok());
  EXPECT_EQ(record.outcome(), idv::v1::VERIFIED);
  EXPECT_EQ(record.binding(), idv::v1::BOUND);
  EXPECT_EQ(record.account_id(), "acct-1");
  EXPECT_EQ(record.masked_name().find('*'), record.masked_name().size() - 1);

  idv::v1::Binding none;
  EXPECT_EQ(cluster_->GetBinding("acct-unknown", &none).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(VerifyE2eTest, OtherNameIsMismatchUnknownNumberIsNotFound) {
  const Person& p = cluster_->people()[1];
  idv::v1::VerifyResponse resp;
  ASSERT_TRUE(cluster_->Verify("acct-2", p.number, p.name + "某", true, &resp).ok());
  EXPECT_EQ(resp.outcome(), idv::v1::MISMATCH);
  EXPECT_EQ(resp.reason().code(), idv::v1::NAME_MISMATCH);
  EXPECT_EQ(resp.binding(), idv::v1::NOT_REQUESTED);  // only VERIFIED binds

  const std::string unknown = UnknownValidNumber(cluster_->people());
  ASSERT_FALSE(unknown.empty());
  ASSERT_TRUE(cluster_->Verify("acct-3", unknown, "王伟", true, &resp).ok());
  EXPECT_EQ(resp.outcome(), idv::v1::NOT_FOUND);
  EXPECT_EQ(resp.reason().code(), idv::v1::NO_RECORD);
}

TEST_F(VerifyE2eTest, BadCheckDigitIsInvalidWithoutAskingTheAuthority) {
  const Person& p = cluster_->people()[2];
  std::string bad = p.number;
  bad[17] = bad[17] == '1' ? '2' : '1';
  const uint64_t before = cluster_->SimChecks();
  idv::v1::VerifyResponse resp;
  ASSERT_TRUE(cluster_->Verify("acct-4", bad, p.name, true, &resp).ok());
  EXPECT_EQ(resp.outcome(), idv::v1::INVALID);
  EXPECT_EQ(resp.reason().code(), idv::v1::INVALID_CHECK_CHARACTER);
  EXPECT_EQ(resp.reason().field(), "claim.document_number");
  EXPECT_EQ(resp.checks_size(), 0);
  EXPECT_EQ(cluster_->SimChecks(), before);
}

TEST_F(VerifyE2eTest, RepeatedClaimIsAnsweredFromTheCacheAndStillAuditedAndBound) {
  const Person& p = cluster_->people()[8];
  idv::v1::VerifyResponse first, second;
  ASSERT_TRUE(cluster_->Verify("cache-1", p.number, p.name, true, &first).ok());
  EXPECT_FALSE(first.cached());
  const uint64_t calls = cluster_->SimChecks();
  ASSERT_TRUE(cluster_->Verify("cache-2", p.number, p.name, true, &second).ok());
  EXPECT_TRUE(second.cached());
  EXPECT_EQ(second.outcome(), idv::v1::VERIFIED);
  EXPECT_EQ(second.binding(), idv::v1::BOUND);
  EXPECT_EQ(second.checks_size(), 0);
  EXPECT_TRUE(second.has_derived());
  EXPECT_EQ(cluster_->SimChecks(), calls);  // no backend asked
  idv::v1::Verification record;
  ASSERT_TRUE(cluster_->GetVerification(second.verification_id(), &record).ok());
  EXPECT_TRUE(record.cached());
  idv::v1::Binding binding;
  EXPECT_TRUE(cluster_->GetBinding("cache-2", &binding).ok());
  // A different name is a different claim: not served from the cache.
  idv::v1::VerifyResponse other;
  ASSERT_TRUE(cluster_->Verify("cache-3", p.number, p.name + "华", false, &other).ok());
  EXPECT_FALSE(other.cached());
  EXPECT_EQ(other.outcome(), idv::v1::MISMATCH);
}

TEST_F(VerifyE2eTest, UnlistedAddressCodeIsNotedNotRejected) {
  std::string number = "11019919800101001";  // 110199 is in no GB/T 2260 release
  number.push_back(identity::ResidentIdCheckCharacter(number));
  const uint64_t before = cluster_->SimChecks();
  idv::v1::VerifyResponse resp;
  ASSERT_TRUE(cluster_->Verify("notes-1", number, "王伟", false, &resp).ok());
  EXPECT_EQ(resp.outcome(), idv::v1::NOT_FOUND);  // the authority was asked
  EXPECT_EQ(cluster_->SimChecks(), before + 1);
  ASSERT_EQ(resp.notes_size(), 1);
  EXPECT_EQ(resp.notes(0).code(), idv::v1::ADDRESS_CODE_UNLISTED);
  idv::v1::Verification record;
  ASSERT_TRUE(cluster_->GetVerification(resp.verification_id(), &record).ok());
  EXPECT_EQ(record.notes_size(), 1);
}

TEST_F(VerifyE2eTest, OtherDocumentTypesAreCheckedOffline) {
  const uint64_t before = cluster_->SimChecks();
  idv::v1::VerifyRequest req;
  req.set_account_id("passport-1");
  req.mutable_claim()->set_document_type(idv::v1::PASSPORT);
  req.mutable_claim()->set_document_number("E12345678");
  req.mutable_claim()->set_full_name("Li Lei");
  idv::v1::VerifyResponse resp;
  ASSERT_TRUE(cluster_->VerifyRequest(req, &resp).ok());
  EXPECT_EQ(resp.outcome(), idv::v1::INVALID);
  EXPECT_EQ(resp.reason().code(), idv::v1::FIELD_MISSING);
  EXPECT_EQ(resp.reason().field(), "claim.issuing_country");

  req.mutable_claim()->set_issuing_country("CHN");
  ASSERT_TRUE(cluster_->VerifyRequest(req, &resp).ok());
  // Well-formed, but no policy routes passports in this cluster.
  EXPECT_EQ(resp.outcome(), idv::v1::UNAVAILABLE);
  EXPECT_EQ(resp.reason().code(), idv::v1::NO_AUTHORITY_CONFIGURED);
  EXPECT_EQ(cluster_->SimChecks(), before);
}

TEST_F(VerifyE2eTest, MissingOrWrongKeyIsUnauthenticatedAndDoesNoWork) {
  const Person& p = cluster_->people()[3];
  const uint64_t before = cluster_->SimChecks();
  idv::v1::VerifyResponse resp;
  EXPECT_EQ(cluster_->Verify("a", p.number, p.name, true, &resp, "").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(cluster_->Verify("a", p.number, p.name, true, &resp, "admXXXX.wrong").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(cluster_->SimChecks(), before);
  idv::v1::Binding binding;
  EXPECT_EQ(cluster_->GetBinding("a", &binding).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(VerifyE2eTest, MalformedRequestIsInvalidArgument) {
  const Person& p = cluster_->people()[3];
  idv::v1::VerifyResponse resp;
  EXPECT_EQ(cluster_->Verify("", p.number, p.name, true, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(cluster_->Verify(std::string(129, 'a'), p.number, p.name, true, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(cluster_->Verify("a", std::string(65, '1'), p.name, true, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  idv::v1::Verification v;
  EXPECT_EQ(cluster_->GetVerification("not-an-id", &v).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(VerifyE2eTest, BindingCapAndRepeats) {
  const Person& p = cluster_->people()[4];
  idv::v1::VerifyResponse resp;
  ASSERT_TRUE(cluster_->Verify("cap-1", p.number, p.name, true, &resp).ok());
  EXPECT_EQ(resp.binding(), idv::v1::BOUND);
  ASSERT_TRUE(cluster_->Verify("cap-2", p.number, p.name, true, &resp).ok());
  EXPECT_EQ(resp.binding(), idv::v1::BOUND);
  ASSERT_TRUE(cluster_->Verify("cap-3", p.number, p.name, true, &resp).ok());
  EXPECT_EQ(resp.outcome(), idv::v1::VERIFIED);
  EXPECT_EQ(resp.binding(), idv::v1::LIMIT_REACHED);  // max_accounts_per_identity: 2
  ASSERT_TRUE(cluster_->Verify("cap-1", p.number, p.name, true, &resp).ok());
  EXPECT_EQ(resp.binding(), idv::v1::ALREADY_BOUND);
  const Person& q = cluster_->people()[5];
  ASSERT_TRUE(cluster_->Verify("cap-1", q.number, q.name, true, &resp).ok());
  EXPECT_EQ(resp.binding(), idv::v1::ACCOUNT_HAS_OTHER_IDENTITY);
  idv::v1::Binding binding;
  EXPECT_EQ(cluster_->GetBinding("cap-3", &binding).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(VerifyE2eTest, HungAuthorityIsUnavailableWithinTheDeadline) {
  const Person& p = cluster_->people()[6];
  ASSERT_TRUE(cluster_->sim().Stop());  // accepts connections, answers nothing
  idv::v1::VerifyResponse resp;
  const absl::Time start = absl::Now();
  grpc::Status status = cluster_->Verify("hang", p.number, p.name, true, &resp);
  const absl::Duration took = absl::Now() - start;
  cluster_->sim().Signal(SIGCONT);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(resp.outcome(), idv::v1::UNAVAILABLE);
  EXPECT_EQ(resp.reason().code(), idv::v1::AUTHORITY_TIMEOUT);
  EXPECT_EQ(resp.binding(), idv::v1::NOT_REQUESTED);
  // The policy deadline is 1 s; the client allowed 20 s.
  EXPECT_GE(took, absl::Milliseconds(900));
  EXPECT_LT(took, absl::Seconds(3));
}

TEST_F(VerifyE2eTest, StoppedAuthorityIsUnavailable) {
  const Person& p = cluster_->people()[7];
  cluster_->sim().Signal(SIGKILL);
  cluster_->sim().Wait();
  idv::v1::VerifyResponse resp;
  const absl::Time start = absl::Now();
  ASSERT_TRUE(cluster_->Verify("down", p.number, p.name, true, &resp).ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_EQ(resp.outcome(), idv::v1::UNAVAILABLE);
  EXPECT_EQ(resp.binding(), idv::v1::NOT_REQUESTED);
  ASSERT_EQ(resp.checks_size(), 1);
  EXPECT_EQ(resp.checks(0).outcome(), idv::v1::UNAVAILABLE);
}

TEST_F(VerifyE2eTest, CleanShutdownOnSigtermAndNoPlaintextAtRest) {
  idv::v1::VerifyResponse resp;
  for (int i = 0; i < 12; ++i) {
    const Person& p = cluster_->people()[10 + i];
    switch (i % 4) {
      case 0:
        cluster_->Verify(absl::StrCat("s", i), p.number, p.name, true, &resp);
        break;
      case 1:
        cluster_->Verify(absl::StrCat("s", i), p.number, p.name + "华", true, &resp);
        break;
      case 2: {
        std::string bad = p.number;
        bad[17] = bad[17] == '1' ? '2' : '1';
        cluster_->Verify(absl::StrCat("s", i), bad, p.name, true, &resp);
        break;
      }
      case 3:
        cluster_->Verify(absl::StrCat("s", i), p.number, p.name, false, &resp);
        break;
    }
  }
  cluster_->idvd().Signal(SIGTERM);
  const int status = cluster_->idvd().Wait();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_NE(cluster_->idvd().Output().find("stopped"), std::string::npos);
  cluster_->ExpectNoPlaintext();
}

TEST(DurabilityTest, BindingSurvivesSigkillRightAfterTheAnswer) {
  Cluster cluster(Cluster::Options{});
  cluster.Start();
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  idv::v1::VerifyResponse resp;
  for (int i = 0; i < 5; ++i) {
    const Person& p = cluster.people()[i];
    ASSERT_TRUE(cluster.Verify(absl::StrCat("k", i), p.number, p.name, true, &resp).ok());
    ASSERT_EQ(resp.binding(), idv::v1::BOUND);
  }
  cluster.idvd().Signal(SIGKILL);  // no chance to flush anything
  cluster.idvd().Wait();
  cluster.ExpectNoPlaintext();  // the WAL holds no plaintext either

  cluster.StartIdvd();
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  for (int i = 0; i < 5; ++i) {
    idv::v1::Binding binding;
    ASSERT_TRUE(cluster.GetBinding(absl::StrCat("k", i), &binding).ok()) << i;
  }
  idv::v1::Verification record;
  EXPECT_TRUE(cluster.GetVerification(resp.verification_id(), &record).ok());
  const Person& p = cluster.people()[0];
  ASSERT_TRUE(cluster.Verify("k0", p.number, p.name, true, &resp).ok());
  EXPECT_EQ(resp.binding(), idv::v1::ALREADY_BOUND);
}

TEST(TlsTest, ServesTlsWithACertificateMadeForTheTest) {
  TempDir certs;
  const std::string key = certs.path() + "/server.key", cert = certs.path() + "/server.pem";
  auto openssl = Process::Start({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                 "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                                 "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                                 "-keyout", key, "-out", cert});
  ASSERT_TRUE(openssl.ok());
  const int rc = (*openssl)->Wait();
  ASSERT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << (*openssl)->Output();

  Cluster::Options options;
  options.tls = absl::StrCat("tls { cert_file: \"", cert, "\" key_file: \"", key, "\" }");
  Cluster cluster(options);
  cluster.set_ca_pem(testing::ReadFileOrDie(cert));
  cluster.Start();
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  const Person& p = cluster.people()[0];
  idv::v1::VerifyResponse resp;
  grpc::Status status = cluster.Verify("tls-1", p.number, p.name, true, &resp);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(resp.outcome(), idv::v1::VERIFIED);
}

TEST(StartupTest, MissingMasterKeyRefusesToStart) {
  TempDir dir;
  const std::string config = dir.path() + "/idvd.textproto";
  testing::WriteFileOrDie(
      config, absl::StrCat("listen: \"127.0.0.1:0\" data_dir: \"", dir.path(),
                           "/data\" keys { master_key_file: \"", dir.path(), "/absent.key\" }"));
  auto idvd = Process::Start({IDVD_PATH, "--config=" + config});
  ASSERT_TRUE(idvd.ok());
  const int status = (*idvd)->Wait();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_NE((*idvd)->Output().find("absent.key does not exist"), std::string::npos)
      << (*idvd)->Output();
}

// A relative master_key_file is read from the working directory: started from another one,
// idvd finds no key beside an existing store, and refuses to start rather than make a new key
// (with which no stored fingerprint would match).
TEST(StartupTest, AStoreWithoutItsKeyIsRefusedNotGivenANewKey) {
  TempDir dir;
  const std::string config = dir.path() + "/idvd.textproto";
  testing::WriteFileOrDie(config, absl::StrCat("listen: \"127.0.0.1:0\" data_dir: \"", dir.path(),
                                               "/data\" keys { master_key_file: \"keys/master.key\""
                                               " create_if_missing: true }"));
  std::filesystem::create_directories(dir.path() + "/first/keys");
  std::filesystem::create_directories(dir.path() + "/second/keys");
  auto from = [&](const std::string& cwd) {
    return Process::Start(
        {"/bin/sh", "-c",
         absl::StrCat("cd ", dir.path(), "/", cwd, " && exec ", IDVD_PATH, " --config=", config)});
  };
  auto first = from("first");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE((*first)->WaitForListening().ok()) << (*first)->Output();
  EXPECT_NE((*first)->Output().find(dir.path() + "/first/keys/master.key"), std::string::npos)
      << (*first)->Output();
  ASSERT_TRUE((*first)->Stop());
  auto second = from("second");
  ASSERT_TRUE(second.ok());
  const int status = (*second)->Wait();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_NE((*second)->Output().find("exists but its master key file"), std::string::npos)
      << (*second)->Output();
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/second/keys/master.key"));
}

TEST(StartupTest, PlaintextOffLoopbackIsRefused) {
  TempDir dir;
  const std::string config = dir.path() + "/idvd.textproto";
  testing::WriteFileOrDie(config, absl::StrCat("listen: \"0.0.0.0:0\" data_dir: \"", dir.path(),
                                               "/data\" keys { master_key_file: \"", dir.path(),
                                               "/master.key\" create_if_missing: true }"));
  auto idvd = Process::Start({IDVD_PATH, "--config=" + config});
  ASSERT_TRUE(idvd.ok());
  const int status = (*idvd)->Wait();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_NE((*idvd)->Output().find("refusing to serve plaintext on 0.0.0.0:0"), std::string::npos)
      << (*idvd)->Output();
}

// gRPC would share a port in use through SO_REUSEPORT, and the second idvd would answer part of
// the traffic with another database; idvd turns that off, so the second one fails to start.
TEST(StartupTest, ASecondIdvdOnAPortInUseFailsToStart) {
  TempDir dir;
  auto config = [&](const std::string& name, const std::string& listen) {
    const std::string path = absl::StrCat(dir.path(), "/", name, ".textproto");
    testing::WriteFileOrDie(
        path, absl::StrCat("listen: \"", listen, "\" data_dir: \"", dir.path(), "/", name,
                           "\" keys { master_key_file: \"", dir.path(), "/", name,
                           ".key\" create_if_missing: true }"));
    return path;
  };
  auto first = Process::Start({IDVD_PATH, "--config=" + config("first", "127.0.0.1:0")});
  ASSERT_TRUE(first.ok());
  absl::StatusOr<std::string> address = (*first)->WaitForListening();
  ASSERT_TRUE(address.ok()) << address.status();
  auto second = Process::Start({IDVD_PATH, "--config=" + config("second", *address)});
  ASSERT_TRUE(second.ok());
  const int status = (*second)->Wait();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_NE((*second)->Output().find("cannot listen on " + *address), std::string::npos)
      << (*second)->Output();
  EXPECT_TRUE((*first)->running());
}

TEST(StartupTest, BadConfigNamesTheLine) {
  TempDir dir;
  const std::string config = dir.path() + "/idvd.textproto";
  testing::WriteFileOrDie(config, "listen: \"127.0.0.1:0\"\nno_such_field: 1\n");
  auto idvd = Process::Start({IDVD_PATH, "--config=" + config});
  ASSERT_TRUE(idvd.ok());
  const int status = (*idvd)->Wait();
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_NE((*idvd)->Output().find("line 2"), std::string::npos) << (*idvd)->Output();
}

}  // namespace
}  // namespace idv
