// Test helper: simulators and idvd as real processes in a private temporary directory, with gRPC
// clients for them. By default one idvd on LevelDB; with Options::postgres (or the environment
// variable IDV_TEST_STORE=postgres, which is how the ctest suites "Postgres3.*" run every
// end-to-end test unchanged) a PostgreSQL server of the test's own and `nodes` idvd sharing it.
//
// How calls are spread over several nodes: Verify goes to the node the document number hashes
// to (the claim affinity a load balancer can give; repeat claims meet the same node's cache),
// reads go round robin, administrative calls to the node the last Verify went to (breakers and
// calls in flight are each node's own, so that is the node whose state a test looks at). Before
// a Verify reaches a node, the cluster waits (at most 1 s, else the test fails) until that node
// runs the newest configuration version any node runs: a change made through one node must be
// live on every node within 1 s.
#ifndef IDV_TESTS_INTEGRATION_CLUSTER_H_
#define IDV_TESTS_INTEGRATION_CLUSTER_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "idv/sim/v1/sim.grpc.pb.h"
#include "idv/v1/admin.grpc.pb.h"
#include "idv/v1/verification.grpc.pb.h"
#include "tests/support/postgres_server.h"
#include "tests/support/process.h"

namespace idv::testing {

struct Person {
  std::string number;
  std::string name;
  std::string phone;
};

// A valid resident ID number none of `people` holds.
std::string UnknownValidNumber(const std::vector<Person>& people);

class Cluster {
 public:
  struct Options {
    int population = 300;
    uint32_t max_accounts = 2;
    std::string policy_deadline = "seconds: 1";
    // A `tls { ... }` block, or empty.
    std::string tls;
    // Replaces the default backends and policies (one backend "sim" for the first simulator,
    // one policy for CN_RESIDENT_ID). "{sim0}", "{sim1}", ... stand for simulator addresses.
    std::optional<std::string> backends_and_policies;
    // More configuration text, appended (e.g. "cache { disabled: true }").
    std::string extra_config;
    // Share one PostgreSQL database among `nodes` idvd. Defaults from IDV_TEST_STORE.
    bool postgres = DefaultPostgres();
    int nodes = DefaultPostgres() ? 3 : 1;
    static bool DefaultPostgres();
  };

  explicit Cluster(Options options) : options_(std::move(options)) {}

  // Starts one simulator (extra flags appended) and returns its index. Every simulator holds the
  // same population (same seed).
  size_t StartSim(const std::vector<std::string>& flags = {});
  // The same with idv-nppa-sim, its secret key in nppa_secret_file() and an ai key in
  // nppa_ai_key_file(); backends reach it as "http://{simN}".
  size_t StartNppaSim(const std::vector<std::string>& flags = {});
  std::string nppa_secret_file() const { return dir_.path() + "/nppa.secret"; }
  std::string nppa_ai_key_file() const { return dir_.path() + "/nppa.ai"; }
  // The same with idv-json-sim (backends reach it as "http://{simN}/").
  size_t StartJsonSim(const std::vector<std::string>& flags = {});
  // Starts every idvd that is not running (node 0 first: it creates the key and the admin client).
  void StartIdvd();
  void StartNode(size_t node);
  // The first simulator, then idvd.
  void Start();
  // One simulator per entry (with those extra flags), then idvd.
  void Start(const std::vector<std::vector<std::string>>& simulators);
  // The config text of an NPPA backend called `name` for simulator `sim` ("{simN}" in
  // backends_and_policies).
  std::string NppaBackend(const std::string& name, size_t sim) const;

  grpc::Status Verify(const std::string& account, const std::string& number,
                      const std::string& name, bool bind, idv::v1::VerifyResponse* resp,
                      const std::string& token_override = "<own>");
  grpc::Status VerifyRequest(const idv::v1::VerifyRequest& req, idv::v1::VerifyResponse* resp);
  grpc::Status GetBinding(const std::string& account, idv::v1::Binding* out);
  grpc::Status GetVerification(const std::string& id, idv::v1::Verification* out);
  // The same, on one node.
  grpc::Status VerifyOn(size_t node, const idv::v1::VerifyRequest& req,
                        idv::v1::VerifyResponse* resp, const std::string& token_override = "<own>");
  grpc::Status GetBindingOn(size_t node, const std::string& account, idv::v1::Binding* out);
  // The configuration version `node` runs (GetPolicy).
  uint64_t LiveConfigVersion(size_t node);
  // Waits until `node` runs at least `version`; false after `timeout`.
  bool AwaitConfigVersion(size_t node, uint64_t version, absl::Duration timeout);
  // Health of `node`'s `service` ("": the server as a whole): true for SERVING.
  bool Serving(size_t node, const std::string& service = "");

