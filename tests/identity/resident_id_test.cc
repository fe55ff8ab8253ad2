#include "identity/resident_id.h"

#include <gtest/gtest.h>

#include "identity/claim.h"
#include "identity/derived.h"
#include "identity/mask.h"
#include "identity/normalize.h"

namespace idv::identity {
namespace {

const absl::CivilDay kToday(2026, 11, 22);

idv::v1::IdentityClaim Claim(const std::string& number, const std::string& name = "张三") {
  idv::v1::IdentityClaim c;
  c.set_document_type(idv::v1::CN_RESIDENT_ID);
  c.set_document_number(number);
  c.set_full_name(name);
  return c;
}

idv::v1::ReasonCode Code(const std::string& number) {
  OfflineResult r = CheckClaim(Claim(number), kToday);
  return r.ok() ? idv::v1::REASON_CODE_UNSPECIFIED : r.rejection->code;
}

TEST(ResidentIdTest, CheckCharacterFollowsIso7064Mod11_2) {
  // The worked example of GB 11643-1999: 11010519491231002 -> X.
  EXPECT_EQ(ResidentIdCheckCharacter("11010519491231002"), 'X');
  EXPECT_EQ(ResidentIdCheckCharacter("44052418800101001"), '4');
  // 1*7+1*9+1*5+1*4+1*2+9*1+9*6+3*9+7*5+1*2 = 154 = 14*11 + 0 -> '1'.
  EXPECT_EQ(ResidentIdCheckCharacter("11010119900307001"), '1');
}

TEST(ResidentIdTest, AcceptsValidNumberAndReadsBirthDate) {
  OfflineResult r = CheckClaim(Claim("11010519491231002X"), kToday);
  ASSERT_TRUE(r.ok()) << r.rejection->message;
  EXPECT_EQ(r.claim.document_number, "11010519491231002X");
  EXPECT_EQ(r.claim.birth_date, absl::CivilDay(1949, 12, 31));
}

TEST(ResidentIdTest, EveryRejectionReason) {
  EXPECT_EQ(Code(""), idv::v1::FIELD_MISSING);
  EXPECT_EQ(Code("110105491231002"), idv::v1::LEGACY_FORMAT);
  EXPECT_EQ(Code("11010519491231002"), idv::v1::INVALID_LENGTH);
  EXPECT_EQ(Code("11010519491231002XX"), idv::v1::INVALID_LENGTH);
  EXPECT_EQ(Code("1101051949123100AX"), idv::v1::INVALID_CHARACTER);
  EXPECT_EQ(Code("11010519491231002Y"), idv::v1::INVALID_CHARACTER);
  EXPECT_EQ(Code("99010519491231002X"), idv::v1::INVALID_REGION);
  EXPECT_EQ(Code("110105194902300028"), idv::v1::INVALID_DATE);  // 30 February
  EXPECT_EQ(Code("110105189912310020"), idv::v1::INVALID_DATE);  // before 1900
  EXPECT_EQ(Code("110105203001010020"), idv::v1::INVALID_DATE);  // future
  EXPECT_EQ(Code("110105194912310021"), idv::v1::INVALID_CHECK_CHARACTER);
}

TEST(ResidentIdTest, TodayIsAcceptedTomorrowIsNot) {
  std::string today = "11010520261122001";
  today.push_back(ResidentIdCheckCharacter(today));
  EXPECT_EQ(Code(today), idv::v1::REASON_CODE_UNSPECIFIED);
  std::string tomorrow = "11010520261123001";
  tomorrow.push_back(ResidentIdCheckCharacter(tomorrow));
  EXPECT_EQ(Code(tomorrow), idv::v1::INVALID_DATE);
}

TEST(ResidentIdTest, LeapDays) {
  std::string leap = "11010520000229001";
  leap.push_back(ResidentIdCheckCharacter(leap));
  EXPECT_EQ(Code(leap), idv::v1::REASON_CODE_UNSPECIFIED);
  std::string not_leap = "11010519000229001";  // 1900 is not a leap year
  not_leap.push_back(ResidentIdCheckCharacter(not_leap));
  EXPECT_EQ(Code(not_leap), idv::v1::INVALID_DATE);
}

TEST(ResidentIdTest, FullWidthSpacedAndLowerCaseInputsShareOneCanonicalForm) {
  const std::string canonical = "11010519491231002X";
  for (const std::string& typed : {
           std::string("11010519491231002x"),
           std::string("１１０１０５１９４９１２３１００２Ｘ"),
           std::string("１１０１０５１９４９１２３１００２ｘ"),
           std::string(" 110105 19491231 002X "),
           std::string("110105-19491231-002x"),
           std::string("110105\u300019491231002X"),
       }) {
    OfflineResult r = CheckClaim(Claim(typed), kToday);
    ASSERT_TRUE(r.ok()) << typed;
    EXPECT_EQ(r.claim.document_number, canonical) << typed;
  }
}

TEST(ClaimTest, RejectsInvalidUtf8AndBadNames) {
  EXPECT_EQ(CheckClaim(Claim("\xff\xfe"), kToday).rejection->code, idv::v1::INVALID_CHARACTER);
  auto name_code = [](const std::string& name) {
    OfflineResult r = CheckClaim(Claim("11010519491231002X", name), kToday);
    return r.ok() ? idv::v1::REASON_CODE_UNSPECIFIED : r.rejection->code;
  };
  EXPECT_EQ(name_code(""), idv::v1::FIELD_MISSING);
  EXPECT_EQ(name_code("   "), idv::v1::FIELD_MISSING);
  EXPECT_EQ(name_code("张3"), idv::v1::INVALID_NAME);
  EXPECT_EQ(name_code("张\u200b三"), idv::v1::INVALID_NAME);  // zero-width space
  EXPECT_EQ(name_code("张\x01三"), idv::v1::INVALID_NAME);
  EXPECT_EQ(name_code(std::string(65, 'a')), idv::v1::INVALID_NAME);
  EXPECT_EQ(name_code("\xc3\x28"), idv::v1::INVALID_NAME);  // invalid UTF-8
  EXPECT_EQ(name_code("阿依古丽\u00b7买买提"), idv::v1::REASON_CODE_UNSPECIFIED);
}

TEST(ClaimTest, OtherDocumentTypesAreNotCheckedYet) {
  idv::v1::IdentityClaim c = Claim("E12345678");
  c.set_document_type(idv::v1::PASSPORT);
  EXPECT_EQ(CheckClaim(c, kToday).rejection->code, idv::v1::DOCUMENT_TYPE_NOT_SUPPORTED);
  c.set_document_type(idv::v1::DOCUMENT_TYPE_UNSPECIFIED);
  EXPECT_EQ(CheckClaim(c, kToday).rejection->field, "claim.document_type");
}

TEST(NormalizeTest, NamesAreNfkcTrimmedAndSingleSpaced) {
  EXPECT_EQ(NormalizeName("  John   Smith "), "John Smith");
  EXPECT_EQ(NormalizeName("ＪＯＨＮ"), "JOHN");  // full-width Latin
  EXPECT_EQ(NormalizeName("张\u3000三"), "张 三");
  EXPECT_FALSE(NormalizeName("\xe4\xb8").has_value());
}

TEST(MaskTest, KeepsFirstThreeAndLastFour) {
  EXPECT_EQ(MaskDocumentNumber("11010519491231002X"), "110***********002X");
  EXPECT_EQ(MaskDocumentNumber("1234567"), "*******");
  EXPECT_EQ(MaskDocumentNumber(""), "");
  EXPECT_EQ(MaskName("张三丰"), "张*");
  EXPECT_EQ(MaskName("阿依古丽\u00b7买买提"), "阿*");
  EXPECT_EQ(MaskName("John Smith"), "J*");
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
