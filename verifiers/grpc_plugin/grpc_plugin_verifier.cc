#include "verifiers/grpc_plugin/grpc_plugin_verifier.h"

#include <grpcpp/client_context.h>

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"

namespace idv::verifiers {
namespace {

// How long a plugin's Describe answer is used before it is asked again.
constexpr absl::Duration kDescribeFor = absl::Minutes(5);

using idv::plugin::v1::CheckRequest;
using idv::plugin::v1::CheckResponse;

const char* GrpcCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "OTHER";
  }
}

// One outstanding call. Owns everything the async RPC touches; deleted by its completion.
struct Call {
  grpc::ClientContext context;
  CheckRequest request;
  CheckResponse response;
  absl::AnyInvocable<void(CheckResult) &&> done;
  absl::Time started;

  ~Call() {
    identity::Wipe(*request.mutable_document_number());
    identity::Wipe(*request.mutable_full_name());
    identity::Wipe(*request.mutable_phone_number());
  }
};

}  // namespace

CheckResult MapPluginAnswer(const grpc::Status& status, const CheckResponse& response) {
  CheckResult r;
  if (!status.ok()) {
    r.outcome = idv::v1::UNAVAILABLE;
    r.reason = status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
                   ? idv::v1::AUTHORITY_TIMEOUT
                   : idv::v1::AUTHORITY_ERROR;
    r.raw_code = absl::StrCat("grpc:", GrpcCodeName(status.error_code()));
    return r;
  }
  r.raw_code = response.raw_code().empty() ? idv::plugin::v1::Verdict_Name(response.verdict())
                                           : response.raw_code();
  switch (response.verdict()) {
    case idv::plugin::v1::MATCH:
      r.outcome = idv::v1::VERIFIED;
      r.reason = idv::v1::ELEMENTS_MATCH;
      r.confirmed = ElementSet(response.confirmed());
      break;
    case idv::plugin::v1::MISMATCH: {
      const bool only_name =
          response.mismatched_size() == 1 && response.mismatched(0) == idv::plugin::v1::FULL_NAME;
      r.outcome = idv::v1::MISMATCH;
      r.reason = only_name ? idv::v1::NAME_MISMATCH : idv::v1::ELEMENTS_MISMATCH;
      break;
    }
    case idv::plugin::v1::NOT_FOUND:
      r.outcome = idv::v1::NOT_FOUND;
      r.reason = idv::v1::NO_RECORD;
      break;
    case idv::plugin::v1::PENDING:
      r.outcome = idv::v1::PENDING;
      r.reason = idv::v1::AUTHORITY_PENDING;
      break;
    default:
      r.outcome = idv::v1::UNAVAILABLE;
      r.reason = idv::v1::AUTHORITY_ERROR;
      break;
  }
  return r;
}

GrpcPluginVerifier::GrpcPluginVerifier(std::string name, std::shared_ptr<grpc::Channel> channel,
                                       absl::Duration timeout, bool requires_phone)
    : info_{std::move(name), /*authoritative=*/true, requires_phone,
            requires_phone ? kNumberAndName | ElementBit(idv::v1::PHONE_NUMBER) : kNumberAndName},
      timeout_(timeout),
      stub_(idv::plugin::v1::VerifierPlugin::NewStub(std::move(channel))) {}

void GrpcPluginVerifier::Probe(absl::Time deadline,
                               absl::AnyInvocable<void(absl::Status) &&> done) const {
  struct Describe {
    grpc::ClientContext context;
    idv::plugin::v1::DescribeRequest request;
    idv::plugin::v1::DescribeResponse response;
    absl::AnyInvocable<void(absl::Status) &&> done;
  };
  auto* call = new Describe;
  call->done = std::move(done);
  call->context.set_deadline(absl::ToChronoTime(deadline));
  stub_->async()->Describe(
      &call->context, &call->request, &call->response, [call](grpc::Status status) {
        absl::Status result = absl::OkStatus();
        if (!status.ok()) {
          result = absl::UnavailableError(
              absl::StrCat("backend did not answer Describe: ", status.error_message()));
        }
        auto done = std::move(call->done);
        delete call;
        std::move(done)(result);
      });
}

