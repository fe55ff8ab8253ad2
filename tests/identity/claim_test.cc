#include "identity/claim.h"

#include <gtest/gtest.h>

#include "identity/derived.h"
#include "identity/mask.h"
#include "identity/normalize.h"

namespace idv::identity {
namespace {

const absl::CivilDay kToday(2026, 11, 22);

idv::v1::IdentityClaim Claim(const std::string& number, const std::string& name,
                             const std::string& phone = "") {
  idv::v1::IdentityClaim c;
  c.set_document_type(idv::v1::CN_RESIDENT_ID);
  c.set_document_number(number);
  c.set_full_name(name);
  c.set_phone_number(phone);
  return c;
}

TEST(ClaimTest, NormalizesEveryField) {
  OfflineResult r =
      CheckClaim(Claim("11010519491231002x", " 阿依古丽・买买提 ", "138 0013 8000"), kToday);
  ASSERT_TRUE(r.ok()) << r.rejection->message;
  EXPECT_EQ(r.claim.document_number, "11010519491231002X");
  EXPECT_EQ(r.claim.full_name, "阿依古丽\u00b7买买提");
  EXPECT_EQ(r.claim.phone_number, "+8613800138000");
  EXPECT_EQ(r.claim.birth_date, absl::CivilDay(1949, 12, 31));
}

TEST(ClaimTest, ReportsTheFirstBadFieldInOrder) {
  EXPECT_EQ(CheckClaim(Claim("1", "3", "x"), kToday).rejection->field, "claim.document_number");
  EXPECT_EQ(CheckClaim(Claim("11010519491231002X", "3", "x"), kToday).rejection->field,
            "claim.full_name");
  EXPECT_EQ(CheckClaim(Claim("11010519491231002X", "张三", "x"), kToday).rejection->field,
            "claim.phone_number");
  EXPECT_TRUE(CheckClaim(Claim("11010519491231002X", "张三"), kToday).ok());  // phone optional
  idv::v1::IdentityClaim unset = Claim("11010519491231002X", "张三");
  unset.set_document_type(idv::v1::DOCUMENT_TYPE_UNSPECIFIED);
  EXPECT_EQ(CheckClaim(unset, kToday).rejection->field, "claim.document_type");
  unset.set_document_type(static_cast<idv::v1::DocumentType>(99));
  EXPECT_EQ(CheckClaim(unset, kToday).rejection->field, "claim.document_type");
}

TEST(ClaimTest, PassportCarriesItsCountry) {
  idv::v1::IdentityClaim c;
  c.set_document_type(idv::v1::PASSPORT);
  c.set_document_number("e1234 5678");
  c.set_full_name("Li Lei");
  c.set_issuing_country("chn");
  OfflineResult r = CheckClaim(c, kToday);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.claim.issuing_country, "CHN");
  EXPECT_EQ(r.claim.document_number, "E12345678");
  EXPECT_FALSE(r.claim.birth_date.has_value());
}

TEST(ClaimTest, NotesPassThrough) {
  OfflineResult r = CheckClaim(Claim("110199198001010016", "张三"), kToday);
  ASSERT_TRUE(r.ok()) << r.rejection->message;
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_EQ(r.notes[0].code, idv::v1::ADDRESS_CODE_UNLISTED);
}

TEST(NormalizeTest, NamesAreNfkcTrimmedAndSingleSpaced) {
  EXPECT_EQ(NormalizeName("  John   Smith "), "John Smith");
  EXPECT_EQ(NormalizeName("ＪＯＨＮ"), "JOHN");
  EXPECT_EQ(NormalizeName("张\u3000三"), "张 三");
  EXPECT_FALSE(NormalizeName("\xe4\xb8").has_value());
}

// Masking rules are part of the audit trail's contract (see identity/mask.h).
TEST(MaskTest, KeepsFirstThreeAndLastFourAndTheFirstCharacterOfNames) {
  EXPECT_EQ(MaskDocumentNumber("11010519491231002X"), "110***********002X");
  EXPECT_EQ(MaskDocumentNumber("E12345678"), "E12**5678");
  EXPECT_EQ(MaskDocumentNumber("1234567"), "*******");
  EXPECT_EQ(MaskDocumentNumber(""), "");
  EXPECT_EQ(MaskName("张三丰"), "张*");
  EXPECT_EQ(MaskName("阿依古丽\u00b7买买提"), "阿*");
  EXPECT_EQ(MaskName("\U00020000三"), "\U00020000*");  // a 4-byte character stays whole
  EXPECT_EQ(MaskName("JOHN SMITH"), "J*");
  EXPECT_EQ(MaskName(""), "");
}

TEST(DerivedTest, AgeBandsOnTheDecisionDate) {
  const absl::CivilDay birth(2008, 11, 23);
  EXPECT_EQ(AgeOn(birth, absl::CivilDay(2026, 11, 22)), 17);
  EXPECT_EQ(AgeOn(birth, absl::CivilDay(2026, 11, 23)), 18);
  EXPECT_FALSE(Derive(birth, absl::CivilDay(2026, 11, 22)).adult());
  EXPECT_EQ(Derive(birth, absl::CivilDay(2026, 11, 22)).age_band(), idv::v1::AGE_16_TO_17);
  EXPECT_TRUE(Derive(birth, absl::CivilDay(2026, 11, 23)).adult());
  EXPECT_EQ(Derive(absl::CivilDay(2019, 1, 1), absl::CivilDay(2026, 12, 31)).age_band(),
            idv::v1::UNDER_8);
  EXPECT_EQ(Derive(absl::CivilDay(2018, 1, 1), absl::CivilDay(2026, 1, 1)).age_band(),
            idv::v1::AGE_8_TO_15);
  // Born on 29 February: a year older on 1 March of a common year.
  EXPECT_EQ(AgeOn(absl::CivilDay(2008, 2, 29), absl::CivilDay(2026, 2, 28)), 17);
  EXPECT_EQ(AgeOn(absl::CivilDay(2008, 2, 29), absl::CivilDay(2026, 3, 1)), 18);
}

TEST(DerivedTest, TodayInChinaIsUtcPlusEight) {
  const absl::Time t =
      absl::FromCivil(absl::CivilSecond(2026, 11, 22, 16, 30, 0), absl::UTCTimeZone());
  EXPECT_EQ(TodayInChina(t), absl::CivilDay(2026, 11, 23));
}

}  // namespace
}  // namespace idv::identity
