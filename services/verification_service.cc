#include "services/verification_service.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <sodium.h>

#include <algorithm>
#include <mutex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit/records.h"
#include "common/proto_time.h"
#include "identity/claim.h"
#include "identity/derived.h"
#include "identity/mask.h"
#include "services/account_removal.h"
#include "services/metrics.h"
#include "services/rechecker.h"
#include "services/status.h"
#include "services/verdicts.h"
#include "services/verification_id.h"
#include "services/verified_claims.h"

namespace idv::services {
namespace {

constexpr size_t kMaxDocumentNumber = 64;
constexpr size_t kMaxName = 256;
constexpr size_t kMaxPhone = 32;
constexpr size_t kMaxCountry = 8;
constexpr size_t kMaxIdempotencyKey = 128;

// Request shape problems are call errors (INVALID_ARGUMENT), not answers about a person.
absl::Status CheckShape(const idv::v1::VerifyRequest& r) {
  if (absl::Status s = CheckAccountId(r.account_id()); !s.ok()) return s;
  if (r.idempotency_key().size() > kMaxIdempotencyKey) {
    return absl::InvalidArgumentError("idempotency_key is longer than 128 bytes");
  }
  for (unsigned char c : r.idempotency_key()) {
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError(
          "idempotency_key must be printable ASCII characters without spaces");
    }
  }
  if (!r.has_claim()) return absl::InvalidArgumentError("claim is required");
  const idv::v1::IdentityClaim& c = r.claim();
  // No claim field has a use for control characters; they would only reach logs and backends.
  for (const auto& [field, value] :
       {std::pair<const char*, const std::string*>{"claim.document_number", &c.document_number()},
        {"claim.full_name", &c.full_name()},
        {"claim.phone_number", &c.phone_number()},
        {"claim.issuing_country", &c.issuing_country()}}) {
    if (value->size() > 4096) continue;  // refused below for its length
    if (HasControlCharacter(*value)) {
      return absl::InvalidArgumentError(absl::StrCat(field, " contains a control character"));
    }
  }
  if (c.document_number().size() > kMaxDocumentNumber) {
    return absl::InvalidArgumentError("claim.document_number is longer than 64 bytes");
  }
  if (c.full_name().size() > kMaxName) {
    return absl::InvalidArgumentError("claim.full_name is longer than 256 bytes");
  }
  if (c.phone_number().size() > kMaxPhone) {
    return absl::InvalidArgumentError("claim.phone_number is longer than 32 bytes");
  }
  if (c.issuing_country().size() > kMaxCountry) {
    return absl::InvalidArgumentError("claim.issuing_country is longer than 8 bytes");
  }
  return absl::OkStatus();
}

bool HasDeadline(const grpc::CallbackServerContext& ctx) {
  const auto deadline = ctx.deadline();
  return deadline != std::chrono::system_clock::time_point::max() &&
         deadline - std::chrono::system_clock::now() < std::chrono::hours(24 * 365);
}

// The record keeps the authority's real answer; a tenant answering MISMATCH and NOT_FOUND alike
// shows the caller the uniform one (`response`: a VerifyResponse or a Verification).
template <typename Response>
void MaskForCaller(Limits* limits, const std::string& tenant, Response& response) {
  if (limits == nullptr) return;
  idv::v1::Outcome outcome = response.outcome();
  limits->MaskNotVerified(tenant, &outcome, response.mutable_reason(), response.mutable_checks());
  response.set_outcome(outcome);
}

absl::Time CallDeadline(const grpc::CallbackServerContext& ctx, absl::Duration max_call_time) {
  const absl::Time limit = absl::Now() + max_call_time;
  return std::min(limit, absl::FromChrono(ctx.deadline()));
}

// Copies an offline check's finding into an API reason.
void ToReason(const identity::Finding& f, idv::v1::Reason* reason) {
  reason->set_code(f.code);
  reason->set_field(f.field);
  reason->set_message(f.message);
}

// Overwrites the plaintext identity fields of a request that is done with.
void WipeClaim(const idv::v1::VerifyRequest& request) {
  // gRPC owns the request and hands it out const, but it is not a const object: wiping it before
  // the call finishes keeps plaintext from lingering in freed memory.
  auto* claim = const_cast<idv::v1::VerifyRequest&>(request).mutable_claim();
  identity::Wipe(*claim->mutable_document_number());
  identity::Wipe(*claim->mutable_full_name());
  identity::Wipe(*claim->mutable_phone_number());
}

}  // namespace

