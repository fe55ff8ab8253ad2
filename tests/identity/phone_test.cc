#include "identity/phone.h"

#include <gtest/gtest.h>

namespace idv::identity {
namespace {

TEST(PhoneTest, ChineseMobilesInEveryCommonFormBecomeE164) {
  for (const char* typed : {"13800138000", "138 0013 8000", "+86 138-0013-8000", "008613800138000",
                            "+8613800138000", "１３８００１３８０００"}) {
    FieldResult r = CheckMobileNumber(typed);
    ASSERT_TRUE(r.ok()) << typed;
    EXPECT_EQ(r.canonical, "+8613800138000") << typed;
  }
}

TEST(PhoneTest, ForeignMobilesAreAccepted) {
  FieldResult r = CheckMobileNumber("+44 7911 123456");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.canonical, "+447911123456");
}

TEST(PhoneTest, LandlinesAndGarbageAreRejected) {
  FieldResult landline = CheckMobileNumber("010 6552 9988");  // a Beijing fixed line
  ASSERT_FALSE(landline.ok());
  EXPECT_EQ(landline.rejection->code, idv::v1::PHONE_NOT_MOBILE);
  EXPECT_EQ(landline.rejection->field, "claim.phone_number");
  EXPECT_EQ(CheckMobileNumber("1380013800").rejection->code, idv::v1::INVALID_PHONE);  // short
  EXPECT_EQ(CheckMobileNumber("hello").rejection->code, idv::v1::INVALID_PHONE);
  EXPECT_EQ(CheckMobileNumber("\xff").rejection->code, idv::v1::INVALID_PHONE);
}

}  // namespace
}  // namespace idv::identity
