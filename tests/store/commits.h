// Test helper shared by the store tests: commits made the same way everywhere, and a check of a
// stored audit log.
#ifndef IDV_TESTS_STORE_COMMITS_H_
#define IDV_TESTS_STORE_COMMITS_H_

#include <sodium.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "audit/log.h"
#include "store/store.h"

namespace idv::store::testing {

// A 32-byte fingerprint made of one character.
inline std::string Fp(char c) { return std::string(32, c); }

// Checks one node's log as stored: every record's stored leaf hash is the hash of its bytes, the
// frontier loaded from the stored hashes has the root of those leaves, and the log has `size`
// records. Returns the root.
inline absl::StatusOr<audit::Hash> CheckStoredLog(Store& store, const std::string& node,
                                                  uint64_t size) {
  auto records = Await<std::vector<StoredRecord>>(
      [&](auto done) { store.ReadAuditRecords(node, 1, size + 1, std::move(done)); });
  if (!records.ok()) return records.status();
  if (records->size() != size) return absl::DataLossError("the log has another size");
  std::vector<audit::Hash> leaves;
  for (const StoredRecord& r : *records) {
    leaves.push_back(audit::LeafHash(r.bytes));
    if (r.leaf_hash != std::string(leaves.back().begin(), leaves.back().end())) {
      return absl::DataLossError("a stored leaf hash is not its record's");
    }
    if (r.sequence != leaves.size()) return absl::DataLossError("a gap in the sequence");
  }
  StoredHashReader reader(store, node);
  auto frontier = audit::MerkleFrontier::Load(static_cast<int64_t>(size), reader);
  if (!frontier.ok()) return frontier.status();
  const audit::Hash root = audit::RootHash(size, [&](uint64_t i) { return leaves[i]; });
  if (frontier->Root() != root) return absl::DataLossError("stored hashes disagree with leaves");
  return root;
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