// One Verify in flight: offline check -> policy engine -> store -> Finish. Deletes itself after
// finishing the reactor.
class VerificationServiceImpl::VerifyCall {
 public:
  VerifyCall(VerificationServiceImpl& service, grpc::CallbackServerContext* ctx,
             std::unique_ptr<idv::v1::VerifyRequest> request, grpc::ByteBuffer* response,
             Principal principal, absl::Time start)
      : service_(service),
        start_(start),
        reactor_(ctx->DefaultReactor()),
        owned_request_(std::move(request)),
        request_(*owned_request_),
        out_(response),
        principal_(std::move(principal)),
        deadline_(CallDeadline(*ctx, service.options_.max_call_time)) {
    service_.in_flight_.fetch_add(1, std::memory_order_relaxed);
  }
  ~VerifyCall() { service_.in_flight_.fetch_sub(1, std::memory_order_relaxed); }

  grpc::ServerUnaryReactor* Start() {
    grpc::ServerUnaryReactor* reactor = reactor_;
    if (request_.idempotency_key().empty()) {
      Work();  // may finish and delete this
      return reactor;
    }
    // The key is kept under the current key version's hash, and looked up under every live
    // version's (a retry may come after a rotation).
    const crypto::KeyRing& keys = service_.keys_;
    key_version_ = keys.current_version();
    for (uint32_t v = key_version_; v >= keys.oldest_version() && v >= 1; --v) {
      const crypto::Fingerprint key = keys.IdempotencyKeyHash(
          principal_.tenant(), principal_.client_id(), request_.idempotency_key(), v);
      lookup_hashes_.emplace_back(reinterpret_cast<const char*>(key.bytes.data()),
                                  key.bytes.size());
    }
    key_hash_ = lookup_hashes_.front();
    request_digest_ = RequestDigest(key_version_);
    LookUpKey(/*after_conflict=*/false);  // may finish and delete this
    return reactor;
  }

