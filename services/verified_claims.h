// A verification rendered as an OpenID Connect for Identity Assurance 1.0 `verified_claims`
// object, for relying parties that take identity assurance in that form:
//
//   {"verified_claims": {
//     "verification": {
//       "trust_framework": <configured label>,
//       "time": <decision time, RFC 3339>,
//       "verification_process": <the verification id>,
//       "evidence": [{"type": "electronic_record",
//                     "record": {"type": <document type, e.g. "cn_resident_id">},
//                     "check_details": [{"check_method": "data",      (checked against the
//                                        "organization": <backend>,   authority's records)
//                                        "txn": <the authority's request id, when it gave one>,
//                                        "time": <decision time>}, ...]}]},
//     "claims": {<only the claims asked for>}}}
//
// One check_details entry per backend that decided. idv keeps no identity data in the clear, so
// the one claim it can state afterwards is "adult" (derived from the document's birth date on
// the decision date); the birth date itself is never kept nor rendered.
#ifndef IDV_SERVICES_VERIFIED_CLAIMS_H_
#define IDV_SERVICES_VERIFIED_CLAIMS_H_

#include <string>

#include "absl/status/statusor.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "idv/v1/verification.pb.h"

namespace idv::services {

// The claims a rendering can state.
inline constexpr const char* kRenderableClaims[] = {"adult"};

// InvalidArgument naming the first claim that cannot be rendered.
absl::Status CheckClaimNames(const google::protobuf::RepeatedPtrField<std::string>& claims);

// {"verified_claims": ...} as JSON text. FailedPrecondition for a verification that is not
// VERIFIED; InvalidArgument for a claim that cannot be rendered.
absl::StatusOr<std::string> RenderVerifiedClaims(
    const idv::v1::Verification& v, const google::protobuf::RepeatedPtrField<std::string>& claims,
    const std::string& trust_framework);

}  // namespace idv::services

#endif  // IDV_SERVICES_VERIFIED_CLAIMS_H_
