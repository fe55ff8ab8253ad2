#include "identity/document.h"

#include <gtest/gtest.h>

namespace idv::identity {
namespace {

using idv::v1::ReasonCode;

const absl::CivilDay kToday(2026, 11, 22);

// `digits17` followed by its MOD 11-2 check character.
std::string WithCheck(const std::string& digits17) {
  return digits17 + ResidentIdCheckCharacter(digits17);
}

DocumentResult Check(idv::v1::DocumentType type, const std::string& number,
                     const std::string& country = "") {
  return CheckDocument(type, number, country, kToday);
}

ReasonCode Code(idv::v1::DocumentType type, const std::string& number,
                const std::string& country = "") {
  DocumentResult r = Check(type, number, country);
  return r.ok() ? idv::v1::REASON_CODE_UNSPECIFIED : r.rejection->code;
}

constexpr ReasonCode kOk = idv::v1::REASON_CODE_UNSPECIFIED;

TEST(ResidentIdTest, CheckCharacterFollowsIso7064Mod11_2) {
  // The worked example of GB 11643-1999: 11010519491231002 -> X.
  EXPECT_EQ(ResidentIdCheckCharacter("11010519491231002"), 'X');
  // 1*7+1*9+1*5+1*4+1*2+9*1+9*6+3*9+7*5+1*2 = 154 = 14*11 + 0 -> '1'.
  EXPECT_EQ(ResidentIdCheckCharacter("11010119900307001"), '1');
}

TEST(ResidentIdTest, AcceptsValidNumberAndReadsBirthDate) {
  DocumentResult r = Check(idv::v1::CN_RESIDENT_ID, "11010519491231002X");
  ASSERT_TRUE(r.ok()) << r.rejection->message;
  EXPECT_EQ(r.canonical, "11010519491231002X");
  EXPECT_EQ(r.birth_date, absl::CivilDay(1949, 12, 31));
  EXPECT_TRUE(r.notes.empty());
}

TEST(ResidentIdTest, EveryRejectionReason) {
  const auto id = idv::v1::CN_RESIDENT_ID;
  EXPECT_EQ(Code(id, ""), idv::v1::FIELD_MISSING);
  EXPECT_EQ(Code(id, " - "), idv::v1::FIELD_MISSING);
  EXPECT_EQ(Code(id, "110105491231002"), idv::v1::LEGACY_FORMAT);
  EXPECT_EQ(Code(id, "11010519491231002"), idv::v1::INVALID_LENGTH);
  EXPECT_EQ(Code(id, "11010519491231002XX"), idv::v1::INVALID_LENGTH);
  EXPECT_EQ(Code(id, "1101051949123100AX"), idv::v1::INVALID_CHARACTER);
  EXPECT_EQ(Code(id, "11010519491231002Y"), idv::v1::INVALID_CHARACTER);
  EXPECT_EQ(Code(id, "\xff\xfe"), idv::v1::INVALID_CHARACTER);
  EXPECT_EQ(Code(id, WithCheck("99010519491231002")), idv::v1::INVALID_REGION);
  EXPECT_EQ(Code(id, WithCheck("83010519491231002")), idv::v1::INVALID_REGION);
  EXPECT_EQ(Code(id, WithCheck("81000019491231002")), idv::v1::INVALID_REGION);  // a permit
  EXPECT_EQ(Code(id, WithCheck("11010519490230002")), idv::v1::INVALID_DATE);    // 30 February
  EXPECT_EQ(Code(id, WithCheck("11010519491301002")), idv::v1::INVALID_DATE);    // month 13
  EXPECT_EQ(Code(id, WithCheck("11010518991231002")), idv::v1::INVALID_DATE);    // before 1900
  EXPECT_EQ(Code(id, WithCheck("11010520300101002")), idv::v1::INVALID_DATE);    // future
  EXPECT_EQ(Code(id, "110105194912310021"), idv::v1::INVALID_CHECK_CHARACTER);
}

TEST(ResidentIdTest, TodayIsAcceptedTomorrowIsNot) {
  EXPECT_EQ(Code(idv::v1::CN_RESIDENT_ID, WithCheck("11010520261122001")), kOk);
  EXPECT_EQ(Code(idv::v1::CN_RESIDENT_ID, WithCheck("11010520261123001")), idv::v1::INVALID_DATE);
}

TEST(ResidentIdTest, LeapDays) {
  EXPECT_EQ(Code(idv::v1::CN_RESIDENT_ID, WithCheck("11010520000229001")), kOk);
  EXPECT_EQ(Code(idv::v1::CN_RESIDENT_ID, WithCheck("11010519000229001")),  // 1900: not leap
            idv::v1::INVALID_DATE);
}

TEST(ResidentIdTest, RetiredAddressCodesAreValidUnlistedOnesOnlyNoted) {
  // 110103 (Chongwen) and 110104 (Xuanwu) were abolished in 2010; their numbers stay valid.
  for (const char* retired : {"11010319800101001", "11010419800101001"}) {
    DocumentResult r = Check(idv::v1::CN_RESIDENT_ID, WithCheck(retired));
    ASSERT_TRUE(r.ok()) << retired;
    EXPECT_TRUE(r.notes.empty()) << retired;
  }
  DocumentResult unlisted = Check(idv::v1::CN_RESIDENT_ID, WithCheck("11019919800101001"));
  ASSERT_TRUE(unlisted.ok());
  ASSERT_EQ(unlisted.notes.size(), 1u);
  EXPECT_EQ(unlisted.notes[0].code, idv::v1::ADDRESS_CODE_UNLISTED);
}

TEST(ResidentIdTest, TypedManyWaysOneCanonicalForm) {
  for (const std::string& typed : {
           std::string("11010519491231002x"), std::string("１１０１０５１９４９１２３１００２Ｘ"),
           std::string("１１０１０５１９４９１２３１００２ｘ"),
           std::string(" 110105 19491231 002X "), std::string("110105-19491231-002x"),
           std::string("110105\u300019491231\u2014002X"),  // ideographic space, em dash
       }) {
    DocumentResult r = Check(idv::v1::CN_RESIDENT_ID, typed);
    ASSERT_TRUE(r.ok()) << typed;
    EXPECT_EQ(r.canonical, "11010519491231002X") << typed;
  }
}

TEST(ResidencePermitTest, OnlyTheThreePermitAddressCodes) {
  const auto p = idv::v1::CN_RESIDENCE_PERMIT_HMT;
  for (const char* prefix : {"810000", "820000", "830000"}) {
    DocumentResult r = Check(p, WithCheck(std::string(prefix) + "19900101001"));
    ASSERT_TRUE(r.ok()) << prefix;
    EXPECT_EQ(r.birth_date, absl::CivilDay(1990, 1, 1));
  }
  EXPECT_EQ(Code(p, WithCheck("11010519900101001")), idv::v1::INVALID_REGION);
  EXPECT_EQ(Code(p, WithCheck("81000019900230001")), idv::v1::INVALID_DATE);
  EXPECT_EQ(Code(p, "810000199001010010"), idv::v1::INVALID_CHECK_CHARACTER);
  EXPECT_EQ(Code(p, "8100001990010100"), idv::v1::INVALID_LENGTH);
}

TEST(PermanentResidenceTest, Card2023) {
  const auto pr = idv::v1::CN_PERMANENT_RESIDENCE;
  // 9, issued in Beijing (11), United States (840), born 1980-01-01, sequence 001.
  const std::string good = WithCheck("91184019800101001");
  DocumentResult r = Check(pr, good);
  ASSERT_TRUE(r.ok()) << r.rejection->message;
  EXPECT_EQ(r.birth_date, absl::CivilDay(1980, 1, 1));
  EXPECT_EQ(Code(pr, WithCheck("81184019800101001")), idv::v1::INVALID_FORMAT);   // not 9...
  EXPECT_EQ(Code(pr, WithCheck("99984019800101001")), idv::v1::INVALID_REGION);   // province 99
  EXPECT_EQ(Code(pr, WithCheck("91100019800101001")), idv::v1::INVALID_COUNTRY);  // 000
  EXPECT_EQ(Code(pr, WithCheck("91115619800101001")), idv::v1::INVALID_COUNTRY);  // China
  EXPECT_EQ(Code(pr, WithCheck("91184019800231001")), idv::v1::INVALID_DATE);
  std::string bad = good;
  bad[17] = bad[17] == '0' ? '1' : '0';
  EXPECT_EQ(Code(pr, bad), idv::v1::INVALID_CHECK_CHARACTER);
  EXPECT_EQ(Code(pr, "9118401980010100"), idv::v1::INVALID_LENGTH);
}

TEST(PermanentResidenceTest, EarlierFifteenCharacterCard) {
  const auto pr = idv::v1::CN_PERMANENT_RESIDENCE;
  EXPECT_EQ(Code(pr, "USA118001010012"), kOk);
  EXPECT_EQ(Check(pr, "usa 11 800101 0012").canonical, "USA118001010012");
  EXPECT_EQ(Code(pr, "USA110002290012"), kOk);  // 29 Feb 2000 exists
  EXPECT_EQ(Code(pr, "XYZ118001010012"), idv::v1::INVALID_COUNTRY);
  EXPECT_EQ(Code(pr, "USA998001010012"), idv::v1::INVALID_REGION);
  EXPECT_EQ(Code(pr, "USA118013010012"), idv::v1::INVALID_DATE);
  EXPECT_EQ(Code(pr, "US1118001010012"), idv::v1::INVALID_CHARACTER);
}

TEST(TravelPermitTest, HongKongMacauAndTaiwanLayouts) {
  const auto t = idv::v1::HMT_TRAVEL_PERMIT;
  for (const char* ok : {"H12345678", "M12345678", "H1234567801", "h12345678", "12345678",
                         "1234567890", "1234567890B"}) {
    EXPECT_EQ(Code(t, ok), kOk) << ok;
  }
  EXPECT_EQ(Check(t, "1234567890(B)").canonical, "1234567890B");
  EXPECT_EQ(Check(t, "１２３４５６７８９０（Ｂ）").canonical, "1234567890B");
  EXPECT_EQ(Code(t, "X12345678"), idv::v1::INVALID_FORMAT);
  EXPECT_EQ(Code(t, "H1234567"), idv::v1::INVALID_FORMAT);
  EXPECT_EQ(Code(t, "123456789"), idv::v1::INVALID_FORMAT);
  EXPECT_EQ(Code(t, "H1234#678"), idv::v1::INVALID_CHARACTER);
}

TEST(PassportTest, ChineseSeries) {
  const auto p = idv::v1::PASSPORT;
  for (const char* ok :
       {"E12345678", "EA1234567", "G12345678", "DE1234567", "SE1234567", "PE1234567", "141234567",
        "K12345678", "H12345678", "MA1234567", "e12345678"}) {
    EXPECT_EQ(Code(p, ok, "CHN"), kOk) << ok;
  }
  EXPECT_EQ(Code(p, "A1234567", "CHN"), idv::v1::INVALID_FORMAT);
  EXPECT_EQ(Code(p, "E1234567", "CHN"), idv::v1::INVALID_FORMAT);
  EXPECT_EQ(Code(p, "E12345678", "chn"), kOk);
}

TEST(PassportTest, CountriesAndIcaoLimits) {
  const auto p = idv::v1::PASSPORT;
  EXPECT_EQ(Code(p, "123456789", "USA"), kOk);
  EXPECT_EQ(Code(p, "C01X00T47", "D"), kOk);  // ICAO code for Germany
  EXPECT_EQ(Code(p, "C01X00T47", "DEU"), kOk);
  EXPECT_EQ(Code(p, "AB1234567", "XXA"), kOk);  // stateless person
  DocumentResult missing = Check(p, "123456789", "");
  EXPECT_EQ(missing.rejection->code, idv::v1::FIELD_MISSING);
  EXPECT_EQ(missing.rejection->field, "claim.issuing_country");
  EXPECT_EQ(Code(p, "123456789", "ZZZ"), idv::v1::INVALID_COUNTRY);
  EXPECT_EQ(Code(p, "123456789", "US"), idv::v1::INVALID_COUNTRY);
  EXPECT_EQ(Code(p, "1234", "USA"), idv::v1::INVALID_LENGTH);
  EXPECT_EQ(Code(p, std::string(18, '1'), "USA"), idv::v1::INVALID_LENGTH);
  EXPECT_EQ(Code(p, "AB#12345", "USA"), idv::v1::INVALID_CHARACTER);
}

TEST(DocumentTest, UnsetTypeNamesTheTypeField) {
  DocumentResult r = Check(idv::v1::DOCUMENT_TYPE_UNSPECIFIED, "123");
  EXPECT_EQ(r.rejection->field, "claim.document_type");
}

}  // namespace
}  // namespace idv::identity
