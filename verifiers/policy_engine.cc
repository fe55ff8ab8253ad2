#include "verifiers/policy_engine.h"

#include "absl/strings/str_cat.h"

namespace idv::verifiers {
namespace {

constexpr absl::Duration kDefaultDeadline = absl::Seconds(3);

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

}  // namespace

// The state of one Verify call as it walks the backend list.
struct PolicyEngine::Run {
  const Route* route;
  size_t next = 0;
  CheckContext ctx;
  const identity::NormalizedClaim* claim;
  PolicyVerdict verdict;
  absl::AnyInvocable<void(PolicyVerdict) &&> done;
};

absl::StatusOr<std::unique_ptr<PolicyEngine>> PolicyEngine::Create(
    const idv::config::v1::ServerConfig& config, const VerifierRegistry& registry) {
  std::unique_ptr<PolicyEngine> engine(new PolicyEngine);
  for (const idv::config::v1::BackendConfig& b : config.backends()) {
    if (!IsValidBackendName(b.name())) {
      return absl::InvalidArgumentError(
          absl::StrCat("backend name \"", b.name(), "\" must be 1 to 64 characters of [a-z0-9_-]"));
    }
    if (engine->backends_.count(b.name()) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("backend \"", b.name(), "\" is defined twice"));
    }
    absl::StatusOr<std::unique_ptr<Verifier>> v = registry.Create(b);
    if (!v.ok()) return v.status();
    engine->backends_.emplace(b.name(), *std::move(v));
  }
  for (const idv::config::v1::Policy& p : config.policies()) {
    Route route;
    route.deadline = kDefaultDeadline;
    if (p.has_deadline()) {
      route.deadline =
          absl::Seconds(p.deadline().seconds()) + absl::Nanoseconds(p.deadline().nanos());
    }
    for (const std::string& name : p.backends()) {
      auto it = engine->backends_.find(name);
      if (it == engine->backends_.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("a policy names backend \"", name, "\", which is not defined"));
      }
      route.backends.push_back(it->second.get());
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

void PolicyEngine::Verify(std::string request_id, absl::Time request_deadline,
                          const identity::NormalizedClaim& claim,
                          absl::AnyInvocable<void(PolicyVerdict) &&> done) const {
  auto it = routes_.find(claim.document_type);
  if (it == routes_.end() || it->second.backends.empty()) {
    PolicyVerdict none;  // UNAVAILABLE / NO_AUTHORITY_CONFIGURED
    std::move(done)(std::move(none));
    return;
  }
  auto run = std::make_unique<Run>();
  run->route = &it->second;
  run->ctx.request_id = std::move(request_id);
  run->ctx.deadline = std::min(request_deadline, absl::Now() + it->second.deadline);
  run->claim = &claim;
  run->done = std::move(done);
  AskNext(std::move(run));
}

void PolicyEngine::AskNext(std::unique_ptr<Run> run) {
  const bool exhausted = run->next >= run->route->backends.size();
  if (exhausted || absl::Now() >= run->ctx.deadline) {
    PolicyVerdict& v = run->verdict;
    v.outcome = idv::v1::UNAVAILABLE;
    v.reason = (!exhausted ||
                (!v.checks.empty() && v.checks.back().result.reason == idv::v1::AUTHORITY_TIMEOUT))
                   ? idv::v1::AUTHORITY_TIMEOUT
                   : idv::v1::AUTHORITY_ERROR;
    std::move(run->done)(std::move(run->verdict));
    return;
  }
  Verifier* backend = run->route->backends[run->next++];
  Run* raw = run.release();  // owned by the callback from here on
  backend->Check(raw->ctx, *raw->claim, [raw, backend](CheckResult result) {
    std::unique_ptr<Run> run(raw);
    const bool definitive = IsDefinitive(result, backend->Info().authoritative);
    run->verdict.checks.push_back(BackendCheck{backend->Info().name, result});
    if (!definitive) {
      AskNext(std::move(run));
      return;
    }
    run->verdict.outcome = result.outcome;
    run->verdict.reason = result.reason;
    std::move(run->done)(std::move(run->verdict));
  });
}

}  // namespace idv::verifiers
