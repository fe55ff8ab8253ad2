#include "services/verification_id.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <set>

namespace idv::services {
namespace {

TEST(VerificationIdTest, WellFormedUniqueAndTimeOrdered) {
  ASSERT_GE(sodium_init(), 0);
  std::set<std::string> ids;
  std::string previous;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewVerificationId(absl::FromUnixMillis(1700000000000 + i));
    EXPECT_TRUE(IsWellFormedVerificationId(id)) << id;
    EXPECT_GT(id, previous);  // a later millisecond sorts later
    previous = id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 1000u);
  // Same millisecond: still unique.
  EXPECT_NE(NewVerificationId(absl::FromUnixMillis(1)), NewVerificationId(absl::FromUnixMillis(1)));
}

TEST(VerificationIdTest, RejectsMalformed) {
  EXPECT_FALSE(IsWellFormedVerificationId(""));
  EXPECT_FALSE(IsWellFormedVerificationId("01M81K2ZH0R30307XA1EP35Q4"));   // 25
  EXPECT_FALSE(IsWellFormedVerificationId("01M81K2ZH0R30307XA1EP35Q4I"));  // I is not Crockford
  EXPECT_FALSE(IsWellFormedVerificationId("81M81K2ZH0R30307XA1EP35Q4G"));  // > 128 bits
  EXPECT_TRUE(IsWellFormedVerificationId("01M81K2ZH0R30307XA1EP35Q4G"));
}

}  // namespace
}  // namespace idv::services