void GrpcPluginVerifier::WithDescribe(absl::Time deadline,
                                      absl::AnyInvocable<void(absl::StatusOr<Described>) &&> then) {
  std::optional<Described> known;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (absl::Now() - described_.at < kDescribeFor) {
      known = described_;
    } else {
      waiting_.push_back(std::move(then));
      if (describing_) return;  // the answer to the Describe in flight serves this one too
      describing_ = true;
    }
  }
  if (known.has_value()) {
    std::move(then)(*std::move(known));
    return;
  }
  struct DescribeCall {
    grpc::ClientContext context;
    idv::plugin::v1::DescribeRequest request;
    idv::plugin::v1::DescribeResponse response;
  };
  auto* call = new DescribeCall;
  call->context.set_deadline(absl::ToChronoTime(deadline));
  // `this` outlives the call: the checks waiting on it keep their policy engine, which owns this
  // verifier, alive until they are answered.
  stub_->async()->Describe(
      &call->context, &call->request, &call->response, [this, call](grpc::Status status) {
        absl::StatusOr<Described> answer = absl::UnavailableError(
            absl::StrCat("describe:grpc:", GrpcCodeName(status.error_code())));
        if (status.ok()) {
          Described d;
          d.at = absl::Now();
          d.authoritative = call->response.authoritative();
          d.elements = ElementSet(call->response.elements());
          d.document_types.assign(call->response.document_types().begin(),
                                  call->response.document_types().end());
          answer = std::move(d);
        }
        delete call;
        std::vector<absl::AnyInvocable<void(absl::StatusOr<Described>) &&>> waiting;
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (answer.ok()) described_ = *answer;
          describing_ = false;
          waiting.swap(waiting_);
        }
        for (auto& w : waiting) std::move(w)(answer);
      });
}

void GrpcPluginVerifier::Check(const CheckContext& ctx, const identity::NormalizedClaim& claim,
                               absl::AnyInvocable<void(CheckResult) &&> done) {
  const absl::Time deadline = std::min(ctx.deadline, absl::Now() + timeout_);
  WithDescribe(deadline, [this, ctx, &claim,
                          done = std::move(done)](absl::StatusOr<Described> d) mutable {
    if (!d.ok()) {
      CheckResult r;  // UNAVAILABLE / AUTHORITY_ERROR
      r.raw_code = std::string(d.status().message());
      std::move(done)(std::move(r));
      return;
    }
    if (!d->document_types.empty() && std::find(d->document_types.begin(), d->document_types.end(),
                                                claim.document_type) == d->document_types.end()) {
      CheckResult r;  // the plugin said it does not check this document type
      r.raw_code = "describe:document type not checked";
      std::move(done)(std::move(r));
      return;
    }
    Ask(ctx, claim, *d, std::move(done));
  });
}

void GrpcPluginVerifier::Ask(const CheckContext& ctx, const identity::NormalizedClaim& claim,
                             const Described& described,
                             absl::AnyInvocable<void(CheckResult) &&> done) {
  auto call = std::make_shared<Call>();
  call->done = std::move(done);
  call->started = absl::Now();
  call->context.set_deadline(absl::ToChronoTime(std::min(ctx.deadline, call->started + timeout_)));
  call->request.set_request_id(ctx.request_id);
  call->request.set_document_type(claim.document_type);
  call->request.set_document_number(claim.document_number);
  call->request.set_full_name(claim.full_name);
  call->request.set_phone_number(claim.phone_number);
  call->request.set_issuing_country(claim.issuing_country);
  if (ctx.cancellation != nullptr) {
    // Weak: a cancel after the call completed (and was freed) must find nothing to cancel.
    ctx.cancellation->OnCancel([weak = std::weak_ptr<Call>(call)] {
      if (std::shared_ptr<Call> c = weak.lock()) c->context.TryCancel();
    });
  }
  Call* raw = call.get();
  stub_->async()->Check(&raw->context, &raw->request, &raw->response,
                        [call = std::move(call), authoritative = described.authoritative,
                         elements = described.elements](grpc::Status status) mutable {
                          CheckResult result = MapPluginAnswer(status, call->response);
                          result.latency = absl::Now() - call->started;
                          result.authoritative = authoritative;
                          if (result.outcome == idv::v1::VERIFIED && result.confirmed == 0) {
                            result.confirmed = elements;  // what its Describe lists
                          }
                          auto done = std::move(call->done);
                          call.reset();  // wipes the plaintext request
                          std::move(done)(std::move(result));
                        });
}

}  // namespace idv::verifiers
