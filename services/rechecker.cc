#include "services/rechecker.h"

#include <pthread.h>

#include "audit/records.h"
#include "common/proto_time.h"
#include "identity/claim.h"
#include "identity/derived.h"
#include "idv/plugin/v1/plugin.pb.h"
#include "services/verdicts.h"

namespace idv::services {
namespace {

constexpr absl::Duration kMaxBackoff = absl::Seconds(60);
constexpr absl::Duration kAttemptDeadline = absl::Seconds(10);

bool IsDefinitive(idv::v1::Outcome o) {
  return o == idv::v1::VERIFIED || o == idv::v1::MISMATCH || o == idv::v1::NOT_FOUND;
}

}  // namespace

std::string SerializeClaim(const identity::NormalizedClaim& claim) {
  idv::plugin::v1::CheckRequest r;
  r.set_document_type(claim.document_type);
  r.set_document_number(claim.document_number);
  r.set_full_name(claim.full_name);
  r.set_phone_number(claim.phone_number);
  r.set_issuing_country(claim.issuing_country);
  std::string out = r.SerializeAsString();
  identity::Wipe(*r.mutable_document_number());
  identity::Wipe(*r.mutable_full_name());
  identity::Wipe(*r.mutable_phone_number());
  return out;
}

absl::StatusOr<std::shared_ptr<identity::NormalizedClaim>> ParseClaim(const std::string& bytes) {
  idv::plugin::v1::CheckRequest r;
  if (!r.ParseFromString(bytes)) return absl::DataLossError("unparsable sealed claim");
  idv::v1::IdentityClaim raw;
  raw.set_document_type(r.document_type());
  raw.set_document_number(r.document_number());
  raw.set_full_name(r.full_name());
  raw.set_phone_number(r.phone_number());
  raw.set_issuing_country(r.issuing_country());
  // The claim passed these checks when it was queued; running them again restores the derived
  // fields (the birth date) without storing them.
  identity::OfflineResult checked = identity::CheckClaim(raw, identity::TodayInChina(absl::Now()));
  for (std::string* s :
       {raw.mutable_document_number(), raw.mutable_full_name(), raw.mutable_phone_number(),
        r.mutable_document_number(), r.mutable_full_name(), r.mutable_phone_number()}) {
    identity::Wipe(*s);
  }
  if (!checked.ok()) return absl::DataLossError("a queued claim no longer passes offline checks");
  return std::make_shared<identity::NormalizedClaim>(std::move(checked.claim));
}

Rechecker::Rechecker(const crypto::KeyRing& keys, const ConfigManager& config, store::Store& store,
                     RecheckerOptions options)
    : keys_(keys), config_(config), store_(store), options_(options) {}

absl::Status Rechecker::Start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "idv-recheck");
    Run();
  });
  return absl::OkStatus();
}

void Rechecker::Claim() {
  const uint64_t round = ++claim_round_;
  ++in_flight_;
  store_.ClaimRechecks(options_.max_entries, options_.lease,
                       [this, round](absl::StatusOr<std::vector<idv::store::v1::RecheckEntry>> r) {
                         if (r.ok()) {
                           OnClaimed(round, *std::move(r));
                         } else {
                           std::lock_guard<std::mutex> lock(mu_);
                           --in_flight_;
                         }
                         cv_.notify_all();
                       });
}

void Rechecker::OnClaimed(uint64_t round, std::vector<idv::store::v1::RecheckEntry> entries) {
  std::lock_guard<std::mutex> lock(mu_);
  --in_flight_;
  const absl::Time now = absl::Now();
  for (auto& e : entries) {
    const std::string id = e.verification_id();
    auto [it, added] = items_.try_emplace(id, Item{std::move(e), now});
    it->second.claimed_in = round;
  }
  // Entries known before this round that it did not return are no longer this node's (settled,
  // or taken over by another node after a lapse): forget them unless an attempt is under way.
  for (auto it = items_.begin(); it != items_.end();) {
    if (it->second.claimed_in < round && !it->second.in_flight) {
      it = items_.erase(it);
    } else {
      ++it;
    }
  }
}

void Rechecker::Add(idv::store::v1::RecheckEntry entry) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;  // stored: the next start picks it up
    const std::string id = entry.verification_id();
    Item item{std::move(entry), absl::Now() + absl::Seconds(1)};
    item.claimed_in = claim_round_;  // leased to this node by the commit that stored it
    items_[id] = std::move(item);
  }
  cv_.notify_all();
}

void Rechecker::Stop() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!stopping_) {
      stopping_ = true;
      cv_.notify_all();
    }
    cv_.wait(lock, [this] { return in_flight_ == 0; });
  }
  if (thread_.joinable()) thread_.join();
}

size_t Rechecker::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return items_.size();
}

void Rechecker::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  absl::Time claim_at = absl::Now();
  while (!stopping_) {
    if (absl::Now() >= claim_at) {
      Claim();
      claim_at = absl::Now() + options_.claim_every;
    }
    absl::Time next = claim_at;
    std::vector<std::pair<std::string, idv::store::v1::RecheckEntry>> due;
    const absl::Time now = absl::Now();
    for (auto& [id, item] : items_) {
      if (item.in_flight) continue;
      if (item.next_at <= now) {
        item.in_flight = true;
        ++in_flight_;
        due.emplace_back(id, item.entry);
      } else {
        next = std::min(next, item.next_at);
      }
    }
    if (due.empty()) {
      cv_.wait_until(lock, absl::ToChronoTime(next));
      continue;
    }
    lock.unlock();
    for (auto& [id, entry] : due) Attempt(id, entry);
    lock.lock();
  }
}

