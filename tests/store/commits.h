// Test helper shared by the store tests: commits and chain hashes made the same way everywhere.
#ifndef IDV_TESTS_STORE_COMMITS_H_
#define IDV_TESTS_STORE_COMMITS_H_

#include <sodium.h>

#include <string>

#include "absl/time/clock.h"
#include "store/store.h"

namespace idv::store::testing {

// A 32-byte fingerprint made of one character.
inline std::string Fp(char c) { return std::string(32, c); }

// BLAKE2b-256 of a record's bytes: what the next record's prev_hash must be.
inline std::string ChainHash(const std::string& record_bytes) {
  uint8_t h[32];
  crypto_generichash(h, sizeof h, reinterpret_cast<const uint8_t*>(record_bytes.data()),
                     record_bytes.size(), nullptr, 0);
  return std::string(reinterpret_cast<char*>(h), sizeof h);
}

// A VERIFIED verification of `fp` for `account`, decided now, binding when `bind`.
inline VerificationCommit Commit(const std::string& id, const std::string& account,
                                 const std::string& fp, bool bind, uint32_t max = 5,
                                 const std::string& tenant = "t") {
  VerificationCommit c;
  c.record.set_verification_id(id);
  c.record.set_tenant(tenant);
  c.record.set_account_id(account);
  c.record.set_identity_fingerprint(fp);
  c.record.set_key_version(1);
  c.record.set_outcome(idv::v1::VERIFIED);
  c.record.set_masked_document_number("110***********002X");
  c.record.mutable_decided_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  c.bind = bind;
  c.max_accounts_per_identity = max;
  return c;
}

}  // namespace idv::store::testing

#endif  // IDV_TESTS_STORE_COMMITS_H_
