// Clients, tenants and roles through the AdminService, with real idvd and simulator processes:
// one node on LevelDB, and (Postgres3.*) three nodes sharing PostgreSQL, where a client created,
// rotated or revoked through one node must hold on the others.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "idv/v1/audit.grpc.pb.h"
#include "tests/integration/cluster.h"

namespace idv {
namespace {

using idv::testing::Cluster;

class AccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Cluster::Options o;
    o.extra_config = ExtraConfig();
    cluster_ = std::make_unique<Cluster>(o);
    cluster_->Start();
  }
  virtual std::string ExtraConfig() const { return ""; }

  // The last node: with three nodes, not the one the admin calls go to.
  size_t Other() const { return cluster_->node_count() - 1; }

  template <typename Request, typename Response>
  grpc::Status Admin(grpc::Status (idv::v1::AdminService::Stub::*method)(grpc::ClientContext*,
                                                                         const Request&, Response*),
                     const Request& req, Response* resp, const std::string& token = "<own>",
                     size_t node = 0) {
    grpc::ClientContext ctx;
    cluster_->Authorize(ctx, token);
    return (cluster_->admin(node).*method)(&ctx, req, resp);
  }

  // A new client of `tenant` with `roles`; returns its API key.
  std::string Create(const std::string& id, const std::string& tenant,
                     std::vector<std::string> roles, const std::string& token = "<own>") {
    idv::v1::CreateClientRequest req;
    req.set_client_id(id);
    req.set_tenant(tenant);
    for (const std::string& r : roles) req.add_roles(r);
    idv::v1::ClientSecret secret;
    grpc::Status s = Admin(&idv::v1::AdminService::Stub::CreateClient, req, &secret, token);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(secret.api_key().rfind(id + ".", 0), 0u);
    return secret.api_key();
  }