 private:
  // Answers from the entry kept under the call's idempotency key, if there is one; otherwise
  // works on the call, or waits for the call on this node that works with the same key.
  void LookUpKey(bool after_conflict) {
    service_.store_.GetIdempotency(
        principal_.tenant(), lookup_hashes_,
        [this, after_conflict](absl::StatusOr<idv::store::v1::IdempotencyEntry> entry) {
          if (entry.ok()) {
            Replay(*entry);
            return;
          }
          if (!absl::IsNotFound(entry.status())) {
            Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                absl::StrCat("the idempotency key could not be looked up: ",
                                             entry.status().message())));
            return;
          }
          if (after_conflict) {  // the winner's entry expired meanwhile: only a retry can tell
            Finish(grpc::Status(grpc::StatusCode::ABORTED,
                                "a concurrent call with the same idempotency key won; retry"));
            return;
          }
          {
            std::lock_guard<std::mutex> lock(service_.keys_mu_);
            auto [it, first] = service_.keys_in_flight_.try_emplace(InFlightKey());
            if (!first) {
              it->second.push_back(this);  // looks again when that call finishes
              return;
            }
          }
          leads_key_ = true;
          Work();  // may finish and delete this
        });
  }

  void Replay(const idv::store::v1::IdempotencyEntry& entry) {
    const bool same_request = service_.keys_.Knows(entry.key_version()) &&
                              entry.request_digest() == (entry.key_version() == key_version_
                                                             ? request_digest_
                                                             : RequestDigest(entry.key_version()));
    if (!same_request) {
      Finish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          "the idempotency key was used before with a different request"));
      return;
    }
    if (!response_.ParseFromString(entry.response())) {
      Finish(grpc::Status(grpc::StatusCode::DATA_LOSS, "the kept answer cannot be read"));
      return;
    }
    response_.set_replayed(true);
    Finish(grpc::Status::OK);
  }

  std::string InFlightKey() const { return absl::StrCat(principal_.tenant(), "/", key_hash_); }

  // Keyed hash (under key `version`) of the request without its idempotency key, serialized
  // deterministically.
  std::string RequestDigest(uint32_t version) const {
    idv::v1::VerifyRequest copy = request_;
    copy.clear_idempotency_key();
    std::string bytes;
    {
      google::protobuf::io::StringOutputStream out(&bytes);
      google::protobuf::io::CodedOutputStream coded(&out);
      coded.SetSerializationDeterministic(true);
      copy.SerializeToCodedStream(&coded);
    }
    const crypto::Fingerprint digest =
        service_.keys_.RequestDigest(principal_.tenant(), bytes, version);
    WipeClaim(copy);
    identity::Wipe(bytes);
    return std::string(reinterpret_cast<const char*>(digest.bytes.data()), digest.bytes.size());
  }

  void Work() {
    const absl::Time now = absl::Now();
    response_.set_verification_id(NewVerificationId(now));
    identity::OfflineResult offline =
        identity::CheckClaim(request_.claim(), identity::TodayInChina(now));
    claim_ = std::make_shared<identity::NormalizedClaim>(std::move(offline.claim));
    for (const identity::Finding& n : offline.notes) ToReason(n, response_.add_notes());
    if (!offline.ok()) {
      response_.set_outcome(idv::v1::INVALID);
      ToReason(*offline.rejection, response_.mutable_reason());
      Commit();  // may finish and delete this
      return;
    }
    Limits* limits = service_.options_.limits;
    if (limits != nullptr &&
        !limits->AllowAccount(principal_.tenant(), request_.account_id(), now)) {
      Reject();
      return;
    }
    std::vector<crypto::Fingerprint> live =
        service_.keys_.LiveIdentityFingerprints(principal_.tenant(), *claim_);
    fingerprint_ = live.front();
    earlier_.assign(live.begin() + 1, live.end());
    const crypto::Fingerprint claim_fp =
        service_.keys_.ClaimFingerprint(principal_.tenant(), *claim_);
    std::shared_ptr<const verifiers::PolicyEngine> engine = service_.config_.engine();
    std::string flight(reinterpret_cast<const char*>(claim_fp.bytes.data()), claim_fp.bytes.size());
    if (engine != nullptr && engine->PerAccount(claim_->document_type)) {
      // An authority that keeps a record per account (the NPPA) must see each account: the cache
      // answers an account only with its own earlier answer, and accounts do not share a flight.
      const std::string& account = request_.account_id();
      crypto_generichash(cache_key_.data(), cache_key_.size(),
                         reinterpret_cast<const unsigned char*>(account.data()), account.size(),
                         claim_fp.bytes.data(), claim_fp.bytes.size());
      absl::StrAppend(&flight, "/", account);
    } else {
      std::copy(claim_fp.bytes.begin(), claim_fp.bytes.end(), cache_key_.begin());
    }
    if (service_.cache_ != nullptr) {
      if (std::optional<cache::CachedVerdict> hit = service_.cache_->Get(cache_key_, now)) {
        response_.set_outcome(hit->outcome);
        response_.mutable_reason()->set_code(hit->reason);
        response_.mutable_reason()->set_message(ReasonMessage(hit->reason));
        response_.set_cached(true);
        for (idv::v1::Element e : verifiers::ElementList(hit->confirmed)) {
          response_.add_confirmed_elements(e);
        }
        Commit();  // may finish and delete this
        return;
      }
    }
    // Past the cache an authority is asked, at the operator's expense: only within the
    // identity's budget, so that guessing names for one number is pointless. The budget is
    // reserved by the call that asks (calls sharing its flight share its answer and its cost).
    service_.flights_.Do(
        flight,
        [engine = std::move(engine), id = response_.verification_id(), deadline = deadline_,
         claim = claim_, limits, tenant = principal_.tenant(), account = request_.account_id(),
         identity = std::string(IdentityKey())](auto done) mutable {
          if (limits != nullptr && !limits->ReserveIdentity(tenant, identity, absl::Now())) {
            verifiers::PolicyVerdict rejected;
            rejected.outcome = idv::v1::REJECTED;
            rejected.reason = idv::v1::TOO_MANY_ATTEMPTS;
            std::move(done)(std::move(rejected));
            return;
          }
          verifiers::CheckContext ctx;
          ctx.request_id = std::move(id);
          ctx.account_id = std::move(account);
          engine->Verify(
              std::move(ctx), deadline, std::move(claim),
              [done = std::move(done), limits, tenant = std::move(tenant),
               identity = std::move(identity)](verifiers::PolicyVerdict verdict) mutable {
                if (limits != nullptr) {
                  limits->SettleIdentity(tenant, identity, verdict.outcome, absl::Now());
                }
                std::move(done)(std::move(verdict));
              });
        },
        [this](const verifiers::PolicyVerdict& verdict) { OnVerdict(verdict); });
  }

  // REJECTED without asking an authority: the account or the identity was tried too often.
  void Reject() {
    response_.set_outcome(idv::v1::REJECTED);
    response_.mutable_reason()->set_code(idv::v1::TOO_MANY_ATTEMPTS);
    response_.mutable_reason()->set_message(ReasonMessage(idv::v1::TOO_MANY_ATTEMPTS));
    Commit();  // may finish and delete this
  }

  // The identity's budget is kept under its fingerprint of the oldest live key version, which
  // a rotation does not change.
  absl::string_view IdentityKey() const {
    const crypto::Fingerprint& fp = earlier_.empty() ? fingerprint_ : earlier_.back();
    return absl::string_view(reinterpret_cast<const char*>(fp.bytes.data()), fp.bytes.size());
  }

  void OnVerdict(const verifiers::PolicyVerdict& verdict) {
    idv::v1::Outcome outcome;
    FillVerdict(verdict, &outcome, response_.mutable_reason(), response_.mutable_checks());
    FillDecision(verdict, response_.mutable_confirmed_elements(), response_.mutable_decided_by());
    response_.set_outcome(outcome);

    recheck_for_ = verdict.recheck_for;
    if (service_.cache_ != nullptr) {
      // Only definitive answers are kept (the cache ignores the rest).
      service_.cache_->Put(cache_key_,
                           {outcome, verdict.reason, static_cast<uint8_t>(verdict.confirmed)},
                           absl::Now());
    }
    Commit();
  }

  // The entry that keeps a PENDING verification for the re-checker, with the claim sealed.
  idv::store::v1::RecheckEntry RecheckEntryFor(const idv::store::v1::AuditRecord& r) const {
    idv::store::v1::RecheckEntry e;
    e.set_verification_id(r.verification_id());
    e.set_tenant(r.tenant());
    e.set_client_id(r.client_id());
    e.set_account_id(r.account_id());
    e.set_bind(request_.bind());
    e.set_max_accounts_per_identity(service_.options_.max_accounts_per_identity);
    e.set_identity_fingerprint(r.identity_fingerprint());
    e.set_key_version(r.key_version());
    e.set_document_type(r.document_type());
    e.set_masked_document_number(r.masked_document_number());
    e.set_masked_name(r.masked_name());
    std::string plain = SerializeClaim(*claim_);
    e.set_sealed_claim(service_.keys_.Seal(plain, r.verification_id()));
    identity::Wipe(plain);
    *e.mutable_give_up_at() = ToProto(absl::Now() + recheck_for_);
    return e;
  }

  void Commit() {
    const absl::Time decided = absl::Now();
    *response_.mutable_decided_at() = ToProto(decided);
    if (response_.outcome() == idv::v1::VERIFIED && claim_->birth_date.has_value()) {
      *response_.mutable_derived() =
          identity::Derive(*claim_->birth_date, identity::TodayInChina(decided));
    }
    store::VerificationCommit commit;
    audit::RecordBuilder record =
        audit::RecordBuilder::Verification(response_.verification_id(), decided);
    record.By(principal_.tenant(), principal_.client_id())
        .Account(request_.account_id())
        .Document(request_.claim().document_type(),
                  identity::MaskDocumentNumber(claim_->document_number),
                  identity::MaskName(claim_->full_name))
        .Result(response_.outcome(), response_.reason(), response_.checks(), response_.notes(),
                response_.cached())
        .Decision(response_.confirmed_elements(), response_.decided_by());
    if (fingerprint_.version != 0) {
      record.Identity(absl::string_view(reinterpret_cast<const char*>(fingerprint_.bytes.data()),
                                        fingerprint_.bytes.size()),
                      fingerprint_.version);
    }
    if (response_.has_derived()) record.Derived(response_.derived());
    commit.record = std::move(record).Build();
    // The record's decision time is the response's, to the nanosecond.
    *commit.record.mutable_decided_at() = response_.decided_at();
    const idv::store::v1::AuditRecord& r = commit.record;
    commit.bind = request_.bind() && response_.outcome() == idv::v1::VERIFIED;
    commit.max_accounts_per_identity = service_.options_.max_accounts_per_identity;
    if (commit.bind) commit.earlier_fingerprints = ToKeyed(earlier_);
    if (recheck_for_ > absl::ZeroDuration() && service_.rechecker_ != nullptr) {
      commit.recheck = RecheckEntryFor(r);
    }
    // An answer worth repeating is kept under the call's idempotency key; UNAVAILABLE is not (its
    // retry should ask again).
    if (!key_hash_.empty() && response_.outcome() != idv::v1::UNAVAILABLE) {
      idv::store::v1::IdempotencyEntry& e = commit.idempotency.emplace();
      e.set_tenant(principal_.tenant());
      e.set_key_hash(key_hash_);
      e.set_request_digest(request_digest_);
      e.set_key_version(key_version_);
      e.set_account_id(request_.account_id());
      *e.mutable_expires_at() = ToProto(decided + service_.options_.idempotency_window);
      idv::v1::VerifyResponse answered = response_;
      MaskForCaller(service_.options_.limits, principal_.tenant(), answered);
      e.set_response(answered.SerializeAsString());
    }
    // The plaintext is not needed past this point; it is wiped when the engine lets go too.
    claim_.reset();
    std::optional<idv::store::v1::RecheckEntry> recheck = commit.recheck;
    const absl::Time commit_start = absl::Now();
    service_.store_.CommitVerification(
        std::move(commit), [this, recheck = std::move(recheck),
                            commit_start](absl::StatusOr<store::CommitResult> result) mutable {
          if (result.ok() && recheck.has_value()) service_.rechecker_->Add(*std::move(recheck));
          if (Metrics* m = service_.options_.metrics; m != nullptr && result.ok()) {
            m->StoreCommitted(absl::Now() - commit_start);
            m->Verified(principal_.tenant(), request_.claim().document_type(), response_.outcome(),
                        response_.reason().code());
          }
          if (result.ok()) {
            response_.set_binding(result->binding);
            MaskForCaller(service_.options_.limits, principal_.tenant(), response_);
            Finish(grpc::Status::OK);
          } else if (absl::IsAlreadyExists(result.status()) && !key_hash_.empty()) {
            LookUpKey(/*after_conflict=*/true);  // another node's call with the key won
          } else if (absl::IsUnknown(result.status())) {
            // Possibly stored: the caller retries; the same request finds its own binding.
            Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                absl::StrCat("the outcome of the verification is unknown: ",
                                             result.status().message())));
          } else {
            Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                absl::StrCat("the verification could not be recorded: ",
                                             result.status().message())));
          }
        });
  }

  void Finish(const grpc::Status& status) {
    WipeClaim(request_);
    std::vector<VerifyCall*> waiting;
    if (leads_key_) {
      std::lock_guard<std::mutex> lock(service_.keys_mu_);
      if (auto it = service_.keys_in_flight_.find(InFlightKey());
          it != service_.keys_in_flight_.end()) {
        waiting = std::move(it->second);
        service_.keys_in_flight_.erase(it);
      }
    }
    if (status.ok()) {
      const std::string bytes = response_.SerializeAsString();
      grpc::Slice slice(bytes);
      *out_ = grpc::ByteBuffer(&slice, 1);
    }
    if (service_.verify_metrics_ != nullptr) {
      service_.verify_metrics_->Finished(status.error_code(), absl::Now() - start_);
    }
    if (AccessLog* log = service_.options_.access_log; log != nullptr) {
      log->Verify(response_.verification_id(), principal_.tenant(), principal_.client_id(),
                  status.error_code(), response_, absl::Now() - start_);
    }
    grpc::ServerUnaryReactor* reactor = reactor_;
    delete this;
    reactor->Finish(status);
    // This call's answer is durable (or was not written): the next look finds it (or a new call
    // takes the key).
    for (VerifyCall* call : waiting) call->LookUpKey(/*after_conflict=*/false);
  }

  VerificationServiceImpl& service_;
  const absl::Time start_;  // the call's arrival
  grpc::ServerUnaryReactor* const reactor_;
  const std::unique_ptr<idv::v1::VerifyRequest> owned_request_;
  const idv::v1::VerifyRequest& request_;
  grpc::ByteBuffer* const out_;  // the response's bytes, written by Finish
  idv::v1::VerifyResponse response_;
  const Principal principal_;
  const absl::Time deadline_;
  std::shared_ptr<identity::NormalizedClaim> claim_;
  crypto::Fingerprint fingerprint_;  // version 0 until computed
  // The identity's fingerprints under the earlier live key versions, newest first.
  std::vector<crypto::Fingerprint> earlier_;
  absl::Duration recheck_for_;  // non-zero: PENDING, to be re-asked
  // With an idempotency key: its keyed hash (and key version), the request's digest, and whether
  // this call holds the key on this node (keys_in_flight_).
  std::string key_hash_;
  uint32_t key_version_ = 0;
  // key_hash_ first, then the key's hashes under the earlier live key versions.
  std::vector<std::string> lookup_hashes_;
  std::string request_digest_;
  bool leads_key_ = false;
  // The claim fingerprint; with a per-account authority, a hash of it and the account.
  cache::CacheKey cache_key_{};
};

