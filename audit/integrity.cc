#include "audit/integrity.h"

#include <algorithm>
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

uint64_t LargestPow2Below(uint64_t n) {  // n >= 2
  uint64_t k = 1;
  while (k << 1 < n) k <<= 1;
  return k;
}

// MTH(D[lo:hi]) of a tree whose leaves [first, last) (0-based) were checked against the stored
// hashes: a subtree inside that range or outside it is read from the stored hashes, one that
// straddles an edge is computed from its two halves. So a stored hash that spans the range's
// edge, which the check did not compare, is never used: the root depends on the range's records
// themselves and on the stored hashes around them.
absl::StatusOr<Hash> RangeTreeHash(uint64_t lo, uint64_t hi, uint64_t first, uint64_t last,
                                   const SubtreeHashes& stored) {
  const bool inside = lo >= first && hi <= last;
  const bool outside = hi <= first || lo >= last;
  if (inside || outside) return stored(lo, hi);  // a single leaf is always one or the other
  const uint64_t k = LargestPow2Below(hi - lo);
  absl::StatusOr<Hash> left = RangeTreeHash(lo, lo + k, first, last, stored);
  if (!left.ok()) return left.status();
  absl::StatusOr<Hash> right = RangeTreeHash(lo + k, hi, first, last, stored);
  if (!right.ok()) return right.status();
  return NodeHash(*left, *right);
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
  const bool ranged = source.first > 0 || source.last > 0;
  if (ranged && (source.first <= purged || source.last < source.first)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "records ", source.first, "..", source.last, " are not a range of the log",
        purged > 0 ? absl::StrCat(" (1..", purged, " were removed by retention)") : std::string()));
  }
  // Records 1..start are taken from the stored hashes (or a signed checkpoint at the retention
  // boundary); the check reads records from start + 1 on.
  const uint64_t start = ranged ? source.first - 1 : purged;
  if (start > purged) {
    absl::StatusOr<MerkleFrontier> loaded =
        MerkleFrontier::Load(static_cast<int64_t>(start), *source.hashes);
    if (!loaded.ok()) {
      return Fail(report, source.first,
                  absl::StrCat("the stored Merkle hashes before record ", source.first,
                               " cannot be read: ", loaded.status().message()));
    }
    frontier = *std::move(loaded);
  } else if (purged > 0) {
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
  uint64_t next = start + 1;
  while (!ranged || next <= source.last) {
    const size_t limit = ranged ? std::min<uint64_t>(kChunk, source.last - next + 1) : kChunk;
    absl::StatusOr<std::vector<LogRecord>> chunk = source.records(next, limit);
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
  if (ranged) {
    if (next <= source.last) {
      return fail_first(
          next, absl::StrCat("record ", next, " is missing (the log ends at ", next - 1, ")"));
    }
    if (checkpoints.empty() || checkpoints.rbegin()->first <= source.last) return report;
    const auto& [size, root] = *checkpoints.rbegin();
    absl::StatusOr<Hash> computed =
        RangeTreeHash(0, size, source.first - 1, source.last, StoredTree(*source.hashes));
    ++report.checkpoints_checked;
    if (!computed.ok()) {
      return Fail(report, 0,
                  absl::StrCat("the stored Merkle hashes up to the signed checkpoint of size ",
                               size, " cannot be read: ", computed.status().message()));
    }
    if (*computed != root) {
      return Fail(report, 0,
                  absl::StrCat("records ", source.first, "..", source.last,
                               " with the stored hashes around them do not have the root of the "
                               "signed checkpoint of size ",
                               size, ": rewritten"));
    }
    return report;
  }
  if (!checkpoints.empty() && checkpoints.rbegin()->first > report.size) {
    return Fail(report, report.size + 1,
                absl::StrCat("the log has ", report.size, " records but a signed checkpoint has ",
                             checkpoints.rbegin()->first, ": truncated or rolled back"));
  }
  return report;
}

}  // namespace idv::audit
