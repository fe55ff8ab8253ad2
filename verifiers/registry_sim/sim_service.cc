#include "verifiers/registry_sim/sim_service.h"

namespace idv::sim {
namespace {

using idv::plugin::v1::CheckRequest;
using idv::plugin::v1::CheckResponse;

// A hung call is finished this long after it arrived; every caller has given up long before.
constexpr std::chrono::seconds kHang(120);

void Bump(std::atomic<uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* ctx, const grpc::Status& s) {
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(s);
  return reactor;
}

}  // namespace

Delayer::Delayer() : thread_([this] { Run(); }) {}

Delayer::~Delayer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void Delayer::After(std::chrono::milliseconds delay, std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push(Item{std::chrono::steady_clock::now() + delay, seq_++, std::move(fn)});
  }
  cv_.notify_one();
}

void Delayer::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (queue_.empty()) {
      if (stop_) return;
      cv_.wait(lock);
      continue;
    }
    const auto when = queue_.top().when;
    if (!stop_ && std::chrono::steady_clock::now() < when) {
      cv_.wait_until(lock, when);  // an earlier item or stop may wake us first
      continue;
    }
    Item item = queue_.top();
    queue_.pop();
    lock.unlock();
    item.fn();
    lock.lock();
  }
}

grpc::ServerUnaryReactor* PluginService::Describe(grpc::CallbackServerContext* ctx,
                                                  const idv::plugin::v1::DescribeRequest*,
                                                  idv::plugin::v1::DescribeResponse* resp) {
  resp->set_name(mode_ == Mode::kCarrier ? "idv-registry-sim (carrier three-element)"
                                         : "idv-registry-sim");
  resp->set_version("2");
  resp->add_document_types(idv::v1::CN_RESIDENT_ID);
  resp->add_elements(idv::plugin::v1::DOCUMENT_NUMBER);
  resp->add_elements(idv::plugin::v1::FULL_NAME);
  if (mode_ == Mode::kCarrier) resp->add_elements(idv::plugin::v1::PHONE_NUMBER);
  resp->set_authoritative(mode_ != Mode::kAdvisory);
  return FinishNow(ctx, grpc::Status::OK);
}

bool PluginService::FirstPendingCandidate(const std::string& number) {
  std::lock_guard<std::mutex> lock(pending_mu_);
  return answered_pending_.count(number) == 0;
}

grpc::ServerUnaryReactor* PluginService::Check(grpc::CallbackServerContext* ctx,
                                               const CheckRequest* req, CheckResponse* resp) {
  Bump(counters_.checks);
  const Decision d = faults_.Decide(FirstPendingCandidate(req->document_number()));
  grpc::Status status;
  switch (d.kind) {
    case Decision::kHang:
      Bump(counters_.hung);
      status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "outage");
      break;
    case Decision::kError:
      Bump(counters_.errors);
      status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "injected error");
      break;
    case Decision::kRateLimited:
      Bump(counters_.rate_limited);
      return FinishNow(ctx,
                       grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "too many requests"));
    case Decision::kPending: {
      Bump(counters_.pending);
      std::lock_guard<std::mutex> lock(pending_mu_);
      answered_pending_.insert(req->document_number());
      resp->set_verdict(idv::plugin::v1::PENDING);
      resp->set_raw_code("SIM-202");
      break;
    }
    case Decision::kAnswer:
      status = Answer(*req, resp);
      break;
  }
  const std::chrono::milliseconds delay = d.kind == Decision::kHang ? kHang : d.delay;
  if (delay.count() == 0) return FinishNow(ctx, status);
  auto* reactor = ctx->DefaultReactor();
  delayer_.After(delay, [reactor, status] { reactor->Finish(status); });
  return reactor;
}

grpc::Status PluginService::Answer(const CheckRequest& req, CheckResponse* resp) {
  if (req.document_type() != idv::v1::CN_RESIDENT_ID) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "only CN_RESIDENT_ID is held");
  }
  if (mode_ == Mode::kCarrier) {
    // A carrier knows who a mobile number is registered to, and says which elements differ.
    const Person* p = population_.FindByPhone(req.phone_number());
    if (p == nullptr) {
      Bump(counters_.not_found);
      resp->set_verdict(idv::plugin::v1::NOT_FOUND);
      resp->set_raw_code("CARRIER-PHONE-UNKNOWN");
      return grpc::Status::OK;
    }
    const bool id_ok = p->document_number == req.document_number();
    const bool name_ok = p->full_name == req.full_name();
    if (id_ok && name_ok) {
      Bump(counters_.matches);
      resp->set_verdict(idv::plugin::v1::MATCH);
      resp->set_raw_code("CARRIER-MATCH");
      resp->add_confirmed(idv::plugin::v1::DOCUMENT_NUMBER);
      resp->add_confirmed(idv::plugin::v1::FULL_NAME);
      resp->add_confirmed(idv::plugin::v1::PHONE_NUMBER);
      return grpc::Status::OK;
    }
    Bump(counters_.mismatches);
    resp->set_verdict(idv::plugin::v1::MISMATCH);
    if (!id_ok) resp->add_mismatched(idv::plugin::v1::DOCUMENT_NUMBER);
    if (!name_ok) resp->add_mismatched(idv::plugin::v1::FULL_NAME);
    resp->set_raw_code(!id_ok && !name_ok ? "CARRIER-PHONE-MATCHES-NEITHER"
                       : id_ok            ? "CARRIER-ID-MATCHES-NAME-DIFFERS"
                                          : "CARRIER-NAME-MATCHES-ID-DIFFERS");
    return grpc::Status::OK;
  }
  const Person* p = population_.Find(req.document_number());
  if (p == nullptr) {
    Bump(counters_.not_found);
    resp->set_verdict(idv::plugin::v1::NOT_FOUND);
    resp->set_raw_code("SIM-404");
  } else if (p->full_name != req.full_name()) {
    Bump(counters_.mismatches);
    resp->set_verdict(idv::plugin::v1::MISMATCH);
    resp->add_mismatched(idv::plugin::v1::FULL_NAME);
    resp->set_raw_code("SIM-409");
  } else {
    Bump(counters_.matches);
    resp->set_verdict(idv::plugin::v1::MATCH);
    resp->set_raw_code("SIM-200");
    resp->add_confirmed(idv::plugin::v1::DOCUMENT_NUMBER);
    resp->add_confirmed(idv::plugin::v1::FULL_NAME);
  }
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* ControlService::GetStats(grpc::CallbackServerContext* ctx,
                                                   const idv::sim::v1::GetStatsRequest*,
                                                   idv::sim::v1::Stats* stats) {
  auto get = [](const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  stats->set_checks_received(get(counters_.checks));
  stats->set_matches(get(counters_.matches));
  stats->set_mismatches(get(counters_.mismatches));
  stats->set_not_found(get(counters_.not_found));
  stats->set_injected_errors(get(counters_.errors));
  stats->set_rate_limited(get(counters_.rate_limited));
  stats->set_pending(get(counters_.pending));
  stats->set_hung(get(counters_.hung));
  stats->set_population(population_.size());
  return FinishNow(ctx, grpc::Status::OK);
}

grpc::ServerUnaryReactor* ControlService::SetFaults(grpc::CallbackServerContext* ctx,
                                                    const idv::sim::v1::Faults* faults,
                                                    idv::sim::v1::Faults* out) {
  absl::Status s = faults_.Set(*faults);
  if (!s.ok()) {
    return FinishNow(ctx,
                     grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(s.message())));
  }
  *out = faults_.Get();
  return FinishNow(ctx, grpc::Status::OK);
}

}  // namespace idv::sim