VerificationServiceImpl::VerificationServiceImpl(const Authenticator& auth,
                                                 const crypto::KeyRing& keys,
                                                 const ConfigManager& config, store::Store& store,
                                                 Rechecker* rechecker, cache::Cache* cache,
                                                 VerificationServiceOptions options)
    : auth_(auth),
      keys_(keys),
      config_(config),
      store_(store),
      rechecker_(rechecker),
      cache_(cache),
      options_(options),
      verify_metrics_(options.metrics == nullptr
                          ? nullptr
                          : &options.metrics->ForMethod("/idv.v1.VerificationService/Verify")) {}

grpc::ServerUnaryReactor* VerificationServiceImpl::Verify(grpc::CallbackServerContext* ctx,
                                                          const grpc::ByteBuffer* request_bytes,
                                                          grpc::ByteBuffer* response) {
  const absl::Time start = absl::Now();
  // Verify's calls are counted here rather than by the metrics interceptor (services/metrics.h).
  absl::StatusOr<Principal> principal = absl::UnauthenticatedError("");
  auto refuse = [&](const absl::Status& s) {
    if (verify_metrics_ != nullptr) {
      verify_metrics_->Finished(static_cast<int>(s.code()), absl::Now() - start);
    }
    if (options_.access_log != nullptr) {
      options_.access_log->Verify("", principal.ok() ? principal->tenant() : "",
                                  principal.ok() ? principal->client_id() : "",
                                  static_cast<int>(s.code()), idv::v1::VerifyResponse(),
                                  absl::Now() - start);
    }
    return FinishNow(ctx, s);
  };
  principal = auth_.Authenticate(*ctx, "Verify");
  if (!principal.ok()) return refuse(principal.status());
  // Parsed here rather than by gRPC, whose answer to bytes that do not parse is UNIMPLEMENTED
  // with no message.
  auto request = std::make_unique<idv::v1::VerifyRequest>();
  grpc::ByteBuffer copy(*request_bytes);  // shares the slices
  if (!grpc::SerializationTraits<idv::v1::VerifyRequest>::Deserialize(&copy, request.get()).ok()) {
    return refuse(absl::InvalidArgumentError(
        "the request is not an idv.v1.VerifyRequest: the bytes do not parse "
        "(or a string field is not valid UTF-8)"));
  }
  absl::Status shape = CheckShape(*request);
  if (shape.ok() && options_.require_deadline && !HasDeadline(*ctx)) {
    shape = absl::InvalidArgumentError(
        absl::StrCat("Verify needs a deadline (grpc-timeout); idvd shortens any beyond ",
                     absl::FormatDuration(options_.max_call_time)));
  }
  if (!shape.ok()) {
    WipeClaim(*request);
    return refuse(shape);
  }
  // Load shedding: past the limit a call is refused at once, so that the calls accepted keep
  // their latency instead of everyone's growing with the queue.
  if (options_.max_in_flight > 0 &&
      in_flight_.load(std::memory_order_relaxed) >= options_.max_in_flight) {
    WipeClaim(*request);
    ctx->AddTrailingMetadata("retry-after-ms", "100");
    return refuse(
        WithRetryAfter(absl::ResourceExhaustedError(absl::StrCat(
                           "this node is working on ", options_.max_in_flight,
                           " Verify calls, its limit; retry in 100 ms or on another node")),
                       absl::Milliseconds(100)));
  }
  return (new VerifyCall(*this, ctx, std::move(request), response, *std::move(principal), start))
      ->Start();
}