void Rechecker::Attempt(const std::string& id, const idv::store::v1::RecheckEntry& entry) {
  absl::StatusOr<std::string> plain = keys_.Unseal(entry.sealed_claim(), id);
  absl::StatusOr<std::shared_ptr<identity::NormalizedClaim>> claim =
      plain.ok() ? ParseClaim(*plain) : plain.status();
  if (plain.ok()) identity::Wipe(*plain);
  if (!claim.ok()) {
    // The claim cannot be recovered (key lost, box damaged): settle instead of retrying forever.
    verifiers::PolicyVerdict unavailable;
    unavailable.outcome = idv::v1::UNAVAILABLE;
    unavailable.reason = idv::v1::AUTHORITY_ERROR;
    Settle(entry, nullptr, unavailable);
    return;
  }
  std::shared_ptr<identity::NormalizedClaim> shared = *std::move(claim);
  verifiers::CheckContext ctx;
  ctx.request_id = id;
  ctx.account_id = entry.account_id();
  ctx.recheck = true;
  config_.engine()->Verify(std::move(ctx), absl::Now() + kAttemptDeadline, shared,
                           [this, id, entry, shared](verifiers::PolicyVerdict v) mutable {
                             OnVerdict(id, entry, std::move(shared), std::move(v));
                           });
}

void Rechecker::OnVerdict(const std::string& id, const idv::store::v1::RecheckEntry& entry,
                          std::shared_ptr<identity::NormalizedClaim> claim,
                          verifiers::PolicyVerdict verdict) {
  if (IsDefinitive(verdict.outcome)) return Settle(entry, claim.get(), verdict);
  if (absl::Now() >= FromProto(entry.give_up_at())) {
    verifiers::PolicyVerdict expired = std::move(verdict);
    expired.outcome = idv::v1::UNAVAILABLE;
    expired.reason = idv::v1::AUTHORITY_TIMEOUT;
    return Settle(entry, claim.get(), expired);
  }
  Finish(id, /*settled=*/false);
}

void Rechecker::Settle(const idv::store::v1::RecheckEntry& entry,
                       const identity::NormalizedClaim* claim,
                       const verifiers::PolicyVerdict& verdict) {
  store::VerificationCommit commit;
  const absl::Time now = absl::Now();
  idv::v1::Outcome outcome;
  idv::v1::Reason reason;
  google::protobuf::RepeatedPtrField<idv::v1::Check> checks;
  FillVerdict(verdict, &outcome, &reason, &checks);
  google::protobuf::RepeatedField<int> confirmed;
  google::protobuf::RepeatedPtrField<std::string> decided_by;
  FillDecision(verdict, &confirmed, &decided_by);
  // With the claim at hand the identity's fingerprints are made afresh: a key rotation since the
  // PENDING answer moves its binding to the current version like any re-verification.
  std::vector<store::KeyedFingerprint> live;
  if (claim != nullptr) live = ToKeyed(keys_.LiveIdentityFingerprints(entry.tenant(), *claim));
  audit::RecordBuilder record = audit::RecordBuilder::Settlement(entry.verification_id(), now);
  record.By(entry.tenant(), entry.client_id())
      .Account(entry.account_id())
      .Document(entry.document_type(), entry.masked_document_number(), entry.masked_name())
      .Identity(live.empty() ? entry.identity_fingerprint() : live.front().fingerprint,
                live.empty() ? entry.key_version() : live.front().key_version)
      .Result(outcome, reason, checks, {}, /*cached=*/false)
      .Decision(confirmed, decided_by);
  if (outcome == idv::v1::VERIFIED && claim != nullptr && claim->birth_date.has_value()) {
    record.Derived(identity::Derive(*claim->birth_date, identity::TodayInChina(now)));
  }
  commit.record = std::move(record).Build();
  commit.bind = entry.bind() && outcome == idv::v1::VERIFIED;
  commit.max_accounts_per_identity = entry.max_accounts_per_identity();
  if (!live.empty()) commit.earlier_fingerprints.assign(live.begin() + 1, live.end());
  commit.settles_recheck = true;
  store_.CommitVerification(std::move(commit), [this, id = entry.verification_id()](
                                                   absl::StatusOr<store::CommitResult> result) {
    // FailedPrecondition: settled already, or re-asked by another node now. Either way not ours.
    Finish(id, /*settled=*/result.ok() || absl::IsFailedPrecondition(result.status()));
  });
}

void Rechecker::Finish(const std::string& id, bool settled) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = items_.find(id);
    if (it != items_.end()) {
      if (settled) {
        items_.erase(it);
      } else {
        it->second.in_flight = false;
        it->second.next_at = absl::Now() + it->second.backoff;
        it->second.backoff = std::min(it->second.backoff * 2, kMaxBackoff);
      }
    }
    --in_flight_;
  }
  cv_.notify_all();
}

}  // namespace idv::services
