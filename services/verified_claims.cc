#include "services/verified_claims.h"

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/proto_time.h"

namespace idv::services {

absl::Status CheckClaimNames(const google::protobuf::RepeatedPtrField<std::string>& claims) {
  for (const std::string& claim : claims) {
    if (claim != "adult") {
      return absl::InvalidArgumentError(absl::StrCat(
          "verified_claims: idv cannot state \"", claim,
          "\": it keeps no identity data in the clear (and never a birth date); it can state: ",
          absl::StrJoin(kRenderableClaims, ", ")));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RenderVerifiedClaims(
    const idv::v1::Verification& v, const google::protobuf::RepeatedPtrField<std::string>& claims,
    const std::string& trust_framework) {
  if (absl::Status s = CheckClaimNames(claims); !s.ok()) return s;
  if (v.outcome() != idv::v1::VERIFIED) {
    return absl::FailedPreconditionError(
        absl::StrCat("verified_claims: verification ", v.verification_id(), " is ",
                     idv::v1::Outcome_Name(v.outcome()), "; only a VERIFIED one states claims"));
  }
  const std::string time =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", FromProto(v.decided_at()), absl::UTCTimeZone());
  nlohmann::ordered_json checks = nlohmann::ordered_json::array();
  for (const idv::v1::Check& c : v.checks()) {
    if (c.outcome() != idv::v1::VERIFIED) continue;
    bool decided = v.decided_by().empty();  // records from before decided_by: every VERIFIED
    for (const std::string& b : v.decided_by()) decided = decided || b == c.backend();
    if (!decided) continue;
    nlohmann::ordered_json check = {{"check_method", "data"}, {"organization", c.backend()}};
    if (!c.authority_request_id().empty()) check["txn"] = c.authority_request_id();
    check["time"] = time;
    checks.push_back(std::move(check));
  }
  nlohmann::ordered_json evidence = {
      {"type", "electronic_record"},
      {"record", {{"type", absl::AsciiStrToLower(idv::v1::DocumentType_Name(v.document_type()))}}}};
  if (!checks.empty()) evidence["check_details"] = std::move(checks);
  nlohmann::ordered_json stated = nlohmann::ordered_json::object();
  for (const std::string& claim : claims) {
    if (claim == "adult") stated["adult"] = v.derived().adult();
  }
  nlohmann::ordered_json out = {
      {"verified_claims",
       {{"verification",
         {{"trust_framework", trust_framework},
          {"time", time},
          {"verification_process", v.verification_id()},
          {"evidence", nlohmann::ordered_json::array({std::move(evidence)})}}},
        {"claims", std::move(stated)}}}};
  return out.dump();
}

}  // namespace idv::services
