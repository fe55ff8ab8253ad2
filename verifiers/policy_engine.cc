#include "verifiers/policy_engine.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/proto_time.h"
#include "verifiers/timer.h"

namespace idv::verifiers {
namespace {

using idv::config::v1::Policy;

constexpr absl::Duration kDefaultDeadline = absl::Seconds(3);
constexpr absl::Duration kDefaultRecheckFor = absl::Hours(1);

// A name as error messages show it: at most 64 bytes of it.
std::string Shown(absl::string_view name) {
  return name.size() <= 64 ? std::string(name) : absl::StrCat(name.substr(0, 64), "...");
}

bool IsValidBackendName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool IsDefinitive(const CheckResult& r, bool authoritative) {
  if (r.outcome == idv::v1::UNAVAILABLE) return false;
  return authoritative || r.outcome != idv::v1::VERIFIED;
}

// What a match from this backend confirms when its answer does not say (nothing for a
// backend that is not authoritative).
Elements ConfirmedByDefault(const VerifierInfo& info) {
  if (!info.authoritative) return 0;
  return info.elements != 0 ? info.elements : kNumberAndName;
}

bool IsNegative(idv::v1::Outcome o) { return o == idv::v1::MISMATCH || o == idv::v1::NOT_FOUND; }

CircuitBreakerOptions BreakerOptions(const idv::config::v1::CircuitBreakerConfig& c) {
  CircuitBreakerOptions o;
  if (c.disabled()) o.failure_rate = 0;
  if (c.failure_rate() > 0) o.failure_rate = c.failure_rate();
  if (c.min_calls() > 0) o.min_calls = c.min_calls();
  if (c.window() > 0) o.window = c.window();
  if (c.has_open_for()) o.open_for = FromProto(c.open_for());
  return o;
}

}  // namespace

// One Verify: asks backends as the strategy says and decides once. Shared by the callbacks of
// every backend call it made; the first decision wins and cancels the calls still out.
class PolicyEngine::Run : public std::enable_shared_from_this<Run> {
 public:
  Run(std::shared_ptr<const PolicyEngine> engine, const Route& route, CheckContext ctx,
      std::shared_ptr<const identity::NormalizedClaim> claim,
      absl::AnyInvocable<void(PolicyVerdict) &&> done)
      : engine_(std::move(engine)),
        route_(route),
        ctx_(std::move(ctx)),
        claim_(std::move(claim)),
        done_(std::move(done)) {
    for (const auto& b : route_.backends) {
      if (!b->Info().requires_phone || !claim_->phone_number.empty()) eligible_.push_back(b.get());
    }
  }

  void Start() {
    if ((route_.required & ElementBit(idv::v1::PHONE_NUMBER)) != 0 &&
        claim_->phone_number.empty()) {
      PolicyVerdict invalid;  // the claim cannot be confirmed as the policy requires
      invalid.outcome = idv::v1::INVALID;
      invalid.reason = idv::v1::FIELD_MISSING;
      std::move(done_)(std::move(invalid));
      return;
    }
    if (eligible_.empty()) {
      std::move(done_)(PolicyVerdict{});  // UNAVAILABLE / NO_AUTHORITY_CONFIGURED
      return;
    }
    if (route_.strategy == Policy::FIRST_DEFINITIVE) {
      Launch(NextIndex());
      return;
    }
    std::vector<size_t> all;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (; next_ < eligible_.size(); ++next_) all.push_back(next_);
      outstanding_ = static_cast<int>(all.size());
    }
    for (size_t i : all) Ask(i);
  }

 private:
  // Reserves the next backend for FIRST_DEFINITIVE, or returns the backend count if none is left.
  size_t NextIndex() {
    std::lock_guard<std::mutex> lock(mu_);
    if (decided_ || next_ >= eligible_.size() || absl::Now() >= ctx_.deadline) {
      return eligible_.size();
    }
    ++outstanding_;
    return next_++;
  }

  void Launch(size_t i) {
    if (i >= eligible_.size()) {
      DecideIfIdle();
      return;
    }
    if (route_.hedge_after > absl::ZeroDuration() && i + 1 < eligible_.size()) {
      Timer::Shared().At(absl::Now() + route_.hedge_after, [run = shared_from_this(), i] {
        bool hedge;
        {
          std::lock_guard<std::mutex> lock(run->mu_);
          hedge = !run->decided_ && run->next_ == i + 1;  // still waiting on backend i alone
        }
        if (hedge) run->Launch(run->NextIndex());
      });
    }
    Ask(i);
  }

