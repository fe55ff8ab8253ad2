// verified_claims renderings: what they state, what they refuse, and that they validate against
// the OpenID Connect for Identity Assurance schema (oidc4ida/SOURCE.md), checked by Debian's
// python3-jsonschema.
#include "services/verified_claims.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "tests/support/process.h"

namespace idv::services {
namespace {

google::protobuf::RepeatedPtrField<std::string> Claims(std::vector<std::string> names) {
  google::protobuf::RepeatedPtrField<std::string> out;
  for (std::string& n : names) *out.Add() = std::move(n);
  return out;
}

idv::v1::Verification Verified() {
  idv::v1::Verification v;
  v.set_verification_id("01M86Q65Y8TGBCPYKBSNJZKMSE");
  v.set_document_type(idv::v1::CN_RESIDENT_ID);
  v.set_outcome(idv::v1::VERIFIED);
  v.mutable_decided_at()->set_seconds(1795000000);
  v.mutable_decided_at()->set_nanos(271000000);
  v.mutable_derived()->set_adult(true);
  auto* slow = v.add_checks();  // asked first, no answer
  slow->set_backend("carrier");
  slow->set_outcome(idv::v1::UNAVAILABLE);
  auto* check = v.add_checks();
  check->set_backend("id2meta");
  check->set_outcome(idv::v1::VERIFIED);
  check->set_authority_request_id("req-42");
  v.add_decided_by("id2meta");
  return v;
}

// Runs the schema check on `documents`; its exit status.
int Validate(const std::vector<std::string>& documents) {
  testing::TempDir dir;
  std::string cmd = IDV_OIDC4IDA_VALIDATE;
  for (size_t i = 0; i < documents.size(); ++i) {
    const std::string path = absl::StrCat(dir.path(), "/", i, ".json");
    std::ofstream(path) << documents[i];
    absl::StrAppend(&cmd, " ", path);
  }
  return WEXITSTATUS(std::system(cmd.c_str()));
}

TEST(VerifiedClaims, StatesWhatWasCheckedAndOnlyTheClaimsAskedFor) {
  absl::StatusOr<std::string> r =
      RenderVerifiedClaims(Verified(), Claims({"adult"}), "cn_real_name");
  ASSERT_TRUE(r.ok()) << r.status();
  const nlohmann::json j = nlohmann::json::parse(*r);
  const nlohmann::json& verification = j["verified_claims"]["verification"];
  EXPECT_EQ(verification["trust_framework"], "cn_real_name");
  EXPECT_EQ(verification["time"], "2026-11-18T11:06:40.271Z");
  EXPECT_EQ(verification["verification_process"], "01M86Q65Y8TGBCPYKBSNJZKMSE");
  const nlohmann::json& evidence = verification["evidence"][0];
  EXPECT_EQ(evidence["type"], "electronic_record");
  EXPECT_EQ(evidence["record"]["type"], "cn_resident_id");
  ASSERT_EQ(evidence["check_details"].size(), 1u);  // the backend that decided, not the other
  EXPECT_EQ(evidence["check_details"][0]["organization"], "id2meta");
  EXPECT_EQ(evidence["check_details"][0]["txn"], "req-42");
  EXPECT_EQ(j["verified_claims"]["claims"], (nlohmann::json{{"adult", true}}));
  // Nothing asked, nothing stated.
  r = RenderVerifiedClaims(Verified(), Claims({}), "x");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(nlohmann::json::parse(*r)["verified_claims"]["claims"], nlohmann::json::object());
}

TEST(VerifiedClaims, RefusesAnythingButVerifiedAndClaimsItCannotState) {
  for (idv::v1::Outcome o : {idv::v1::MISMATCH, idv::v1::NOT_FOUND, idv::v1::INVALID,
                             idv::v1::UNAVAILABLE, idv::v1::PENDING, idv::v1::REJECTED}) {
    idv::v1::Verification v = Verified();
    v.set_outcome(o);
    absl::StatusOr<std::string> r = RenderVerifiedClaims(v, Claims({"adult"}), "x");
    EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << o;
    EXPECT_NE(r.status().message().find(idv::v1::Outcome_Name(o)), std::string::npos);
  }
  for (const char* claim : {"birthdate", "name", "phone_number", ""}) {
    absl::StatusOr<std::string> r = RenderVerifiedClaims(Verified(), Claims({claim}), "x");
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << claim;
  }
}

TEST(Oidc4Ida, RenderingsMatchTheSchema) {
  std::vector<std::string> renderings;
  idv::v1::Verification minor = Verified();
  minor.mutable_derived()->set_adult(false);
  idv::v1::Verification no_txn = Verified();
  no_txn.mutable_checks(1)->clear_authority_request_id();
  idv::v1::Verification passport = Verified();
  passport.set_document_type(idv::v1::PASSPORT);
  for (const idv::v1::Verification& v : {Verified(), minor, no_txn, passport}) {
    for (const auto& claims : {Claims({"adult"}), Claims({})}) {
      absl::StatusOr<std::string> r = RenderVerifiedClaims(v, claims, "cn_real_name");
      ASSERT_TRUE(r.ok()) << r.status();
      renderings.push_back(*r);
    }
  }
  EXPECT_EQ(Validate(renderings), 0);
  // The check can fail: a rendering without its trust framework, or with a birth date that is
  // not a date, does not validate.
  nlohmann::json broken = nlohmann::json::parse(renderings[0]);
  broken["verified_claims"]["verification"].erase("trust_framework");
  EXPECT_EQ(Validate({broken.dump()}), 1);
  broken = nlohmann::json::parse(renderings[0]);
  broken["verified_claims"]["claims"]["birthdate"] = "18/11/2008";
  EXPECT_EQ(Validate({broken.dump()}), 1);
}

}  // namespace
}  // namespace idv::services