  void CreateTenant(const std::string& name) {
    idv::v1::CreateTenantRequest req;
    req.set_name(name);
    idv::v1::Tenant t;
    grpc::Status s = Admin(&idv::v1::AdminService::Stub::CreateTenant, req, &t);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  grpc::StatusCode VerifyWith(const std::string& token, size_t node = 0, int person = 10) {
    idv::v1::VerifyRequest req;
    req.set_account_id(absl::StrCat("acct-", person));
    req.mutable_claim()->set_document_type(idv::v1::CN_RESIDENT_ID);
    req.mutable_claim()->set_document_number(cluster_->people()[person].number);
    req.mutable_claim()->set_full_name(cluster_->people()[person].name);
    idv::v1::VerifyResponse resp;
    return cluster_->VerifyOn(node, req, &resp, token).error_code();
  }

  grpc::StatusCode ListRecordsWith(const std::string& token) {
    auto stub = idv::v1::AuditService::NewStub(
        grpc::CreateChannel(cluster_->address(0), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    cluster_->Authorize(ctx, token);
    idv::v1::ListRecordsResponse resp;
    return stub->ListRecords(&ctx, {}, &resp).error_code();
  }

  // Calls Verify with `token` on `node` until it gets `want`, for at most 5 s (another node
  // learns of a client change through the store's notification); returns what it got last.
  grpc::StatusCode AwaitVerify(const std::string& token, size_t node, grpc::StatusCode want) {
    grpc::StatusCode got = VerifyWith(token, node);
    for (absl::Time until = absl::Now() + absl::Seconds(5); got != want && absl::Now() < until;
         got = VerifyWith(token, node)) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    return got;
  }

  std::unique_ptr<Cluster> cluster_;
};

TEST_F(AccessTest, RolesDecideWhatAClientMayCall) {
  const std::string verifier = Create("verifier-a", "", {"verify"});
  const std::string auditor = Create("auditor-a", "", {"audit"});
  EXPECT_EQ(VerifyWith(verifier), grpc::StatusCode::OK);
  EXPECT_EQ(ListRecordsWith(verifier), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ListRecordsWith(auditor), grpc::StatusCode::OK);
  EXPECT_EQ(VerifyWith(auditor), grpc::StatusCode::PERMISSION_DENIED);
  idv::v1::ListBackendsResponse backends;
  EXPECT_EQ(Admin(&idv::v1::AdminService::Stub::ListBackends, idv::v1::ListBackendsRequest(),
                  &backends, verifier)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // A client made through node 0 is known to every node.
  EXPECT_EQ(AwaitVerify(verifier, Other(), grpc::StatusCode::OK), grpc::StatusCode::OK);
}

TEST_F(AccessTest, ATenantsAdminManagesOnlyItsOwnTenant) {
  CreateTenant("beta");
  const std::string beta_admin = Create("beta-admin", "beta", {"admin"});
  const std::string beta_verify = Create("beta-verify", "beta", {"verify"}, beta_admin);
  EXPECT_EQ(VerifyWith(beta_verify), grpc::StatusCode::OK);

  idv::v1::ListClientsResponse listed;
  ASSERT_TRUE(Admin(&idv::v1::AdminService::Stub::ListClients, idv::v1::ListClientsRequest(),
                    &listed, beta_admin)
                  .ok());
  ASSERT_EQ(listed.clients_size(), 2);
  for (const auto& c : listed.clients()) EXPECT_EQ(c.tenant(), "beta");

  // Nothing of the default tenant: not its clients, not a client in it, not the configuration.
  idv::v1::ListClientsRequest all;
  all.set_tenant("*");
  EXPECT_EQ(Admin(&idv::v1::AdminService::Stub::ListClients, all, &listed, beta_admin).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  idv::v1::ListClientsResponse mine;
  ASSERT_TRUE(
      Admin(&idv::v1::AdminService::Stub::ListClients, idv::v1::ListClientsRequest(), &mine).ok());
  ASSERT_FALSE(mine.clients().empty());
  idv::v1::GetClientRequest get;
  get.set_client_id(mine.clients(0).client_id());  // the first-start administrator
  idv::v1::Client got;
  EXPECT_EQ(Admin(&idv::v1::AdminService::Stub::GetClient, get, &got, beta_admin).error_code(),
            grpc::StatusCode::NOT_FOUND);
  idv::v1::RevokeClientRequest revoke;
  revoke.set_client_id(mine.clients(0).client_id());
  EXPECT_EQ(
      Admin(&idv::v1::AdminService::Stub::RevokeClient, revoke, &got, beta_admin).error_code(),
      grpc::StatusCode::NOT_FOUND);
  idv::v1::CreateClientRequest elsewhere;
  elsewhere.set_tenant("default");
  elsewhere.add_roles("verify");
  idv::v1::ClientSecret secret;
  EXPECT_EQ(Admin(&idv::v1::AdminService::Stub::CreateClient, elsewhere, &secret, beta_admin)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  idv::v1::CreateClientRequest super;
  super.add_roles("super-admin");
  EXPECT_EQ(
      Admin(&idv::v1::AdminService::Stub::CreateClient, super, &secret, beta_admin).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  idv::v1::PutPolicyRequest policy;
  policy.mutable_policy()->set_name("beta-policy");
  idv::v1::ConfigChange change;
  EXPECT_EQ(
      Admin(&idv::v1::AdminService::Stub::PutPolicy, policy, &change, beta_admin).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  idv::v1::CreateTenantRequest tenant;
  tenant.set_name("gamma");
  idv::v1::Tenant t;
  EXPECT_EQ(Admin(&idv::v1::AdminService::Stub::CreateTenant, tenant, &t, beta_admin).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

// Two tenants bind the same person to the same account id: each sees only its own binding, and
// the identity's fingerprints differ (keyed per tenant), so nothing links them.
TEST_F(AccessTest, TwoTenantsBindTheSamePersonApart) {
  CreateTenant("alpha");
  CreateTenant("beta");
  const std::string alpha = Create("alpha-flow", "alpha", {"verify"});
  const std::string beta = Create("beta-flow", "beta", {"verify"});
  const auto& p = cluster_->people()[90];
  std::map<std::string, idv::v1::Binding> bindings;
  for (const std::string& token : {alpha, beta}) {
    idv::v1::VerifyResponse resp;
    ASSERT_TRUE(cluster_->Verify("shared-account", p.number, p.name, true, &resp, token).ok());
    EXPECT_EQ(resp.binding(), idv::v1::BOUND);
    grpc::ClientContext ctx;
    cluster_->Authorize(ctx, token);
    idv::v1::GetBindingRequest req;
    req.set_account_id("shared-account");
    ASSERT_TRUE(cluster_->stub(0).GetBinding(&ctx, req, &bindings[token]).ok());
    // The other tenant's verification is unknown here.
    grpc::ClientContext other;
    cluster_->Authorize(other, token == alpha ? beta : alpha);
    idv::v1::GetVerificationRequest get;
    get.set_verification_id(resp.verification_id());
    idv::v1::Verification v;
    EXPECT_EQ(cluster_->stub(0).GetVerification(&other, get, &v).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  EXPECT_NE(bindings[alpha].identity_fingerprint(), bindings[beta].identity_fingerprint());
  EXPECT_NE(bindings[alpha].verification_id(), bindings[beta].verification_id());
  // The default tenant has no binding of that account.
  idv::v1::Binding none;
  EXPECT_EQ(cluster_->GetBinding("shared-account", &none).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(AccessTest, RotationAndRevocationHoldOnEveryNode) {
  const std::string first = Create("rotating", "", {"verify"});
  EXPECT_EQ(VerifyWith(first), grpc::StatusCode::OK);
  idv::v1::RotateClientSecretRequest rotate;
  rotate.set_client_id("rotating");
  idv::v1::ClientSecret second;
  ASSERT_TRUE(Admin(&idv::v1::AdminService::Stub::RotateClientSecret, rotate, &second).ok());
  EXPECT_NE(second.api_key(), first);
  EXPECT_EQ(second.client().rotations(), 1u);
  // The call returns once every node has the change: the next call anywhere is refused.
  EXPECT_EQ(VerifyWith(first, Other()), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(VerifyWith(first), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(VerifyWith(second.api_key()), grpc::StatusCode::OK);
  EXPECT_EQ(VerifyWith(second.api_key(), Other()), grpc::StatusCode::OK);

  idv::v1::RevokeClientRequest revoke;
  revoke.set_client_id("rotating");
  idv::v1::Client revoked;
  ASSERT_TRUE(Admin(&idv::v1::AdminService::Stub::RevokeClient, revoke, &revoked).ok());
  EXPECT_TRUE(revoked.revoked());
  EXPECT_EQ(VerifyWith(second.api_key(), Other()), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(VerifyWith(second.api_key()), grpc::StatusCode::UNAUTHENTICATED);
  // A revoked client cannot be given a new secret.
  EXPECT_EQ(Admin(&idv::v1::AdminService::Stub::RotateClientSecret, rotate, &second).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

// RevokeClient answers only once every live node has read the revocation: with one node frozen
// it waits for it, and the node's first call after it resumes is refused.
TEST_F(AccessTest, RevocationAnswersOnlyOnceEveryNodeHasIt) {
  if (cluster_->node_count() < 2) GTEST_SKIP() << "one node";
  const std::string key = Create("frozen-out", "", {"verify"});
  ASSERT_EQ(AwaitVerify(key, Other(), grpc::StatusCode::OK), grpc::StatusCode::OK);
  ASSERT_TRUE(cluster_->idvd(Other()).Stop());
  idv::v1::RevokeClientRequest revoke;
  revoke.set_client_id("frozen-out");
  std::promise<grpc::Status> revoked;
  std::thread admin([&] {
    idv::v1::Client c;
    revoked.set_value(Admin(&idv::v1::AdminService::Stub::RevokeClient, revoke, &c));
  });
  std::future<grpc::Status> answer = revoked.get_future();
  EXPECT_EQ(answer.wait_for(std::chrono::milliseconds(500)), std::future_status::timeout)
      << "RevokeClient answered while a node could not have read it";
  cluster_->idvd(Other()).Signal(SIGCONT);
  EXPECT_TRUE(answer.get().ok());
  admin.join();
  // No waiting, no retry: the very next call.
  grpc::ClientContext ctx;
  cluster_->Authorize(ctx, key);
  idv::v1::VerifyRequest req;
  req.set_account_id("frozen-out-1");
  req.mutable_claim()->set_document_type(idv::v1::CN_RESIDENT_ID);
  req.mutable_claim()->set_document_number(cluster_->people()[15].number);
  req.mutable_claim()->set_full_name(cluster_->people()[15].name);
  idv::v1::VerifyResponse resp;
  EXPECT_EQ(cluster_->stub(Other()).Verify(&ctx, req, &resp).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AccessTest, AnExpiredClientIsRefused) {
  idv::v1::CreateClientRequest req;
  req.set_client_id("short-lived");
  req.add_roles("verify");
  const absl::Time expires = absl::Now() + absl::Seconds(1);
  req.mutable_expires_at()->set_seconds(absl::ToUnixSeconds(expires));
  req.mutable_expires_at()->set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(expires - absl::FromUnixSeconds(absl::ToUnixSeconds(expires)))));
  idv::v1::ClientSecret secret;
  ASSERT_TRUE(Admin(&idv::v1::AdminService::Stub::CreateClient, req, &secret).ok());
  EXPECT_EQ(VerifyWith(secret.api_key()), grpc::StatusCode::OK);
  // The expiry is what is tested: the time has to pass.
  absl::SleepFor(expires - absl::Now() + absl::Milliseconds(50));
  EXPECT_EQ(VerifyWith(secret.api_key()), grpc::StatusCode::UNAUTHENTICATED);
  // An expiry in the past is refused.
  req.set_client_id("already-expired");
  EXPECT_EQ(Admin(&idv::v1::AdminService::Stub::CreateClient, req, &secret).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AccessTest, BadClientRequestsAreRefusedAndChangeNothing) {
  Create("taken", "", {"verify"});
  idv::v1::ClientSecret secret;
  auto create = [&](const std::string& id, std::vector<std::string> roles,
                    const std::string& tenant = "", const std::string& description = "") {
    idv::v1::CreateClientRequest req;
    req.set_client_id(id);
    req.set_tenant(tenant);
    req.set_description(description);
    for (const std::string& r : roles) req.add_roles(r);
    return Admin(&idv::v1::AdminService::Stub::CreateClient, req, &secret).error_code();
  };
  EXPECT_EQ(create("taken", {"audit"}), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(create("x", {"verify"}), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(create("has space", {"verify"}), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(create(std::string(65, 'a'), {"verify"}), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(create("no-roles", {}), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(create("odd-role", {"root"}), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(create("no-tenant", {"verify"}, "nowhere"), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(create("long-text", {"verify"}, "", std::string(257, 'x')),
            grpc::StatusCode::INVALID_ARGUMENT);
  idv::v1::CreateTenantRequest tenant;
  tenant.set_name("Upper");
  idv::v1::Tenant t;
  EXPECT_EQ(Admin(&idv::v1::AdminService::Stub::CreateTenant, tenant, &t).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  CreateTenant("once");
  tenant.set_name("once");
  EXPECT_EQ(Admin(&idv::v1::AdminService::Stub::CreateTenant, tenant, &t).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);

  // The clients are as they were: the first-start administrator and "taken".
  idv::v1::ListClientsRequest all;
  all.set_tenant("*");
  idv::v1::ListClientsResponse listed;
  ASSERT_TRUE(Admin(&idv::v1::AdminService::Stub::ListClients, all, &listed).ok());
  EXPECT_EQ(listed.clients_size(), 2);
  idv::v1::ListTenantsResponse tenants;
  ASSERT_TRUE(
      Admin(&idv::v1::AdminService::Stub::ListTenants, idv::v1::ListTenantsRequest(), &tenants)
          .ok());
  EXPECT_EQ(tenants.tenants_size(), 2);  // default and "once"
}

// A Verify that binds `person` to `account`, with idempotency key `key` (none when empty).
idv::v1::VerifyRequest KeyedBind(const Cluster& c, const std::string& account, int person,
                                 const std::string& key) {
  idv::v1::VerifyRequest req;
  req.set_account_id(account);
  req.set_bind(true);
  req.set_idempotency_key(key);
  req.mutable_claim()->set_document_type(idv::v1::CN_RESIDENT_ID);
  req.mutable_claim()->set_document_number(c.people()[person].number);
  req.mutable_claim()->set_full_name(c.people()[person].name);
  return req;
}

// Limits for the whole cluster (each node enforces its share): an identity's authority budget of
// 9 failures an hour, 6 attempts an hour per account, and 3 calls a second (burst 3) for the
// clients of tenant "slow".
class LimitsTest : public AccessTest {
 protected:
  std::string ExtraConfig() const override {
    return "limits { defaults { identity_failures_per_hour: 9 account_attempts_per_hour: 6 } "
           "tenants { key: \"slow\" value { client_calls_per_second: 3 client_burst: 3 } } "
           "tenants { key: \"quiet\" value { uniform_not_verified: true } } }";
  }
  int Nodes() const { return static_cast<int>(cluster_->node_count()); }
};

// The i-th of 10,000 plausible two-character given names after 王.
std::string GuessedName(int i) {
  static const std::vector<std::string> kChars = [] {
    const std::string all =
        "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红梅鑫波斌宇浩凯兰俊帆辉鹏林"
        "建国文博云飞海燕雪晨阳光亮成龙永健春兴德志宏昌盛佳琪欣怡子涵梓轩雨泽思远晓东立新"
        "振宁晶莹婷慧琳瑶一安邦才福贵和嘉君凡力乐";
    std::vector<std::string> out;
    for (size_t k = 0; k < all.size() && out.size() < 100; k += 3) out.push_back(all.substr(k, 3));
    return out;
  }();
  return absl::StrCat("王", kChars[i % kChars.size()], kChars[(i / kChars.size()) % kChars.size()]);
}

// Guessing names for one document number reaches the authority no more often than the
// identity's budget, whatever the number of clients and nodes; everyone else is unaffected.
TEST_F(LimitsTest, GuessingNamesForOneNumberIsPointless) {
  std::vector<std::string> clients;
  for (int i = 0; i < 100; ++i) {
    clients.push_back(Create(absl::StrCat("guesser-", i), "", {"verify"}));
  }
  const uint64_t checks_before = cluster_->SimChecks();
  const auto& target = cluster_->people()[5];
  std::atomic<int> mismatches{0}, answered_mismatch{0}, rejected{0}, other{0}, verified{0};
  std::atomic<int> next{0};
  std::mutex first_other_mu;
  std::string first_other;  // what the first unexpected answer was, for the failure message
  auto note_other = [&](const grpc::Status& s, const idv::v1::VerifyResponse& resp) {
    ++other;
    std::lock_guard<std::mutex> lock(first_other_mu);
    if (first_other.empty()) {
      first_other = s.ok() ? absl::StrCat(idv::v1::Outcome_Name(resp.outcome()), "/",
                                          idv::v1::ReasonCode_Name(resp.reason().code()))
                           : absl::StrCat("status ", s.error_code(), ": ", s.error_message());
    }
  };
  constexpr int kGuesses = 10000;
  constexpr int kOthers = 60;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = next++; i < kGuesses + kOthers; i = next++) {
        idv::v1::VerifyRequest req;
        req.mutable_claim()->set_document_type(idv::v1::CN_RESIDENT_ID);
        idv::v1::VerifyResponse resp;
        grpc::Status s;
        const size_t node = static_cast<size_t>(i) % cluster_->node_count();
        if (i % ((kGuesses + kOthers) / kOthers) == 0 &&
            i / ((kGuesses + kOthers) / kOthers) < kOthers) {
          // Someone else signing up meanwhile.
          const auto& p = cluster_->people()[20 + i / ((kGuesses + kOthers) / kOthers)];
          req.set_account_id(absl::StrCat("other-", i));
          req.mutable_claim()->set_document_number(p.number);
          req.mutable_claim()->set_full_name(p.name);
          s = cluster_->VerifyOn(node, req, &resp);
          if (s.ok() && resp.outcome() == idv::v1::VERIFIED) ++verified;
          continue;
        }
        req.set_account_id(absl::StrCat("guess-", i));
        req.mutable_claim()->set_document_number(target.number);
        req.mutable_claim()->set_full_name(GuessedName(i));
        s = cluster_->VerifyOn(node, req, &resp, clients[i % clients.size()]);
        if (!s.ok()) {
          note_other(s, resp);
        } else if (resp.outcome() == idv::v1::MISMATCH) {
          // A name guessed twice is answered from the cache the second time.
          if (!resp.cached()) ++mismatches;
          ++answered_mismatch;
        } else if (resp.outcome() == idv::v1::REJECTED &&
                   resp.reason().code() == idv::v1::TOO_MANY_ATTEMPTS) {
          ++rejected;
        } else {
          note_other(s, resp);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const uint64_t asked = cluster_->SimChecks() - checks_before;
  EXPECT_EQ(verified.load(), kOthers);
  EXPECT_EQ(other.load(), 0) << "the first: " << first_other;
  EXPECT_GE(mismatches.load(), 1);
  EXPECT_LE(mismatches.load(), 9);  // authority answers, not cached ones
  EXPECT_EQ(answered_mismatch.load() + rejected.load() + verified.load(), kGuesses + kOthers)
      << "every guess answered MISMATCH or REJECTED";
  // The authority heard of the target at most 9 times; of everyone else once each.
  EXPECT_LE(asked, 9u + kOthers);
  EXPECT_EQ(asked - static_cast<uint64_t>(kOthers), static_cast<uint64_t>(mismatches.load()));
}

TEST_F(LimitsTest, AnAccountTriedTooOftenIsRejectedWithoutAskingTheAuthority) {
  const uint64_t before = cluster_->SimChecks();
  int answered = 0, rejected = 0;
  for (int i = 0; i < 12; ++i) {
    idv::v1::VerifyRequest req;
    req.set_account_id("busy-account");
    req.mutable_claim()->set_document_type(idv::v1::CN_RESIDENT_ID);
    req.mutable_claim()->set_document_number(cluster_->people()[40 + i].number);
    req.mutable_claim()->set_full_name(cluster_->people()[40 + i].name);
    idv::v1::VerifyResponse resp;
    ASSERT_TRUE(cluster_->VerifyOn(0, req, &resp).ok());
    if (resp.outcome() == idv::v1::REJECTED) {
      EXPECT_EQ(resp.reason().code(), idv::v1::TOO_MANY_ATTEMPTS);
      ++rejected;
    } else {
      EXPECT_EQ(resp.outcome(), idv::v1::VERIFIED);
      ++answered;
    }
  }
  // Node 0's share of 6 an hour.
  EXPECT_EQ(answered, 6 / Nodes());
  EXPECT_EQ(rejected, 12 - 6 / Nodes());
  EXPECT_EQ(cluster_->SimChecks() - before, static_cast<uint64_t>(answered));
}

// A deletion request (admin): the binding, the account's idempotency entries and its attempt
// budget go on every node; only the tenant's own admin (or a super-admin) may ask.
TEST_F(LimitsTest, DeleteAccountDataRemovesTheAccountsStateOnEveryNode) {
  auto attempt = [&](size_t node, idv::v1::VerifyResponse* resp) {
    const idv::v1::VerifyRequest req = KeyedBind(*cluster_, "closing", 61, "");
    return cluster_->VerifyOn(node, req, resp);
  };
  // Spend the account's attempts on every node (its share of 6 an hour each).
  for (size_t node = 0; node < cluster_->node_count(); ++node) {
    idv::v1::VerifyResponse resp;
    for (int i = 0; i < 6 / Nodes(); ++i) {
      ASSERT_TRUE(attempt(node, &resp).ok());
      ASSERT_EQ(resp.outcome(), idv::v1::VERIFIED);
    }
    ASSERT_TRUE(attempt(node, &resp).ok());
    ASSERT_EQ(resp.reason().code(), idv::v1::TOO_MANY_ATTEMPTS) << "node " << node;
  }
  idv::v1::VerifyResponse keyed;
  ASSERT_TRUE(cluster_->VerifyOn(0, KeyedBind(*cluster_, "closing", 61, "closing-key"), &keyed)
                  .error_code() == grpc::StatusCode::OK);

  idv::v1::DeleteAccountDataRequest req;
  req.set_account_id("closing");
  req.set_reason("ticket 4711");
  idv::v1::DeleteAccountDataResponse out;
  // Not a sign-up flow's call, and not another tenant's admin's.
  const std::string verifier = Create("flow-x", "", {"verify"});
  EXPECT_EQ(
      Admin(&idv::v1::AdminService::Stub::DeleteAccountData, req, &out, verifier).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  CreateTenant("other");
  const std::string other_admin = Create("other-admin", "other", {"admin"});
  idv::v1::DeleteAccountDataRequest theirs = req;
  theirs.set_tenant("default");
  EXPECT_EQ(Admin(&idv::v1::AdminService::Stub::DeleteAccountData, theirs, &out, other_admin)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // In its own tenant the other admin finds nothing to delete: the binding is default's.
  ASSERT_TRUE(Admin(&idv::v1::AdminService::Stub::DeleteAccountData, req, &out, other_admin).ok());
  EXPECT_FALSE(out.binding_removed());
  idv::v1::Binding binding;
  ASSERT_TRUE(cluster_->GetBindingOn(0, "closing", &binding).ok());

  grpc::Status s = Admin(&idv::v1::AdminService::Stub::DeleteAccountData, req, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(out.binding_removed());
  EXPECT_EQ(out.idempotency_entries_removed(), 1u);
  EXPECT_EQ(out.record_id().size(), 26u);
  for (size_t node = 0; node < cluster_->node_count(); ++node) {
    EXPECT_EQ(cluster_->GetBindingOn(node, "closing", &binding).error_code(),
              grpc::StatusCode::NOT_FOUND)
        << "node " << node;
  }
  for (size_t node = 0; node < cluster_->node_count(); ++node) {
    // The attempt budget is full again on every node (other nodes drop it when the store's
    // notification reaches them: wait for that, at most 5 s).
    idv::v1::VerifyResponse resp;
    for (absl::Time until = absl::Now() + absl::Seconds(5);;) {
      ASSERT_TRUE(attempt(node, &resp).ok());
      if (resp.outcome() == idv::v1::VERIFIED || absl::Now() > until) break;
      absl::SleepFor(absl::Milliseconds(20));
    }
    EXPECT_EQ(resp.outcome(), idv::v1::VERIFIED) << "node " << node;
  }
  // A malformed request is refused and removes nothing.
  req.set_reason(std::string(300, 'r'));
  EXPECT_EQ(Admin(&idv::v1::AdminService::Stub::DeleteAccountData, req, &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(cluster_->GetBindingOn(0, "closing", &binding).ok());  // bound again just above
}

TEST_F(LimitsTest, AClientOverItsRateIsToldWhenToRetry) {
  CreateTenant("slow");
  const std::string slow = Create("slow-client", "slow", {"verify"});
  int ok = 0, exhausted = 0;
  std::string retry_after;
  for (int i = 0; i < 10; ++i) {
    idv::v1::VerifyRequest req;
    req.set_account_id(absl::StrCat("slow-", i));
    req.mutable_claim()->set_document_type(idv::v1::CN_RESIDENT_ID);
    req.mutable_claim()->set_document_number(cluster_->people()[60].number);
    req.mutable_claim()->set_full_name(cluster_->people()[60].name);
    grpc::ClientContext ctx;
    cluster_->Authorize(ctx, slow);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    idv::v1::VerifyResponse resp;
    grpc::Status s = cluster_->stub(0).Verify(&ctx, req, &resp);
    if (s.ok()) {
      ++ok;
    } else {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
      ++exhausted;
      auto it = ctx.GetServerTrailingMetadata().find("retry-after-ms");
      if (it != ctx.GetServerTrailingMetadata().end()) {
        retry_after = std::string(it->second.data(), it->second.size());
      }
      // The same delay in the standard rich error model.
      google::rpc::Status rich;
      ASSERT_TRUE(rich.ParseFromString(s.error_details()));
      bool has_retry_info = false;
      for (const google::protobuf::Any& d : rich.details()) {
        google::rpc::RetryInfo retry;
        if (d.UnpackTo(&retry)) {
          has_retry_info = true;
          EXPECT_GT(retry.retry_delay().nanos() + retry.retry_delay().seconds(), 0);
        }
      }
      EXPECT_TRUE(has_retry_info);
    }
  }
  EXPECT_GE(ok, 1);
  EXPECT_LE(ok, 3);  // the burst (the whole of it with one node, a share with more)
  EXPECT_EQ(ok + exhausted, 10);
  ASSERT_FALSE(retry_after.empty());
  EXPECT_GT(std::stoi(retry_after), 0);
  EXPECT_LE(std::stoi(retry_after), 1000 * Nodes());
  // Other tenants' clients are not limited.
  EXPECT_EQ(VerifyWith("<own>"), grpc::StatusCode::OK);
}

// A tenant that answers MISMATCH and NOT_FOUND alike: its sign-up flow cannot tell whether a
// number exists, its auditor sees the authority's real answer.
TEST_F(LimitsTest, ATenantCanAnswerMismatchAndNotFoundAlike) {
  CreateTenant("quiet");
  const std::string flow = Create("quiet-flow", "quiet", {"verify"});
  const std::string auditor = Create("quiet-auditor", "quiet", {"audit"});
  auto verify = [&](const std::string& account, const std::string& number,
                    const std::string& name) {
    idv::v1::VerifyRequest req;
    req.set_account_id(account);
    req.mutable_claim()->set_document_type(idv::v1::CN_RESIDENT_ID);
    req.mutable_claim()->set_document_number(number);
    req.mutable_claim()->set_full_name(name);
    idv::v1::VerifyResponse resp;
    EXPECT_TRUE(cluster_->VerifyOn(0, req, &resp, flow).ok());
    return resp;
  };
  const auto& p = cluster_->people()[70];
  const idv::v1::VerifyResponse wrong_name = verify("q-1", p.number, p.name + "某");
  const idv::v1::VerifyResponse unknown =
      verify("q-2", testing::UnknownValidNumber(cluster_->people()), "王伟");
  for (const auto& r : {wrong_name, unknown}) {
    EXPECT_EQ(r.outcome(), idv::v1::MISMATCH);
    EXPECT_EQ(r.reason().code(), idv::v1::ELEMENTS_MISMATCH);
    EXPECT_EQ(r.checks_size(), 0);
  }
  EXPECT_EQ(verify("q-3", p.number, p.name).outcome(), idv::v1::VERIFIED);
  // GetVerification: the flow sees the uniform answer, the auditor the real one.
  for (const auto& [token, want] : std::vector<std::pair<std::string, idv::v1::Outcome>>{
           {flow, idv::v1::MISMATCH}, {auditor, idv::v1::NOT_FOUND}}) {
    grpc::ClientContext ctx;
    cluster_->Authorize(ctx, token);
    idv::v1::GetVerificationRequest req;
    req.set_verification_id(unknown.verification_id());
    idv::v1::Verification v;
    ASSERT_TRUE(cluster_->stub(0).GetVerification(&ctx, req, &v).ok());
    EXPECT_EQ(v.outcome(), want);
  }
  // Other tenants get the real answers.
  idv::v1::VerifyResponse real;
  ASSERT_TRUE(
      cluster_->Verify("d-1", testing::UnknownValidNumber(cluster_->people()), "王伟", false, &real)
          .ok());
  EXPECT_EQ(real.outcome(), idv::v1::NOT_FOUND);
}

// Found when tried as an attacker would: control characters in an account id were verified and
// bound; a 1 MiB policy name was accepted.
TEST_F(AccessTest, ControlCharactersAndHugeNamesAreRefused) {
  for (const std::string& account :
       {std::string("acct\0nul", 8), std::string("acct\n2"), std::string("acct\x7f")}) {
    idv::v1::VerifyRequest req;
    req.set_account_id(account);
    req.set_bind(true);
    req.mutable_claim()->set_document_type(idv::v1::CN_RESIDENT_ID);
    req.mutable_claim()->set_document_number(cluster_->people()[3].number);
    req.mutable_claim()->set_full_name(cluster_->people()[3].name);
    idv::v1::VerifyResponse resp;
    grpc::Status s = cluster_->VerifyRequest(req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("account_id"), std::string::npos) << s.error_message();
    idv::v1::Binding binding;
    EXPECT_EQ(cluster_->GetBinding(account, &binding).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  idv::v1::PutPolicyRequest policy;
  policy.mutable_policy()->set_name(std::string(1 << 20, 'p'));
  policy.mutable_policy()->add_document_types(idv::v1::CN_RESIDENT_ID);
  policy.mutable_policy()->add_backends("sim");
  idv::v1::ConfigChange change;
  // Past the 64 KiB message limit: refused before any handler runs.
  grpc::Status s = Admin(&idv::v1::AdminService::Stub::PutPolicy, policy, &change);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_LT(s.error_message().size(), 300u);
  // Within it, refused by the field's own limit.
  policy.mutable_policy()->set_name(std::string(10000, 'p'));
  s = Admin(&idv::v1::AdminService::Stub::PutPolicy, policy, &change);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_LT(s.error_message().size(), 300u);
  idv::v1::PutBackendRequest backend;
  backend.mutable_backend()->set_name(std::string(10000, 'b'));
  EXPECT_EQ(Admin(&idv::v1::AdminService::Stub::PutBackend, backend, &change).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// Records of `account` in the audit log, read through the AuditService of `node`.
int RecordsOf(Cluster& c, const std::string& account, size_t node = 0) {
  auto stub = idv::v1::AuditService::NewStub(
      grpc::CreateChannel(c.address(node), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  c.Authorize(ctx);
  idv::v1::ListRecordsRequest req;
  req.mutable_filter()->set_account_id(account);
  req.set_page_size(100);
  idv::v1::ListRecordsResponse resp;
  const grpc::Status s = stub->ListRecords(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp.records_size();
}

// A retry with the same key gets the first answer on any node: no second authority call, no
// second record; the same key with another request is refused; another client's key is its own.
TEST_F(AccessTest, ARetryWithTheSameIdempotencyKeyGetsTheFirstAnswer) {
  const idv::v1::VerifyRequest req = KeyedBind(*cluster_, "keyed-1", 11, "8c1d-retry-1");
  idv::v1::VerifyResponse first;
  ASSERT_TRUE(cluster_->VerifyOn(0, req, &first).ok());
  EXPECT_EQ(first.outcome(), idv::v1::VERIFIED);
  EXPECT_EQ(first.binding(), idv::v1::BOUND);
  EXPECT_FALSE(first.replayed());
  const uint64_t asked = cluster_->SimChecks();
  for (size_t node = 0; node < cluster_->node_count(); ++node) {
    idv::v1::VerifyResponse again;
    ASSERT_TRUE(cluster_->VerifyOn(node, req, &again).ok());
    EXPECT_TRUE(again.replayed());
    EXPECT_EQ(again.verification_id(), first.verification_id());
    EXPECT_EQ(again.binding(), idv::v1::BOUND) << "the first answer, not ALREADY_BOUND";
    EXPECT_EQ(again.outcome(), idv::v1::VERIFIED);
  }
  EXPECT_EQ(cluster_->SimChecks(), asked);
  EXPECT_EQ(RecordsOf(*cluster_, "keyed-1"), 1);

  // The same key with a different request: refused, nothing done.
  idv::v1::VerifyRequest other = KeyedBind(*cluster_, "keyed-2", 12, "8c1d-retry-1");
  idv::v1::VerifyResponse resp;
  EXPECT_EQ(cluster_->VerifyOn(0, other, &resp).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  other.set_bind(false);
  other.set_account_id("keyed-1");
  EXPECT_EQ(cluster_->VerifyOn(0, other, &resp).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(RecordsOf(*cluster_, "keyed-2"), 0);
  EXPECT_EQ(cluster_->SimChecks(), asked);

  // Keys belong to their client: another client's call with the same key is a new call.
  const std::string second = Create("second-flow", "", {"verify"});
  idv::v1::VerifyResponse theirs;
  ASSERT_TRUE(cluster_->VerifyOn(0, req, &theirs, second).ok());
  EXPECT_FALSE(theirs.replayed());
  EXPECT_NE(theirs.verification_id(), first.verification_id());
  EXPECT_EQ(theirs.binding(), idv::v1::ALREADY_BOUND);
  EXPECT_EQ(RecordsOf(*cluster_, "keyed-1"), 2);

  // A malformed key is a call error.
  idv::v1::VerifyRequest bad = req;
  bad.set_idempotency_key("has space");
  EXPECT_EQ(cluster_->VerifyOn(0, bad, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  bad.set_idempotency_key(std::string(129, 'k'));
  EXPECT_EQ(cluster_->VerifyOn(0, bad, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// Account closure: the binding goes on every node, the identity's place under the cap is
// freed, the account's idempotency entries go with it.
TEST_F(AccessTest, UnbindFreesTheIdentityOnEveryNode) {
  auto unbind = [&](const std::string& account, size_t node, idv::v1::UnbindResponse* out) {
    grpc::ClientContext ctx;
    cluster_->Authorize(ctx);
    idv::v1::UnbindRequest req;
    req.set_account_id(account);
    return cluster_->stub(node).Unbind(&ctx, req, out);
  };
  idv::v1::VerifyResponse resp;
  ASSERT_TRUE(cluster_->VerifyOn(0, KeyedBind(*cluster_, "u-1", 30, "u1-key"), &resp).ok());
  ASSERT_EQ(resp.binding(), idv::v1::BOUND);
  ASSERT_TRUE(cluster_->VerifyOn(0, KeyedBind(*cluster_, "u-2", 30, "u2-key"), &resp).ok());
  ASSERT_EQ(resp.binding(), idv::v1::BOUND);
  ASSERT_TRUE(cluster_->VerifyOn(0, KeyedBind(*cluster_, "u-3", 30, "u3-key"), &resp).ok());
  ASSERT_EQ(resp.binding(), idv::v1::LIMIT_REACHED);  // cap 2

  idv::v1::UnbindResponse out;
  ASSERT_TRUE(unbind("u-1", 0, &out).ok());
  EXPECT_TRUE(out.unbound());
  EXPECT_EQ(out.idempotency_entries_removed(), 1u);
  EXPECT_EQ(out.record_id().size(), 26u);
  for (size_t node = 0; node < cluster_->node_count(); ++node) {
    idv::v1::Binding binding;
    EXPECT_EQ(cluster_->GetBindingOn(node, "u-1", &binding).error_code(),
              grpc::StatusCode::NOT_FOUND)
        << "node " << node;
  }
  // The freed place is taken by the next sign-up, on another node.
  ASSERT_TRUE(cluster_->VerifyOn(Other(), KeyedBind(*cluster_, "u-3", 30, "u3-retry"), &resp).ok());
  EXPECT_EQ(resp.binding(), idv::v1::BOUND);
  // u-1's key went with it: the same request is a new call now (and the cap is full again).
  ASSERT_TRUE(cluster_->VerifyOn(0, KeyedBind(*cluster_, "u-1", 30, "u1-key"), &resp).ok());
  EXPECT_FALSE(resp.replayed());
  EXPECT_EQ(resp.binding(), idv::v1::LIMIT_REACHED);
  // Nothing left to remove: OK, unbound false.
  ASSERT_TRUE(unbind("never-bound", Other(), &out).ok());
  EXPECT_FALSE(out.unbound());
  // A malformed account id is a call error.
  EXPECT_EQ(unbind(std::string("a\nb"), 0, &out).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// A key rotation, as an operator runs it: bindings made before it are still found on every node
// and count against the cap, a re-verification moves its binding to the new version, a retry of
// a call made before it is still answered from its kept answer, and the old version cannot be
// retired while a binding uses it.
TEST_F(AccessTest, KeyRotationKeepsCapsAndMovesBindingsOnEveryNode) {
  idv::v1::VerifyResponse resp;
  const idv::v1::VerifyRequest first = KeyedBind(*cluster_, "r-1", 70, "rot-key");
  ASSERT_TRUE(cluster_->VerifyOn(0, first, &resp).ok());
  ASSERT_EQ(resp.binding(), idv::v1::BOUND);
  const std::string first_id = resp.verification_id();
  ASSERT_TRUE(cluster_->VerifyOn(0, KeyedBind(*cluster_, "r-2", 70, ""), &resp).ok());
  ASSERT_EQ(resp.binding(), idv::v1::BOUND);  // cap 2: full
  idv::v1::Binding binding;
  ASSERT_TRUE(cluster_->GetBindingOn(0, "r-1", &binding).ok());
  EXPECT_EQ(binding.identity_fingerprint().substr(0, 3), "v1:");

  // A sign-up flow may not rotate keys; the operator's super-admin may.
  const std::string verifier = Create("flow-rot", "", {"verify"});
  idv::v1::ConfigChange change;
  EXPECT_EQ(Admin(&idv::v1::AdminService::Stub::RotateKeys, idv::v1::RotateKeysRequest(), &change,
                  verifier)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  grpc::Status s =
      Admin(&idv::v1::AdminService::Stub::RotateKeys, idv::v1::RotateKeysRequest(), &change);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(change.applied());
  ASSERT_EQ(change.changes_size(), 1);
  EXPECT_EQ(change.changes(0), "key version 2 made current");
  // Every node takes the new version from the shared configuration (at most 5 s).
  for (size_t node = 0; node < cluster_->node_count(); ++node) {
    idv::v1::KeyStatus status;
    for (absl::Time until = absl::Now() + absl::Seconds(5);;) {
      ASSERT_TRUE(Admin(&idv::v1::AdminService::Stub::GetKeyStatus, idv::v1::GetKeyStatusRequest(),
                        &status, "<own>", node)
                      .ok());
      if (status.current_version() == 2 || absl::Now() > until) break;
      absl::SleepFor(absl::Milliseconds(20));
    }
    ASSERT_EQ(status.current_version(), 2u) << "node " << node;
    EXPECT_EQ(status.oldest_version(), 1u);
  }

  // The identity still has its two accounts: a third is refused, on another node too.
  ASSERT_TRUE(cluster_->VerifyOn(Other(), KeyedBind(*cluster_, "r-3", 70, ""), &resp).ok());
  EXPECT_EQ(resp.binding(), idv::v1::LIMIT_REACHED);
  // A retry of the call made before the rotation gets its first answer.
  ASSERT_TRUE(cluster_->VerifyOn(Other(), first, &resp).ok());
  EXPECT_TRUE(resp.replayed());
  EXPECT_EQ(resp.verification_id(), first_id);
  // The first account re-verifies: ALREADY_BOUND, and its binding moves to version 2.
  ASSERT_TRUE(cluster_->VerifyOn(Other(), KeyedBind(*cluster_, "r-1", 70, ""), &resp).ok());
  EXPECT_EQ(resp.binding(), idv::v1::ALREADY_BOUND);
  for (size_t node = 0; node < cluster_->node_count(); ++node) {
    ASSERT_TRUE(cluster_->GetBindingOn(node, "r-1", &binding).ok());
    EXPECT_EQ(binding.identity_fingerprint().substr(0, 3), "v2:") << "node " << node;
    ASSERT_TRUE(cluster_->GetBindingOn(node, "r-2", &binding).ok());
    EXPECT_EQ(binding.identity_fingerprint().substr(0, 3), "v1:") << "node " << node;
  }
  ASSERT_TRUE(cluster_->VerifyOn(0, KeyedBind(*cluster_, "r-3", 70, ""), &resp).ok());
  EXPECT_EQ(resp.binding(), idv::v1::LIMIT_REACHED);

  // What each version still holds; version 1 cannot be retired while r-2 (and the clients made
  // before the rotation) use it.
  idv::v1::KeyStatus status;
  ASSERT_TRUE(
      Admin(&idv::v1::AdminService::Stub::GetKeyStatus, idv::v1::GetKeyStatusRequest(), &status)
          .ok());
  ASSERT_GE(status.usage_size(), 2);
  EXPECT_EQ(status.usage(0).version(), 1u);
  EXPECT_EQ(status.usage(0).bindings(), 1u);
  EXPECT_GE(status.usage(0).clients(), 1u);
  EXPECT_EQ(status.usage(1).version(), 2u);
  EXPECT_EQ(status.usage(1).bindings(), 1u);
  idv::v1::RetireKeyVersionsRequest retire;
  retire.set_oldest_kept(2);
  s = Admin(&idv::v1::AdminService::Stub::RetireKeyVersions, retire, &change);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("key version 1 is still used by 1 binding(s)"),
            std::string::npos)
      << s.error_message();
  retire.set_oldest_kept(3);
  EXPECT_EQ(Admin(&idv::v1::AdminService::Stub::RetireKeyVersions, retire, &change).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// 40 calls with one key at once, spread over the nodes: one answer, one record, one binding.
TEST_F(AccessTest, ConcurrentCallsWithOneIdempotencyKeyShareOneAnswer) {
  constexpr int kCalls = 40;
  const idv::v1::VerifyRequest req = KeyedBind(*cluster_, "keyed-storm", 13, "storm-key");
  std::vector<idv::v1::VerifyResponse> resp(kCalls);
  std::vector<grpc::Status> status(kCalls);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] {
      status[i] =
          cluster_->VerifyOn(static_cast<size_t>(i) % cluster_->node_count(), req, &resp[i]);
    });
  }
  for (std::thread& t : threads) t.join();
  int replayed = 0;
  for (int i = 0; i < kCalls; ++i) {
    ASSERT_TRUE(status[i].ok()) << status[i].error_message();
    EXPECT_EQ(resp[i].verification_id(), resp[0].verification_id());
    EXPECT_EQ(resp[i].binding(), idv::v1::BOUND);
    replayed += resp[i].replayed();
  }
  EXPECT_EQ(replayed, kCalls - 1);
  EXPECT_EQ(RecordsOf(*cluster_, "keyed-storm"), 1);
}

// A Verify+bind whose caller gave up still completes; the caller learns what happened by
// retrying with its idempotency key (here while the first call still waits for the authority).
TEST(IdempotencyTest, ACancelledBindIsLearnedByItsRetry) {
  Cluster c(Cluster::Options{});
  c.Start({{"--latency_ms=400"}});
  ASSERT_FALSE(::testing::Test::HasFailure());
  const idv::v1::VerifyRequest req = KeyedBind(c, "keyed-cancel", 14, "cancel-key");
  const uint64_t before = c.SimChecks();
  grpc::ClientContext ctx;
  c.Authorize(ctx);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  idv::v1::VerifyResponse resp;
  std::promise<grpc::Status> done;
  c.stub(0).async()->Verify(&ctx, &req, &resp, [&done](grpc::Status s) { done.set_value(s); });
  // Cancelled once the authority has the question.
  for (absl::Time until = absl::Now() + absl::Seconds(5);
       c.SimChecks() == before && absl::Now() < until;) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_EQ(c.SimChecks(), before + 1);
  ctx.TryCancel();
  EXPECT_EQ(done.get_future().get().error_code(), grpc::StatusCode::CANCELLED);

  idv::v1::VerifyResponse retry;
  ASSERT_TRUE(c.VerifyOn(0, req, &retry).ok());
  EXPECT_TRUE(retry.replayed());
  EXPECT_EQ(retry.outcome(), idv::v1::VERIFIED);
  EXPECT_EQ(retry.binding(), idv::v1::BOUND);
  idv::v1::Binding binding;
  ASSERT_TRUE(c.GetBinding("keyed-cancel", &binding).ok());
  EXPECT_EQ(binding.verification_id(), retry.verification_id());
  EXPECT_EQ(RecordsOf(c, "keyed-cancel"), 1);
  EXPECT_EQ(c.SimChecks(), before + 1);
}

}  // namespace
}  // namespace idv