  void Ask(size_t i) {
    auto cancellation = std::make_shared<Cancellation>();
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancellations_.push_back(cancellation);
    }
    CheckContext ctx = ctx_;
    ctx.cancellation = std::move(cancellation);
    GuardedVerifier* backend = eligible_[i];
    backend->Check(ctx, *claim_, [run = shared_from_this(), backend](CheckResult r) {
      run->OnResult(*backend, std::move(r));
    });
  }

  void OnResult(const GuardedVerifier& backend, CheckResult r) {
    const bool authoritative = backend.Info().authoritative && r.authoritative;
    bool definitive = IsDefinitive(r, authoritative);
    if (r.outcome != idv::v1::VERIFIED || !authoritative) {
      r.confirmed = 0;
    } else if (r.confirmed == 0) {
      r.confirmed = ConfirmedByDefault(backend.Info());
    }
    const std::string& name = backend.Info().name;
    bool ask_next = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (decided_) return;  // a loser: the decision was made without it
      --outstanding_;
      verdict_.checks.push_back(BackendCheck{name, r});
      if (r.reason == idv::v1::AUTHORITY_TIMEOUT) timed_out_ = true;
      switch (route_.strategy) {
        case Policy::FIRST_DEFINITIVE:
          // A match that left a required element unconfirmed decides nothing: ask the next.
          if (definitive && r.outcome == idv::v1::VERIFIED &&
              (r.confirmed & route_.required) != route_.required) {
            unconfirmed_ = true;
            definitive = false;
          }
          if (definitive) return Decide(lock, r.outcome, r.reason, {name}, r.confirmed);
          ask_next = true;
          break;
        case Policy::ALL_AGREE:
          if (definitive && r.outcome != idv::v1::VERIFIED)
            return Decide(lock, r.outcome, r.reason, {name});
          if (definitive) {
            agreeing_.push_back(name);
            agreed_ |= r.confirmed;
          }
          if (outstanding_ == 0 && agreeing_.size() == eligible_.size()) {
            return DecideVerified(lock, agreeing_, agreed_);
          }
          break;
        case Policy::QUORUM:
          if (definitive) {
            Votes& v = votes_[r.outcome];
            v.backends.push_back(name);
            v.confirmed |= r.confirmed;
            v.reason = r.reason;
            if (v.backends.size() >= route_.quorum) {
              if (r.outcome == idv::v1::VERIFIED) {
                return DecideVerified(lock, v.backends, v.confirmed);
              }
              return Decide(lock, r.outcome, r.reason, v.backends);
            }
          }
          break;
        default:
          break;
      }
    }
    if (ask_next) {
      Launch(NextIndex());
    } else {
      DecideIfIdle();
    }
  }

  // With nothing left in flight and nothing left to ask, decides on what was heard.
  void DecideIfIdle() {
    std::unique_lock<std::mutex> lock(mu_);
    if (decided_ || outstanding_ > 0) return;
    if (route_.strategy == Policy::FIRST_DEFINITIVE && next_ < eligible_.size() &&
        absl::Now() < ctx_.deadline) {
      return;  // Launch is about to ask the next one
    }
    if (route_.strategy == Policy::QUORUM) {
      // No quorum: the most common negative answer, if any authority gave one.
      idv::v1::Outcome best = idv::v1::OUTCOME_UNSPECIFIED;
      for (const auto& [outcome, v] : votes_) {
        if (IsNegative(outcome) && (best == idv::v1::OUTCOME_UNSPECIFIED ||
                                    v.backends.size() > votes_[best].backends.size())) {
          best = outcome;
        }
      }
      if (best != idv::v1::OUTCOME_UNSPECIFIED) {
        return Decide(lock, best, votes_[best].reason, votes_[best].backends);
      }
    }
    const bool timeout = timed_out_ || absl::Now() >= ctx_.deadline;
    Decide(lock, idv::v1::UNAVAILABLE,
           unconfirmed_ ? idv::v1::ELEMENTS_NOT_CONFIRMED
           : timeout    ? idv::v1::AUTHORITY_TIMEOUT
                        : idv::v1::AUTHORITY_ERROR);
  }

  // VERIFIED by `backends`, which together confirmed `confirmed`; UNAVAILABLE
  // (ELEMENTS_NOT_CONFIRMED) when that is short of the policy's required elements.
  template <typename Lock>
  void DecideVerified(Lock& lock, std::vector<std::string> backends, Elements confirmed) {
    if ((confirmed & route_.required) != route_.required) {
      unconfirmed_ = true;
      return Decide(lock, idv::v1::UNAVAILABLE, idv::v1::ELEMENTS_NOT_CONFIRMED);
    }
    Decide(lock, idv::v1::VERIFIED, idv::v1::ELEMENTS_MATCH, std::move(backends), confirmed);
  }

  // REQUIRES: `lock` holds mu_ and nothing was decided yet. Releases it.
  template <typename Lock>
  void Decide(Lock& lock, idv::v1::Outcome outcome, idv::v1::ReasonCode reason,
              std::vector<std::string> decided_by = {}, Elements confirmed = 0) {
    decided_ = true;
    if (outcome != idv::v1::UNAVAILABLE) verdict_.decided_by = std::move(decided_by);
    if (outcome == idv::v1::VERIFIED) verdict_.confirmed = confirmed;
    if (outcome == idv::v1::UNAVAILABLE && route_.pending_on_no_answer) {
      outcome = idv::v1::PENDING;
      reason = idv::v1::QUEUED_FOR_RECHECK;
    }
    if (outcome == idv::v1::PENDING) verdict_.recheck_for = route_.recheck_for;
    verdict_.outcome = outcome;
    verdict_.reason = reason;
    std::vector<std::shared_ptr<Cancellation>> cancellations;
    cancellations.swap(cancellations_);
    PolicyVerdict verdict = std::move(verdict_);
    auto done = std::move(done_);
    lock.unlock();
    for (auto& c : cancellations) c->Cancel();  // the calls still out are no longer needed
    std::move(done)(std::move(verdict));
  }

  const std::shared_ptr<const PolicyEngine> engine_;  // keeps the route and backends alive
  const Route& route_;
  const CheckContext ctx_;
  const std::shared_ptr<const identity::NormalizedClaim> claim_;
  // The route's backends this claim can be sent to, in order.
  std::vector<GuardedVerifier*> eligible_;

  std::mutex mu_;
  absl::AnyInvocable<void(PolicyVerdict) &&> done_;  // guarded by mu_
  bool decided_ = false;                             // guarded by mu_
  size_t next_ = 0;                                  // guarded by mu_
  int outstanding_ = 0;                              // guarded by mu_
  bool timed_out_ = false;                           // guarded by mu_
  // A match was set aside for confirming too little.
  bool unconfirmed_ = false;  // guarded by mu_
  // ALL_AGREE: the backends that said VERIFIED, and what they confirmed together.
  std::vector<std::string> agreeing_;  // guarded by mu_
  Elements agreed_ = 0;                // guarded by mu_
  // QUORUM: each definitive outcome's backends, what they confirmed, and the last reason.
  struct Votes {
    std::vector<std::string> backends;
    Elements confirmed = 0;
    idv::v1::ReasonCode reason = idv::v1::REASON_CODE_UNSPECIFIED;
  };
  std::map<idv::v1::Outcome, Votes> votes_;                   // guarded by mu_
  std::vector<std::shared_ptr<Cancellation>> cancellations_;  // guarded by mu_
  PolicyVerdict verdict_;                                     // guarded by mu_
};

