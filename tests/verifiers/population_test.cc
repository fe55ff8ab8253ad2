#include "verifiers/registry_sim/population.h"

#include <gtest/gtest.h>

#include <set>

#include "identity/claim.h"
#include "identity/phone.h"

namespace idv::sim {
namespace {

TEST(PopulationTest, SameSeedSamePeopleOtherSeedOtherPeople) {
  Population a = Population::Generate(500, 42);
  Population b = Population::Generate(500, 42);
  Population c = Population::Generate(500, 43);
  ASSERT_EQ(a.size(), 500u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a.at(i).document_number, b.at(i).document_number);
    EXPECT_EQ(a.at(i).full_name, b.at(i).full_name);
  }
  EXPECT_NE(a.at(0).document_number, c.at(0).document_number);
}

TEST(PopulationTest, EveryoneHasAValidUniqueNumberAndANameThatPassesOfflineChecks) {
  Population p = Population::Generate(5000, 7);
  std::set<std::string> numbers;
  int dotted = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const Person& person = p.at(i);
    idv::v1::IdentityClaim claim;
    claim.set_document_type(idv::v1::CN_RESIDENT_ID);
    claim.set_document_number(person.document_number);
    claim.set_full_name(person.full_name);
    identity::OfflineResult r = identity::CheckClaim(claim, absl::CivilDay(2026, 1, 1));
    ASSERT_TRUE(r.ok()) << person.document_number << ": " << r.rejection->message;
    EXPECT_TRUE(numbers.insert(person.document_number).second);
    identity::FieldResult phone = identity::CheckMobileNumber(person.phone_number);
    ASSERT_TRUE(phone.ok()) << person.phone_number;
    EXPECT_EQ(phone.canonical, person.phone_number);
    EXPECT_EQ(p.FindByPhone(person.phone_number), &person);
    EXPECT_EQ(p.Find(person.document_number), &person);
    dotted += person.full_name.find("\u00b7") != std::string::npos;
  }
  EXPECT_GT(dotted, 50);  // about 3% have a minority middle dot
  EXPECT_EQ(p.Find("11010519491231002X"), nullptr);
}

}  // namespace
}  // namespace idv::sim
