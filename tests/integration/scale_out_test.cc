// Several idvd nodes on one PostgreSQL server, as real processes over loopback: the binding cap
// holds across nodes, a configuration change made through one node serves another's next call,
// and neither a node killed with SIGKILL nor a database restart loses an acknowledged write or
// keeps one that was refused.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/integration/cluster.h"

namespace idv {
namespace {

using idv::testing::Cluster;
using idv::testing::Person;

Cluster::Options ThreeNodes() {
  Cluster::Options o;
  o.postgres = true;
  o.nodes = 3;
  return o;
}

idv::v1::VerifyRequest BindRequest(const std::string& account, const Person& p) {
  idv::v1::VerifyRequest req;
  req.set_account_id(account);
  req.set_bind(true);
  req.mutable_claim()->set_document_type(idv::v1::CN_RESIDENT_ID);
  req.mutable_claim()->set_document_number(p.number);
  req.mutable_claim()->set_full_name(p.name);
  return req;
}

// 60 concurrent binds of one identity to 60 accounts, 20 per node, cap 5, for 20 identities.
TEST(ScaleOutTest, BindingCapHoldsAcrossThreeNodes) {
  Cluster::Options o = ThreeNodes();
  o.max_accounts = 5;
  Cluster c(o);
  c.Start();
  ASSERT_FALSE(::testing::Test::HasFailure());
  constexpr int kRounds = 20, kCalls = 60;
  int violations = 0;
  for (int round = 0; round < kRounds; ++round) {
    const Person& p = c.people()[round];
    std::vector<idv::v1::VerifyResponse> resp(kCalls);
    std::vector<grpc::Status> status(kCalls);
    std::vector<std::unique_ptr<grpc::ClientContext>> ctx(kCalls);
    std::vector<idv::v1::VerifyRequest> req(kCalls);
    std::mutex mu;
    std::condition_variable cv;
    int done = 0;
    for (int i = 0; i < kCalls; ++i) {
      ctx[i] = std::make_unique<grpc::ClientContext>();
      c.Authorize(*ctx[i]);
      req[i] = BindRequest(absl::StrCat("cap", round, "-", i), p);
      c.stub(i % 3).async()->Verify(ctx[i].get(), &req[i], &resp[i], [&, i](grpc::Status s) {
        std::lock_guard<std::mutex> lock(mu);
        status[i] = std::move(s);
        ++done;
        cv.notify_all();
      });
    }
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done == kCalls; });
    int bound = 0, limit = 0;
    for (int i = 0; i < kCalls; ++i) {
      ASSERT_TRUE(status[i].ok()) << status[i].error_message();
      EXPECT_EQ(resp[i].outcome(), idv::v1::VERIFIED);
      bound += resp[i].binding() == idv::v1::BOUND;
      limit += resp[i].binding() == idv::v1::LIMIT_REACHED;
    }
    const std::string stored = c.QueryValue(
        absl::StrCat("SELECT count(*) FROM idv_accounts WHERE account_id LIKE 'cap", round, "-%'"));
    EXPECT_EQ(bound, 5) << "round " << round;
    EXPECT_EQ(limit, kCalls - 5) << "round " << round;
    EXPECT_EQ(stored, "5") << "round " << round;
    violations += bound != 5 || stored != "5";
  }
  EXPECT_EQ(violations, 0);
  // Every node wrote part of the trail.
  EXPECT_EQ(c.QueryValue("SELECT count(DISTINCT node_id) FROM idv_audit"), "3");
}

TEST(ScaleOutTest, BackendAddedThroughNodeOneServesNodeThreesNextCall) {
  Cluster::Options o = ThreeNodes();
  o.backends_and_policies = "";
  Cluster c(o);
  c.Start();
  ASSERT_FALSE(::testing::Test::HasFailure());
  idv::v1::PutBackendRequest backend;
  backend.mutable_backend()->set_name("registry");
  idv::config::v1::GrpcPluginConfig plugin;
  plugin.set_target(c.sim_address());
  plugin.set_plaintext(true);
  backend.mutable_backend()->mutable_typed_config()->PackFrom(plugin);
  idv::v1::PutPolicyRequest policy;
  policy.mutable_policy()->set_name("resident");
  policy.mutable_policy()->add_document_types(idv::v1::CN_RESIDENT_ID);
  policy.mutable_policy()->add_backends("registry");
  idv::v1::ConfigChange change;
  {
    grpc::ClientContext ctx;
    c.Authorize(ctx);
    ASSERT_TRUE(c.admin(0).PutBackend(&ctx, backend, &change).ok());
  }
  {
    grpc::ClientContext ctx;
    c.Authorize(ctx);
    ASSERT_TRUE(c.admin(0).PutPolicy(&ctx, policy, &change).ok());
  }
  const absl::Time changed = absl::Now();
  ASSERT_TRUE(c.AwaitConfigVersion(2, change.version(), absl::Seconds(1)));
  std::cout << "configuration version " << change.version() << " live on node 3 after "
            << absl::FormatDuration(absl::Now() - changed) << "\n";
  const Person& p = c.people()[0];
  idv::v1::VerifyResponse resp;
  ASSERT_TRUE(c.VerifyOn(2, BindRequest("cfg-1", p), &resp).ok());
  EXPECT_EQ(resp.outcome(), idv::v1::VERIFIED);
  ASSERT_EQ(resp.checks_size(), 1);
  EXPECT_EQ(resp.checks(0).backend(), "registry");
  // Each change is stored and audited once, by the node that made it: the seed and two changes.
  EXPECT_EQ(c.QueryValue("SELECT count(*) FROM idv_config_versions"), "3");
  EXPECT_EQ(c.QueryValue("SELECT count(*) FROM idv_audit WHERE node_id = 'node-0'"), "3");
  EXPECT_EQ(c.QueryValue("SELECT count(*) FROM idv_audit WHERE node_id <> 'node-0'"), "1");
}

