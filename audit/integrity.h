// Checks one node's stored audit log (or a range of it) against itself and against signed
// checkpoints: every record's bytes against its stored leaf hash, its sequence and node fields
// against its place, the stored Merkle hashes against the ones recomputed from the records, and
// each checkpoint's signed root against the root recomputed at its size. Reports the first index
// that fails and why. Reads the log once, in chunks, in constant memory (plus O(log n)).
#ifndef IDV_AUDIT_INTEGRITY_H_
#define IDV_AUDIT_INTEGRITY_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "audit/log.h"
#include "audit/note.h"

namespace idv::audit {

// One stored record as read back.
struct LogRecord {
  uint64_t sequence = 0;  // where the storage keeps it (1-based)
  std::string bytes;      // the record as stored
  std::string leaf_hash;  // the leaf hash stored beside it
  // The sequence and node written inside the record (parsed by the caller).
  uint64_t inner_sequence = 0;
  std::string inner_node;
};

struct IntegritySource {
  std::string node_id;
  // Records from `first` on, at most `limit`, in storage order; empty past the end.
  std::function<absl::StatusOr<std::vector<LogRecord>>(uint64_t first, size_t limit)> records;
  // The log's stored Merkle hashes.
  const HashReader* hashes = nullptr;
  // Signed checkpoint notes to check the log against (the store's own, and any an auditor kept
  // elsewhere), and the verifier key that signs them.
  std::vector<std::string> checkpoint_notes;
  std::string verifier_key;
  // Records 1..purged_through were removed by retention: the check starts from the stored hashes
  // at that size, which must have the root of a signed checkpoint of exactly that size.
  uint64_t purged_through = 0;
  // Records first..last only (1-based, inclusive; both 0: the whole log). The records before
  // `first` are taken from the stored hashes at that size; the range's records are checked as in
  // a whole-log check, with each signed checkpoint inside it, and then against the newest signed
  // checkpoint past it: the root computed from the range's records and the stored hashes around
  // them must be that checkpoint's. `first` must be past purged_through and `last` at most the
  // log's size.
  uint64_t first = 0;
  uint64_t last = 0;
};

struct IntegrityReport {
  bool ok = true;
  uint64_t records_checked = 0;
  uint64_t checkpoints_checked = 0;
  // When !ok: the first record (1-based) found wrong, or 0 when the problem is not one record's
  // (a checkpoint that does not verify), and what is wrong.
  uint64_t first_bad_index = 0;
  std::string problem;
  // The root of the log as read.
  Hash root{};
  uint64_t size = 0;
};

// Errors are for failures to read; a log that fails the check is an OK report with ok = false.
absl::StatusOr<IntegrityReport> VerifyLog(const IntegritySource& source);

}  // namespace idv::audit

#endif  // IDV_AUDIT_INTEGRITY_H_