grpc::ServerUnaryReactor* VerificationServiceImpl::GetVerification(
    grpc::CallbackServerContext* ctx, const idv::v1::GetVerificationRequest* request,
    idv::v1::Verification* response) {
  absl::StatusOr<Principal> principal = auth_.Authenticate(*ctx, "GetVerification");
  if (!principal.ok()) return FinishNow(ctx, principal.status());
  if (!IsWellFormedVerificationId(request->verification_id())) {
    return FinishNow(ctx, absl::InvalidArgumentError(
                              "verification_id must be 26 characters of Crockford base32"));
  }
  if (absl::Status s = CheckClaimNames(request->verified_claims()); !s.ok()) {
    return FinishNow(ctx, s);
  }
  auto* reactor = ctx->DefaultReactor();
  // An auditor sees the real answer; a sign-up flow what Verify told it.
  Limits* mask = principal->Has(kRoleAudit) ? nullptr : options_.limits;
  store_.GetVerification(principal->tenant(), request->verification_id(),
                         [this, reactor, request, response, mask, tenant = principal->tenant()](
                             absl::StatusOr<idv::store::v1::AuditRecord> r) {
                           absl::Status status = r.status();
                           if (r.ok()) {
                             ToVerification(*r, response);
                             MaskForCaller(mask, tenant, *response);
                             if (!request->verified_claims().empty()) {
                               absl::StatusOr<std::string> rendered = RenderVerifiedClaims(
                                   *response, request->verified_claims(), options_.trust_framework);
                               if (rendered.ok()) {
                                 response->set_verified_claims_json(*std::move(rendered));
                               } else {
                                 status = rendered.status();
                               }
                             }
                           }
                           reactor->Finish(ToGrpcStatus(status));
                         });
  return reactor;
}

