// Re-asks PENDING verifications until an authority answers, then settles them.
//
// A verification is PENDING when an authority said it will answer later, or when none answered
// and the policy says ANSWER_PENDING. Its claim is kept sealed in the store (RecheckEntry) so the
// queue survives restarts. The re-checker asks the live policy engine again with a backoff (1 s,
// doubling up to 60 s); on a definitive answer (VERIFIED, MISMATCH, NOT_FOUND) it appends a
// settling audit record under the same verification id (so GetVerification shows it), binds the
// account when the original request asked for it, and deletes the entry in the same write. An
// entry still unanswered at its give_up_at is settled as UNAVAILABLE.
//
// Across nodes, each entry is leased to one node (Store::ClaimRechecks): every `claim_every` the
// re-checker renews the leases it holds and takes entries nobody holds (those of a node that
// stopped), and drops the ones it no longer holds. The store refuses a second settlement.
//
// Runs on its own thread; Add and Stop are thread-safe.
#ifndef IDV_SERVICES_RECHECKER_H_
#define IDV_SERVICES_RECHECKER_H_

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "crypto/keyring.h"
#include "idv/store/v1/store.pb.h"
#include "services/config_manager.h"
#include "store/store.h"

namespace idv::services {

// The plaintext claim as it is sealed into a RecheckEntry (a serialized CheckRequest), and back.
std::string SerializeClaim(const identity::NormalizedClaim& claim);
absl::StatusOr<std::shared_ptr<identity::NormalizedClaim>> ParseClaim(const std::string& bytes);

struct RecheckerOptions {
  // How often leases are renewed and free entries claimed. Default 1 s.
  absl::Duration claim_every = absl::Seconds(1);
  // How long a claimed entry stays this node's without renewal. Default 30 s.
  absl::Duration lease = absl::Seconds(30);
  // Most entries one node works on at once. Default 10,000.
  size_t max_entries = 10000;
};

class Rechecker {
 public:
  Rechecker(const crypto::KeyRing& keys, const ConfigManager& config, store::Store& store,
            RecheckerOptions options = {});
  ~Rechecker() { Stop(); }

  // Starts the thread; its first claim picks up the entries stored by earlier runs.
  absl::Status Start();
  // Queues a PENDING verification whose entry was just stored.
  void Add(idv::store::v1::RecheckEntry entry);
  // Stops asking, and waits for attempts in flight (and their writes) to finish. Idempotent.
  void Stop();

  size_t queued() const;

 private:
  struct Item {
    idv::store::v1::RecheckEntry entry;
    absl::Time next_at;
    absl::Duration backoff = absl::Seconds(1);
    bool in_flight = false;
    uint64_t claimed_in = 0;  // the claim round that last returned it
  };

  void Run();
  // Asks the store for this node's entries (REQUIRES: mu_ held) and merges the answer.
  void Claim();
  void OnClaimed(uint64_t round, std::vector<idv::store::v1::RecheckEntry> entries);
  void Attempt(const std::string& id, const idv::store::v1::RecheckEntry& entry);
  void OnVerdict(const std::string& id, const idv::store::v1::RecheckEntry& entry,
                 std::shared_ptr<identity::NormalizedClaim> claim,
                 verifiers::PolicyVerdict verdict);
  void Settle(const idv::store::v1::RecheckEntry& entry, const identity::NormalizedClaim* claim,
              const verifiers::PolicyVerdict& verdict);
  // Ends an attempt: reschedules the item, or forgets it once settled.
  void Finish(const std::string& id, bool settled);

  const crypto::KeyRing& keys_;
  const ConfigManager& config_;
  store::Store& store_;
  const RecheckerOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Item> items_;  // guarded by mu_
  int in_flight_ = 0;                  // guarded by mu_ (attempts and claims)
  uint64_t claim_round_ = 0;           // guarded by mu_
  bool stopping_ = false;              // guarded by mu_
  std::thread thread_;
};

}  // namespace idv::services

#endif  // IDV_SERVICES_RECHECKER_H_
