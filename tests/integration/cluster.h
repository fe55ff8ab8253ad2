// Test helper: simulators and one idvd as real processes in a private temporary directory, with
// gRPC clients for them.
#ifndef IDV_TESTS_INTEGRATION_CLUSTER_H_
#define IDV_TESTS_INTEGRATION_CLUSTER_H_

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "idv/sim/v1/sim.grpc.pb.h"
#include "idv/v1/admin.grpc.pb.h"
#include "idv/v1/verification.grpc.pb.h"
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
  };

  explicit Cluster(Options options) : options_(std::move(options)) {}

  // Starts one simulator (extra flags appended) and returns its index. Every simulator holds the
  // same population (same seed).
  size_t StartSim(const std::vector<std::string>& flags = {});
  void StartIdvd();
  // The first simulator, then idvd.
  void Start();
  // One simulator per entry (with those extra flags), then idvd.
  void Start(const std::vector<std::vector<std::string>>& simulators);

  grpc::Status Verify(const std::string& account, const std::string& number,
                      const std::string& name, bool bind, idv::v1::VerifyResponse* resp,
                      const std::string& token_override = "<own>");
  grpc::Status VerifyRequest(const idv::v1::VerifyRequest& req, idv::v1::VerifyResponse* resp);
  grpc::Status GetBinding(const std::string& account, idv::v1::Binding* out);
  grpc::Status GetVerification(const std::string& id, idv::v1::Verification* out);

  // Adds the API key and a 20 s deadline to a call.
  void Authorize(grpc::ClientContext& ctx, const std::string& token_override = "<own>");
  idv::v1::AdminService::Stub& admin() { return *admin_; }

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
  Process& idvd() { return *idvd_; }
  void set_ca_pem(std::string pem) { ca_pem_ = std::move(pem); }

 private:
  std::string BackendsAndPolicies() const;

  Options options_;
  TempDir dir_;
  std::vector<std::unique_ptr<Process>> sims_;
  std::vector<std::string> sim_addresses_;
  std::unique_ptr<Process> idvd_;
  std::string idvd_address_;
  std::string token_;
  std::string ca_pem_;
  std::vector<Person> people_;
  std::set<std::string> tested_;
  std::unique_ptr<idv::v1::VerificationService::Stub> stub_;
  std::unique_ptr<idv::v1::AdminService::Stub> admin_;
};

}  // namespace idv::testing

#endif  // IDV_TESTS_INTEGRATION_CLUSTER_H_