// A sign-up flow's traffic: bind calls, each a new account and person, spread over the nodes,
// `in_flight` at a time, until Stop().
class SignUpLoad {
 public:
  struct Result {
    std::string account;
    size_t node;
    grpc::Status status;
    idv::v1::VerifyResponse response;
  };

  SignUpLoad(Cluster& c, int in_flight) : c_(c) {
    for (int t = 0; t < in_flight; ++t) threads_.emplace_back([this] { Run(); });
  }
  ~SignUpLoad() { Stop(); }

  // False when fewer than `n` calls completed within a minute.
  bool WaitForCompleted(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return results_.size() >= n; });
  }
  void Stop() {
    stop_ = true;
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }
  std::vector<Result> results() {
    std::lock_guard<std::mutex> lock(mu_);
    return results_;
  }

 private:
  void Run() {
    while (!stop_) {
      const size_t i = next_++;
      if (i >= c_.people().size()) return;
      Result r;
      r.account = absl::StrCat("load-", i);
      r.node = i % c_.node_count();
      grpc::ClientContext ctx;
      c_.Authorize(ctx);
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      r.status = c_.stub(r.node).Verify(&ctx, BindRequest(r.account, c_.people()[i]), &r.response);
      const bool failed = !r.status.ok();
      {
        std::lock_guard<std::mutex> lock(mu_);
        results_.push_back(std::move(r));
      }
      cv_.notify_all();
      // A sign-up flow backs off after an error rather than spinning through its users.
      if (failed) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  Cluster& c_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> next_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Result> results_;  // guarded by mu_
  std::vector<std::thread> threads_;
};

// idvd's own answer that the write did not happen (as opposed to a call that died with its node).
bool RefusedByIdvd(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE &&
         absl::StartsWith(s.error_message(), "the verification could not be recorded");
}

// idvd's answer that the write may or may not have happened (the database went away after COMMIT
// was sent and did not come back within the resolve timeout).
bool OutcomeUnknown(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE &&
         absl::StartsWith(s.error_message(), "the outcome of the verification is unknown");
}

// Every acknowledged binding and record is there, on every node; nothing refused is bound.
void ExpectAcknowledgedExactly(Cluster& c, const std::vector<SignUpLoad::Result>& results,
                               size_t* acknowledged, size_t* refused, size_t* died,
                               size_t* unknown = nullptr) {
  *acknowledged = *refused = *died = 0;
  if (unknown != nullptr) *unknown = 0;
  size_t reader = 0;
  for (const SignUpLoad::Result& r : results) {
    idv::v1::Binding binding;
    const size_t node = reader++ % c.node_count();
    const grpc::Status found = c.GetBindingOn(node, r.account, &binding);
    if (r.status.ok()) {
      ++*acknowledged;
      EXPECT_EQ(r.response.outcome(), idv::v1::VERIFIED);
      EXPECT_EQ(r.response.binding(), idv::v1::BOUND);
      ASSERT_TRUE(found.ok()) << r.account << ": acknowledged BOUND, missing on node " << node;
      EXPECT_EQ(binding.verification_id(), r.response.verification_id());
    } else if (RefusedByIdvd(r.status)) {
      ++*refused;
      EXPECT_EQ(found.error_code(), grpc::StatusCode::NOT_FOUND)
          << r.account << ": answered UNAVAILABLE, yet bound";
    } else if (unknown != nullptr && OutcomeUnknown(r.status)) {
      ++*unknown;  // either outcome is possible, and the caller was told so
    } else {
      ++*died;  // in flight on a node that died: no answer, either outcome is possible
      EXPECT_EQ(r.node, 1u) << r.status.error_message();
    }
  }
}

// Three nodes with a sign-up run of 12 calls at a time under way, 150 of them answered.
class SignUpRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Cluster::Options o = ThreeNodes();
    o.population = 3000;
    cluster_ = std::make_unique<Cluster>(o);
    cluster_->Start();
    ASSERT_FALSE(::testing::Test::HasFailure());
    load_ = std::make_unique<SignUpLoad>(*cluster_, 12);
    ASSERT_TRUE(load_->WaitForCompleted(150));
  }
  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<SignUpLoad> load_;
};