absl::StatusOr<std::shared_ptr<PolicyEngine>> PolicyEngine::Create(
    const google::protobuf::RepeatedPtrField<idv::config::v1::BackendConfig>& backends,
    const google::protobuf::RepeatedPtrField<idv::config::v1::Policy>& policies,
    const VerifierRegistry& registry, const PolicyEngine* previous) {
  std::shared_ptr<PolicyEngine> engine(new PolicyEngine);
  for (const idv::config::v1::BackendConfig& b : backends) {
    if (!IsValidBackendName(b.name())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "backend name \"", Shown(b.name()), "\" must be 1 to 64 characters of [a-z0-9_-]"));
    }
    if (engine->backends_.count(b.name()) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("backend \"", b.name(), "\" is defined twice"));
    }
    Backend backend{b.SerializeAsString(), nullptr};
    if (previous != nullptr) {
      auto it = previous->backends_.find(b.name());
      if (it != previous->backends_.end() && it->second.config == backend.config) {
        backend.verifier = it->second.verifier;
      }
    }
    if (backend.verifier == nullptr) {
      absl::StatusOr<std::unique_ptr<Verifier>> v = registry.Create(b);
      if (!v.ok()) return v.status();
      CircuitBreakerOptions breaker = BreakerOptions(b.breaker());
      breaker.on_transition = [name = b.name()](const char* from, const char* to,
                                                const std::string& why) {
        if (std::string(to) == "open") {
          spdlog::warn("backend {}: circuit breaker {} -> {} ({})", name, from, to, why);
        } else {
          spdlog::info("backend {}: circuit breaker {} -> {} ({})", name, from, to, why);
        }
      };
      backend.verifier =
          std::make_shared<GuardedVerifier>(*std::move(v), b.max_in_flight(), std::move(breaker));
    }
    engine->backends_.emplace(b.name(), std::move(backend));
  }
  for (const Policy& p : policies) {
    // Policies without a name were accepted before names were checked; named ones must be short
    // and plain (they are shown in listings, diffs and the audit trail).
    if (!p.name().empty() && !IsValidBackendName(p.name())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "policy name \"", Shown(p.name()), "\" must be 1 to 64 characters of [a-z0-9_-]"));
    }
    Route route;
    for (int e : p.required_elements()) {
      if (!idv::v1::Element_IsValid(e) || e == idv::v1::ELEMENT_UNSPECIFIED) {
        return absl::InvalidArgumentError(
            absl::StrCat("policy \"", p.name(), "\" requires an unknown element (", e, ")"));
      }
      route.required |= ElementBit(static_cast<idv::v1::Element>(e));
    }
    route.deadline = p.has_deadline() ? FromProto(p.deadline()) : kDefaultDeadline;
    route.strategy = p.strategy();
    route.hedge_after = FromProto(p.hedge_after());
    route.pending_on_no_answer = p.on_no_answer() == Policy::ANSWER_PENDING;
    route.recheck_for = p.has_recheck_for() ? FromProto(p.recheck_for()) : kDefaultRecheckFor;
    for (const std::string& name : p.backends()) {
      auto it = engine->backends_.find(name);
      if (it == engine->backends_.end()) {
        return absl::InvalidArgumentError(absl::StrCat("policy \"", p.name(), "\" names backend \"",
                                                       Shown(name), "\", which is not defined"));
      }
      route.backends.push_back(it->second.verifier);
      route.per_account = route.per_account || it->second.verifier->Info().per_account;
    }
    // A required element no backend of the policy can confirm would make every answer
    // UNAVAILABLE: refused, as a policy without a backend is.
    Elements can = 0;
    for (const auto& b : route.backends) can |= ConfirmedByDefault(b->Info());
    if ((can & route.required) != route.required) {
      std::vector<std::string> missing;
      for (idv::v1::Element e : ElementList(route.required & ~can)) {
        missing.push_back(idv::v1::Element_Name(e));
      }
      return absl::InvalidArgumentError(
          absl::StrCat("policy \"", p.name(), "\" requires ", absl::StrJoin(missing, ", "),
                       ", which none of its backends confirms (a carrier backend has "
                       "requires_phone)"));
    }
    if (p.strategy() == Policy::QUORUM) {
      if (p.quorum() == 0 || p.quorum() > route.backends.size()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "policy \"", p.name(), "\": quorum must be between 1 and its number of backends"));
      }
      route.quorum = p.quorum();
    }
    for (int t : p.document_types()) {
      const auto type = static_cast<idv::v1::DocumentType>(t);
      if (!engine->routes_.emplace(type, route).second) {
        return absl::InvalidArgumentError(absl::StrCat(
            "document type ", idv::v1::DocumentType_Name(type), " is in two policies"));
      }
    }
  }
  return engine;
}

void PolicyEngine::Verify(CheckContext ctx, absl::Time request_deadline,
                          std::shared_ptr<const identity::NormalizedClaim> claim,
                          absl::AnyInvocable<void(PolicyVerdict) &&> done) const {
  auto it = routes_.find(claim->document_type);
  if (it == routes_.end() || it->second.backends.empty()) {
    std::move(done)(PolicyVerdict{});  // UNAVAILABLE / NO_AUTHORITY_CONFIGURED
    return;
  }
  ctx.deadline = std::min(request_deadline, absl::Now() + it->second.deadline);
  auto run = std::make_shared<Run>(shared_from_this(), it->second, std::move(ctx), std::move(claim),
                                   std::move(done));
  run->Start();
}

bool PolicyEngine::PerAccount(idv::v1::DocumentType type) const {
  auto it = routes_.find(type);
  return it != routes_.end() && it->second.per_account;
}

const GuardedVerifier* PolicyEngine::backend(const std::string& name) const {
  auto it = backends_.find(name);
  return it == backends_.end() ? nullptr : it->second.verifier.get();
}

}  // namespace idv::verifiers