  // Stores an API client (what an administrator's CreateClient will do) while every node is
  // stopped, then starts them again; returns its key "<client_id>.<secret>".
  std::string AddClient(const std::string& client_id, const std::string& tenant,
                        const std::vector<std::string>& roles);

  // Adds the API key and a 20 s deadline to a call.
  void Authorize(grpc::ClientContext& ctx, const std::string& token_override = "<own>");
  idv::v1::AdminService::Stub& admin() { return *nodes_[admin_node_].admin; }

  idv::sim::v1::Stats SimStats(size_t sim = 0);
  uint64_t SimChecks(size_t sim = 0) { return SimStats(sim).checks_received(); }
  void SetFaults(size_t sim, const idv::sim::v1::Faults& faults);

  // Checks that nothing under the data directory, nor anything idvd printed, holds a tested
  // document number or name: neither the raw files (WAL included) nor, since table files may be
  // compressed, any key or value LevelDB returns. REQUIRES: idvd stopped.
  void ExpectNoPlaintext();

  std::string data_dir() const { return dir_.path() + "/data"; }
  const std::string& dir() const { return dir_.path(); }
  const std::vector<Person>& people() const { return people_; }
  Process& sim(size_t i = 0) { return *sims_[i]; }
  const std::string& sim_address(size_t i = 0) const { return sim_addresses_[i]; }
  Process& idvd(size_t node = 0) { return *nodes_[node].process; }
  // Thread-safe stubs of one node (replaced when the node restarts).
  idv::v1::VerificationService::Stub& stub(size_t node) { return *nodes_[node].stub; }
  idv::v1::AdminService::Stub& admin(size_t node) { return *nodes_[node].admin; }
  size_t node_count() const { return nodes_.size(); }
  const std::string& address(size_t node) const { return nodes_[node].address; }
  PostgresServer* postgres() { return postgres_.get(); }
  // One query against the cluster's database; "" without PostgreSQL.
  std::string QueryValue(const std::string& sql);
  void set_ca_pem(std::string pem) { ca_pem_ = std::move(pem); }
  // Replaces the backends and policies before StartIdvd (see Options::backends_and_policies).
  void set_backends_and_policies(std::string text) {
    options_.backends_and_policies = std::move(text);
  }

 private:
  struct Node {
    std::unique_ptr<Process> process;
    std::string address;
    std::unique_ptr<idv::v1::VerificationService::Stub> stub;
    std::unique_ptr<idv::v1::AdminService::Stub> admin;
    std::shared_ptr<grpc::Channel> channel;
  };

  size_t StartSimBinary(const std::string& binary, const std::vector<std::string>& flags);
  std::string BackendsAndPolicies() const;
  std::string NodeDataDir(size_t node) const;
  std::string StoreConfig(size_t node) const;
  size_t NodeForClaim(const std::string& number) const;
  size_t NextReader();

  Options options_;
  TempDir dir_;
  std::vector<std::unique_ptr<Process>> sims_;
  std::vector<std::string> sim_addresses_;
  std::unique_ptr<PostgresServer> postgres_;
  std::string dsn_;
  std::vector<Node> nodes_;
  // Tests call from many threads at once.
  std::atomic<size_t> next_reader_{0};
  std::atomic<size_t> admin_node_{0};
  std::string token_;
  std::string ca_pem_;
  std::vector<Person> people_;
  std::mutex tested_mu_;
  std::set<std::string> tested_;  // guarded by tested_mu_ while calls run
};

}  // namespace idv::testing

#endif  // IDV_TESTS_INTEGRATION_CLUSTER_H_