grpc::ServerUnaryReactor* VerificationServiceImpl::GetBinding(
    grpc::CallbackServerContext* ctx, const idv::v1::GetBindingRequest* request,
    idv::v1::Binding* response) {
  absl::StatusOr<Principal> principal = auth_.Authenticate(*ctx, "GetBinding");
  if (!principal.ok()) return FinishNow(ctx, principal.status());
  if (request->account_id().empty() || request->account_id().size() > kMaxAccountId) {
    return FinishNow(ctx, absl::InvalidArgumentError("account_id must be 1 to 128 bytes"));
  }
  auto* reactor = ctx->DefaultReactor();
  store_.GetAccountBinding(principal->tenant(), request->account_id(),
                           [reactor, response, account = request->account_id()](
                               absl::StatusOr<idv::store::v1::AccountBinding> b) {
                             if (b.ok()) {
                               response->set_account_id(account);
                               response->set_document_type(b->document_type());
                               response->set_masked_document_number(b->masked_document_number());
                               response->set_verification_id(b->verification_id());
                               *response->mutable_bound_at() = b->bound_at();
                               crypto::Fingerprint fp;
                               fp.version = b->key_version();
                               if (b->identity_fingerprint().size() == fp.bytes.size()) {
                                 std::copy(b->identity_fingerprint().begin(),
                                           b->identity_fingerprint().end(), fp.bytes.begin());
                               }
                               response->set_identity_fingerprint(fp.ToString());
                             }
                             reactor->Finish(ToGrpcStatus(b.status()));
                           });
  return reactor;
}

