// The live verification configuration: backends and policies as numbered versions in the store,
// and the policy engine built from the newest one.
//
// Precedence: the config file's backends and policies seed version 1 on a store that has no
// version yet; after that the stored versions win and the file's backends and policies are
// ignored (change them through AdminService). Changes are optimistic: each builds on the version
// it read, and the store refuses a second version with the same number (ABORTED: retry).
//
// Across nodes: each version is stored once (by the node that made the change, which audits it);
// the store announces it to every node, whose Refresh() reads and swaps it in.
//
// Thread-safe. engine() is a std::atomic_load of a shared_ptr, so a swap never blocks readers for
// longer than that load.
#ifndef IDV_SERVICES_CONFIG_MANAGER_H_
#define IDV_SERVICES_CONFIG_MANAGER_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "idv/config/v1/config.pb.h"
#include "idv/store/v1/store.pb.h"
#include "idv/v1/admin.pb.h"
#include "services/auth.h"
#include "store/store.h"
#include "verifiers/policy_engine.h"

namespace idv::services {

// A change to the configuration: edits `config` in place, or says why it cannot be made.
using ConfigEdit = absl::AnyInvocable<absl::Status(idv::store::v1::ConfigVersion& config) &&>;

struct ChangeRequest {
  std::string action;  // the RPC, for the audit record
  std::string target;  // the backend or policy name
  ConfigEdit edit;
  bool dry_run = false;
  // Backends to probe (Describe) before the change is stored.
  std::vector<std::string> probe;
  // Accept a change that leaves a document type routed before without any policy (its Verify
  // calls would all answer UNAVAILABLE). Without it such a change is FAILED_PRECONDITION.
  bool force = false;
};

class ConfigManager {
 public:
  // Loads the newest stored version, or seeds version 1 from `file` when there is none.
  // Blocks (start-up only).
  static absl::StatusOr<std::unique_ptr<ConfigManager>> Open(
      store::Store& store, const verifiers::VerifierRegistry& registry,
      const idv::config::v1::ServerConfig& file);

  // The engine of the newest version.
  std::shared_ptr<const verifiers::PolicyEngine> engine() const {
    return std::atomic_load(&engine_);
  }
  // A copy of the newest version.
  idv::store::v1::ConfigVersion current() const;

  // Stored versions, newest first, read on the store's reader threads.
  void History(size_t limit,
               store::Store::Callback<std::vector<idv::store::v1::ConfigVersion>> done) const {
    store_.ReadConfigVersions(limit, std::move(done));
  }

  // Reads the newest stored version and swaps it in when it is newer than the live one (another
  // node's change). Asynchronous; failures are logged and leave the live version in place.
  void Refresh();

  // Runs after every swap (a local change or Refresh), outside the lock: e.g. to empty the
  // result cache, whose answers came from the old configuration. Set before serving.
  void OnSwap(std::function<void()> hook);

  // Validates, optionally probes, stores and swaps in a change. `done` runs on a store or gRPC
  // thread; never blocks the caller.
  void Change(const Principal& who, ChangeRequest request,
              absl::AnyInvocable<void(absl::StatusOr<idv::v1::ConfigChange>) &&> done);

 private:
  ConfigManager(store::Store& store, const verifiers::VerifierRegistry& registry,
                idv::store::v1::ConfigVersion current,
                std::shared_ptr<verifiers::PolicyEngine> engine)
      : store_(store),
        registry_(registry),
        current_(std::move(current)),
        engine_(std::move(engine)) {}

  void Commit(const Principal& who, const ChangeRequest& request,
              idv::store::v1::ConfigVersion next, std::shared_ptr<verifiers::PolicyEngine> engine,
              idv::v1::ConfigChange change,
              absl::AnyInvocable<void(absl::StatusOr<idv::v1::ConfigChange>) &&> done);

  // Makes `next` live unless the live version is as new. True when it did.
  bool Swap(idv::store::v1::ConfigVersion next, std::shared_ptr<verifiers::PolicyEngine> engine);

  store::Store& store_;
  const verifiers::VerifierRegistry& registry_;
  mutable std::mutex mu_;
  idv::store::v1::ConfigVersion current_;  // guarded by mu_
  std::function<void()> on_swap_;          // guarded by mu_
  // Read with std::atomic_load, replaced with std::atomic_store (after current_ under mu_).
  std::shared_ptr<verifiers::PolicyEngine> engine_;
};

// Lines describing what differs between two configurations ("backend b added", ...).
std::vector<std::string> DescribeChanges(const idv::store::v1::ConfigVersion& before,
                                         const idv::store::v1::ConfigVersion& after);

}  // namespace idv::services

#endif  // IDV_SERVICES_CONFIG_MANAGER_H_