TEST_F(SignUpRunTest, SigkillOfANodeLosesNothingAcknowledged) {
  Cluster& c = *cluster_;
  SignUpLoad& load = *load_;
  c.idvd(1).Signal(SIGKILL);
  c.idvd(1).Wait();
  ASSERT_TRUE(load.WaitForCompleted(450));
  load.Stop();
  const std::string before =
      c.QueryValue("SELECT count(*) FROM idv_audit WHERE node_id = 'node-1'");

  c.StartNode(1);  // takes its log back once the dead process's lease runs out
  ASSERT_FALSE(::testing::Test::HasFailure());
  size_t acknowledged, refused, died;
  ExpectAcknowledgedExactly(c, load.results(), &acknowledged, &refused, &died);
  std::cout << acknowledged << " acknowledged, " << refused << " refused, " << died
            << " lost with the node\n";
  EXPECT_GT(acknowledged, 300u);
  EXPECT_EQ(refused, 0u);

  // The node's log resumes where it stopped: no gap, no second writer.
  idv::v1::VerifyResponse resp;
  ASSERT_TRUE(c.VerifyOn(1, BindRequest("after-restart", c.people()[2999]), &resp).ok());
  EXPECT_EQ(resp.binding(), idv::v1::BOUND);
  EXPECT_EQ(c.QueryValue("SELECT max(seq) = count(*) FROM idv_audit WHERE node_id = 'node-1'"),
            "t");
  EXPECT_EQ(std::stoi(c.QueryValue("SELECT count(*) FROM idv_audit WHERE node_id = 'node-1'")),
            std::stoi(before) + 1);
}

TEST_F(SignUpRunTest, DatabaseRestartIsUnavailableNeverWrongAndHealsItself) {
  Cluster& c = *cluster_;
  SignUpLoad& load = *load_;
  ASSERT_TRUE(c.postgres()->Stop().ok());
  // Health follows the database on every node.
  for (size_t node = 0; node < c.node_count(); ++node) {
    const absl::Time give_up = absl::Now() + absl::Seconds(10);
    while (c.Serving(node) && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(20));
    EXPECT_FALSE(c.Serving(node)) << "node " << node;
    // Each service by name too.
    EXPECT_FALSE(c.Serving(node, "idv.v1.VerificationService")) << "node " << node;
  }
  // A call made now is refused promptly on every node, even one whose writer is still finding out
  // whether a group it sent COMMIT for was stored.
  std::vector<std::string> refused_accounts;
  for (size_t node = 0; node < c.node_count(); ++node) {
    const std::string account = absl::StrCat("down-", node);
    idv::v1::VerifyResponse resp;
    const absl::Time asked = absl::Now();
    const grpc::Status s = c.VerifyOn(node, BindRequest(account, c.people()[2990 + node]), &resp);
    EXPECT_TRUE(RefusedByIdvd(s)) << "node " << node << ": " << s.error_message();
    EXPECT_LT(absl::Now() - asked, absl::Seconds(2)) << "node " << node;
    refused_accounts.push_back(account);
  }
  const size_t during = load.results().size();
  ASSERT_TRUE(c.postgres()->Restart().ok());
  for (size_t node = 0; node < c.node_count(); ++node) {
    const absl::Time give_up = absl::Now() + absl::Seconds(10);
    while (!c.Serving(node) && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(20));
    EXPECT_TRUE(c.Serving(node)) << "node " << node;
    for (const char* service :
         {"idv.v1.VerificationService", "idv.v1.AdminService", "idv.v1.AuditService"}) {
      EXPECT_TRUE(c.Serving(node, service)) << "node " << node << ", " << service;
    }
    EXPECT_FALSE(c.Serving(node, "idv.v1.NoSuchService"));
  }
  ASSERT_TRUE(load.WaitForCompleted(during + 300));
  load.Stop();
  size_t acknowledged, refused, died, unknown;
  ExpectAcknowledgedExactly(c, load.results(), &acknowledged, &refused, &died, &unknown);
  std::cout << acknowledged << " acknowledged, " << refused << " refused, " << unknown
            << " of unknown outcome while the database was down\n";
  EXPECT_EQ(died, 0u);
  for (size_t node = 0; node < c.node_count(); ++node) {
    idv::v1::Binding binding;
    EXPECT_EQ(c.GetBindingOn(node, refused_accounts[node], &binding).error_code(),
              grpc::StatusCode::NOT_FOUND)
        << refused_accounts[node] << ": answered UNAVAILABLE, yet bound";
  }
  EXPECT_GT(acknowledged, 300u);
  // Every node's log is gapless after the restart.
  EXPECT_EQ(c.QueryValue("SELECT bool_and(n = m) FROM (SELECT max(seq) AS m, count(*) AS n "
                         "FROM idv_audit GROUP BY node_id) AS logs"),
            "t");
}

}  // namespace
}  // namespace idv