grpc::ServerUnaryReactor* VerificationServiceImpl::Unbind(grpc::CallbackServerContext* ctx,
                                                          const idv::v1::UnbindRequest* request,
                                                          idv::v1::UnbindResponse* response) {
  absl::StatusOr<Principal> principal = auth_.Authenticate(*ctx, "Unbind");
  if (!principal.ok()) return FinishNow(ctx, principal.status());
  if (absl::Status s = CheckAccountId(request->account_id()); !s.ok()) return FinishNow(ctx, s);
  store::VerificationCommit commit =
      AccountRemovalCommit(principal->tenant(), principal->client_id(), request->account_id(),
                           "Unbind", "account closed", absl::Now());
  response->set_record_id(commit.record.verification_id());
  auto* reactor = ctx->DefaultReactor();
  store_.CommitVerification(
      std::move(commit), [reactor, response](absl::StatusOr<store::CommitResult> r) {
        if (r.ok()) {
          response->set_unbound(r->binding_removed);
          response->set_idempotency_entries_removed(r->idempotency_removed);
        }
        reactor->Finish(r.ok() ? grpc::Status::OK
                               : grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                              absl::StrCat("the removal could not be recorded: ",
                                                           r.status().message())));
      });
  return reactor;
}

void ToVerification(const idv::store::v1::AuditRecord& r, idv::v1::Verification* out) {
  out->set_verification_id(r.verification_id());
  out->set_account_id(r.account_id());
  out->set_document_type(r.document_type());
  out->set_masked_document_number(r.masked_document_number());
  out->set_masked_name(r.masked_name());
  out->set_outcome(r.outcome());
  *out->mutable_reason() = r.reason();
  out->set_binding(r.binding());
  *out->mutable_checks() = r.checks();
  *out->mutable_notes() = r.notes();
  out->set_cached(r.cached());
  if (r.has_derived()) *out->mutable_derived() = r.derived();
  *out->mutable_decided_at() = r.decided_at();
  out->set_client_id(r.client_id());
  *out->mutable_confirmed_elements() = r.confirmed_elements();
  *out->mutable_decided_by() = r.decided_by();
}

}  // namespace idv::services
