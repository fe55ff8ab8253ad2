#include "audit/integrity.h"

#include <map>

#include "absl/strings/str_cat.h"

namespace idv::audit {
namespace {

constexpr size_t kChunk = 4096;

IntegrityReport Fail(IntegrityReport r, uint64_t index, std::string problem) {
  r.ok = false;
  r.first_bad_index = index;
  r.problem = std::move(problem);
  return r;
}

}  // namespace

absl::StatusOr<IntegrityReport> VerifyLog(const IntegritySource& source) {
  IntegrityReport report;
  // Checkpoints by size; each must be signed by the verifier key and name this log.
  std::map<uint64_t, Hash> checkpoints;
  for (const std::string& note : source.checkpoint_notes) {
    absl::StatusOr<std::string> text = OpenNote(note, source.verifier_key);
    absl::StatusOr<Checkpoint> c =
        text.ok() ? ParseCheckpoint(*text) : absl::StatusOr<Checkpoint>(text.status());
    if (!c.ok()) {
      return Fail(report, 0, absl::StrCat("a checkpoint does not verify: ", c.status().message()));
    }
    checkpoints[c->size] = c->root;
  }
  MerkleFrontier frontier;
  const uint64_t purged = source.purged_through;
  if (purged > 0) {
    auto c = checkpoints.find(purged);
    if (c == checkpoints.end()) {
      return Fail(report, 0,
                  absl::StrCat("records 1..", purged,
                               " were removed by retention, but no signed checkpoint of that "
                               "size is known to start from"));
    }
    absl::StatusOr<MerkleFrontier> loaded =
        MerkleFrontier::Load(static_cast<int64_t>(purged), *source.hashes);
    if (!loaded.ok() || loaded->Root() != c->second) {
      return Fail(report, 0,
                  absl::StrCat("the stored Merkle hashes at the retention boundary (", purged,
                               " records) do not have the root of its signed checkpoint"));
    }
    frontier = *std::move(loaded);
    ++report.checkpoints_checked;
  }
  // The stored hashes the records of the current chunk should have, checked in one read; and the
  // first checkpoint that failed in it. Whatever fails first, by record, is reported.
  std::vector<int64_t> indexes;
  std::vector<Hash> expected;
  std::vector<uint64_t> owner;  // the sequence each expected hash belongs to
  uint64_t checkpoint_failed_at = 0;
  // Checks the chunk's stored hashes; returns the sequence of the first record whose hashes are
  // wrong, or 0.
  auto first_bad_stored = [&]() -> uint64_t {
    if (indexes.empty()) return 0;
    absl::StatusOr<std::vector<Hash>> stored = source.hashes->ReadHashes(indexes);
    uint64_t bad = 0;
    if (!stored.ok() || stored->size() != expected.size()) {
      bad = owner.front();  // cannot be read: the first record of the chunk has no hashes
    } else {
      for (size_t i = 0; i < expected.size(); ++i) {
        if ((*stored)[i] != expected[i]) {
          bad = owner[i];
          break;
        }
      }
    }
    indexes.clear();
    expected.clear();
    owner.clear();
    return bad;
  };
  // The earliest of: a record whose stored hashes are wrong, a checkpoint that failed, and
  // `index` with `problem` (0: none).
  auto fail_first = [&](uint64_t index, std::string problem) {
    const uint64_t bad = first_bad_stored();
    if (bad != 0 && (index == 0 || bad < index) &&
        (checkpoint_failed_at == 0 || bad <= checkpoint_failed_at)) {
      return Fail(report, bad, "the stored Merkle hashes do not match the records");
    }
    if (checkpoint_failed_at != 0 && (index == 0 || checkpoint_failed_at < index)) {
      return Fail(report, checkpoint_failed_at,
                  absl::StrCat("the log's first ", checkpoint_failed_at,
                               " records do not have the root their signed checkpoint has: "
                               "rewritten at or before record ",
                               checkpoint_failed_at));
    }
    if (index == 0) return report;  // nothing wrong
    return Fail(report, index, std::move(problem));
  };
  for (uint64_t next = purged + 1;;) {
    absl::StatusOr<std::vector<LogRecord>> chunk = source.records(next, kChunk);
    if (!chunk.ok()) return chunk.status();
    if (chunk->empty()) break;
    for (const LogRecord& r : *chunk) {
      if (r.sequence != next) {
        return fail_first(
            next, absl::StrCat("record ", next, " is missing (next stored is ", r.sequence, ")"));
      }
      const Hash leaf = LeafHash(r.bytes);
      if (r.leaf_hash != std::string(leaf.begin(), leaf.end())) {
        return fail_first(next, "the record's bytes do not match its stored leaf hash");
      }
      if (r.inner_sequence != next || r.inner_node != source.node_id) {
        return fail_first(
            next, absl::StrCat("the record says it is ", r.inner_node, " #", r.inner_sequence,
                               " (moved or copied from elsewhere)"));
      }
      const int64_t first_index = StoredHashCount(frontier.size());
      const std::vector<Hash> added = frontier.Append(leaf);
      for (size_t k = 0; k < added.size(); ++k) {
        indexes.push_back(first_index + static_cast<int64_t>(k));
        expected.push_back(added[k]);
        owner.push_back(next);
      }
      if (auto c = checkpoints.find(next); c != checkpoints.end()) {
        if (frontier.Root() != c->second && checkpoint_failed_at == 0) checkpoint_failed_at = next;
        ++report.checkpoints_checked;
      }
      ++report.records_checked;
      ++next;
    }
    if (!indexes.empty() || checkpoint_failed_at != 0) {
      IntegrityReport r = fail_first(0, "");
      if (!r.ok) return r;
    }
  }
  report.size = static_cast<uint64_t>(frontier.size());
  report.root = frontier.Root();
  if (!checkpoints.empty() && checkpoints.rbegin()->first > report.size) {
    return Fail(report, report.size + 1,
                absl::StrCat("the log has ", report.size, " records but a signed checkpoint has ",
                             checkpoints.rbegin()->first, ": truncated or rolled back"));
  }
  return report;
}

}  // namespace idv::audit
