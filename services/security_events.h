// Security events in the audit trail: calls refused for a missing, malformed, unknown, revoked,
// expired or wrong API key, for a role the client lacks, or for a client over its call rate. Each
// becomes a SECURITY_EVENT record (the RPC, the caller's address, the claimed client id, what was
// wrong; never the secret), appended without delaying the refusal.
//
// Refusals are what an attacker can produce at will, so the trail takes at most `per_second`
// of them (bursts up to `burst`) per node; the ones over that budget are counted, and the next
// record written says how many were not recorded one by one since the previous record.
// Thread-safe.
#ifndef IDV_SERVICES_SECURITY_EVENTS_H_
#define IDV_SERVICES_SECURITY_EVENTS_H_

#include <cstdint>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "store/store.h"

namespace idv::services {

class SecurityEvents {
 public:
  struct Options {
    double per_second = 20;
    double burst = 100;
  };

  SecurityEvents(store::Store& store, Options options);

  // Records that `method` was refused with `why` (Unauthenticated, PermissionDenied or
  // ResourceExhausted) for the
  // caller at `peer`, who claimed to be `client_id` (empty when it named none) of `tenant`
  // (empty when the client is unknown).
  void Refused(absl::string_view tenant, absl::string_view client_id, absl::string_view peer,
               absl::string_view method, const absl::Status& why);

  // Refusals not recorded one by one, since start.
  uint64_t suppressed_total() const;

 private:
  store::Store& store_;
  const Options options_;
  mutable std::mutex mu_;
  double tokens_ ABSL_GUARDED_BY(mu_);
  absl::Time refilled_ ABSL_GUARDED_BY(mu_);
  uint64_t suppressed_ ABSL_GUARDED_BY(mu_) = 0;  // since the last record
  uint64_t suppressed_total_ ABSL_GUARDED_BY(mu_) = 0;
};

// A client id as a caller claimed it, safe to keep: up to 64 characters of [A-Za-z0-9._-], else
// "(malformed)".
std::string ClaimedClientId(absl::string_view id);

}  // namespace idv::services

#endif  // IDV_SERVICES_SECURITY_EVENTS_H_
