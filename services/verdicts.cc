#include "services/verdicts.h"

namespace idv::services {

const char* ReasonMessage(idv::v1::ReasonCode code) {
  switch (code) {
    case idv::v1::ELEMENTS_MATCH:
      return "The authority confirmed the identity.";
    case idv::v1::NAME_MISMATCH:
      return "The name does not match the document number.";
    case idv::v1::ELEMENTS_MISMATCH:
      return "The identity elements do not match.";
    case idv::v1::NO_RECORD:
      return "The authority has no record of this document number.";
    case idv::v1::AUTHORITY_PENDING:
      return "The authority will answer later.";
    case idv::v1::QUEUED_FOR_RECHECK:
      return "No authority answered in time; idv will ask again. Check GetVerification later.";
    case idv::v1::AUTHORITY_TIMEOUT:
      return "No authority answered in time; try again later.";
    case idv::v1::AUTHORITY_ERROR:
      return "No authority could be reached; try again later.";
    case idv::v1::NO_AUTHORITY_CONFIGURED:
      return "No authority checks this document type.";
    case idv::v1::ELEMENTS_NOT_CONFIRMED:
      return "No authority that confirms every element the policy requires answered; try again "
             "later.";
    case idv::v1::TOO_MANY_ATTEMPTS:
      return "This identity or account was tried too often lately; try again later.";
    default:
      return "";
  }
}

void FillVerdict(const verifiers::PolicyVerdict& verdict, idv::v1::Outcome* outcome,
                 idv::v1::Reason* reason,
                 google::protobuf::RepeatedPtrField<idv::v1::Check>* checks) {
  *outcome = verdict.outcome;
  reason->set_code(verdict.reason);
  reason->set_message(ReasonMessage(verdict.reason));
  for (const verifiers::BackendCheck& c : verdict.checks) {
    idv::v1::Check* check = checks->Add();
    check->set_backend(c.backend);
    check->set_outcome(c.result.outcome);
    check->set_raw_code(c.result.raw_code);
    check->set_authority_request_id(c.result.authority_request_id);
    check->set_latency_us(static_cast<uint64_t>(absl::ToInt64Microseconds(c.result.latency)));
    for (idv::v1::Element e : verifiers::ElementList(c.result.confirmed)) check->add_confirmed(e);
  }
}

void FillDecision(const verifiers::PolicyVerdict& verdict,
                  google::protobuf::RepeatedField<int>* confirmed_elements,
                  google::protobuf::RepeatedPtrField<std::string>* decided_by) {
  for (idv::v1::Element e : verifiers::ElementList(verdict.confirmed)) confirmed_elements->Add(e);
  for (const std::string& b : verdict.decided_by) *decided_by->Add() = b;
}

std::vector<store::KeyedFingerprint> ToKeyed(const std::vector<crypto::Fingerprint>& fps) {
  std::vector<store::KeyedFingerprint> out;
  out.reserve(fps.size());
  for (const crypto::Fingerprint& fp : fps) {
    out.push_back(
        {fp.version, std::string(reinterpret_cast<const char*>(fp.bytes.data()), fp.bytes.size())});
  }
  return out;
}

}  // namespace idv::services
