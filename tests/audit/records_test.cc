#include "audit/records.h"

#include <gtest/gtest.h>

namespace idv::audit {
namespace {

TEST(RecordBuilderTest, EachKindCarriesWhatItShould) {
  const absl::Time at = absl::FromUnixSeconds(1700000000);
  idv::v1::Reason reason;
  reason.set_code(idv::v1::ELEMENTS_MATCH);
  idv::store::v1::AuditRecord v =
      RecordBuilder::Verification("V1", at)
          .By("t", "c")
          .Account("acct")
          .Document(idv::v1::CN_RESIDENT_ID, "110***********002X", "张*")
          .Identity("", 1)
          .Result(idv::v1::VERIFIED, reason, {}, {}, true)
          .Build();
  EXPECT_EQ(v.kind(), idv::store::v1::VERIFICATION);
  EXPECT_EQ(v.decided_at().seconds(), 1700000000);
  EXPECT_TRUE(v.identity_fingerprint().empty());  // none for an offline rejection
  EXPECT_EQ(v.key_version(), 0u);
  EXPECT_TRUE(v.cached());
  EXPECT_FALSE(v.resolves_pending());

  idv::store::v1::AuditRecord s =
      RecordBuilder::Settlement("V1", at).Identity(std::string(32, 'f'), 2).Build();
  EXPECT_EQ(s.kind(), idv::store::v1::SETTLEMENT);
  EXPECT_TRUE(s.resolves_pending());
  EXPECT_EQ(s.key_version(), 2u);

  idv::store::v1::AuditRecord a =
      RecordBuilder::AdminChange("A1", at, "PutBackend", "sim", 7, "backend sim added")
          .By("t", "admin")
          .Build();
  EXPECT_EQ(a.kind(), idv::store::v1::ADMIN_CHANGE);
  EXPECT_EQ(a.admin_action().config_version(), 7u);
  EXPECT_EQ(a.admin_action().target(), "sim");
}

}  // namespace
}  // namespace idv::audit
