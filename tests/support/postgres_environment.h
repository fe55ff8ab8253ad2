// Test helper: one PostgreSQL server (tests/support/postgres_server.h) for a whole test binary,
// started before its first test and stopped after its last. A test binary registers it once:
//
//   const ::testing::Environment* const kPostgres =
//       ::testing::AddGlobalTestEnvironment(new PostgresEnvironment);
//
// and its tests reach the server with PostgresEnvironment::server() (each creating a database of
// its own).
#ifndef IDV_TESTS_SUPPORT_POSTGRES_ENVIRONMENT_H_
#define IDV_TESTS_SUPPORT_POSTGRES_ENVIRONMENT_H_

#include <gtest/gtest.h>

#include <memory>

#include "tests/support/postgres_server.h"

namespace idv::testing {

class PostgresEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<PostgresServer>> s = PostgresServer::Start();
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
    current_ = server_.get();
  }
  void TearDown() override {
    current_ = nullptr;
    server_.reset();
  }
  // The running server; null before SetUp or when it failed.
  static PostgresServer* server() { return current_; }

 private:
  static inline PostgresServer* current_ = nullptr;
  std::unique_ptr<PostgresServer> server_;
};

}  // namespace idv::testing

#endif  // IDV_TESTS_SUPPORT_POSTGRES_ENVIRONMENT_H_
