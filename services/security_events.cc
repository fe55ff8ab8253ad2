#include "services/security_events.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "audit/records.h"
#include "services/verification_id.h"
#include "spdlog/spdlog.h"

namespace idv::services {

std::string ClaimedClientId(absl::string_view id) {
  constexpr size_t kMax = 64;
  const bool ok = id.size() <= kMax && std::all_of(id.begin(), id.end(), [](char c) {
                    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
                           c == '_' || c == '-';
                  });
  return ok ? std::string(id) : "(malformed)";
}

SecurityEvents::SecurityEvents(store::Store& store, Options options)
    : store_(store), options_(options), tokens_(options.burst), refilled_(absl::Now()) {}

uint64_t SecurityEvents::suppressed_total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return suppressed_total_;
}

void SecurityEvents::Refused(absl::string_view tenant, absl::string_view client_id,
                             absl::string_view peer, absl::string_view method,
                             const absl::Status& why) {
  const absl::Time now = absl::Now();
  uint64_t suppressed = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    tokens_ = std::min(options_.burst,
                       tokens_ + absl::ToDoubleSeconds(now - refilled_) * options_.per_second);
    refilled_ = now;
    if (tokens_ < 1) {
      ++suppressed_;
      ++suppressed_total_;
      return;
    }
    tokens_ -= 1;
    suppressed = suppressed_;
    suppressed_ = 0;
  }
  const char* event = absl::IsPermissionDenied(why)    ? "permission_denied"
                      : absl::IsResourceExhausted(why) ? "limit"
                                                       : "unauthenticated";
  std::string summary = absl::StrCat(event, ": ", why.message());
  if (suppressed > 0) {
    absl::StrAppend(&summary, " (", suppressed,
                    " more refusals since the previous security record were not recorded one by "
                    "one)");
  }
  store::VerificationCommit commit;
  commit.record =
      audit::RecordBuilder::SecurityEvent(NewVerificationId(now), now, std::string(method),
                                          std::string(peer), std::move(summary))
          .By(std::string(tenant), ClaimedClientId(client_id))
          .Build();
  store_.CommitVerification(std::move(commit), [](absl::StatusOr<store::CommitResult> r) {
    if (!r.ok())
      spdlog::warn("a security event could not be recorded: {}", std::string(r.status().message()));
  });
}

}  // namespace idv::services
