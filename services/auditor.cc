#include "services/auditor.h"

#include <algorithm>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "audit/integrity.h"
#include "audit/log.h"
#include "audit/records.h"
#include "services/verification_id.h"
#include "services/verification_service.h"

namespace idv::services {
namespace {

using store::Await;

std::string Bytes(const audit::Hash& h) { return std::string(h.begin(), h.end()); }

std::string KindName(idv::store::v1::RecordKind k) {
  switch (k) {
    case idv::store::v1::SETTLEMENT:
      return "settlement";
    case idv::store::v1::ADMIN_CHANGE:
      return "admin_change";
    case idv::store::v1::SECURITY_EVENT:
      return "security_event";
    case idv::store::v1::AUDITOR_READ:
      return "auditor_read";
    default:
      return "verification";
  }
}

idv::v1::AuditRecordEntry EntryFor(const std::string& node_id, const store::StoredRecord& stored,
                                   const idv::store::v1::AuditRecord& record) {
  idv::v1::AuditRecordEntry out;
  out.set_node_id(node_id);
  out.set_index(stored.sequence - 1);
  out.set_record(stored.bytes);
  out.set_leaf_hash(Bytes(audit::LeafHash(stored.bytes)));
  ToVerification(record, out.mutable_verification());
  out.set_kind(KindName(record.kind()));
  if (record.has_admin_action()) {
    out.set_admin_action(absl::StrCat(record.admin_action().action(), " ",
                                      record.admin_action().target(), ": ",
                                      record.admin_action().summary()));
  }
  return out;
}

bool Matches(const idv::v1::RecordFilter& f, const idv::store::v1::AuditRecord& r) {
  const int64_t at = r.decided_at().seconds() * 1000000000 + r.decided_at().nanos();
  if (f.has_from() && at < f.from().seconds() * 1000000000 + f.from().nanos()) return false;
  if (f.has_to() && at >= f.to().seconds() * 1000000000 + f.to().nanos()) return false;
  if (!f.account_id().empty() && r.account_id() != f.account_id()) return false;
  if (!f.verification_id().empty() && r.verification_id() != f.verification_id()) return false;
  if (f.outcome() != idv::v1::OUTCOME_UNSPECIFIED && r.outcome() != f.outcome()) return false;
  if (f.reason() != 0 && r.reason().code() != f.reason()) return false;
  if (f.document_type() != 0 && r.document_type() != f.document_type()) return false;
  if (!f.client_id().empty() && r.client_id() != f.client_id()) return false;
  if (!f.kind().empty() && KindName(r.kind()) != f.kind()) return false;
  if (!f.backend().empty()) {
    bool found = false;
    for (const idv::v1::Check& c : r.checks()) found = found || c.backend() == f.backend();
    if (!found) return false;
  }
  return true;
}

// One log's read position while listing newest first: records still buffered, and the
// sequence below which the next read starts (0: the log is done).
struct Cursor {
  std::string node;
  uint64_t before = 0;
  std::vector<std::pair<store::StoredRecord, idv::store::v1::AuditRecord>>
      buffered;  // oldest first
};

}  // namespace

absl::StatusOr<idv::v1::ListRecordsResponse> Auditor::List(
    const std::string& tenant, const idv::v1::ListRecordsRequest& request) const {
  constexpr size_t kRead = 256;
  constexpr uint64_t kMaxScan = 200000;
  // A log's records are in sequence order, and that is decision order give or take the time a
  // call takes: a log is done once it is this far before `from`.
  constexpr int64_t kSlackSeconds = 60;
  const idv::v1::RecordFilter& f = request.filter();
  const size_t page = request.page_size() == 0 ? 50 : std::min<uint32_t>(request.page_size(), 1000);
  std::vector<Cursor> cursors;
  if (request.page_token().empty()) {
    absl::StatusOr<std::vector<store::LogInfo>> logs =
        Await<std::vector<store::LogInfo>>([&](auto done) { store_.ListLogs(std::move(done)); });
    if (!logs.ok()) return logs.status();
    for (const store::LogInfo& l : *logs) {
      if (f.node_id().empty() || l.node_id == f.node_id())
        cursors.push_back({l.node_id, l.size + 1, {}});
    }
  } else {
    for (absl::string_view part : absl::StrSplit(request.page_token(), ',')) {
      std::pair<std::string, std::string> kv = absl::StrSplit(part, absl::MaxSplits(':', 1));
      Cursor c{kv.first, 0, {}};
      if (!absl::SimpleAtoi(kv.second, &c.before)) {
        return absl::InvalidArgumentError("page_token is not one this server gave");
      }
      cursors.push_back(std::move(c));
    }
  }
  // An account (or a verification, through its account) is read through the store's account
  // index instead of the whole log.
  std::string account = f.account_id();
  if (account.empty() && !f.verification_id().empty()) {
    absl::StatusOr<idv::store::v1::AuditRecord> v = Await<idv::store::v1::AuditRecord>(
        [&](auto done) { store_.GetVerification(tenant, f.verification_id(), std::move(done)); });
    if (absl::IsNotFound(v.status())) return idv::v1::ListRecordsResponse();
    if (!v.ok()) return v.status();
    if (store::IsVerificationRecord(*v)) account = v->account_id();
  }
  if (request.page_token().empty() && f.has_to()) {
    // Start each log at the first record decided after `to` (give or take the slack).
    for (Cursor& c : cursors) {
      absl::StatusOr<uint64_t> start =
          FirstAfter(c.node, c.before - 1, f.to().seconds() + kSlackSeconds);
      if (!start.ok()) return start.status();
      c.before = *start;
    }
  }
  idv::v1::ListRecordsResponse out;
  uint64_t scanned = 0;
  while (static_cast<size_t>(out.records_size()) < page && scanned < kMaxScan) {
    // Refill, then take the newest head among the logs.
    Cursor* best = nullptr;
    for (Cursor& c : cursors) {
      if (c.buffered.empty() && c.before > 1) {
        absl::StatusOr<std::vector<store::StoredRecord>> r =
            Await<std::vector<store::StoredRecord>>([&](auto done) {
              if (account.empty()) {
                store_.ReadAuditRecordsBackward(c.node, c.before, kRead, std::move(done));
              } else {
                store_.ReadAccountRecordsBackward(c.node, tenant, account, c.before, kRead,
                                                  std::move(done));
              }
            });
        if (!r.ok()) return r.status();
        c.before = r->empty() ? 0 : r->back().sequence;
        for (auto it = r->rbegin(); it != r->rend(); ++it) {
          idv::store::v1::AuditRecord parsed;
          if (!parsed.ParseFromString(it->bytes)) return absl::DataLossError("unparsable record");
          if (f.has_from() && parsed.decided_at().seconds() < f.from().seconds() - kSlackSeconds) {
            c.before = 0;  // everything older is out of range
            continue;
          }
          c.buffered.emplace_back(std::move(*it), std::move(parsed));
        }
      }
      if (c.buffered.empty()) continue;
      const auto& head = c.buffered.back().second.decided_at();
      if (best == nullptr) {
        best = &c;
        continue;
      }
      const auto& top = best->buffered.back().second.decided_at();
      if (head.seconds() > top.seconds() ||
          (head.seconds() == top.seconds() && head.nanos() > top.nanos())) {
        best = &c;
      }
    }
    if (best == nullptr) break;  // every log done
    auto [stored, record] = std::move(best->buffered.back());
    best->buffered.pop_back();
    ++scanned;
    if (record.tenant() == tenant && Matches(f, record)) {
      *out.add_records() = EntryFor(best->node, stored, record);
    }
  }
  out.set_scanned(scanned);
  // The token restarts each log just past what this page consumed (buffered records included).
  std::vector<std::string> parts;
  for (const Cursor& c : cursors) {
    const uint64_t next = c.buffered.empty() ? c.before : c.buffered.back().first.sequence + 1;
    if (next > 1) parts.push_back(absl::StrCat(c.node, ":", next));
  }
  out.set_next_page_token(absl::StrJoin(parts, ","));
  return out;
}

absl::StatusOr<uint64_t> Auditor::FirstAfter(const std::string& node_id, uint64_t size,
                                             int64_t seconds) const {
  // Records are in decision order give or take the slack the caller allows for: a binary search
  // over sequences, one record read per step.
  uint64_t lo = 1, hi = size + 1;  // the answer is in [lo, hi]
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    absl::StatusOr<std::vector<store::StoredRecord>> r = Await<std::vector<store::StoredRecord>>(
        [&](auto done) { store_.ReadAuditRecords(node_id, mid, 1, std::move(done)); });
    if (!r.ok()) return r.status();
    idv::store::v1::AuditRecord parsed;
    if (r->empty()) {
      hi = mid;
      continue;
    }
    if (!parsed.ParseFromString((*r)[0].bytes)) return absl::DataLossError("unparsable record");
    if (parsed.decided_at().seconds() >= seconds) {
      hi = mid;
    } else {
      lo = (*r)[0].sequence + 1;
    }
  }
  return lo;
}

absl::Status Auditor::RecordRead(const std::string& tenant, const std::string& client_id,
                                 const std::string& action, const std::string& what) const {
  const absl::Time now = absl::Now();
  store::VerificationCommit commit;
  commit.record = audit::RecordBuilder::AuditorRead(NewVerificationId(now), now, action, what)
                      .By(tenant, client_id)
                      .Build();
  return Await<store::CommitResult>(
             [&](auto done) { store_.CommitVerification(std::move(commit), std::move(done)); })
      .status();
}

namespace {

bool WholeHour(const google::protobuf::Timestamp& t) {
  return t.nanos() == 0 && t.seconds() % 3600 == 0;
}

// Percentiles of one backend's latencies from its merged histogram (bucket -> count).
void AddLatency(const std::string& backend, const std::map<int, uint64_t>& histogram,
                idv::v1::GetStatsResponse& out) {
  uint64_t calls = 0;
  for (const auto& [b, n] : histogram) calls += n;
  auto at = [&](double q) {
    const uint64_t rank = std::min<uint64_t>(calls - 1, static_cast<uint64_t>(q * calls));
    uint64_t seen = 0;
    for (const auto& [b, n] : histogram) {
      seen += n;
      if (seen > rank) return store::LatencyBucketUpper(b);
    }
    return store::LatencyBucketUpper(histogram.rbegin()->first);
  };
  idv::v1::BackendLatency* l = out.add_latency();
  l->set_backend(backend);
  l->set_calls(calls);
  l->set_p50_us(at(0.50));
  l->set_p90_us(at(0.90));
  l->set_p99_us(at(0.99));
}

}  // namespace

absl::StatusOr<idv::v1::GetStatsResponse> Auditor::StatsFromCounters(
    const std::string& tenant, const idv::v1::GetStatsRequest& request, int64_t from_hour,
    int64_t to_hour) const {
  const int64_t width = request.bucket() == idv::v1::GetStatsRequest::DAY ? 86400 : 3600;
  absl::StatusOr<std::vector<store::StatsCount>> counts =
      Await<std::vector<store::StatsCount>>([&](auto done) {
        store_.ReadStats(tenant, request.filter().node_id(), from_hour, to_hour, std::move(done));
      });
  if (!counts.ok()) return counts.status();
  std::map<int64_t, idv::v1::StatsBucket> buckets;
  std::map<std::string, std::map<int, uint64_t>> histograms;
  uint64_t records = 0;
  for (const store::StatsCount& c : *counts) {
    const int64_t start = c.hour - c.hour % width;
    idv::v1::StatsBucket& b = buckets[start];
    b.mutable_start()->set_seconds(start);
    const uint64_t n = static_cast<uint64_t>(c.count);
    if (c.dimension == store::kStatsTotal) {
      b.set_total(b.total() + n);
      records += n;
    } else if (c.dimension == store::kStatsOutcome) {
      (*b.mutable_by_outcome())[c.key] += n;
    } else if (c.dimension == store::kStatsReason) {
      (*b.mutable_by_reason())[c.key] += n;
    } else if (c.dimension == store::kStatsDocument) {
      (*b.mutable_by_document_type())[c.key] += n;
    } else if (c.dimension == store::kStatsBackend) {
      (*b.mutable_by_backend())[c.key] += n;
    } else if (c.dimension == store::kStatsLatency) {
      const size_t slash = c.key.rfind('/');
      int bucket = 0;
      if (slash == std::string::npos || !absl::SimpleAtoi(c.key.substr(slash + 1), &bucket)) {
        return absl::DataLossError("a malformed latency counter");
      }
      histograms[c.key.substr(0, slash)][bucket] += n;
    }
  }
  idv::v1::GetStatsResponse out;
  for (auto& [start, b] : buckets) *out.add_buckets() = std::move(b);
  for (const auto& [backend, h] : histograms) AddLatency(backend, h, out);
  out.set_records(records);
  out.set_from_counters(true);
  return out;
}

absl::StatusOr<idv::v1::GetStatsResponse> Auditor::Stats(
    const std::string& tenant, const idv::v1::GetStatsRequest& request) const {
  // Only a time range of whole hours, and a node, can be answered from the hourly counters.
  idv::v1::RecordFilter rest = request.filter();
  rest.clear_from();
  rest.clear_to();
  rest.clear_node_id();
  const idv::v1::RecordFilter& f = request.filter();
  if (rest.ByteSizeLong() == 0 && (!f.has_from() || WholeHour(f.from())) &&
      (!f.has_to() || WholeHour(f.to()))) {
    const int64_t from = f.has_from() ? f.from().seconds() : 0;
    // Without an end: up to the hour after the current one (clocks of nodes differ a little).
    const int64_t to =
        f.has_to() ? f.to().seconds() : (absl::ToUnixSeconds(absl::Now()) / 3600 + 2) * 3600;
    return StatsFromCounters(tenant, request, from, to);
  }
  const int64_t width = request.bucket() == idv::v1::GetStatsRequest::DAY ? 86400 : 3600;
  std::map<int64_t, idv::v1::StatsBucket> buckets;
  std::map<std::string, std::vector<uint64_t>> latencies;
  uint64_t records = 0;
  idv::v1::ListRecordsRequest page;
  *page.mutable_filter() = request.filter();
  page.set_page_size(1000);
  // One page at a time: memory holds the counts, the latencies, and one page.
  for (;;) {
    absl::StatusOr<idv::v1::ListRecordsResponse> r = List(tenant, page);
    if (!r.ok()) return r.status();
    for (const idv::v1::AuditRecordEntry& e : r->records()) {
      if (e.kind() != "verification" && e.kind() != "settlement") continue;
      const idv::v1::Verification& v = e.verification();
      const int64_t start = v.decided_at().seconds() - v.decided_at().seconds() % width;
      idv::v1::StatsBucket& b = buckets[start];
      b.mutable_start()->set_seconds(start);
      b.set_total(b.total() + 1);
      ++(*b.mutable_by_outcome())[idv::v1::Outcome_Name(v.outcome())];
      ++(*b.mutable_by_reason())[idv::v1::ReasonCode_Name(v.reason().code())];
      ++(*b.mutable_by_document_type())[idv::v1::DocumentType_Name(v.document_type())];
      for (const idv::v1::Check& c : v.checks()) {
        ++(*b.mutable_by_backend())[c.backend()];
        latencies[c.backend()].push_back(c.latency_us());
      }
      ++records;
    }
    if (r->next_page_token().empty()) break;
    page.set_page_token(r->next_page_token());
  }
  idv::v1::GetStatsResponse out;
  for (auto& [start, b] : buckets) *out.add_buckets() = std::move(b);
  for (auto& [backend, values] : latencies) {
    std::sort(values.begin(), values.end());
    auto at = [&values](double q) {
      return values[std::min(values.size() - 1, static_cast<size_t>(q * values.size()))];
    };
    idv::v1::BackendLatency* l = out.add_latency();
    l->set_backend(backend);
    l->set_calls(values.size());
    l->set_p50_us(at(0.50));
    l->set_p90_us(at(0.90));
    l->set_p99_us(at(0.99));
  }
  out.set_records(records);
  return out;
}

std::string Auditor::VerifierKey(const std::string& node_id) const {
  return audit::VerifierKey(absl::StrCat(origin_prefix_, "/", node_id), key_).value_or("");
}

absl::StatusOr<store::LogInfo> Auditor::Log(const std::string& node_id) const {
  absl::StatusOr<std::vector<store::LogInfo>> logs =
      Await<std::vector<store::LogInfo>>([&](auto done) { store_.ListLogs(std::move(done)); });
  if (!logs.ok()) return logs.status();
  for (const store::LogInfo& l : *logs) {
    if (l.node_id == node_id) return l;
  }
  return absl::NotFoundError(absl::StrCat("no log of node \"", node_id, "\""));
}

absl::StatusOr<uint64_t> Auditor::LogSize(const std::string& node_id) const {
  absl::StatusOr<store::LogInfo> log = Log(node_id);
  if (!log.ok()) return log.status();
  return log->size;
}

absl::StatusOr<uint64_t> Auditor::NewestCheckpointSize(const std::string& node_id) const {
  absl::StatusOr<std::vector<idv::store::v1::Checkpoint>> c =
      Await<std::vector<idv::store::v1::Checkpoint>>(
          [&](auto done) { store_.ReadCheckpoints(node_id, 1, std::move(done)); });
  if (!c.ok()) return c.status();
  if (c->empty()) return absl::FailedPreconditionError("the log has no checkpoint yet");
  return (*c)[0].size();
}

absl::StatusOr<idv::v1::GetCheckpointResponse> Auditor::Checkpoints(
    const std::string& node_id) const {
  absl::StatusOr<std::vector<store::LogInfo>> logs =
      Await<std::vector<store::LogInfo>>([&](auto done) { store_.ListLogs(std::move(done)); });
  if (!logs.ok()) return logs.status();
  idv::v1::GetCheckpointResponse out;
  for (const store::LogInfo& l : *logs) {
    if (!node_id.empty() && l.node_id != node_id) continue;
    idv::v1::LogCheckpoint* lc = out.add_logs();
    lc->set_node_id(l.node_id);
    lc->set_log_size(l.size);
    lc->set_purged_through(l.purged_through);
    lc->set_verifier_key(VerifierKey(l.node_id));
    absl::StatusOr<std::vector<idv::store::v1::Checkpoint>> c =
        Await<std::vector<idv::store::v1::Checkpoint>>(
            [&](auto done) { store_.ReadCheckpoints(l.node_id, 1, std::move(done)); });
    if (!c.ok()) return c.status();
    if (!c->empty()) {
      lc->set_checkpoint((*c)[0].note());
      lc->set_checkpoint_size((*c)[0].size());
      *lc->mutable_checkpoint_time() = (*c)[0].created_at();
    }
  }
  if (!node_id.empty() && out.logs_size() == 0) {
    return absl::NotFoundError(absl::StrCat("no log of node \"", node_id, "\""));
  }
  return out;
}

absl::StatusOr<idv::v1::AuditRecordEntry> Auditor::Record(const std::string& tenant,
                                                          const std::string& node_id,
                                                          uint64_t index) const {
  absl::StatusOr<store::LogInfo> log = Log(node_id);
  if (!log.ok()) return log.status();
  if (index < log->purged_through) {
    return absl::NotFoundError("the record was removed by retention (its hash stays in the log)");
  }
  absl::StatusOr<std::vector<store::StoredRecord>> r = Await<std::vector<store::StoredRecord>>(
      [&](auto done) { store_.ReadAuditRecords(node_id, index + 1, 1, std::move(done)); });
  if (!r.ok()) return r.status();
  idv::store::v1::AuditRecord record;
  if (r->empty() || (*r)[0].sequence != index + 1) return absl::NotFoundError("no such record");
  if (!record.ParseFromString((*r)[0].bytes)) return absl::DataLossError("unparsable record");
  if (record.tenant() != tenant) return absl::NotFoundError("no such record");
  return EntryFor(node_id, (*r)[0], record);
}

absl::StatusOr<idv::v1::InclusionProof> Auditor::ProveInclusion(const std::string& node_id,
                                                                uint64_t index,
                                                                uint64_t tree_size) const {
  if (tree_size == 0) {
    absl::StatusOr<uint64_t> size = NewestCheckpointSize(node_id);
    if (!size.ok()) return size.status();
    tree_size = *size;
  }
  absl::StatusOr<uint64_t> log_size = LogSize(node_id);
  if (!log_size.ok()) return log_size.status();
  if (index >= tree_size || tree_size > *log_size) {
    return absl::InvalidArgumentError("need index < tree_size <= the log's size");
  }
  store::StoredHashReader hashes(store_, node_id);
  const audit::SubtreeHashes tree = audit::StoredTree(hashes);
  absl::StatusOr<std::vector<audit::Hash>> path = audit::InclusionProof(index, tree_size, tree);
  if (!path.ok()) return path.status();
  absl::StatusOr<audit::Hash> root = tree(0, tree_size);
  absl::StatusOr<audit::Hash> leaf = tree(index, index + 1);
  if (!root.ok()) return root.status();
  if (!leaf.ok()) return leaf.status();
  idv::v1::InclusionProof out;
  out.set_node_id(node_id);
  out.set_index(index);
  out.set_tree_size(tree_size);
  out.set_leaf_hash(Bytes(*leaf));
  for (const audit::Hash& h : *path) out.add_hashes(Bytes(h));
  out.set_root(Bytes(*root));
  return out;
}

absl::StatusOr<idv::v1::ConsistencyProof> Auditor::ProveConsistency(const std::string& node_id,
                                                                    uint64_t old_size,
                                                                    uint64_t new_size) const {
  if (new_size == 0) {
    absl::StatusOr<uint64_t> size = NewestCheckpointSize(node_id);
    if (!size.ok()) return size.status();
    new_size = *size;
  }
  absl::StatusOr<uint64_t> log_size = LogSize(node_id);
  if (!log_size.ok()) return log_size.status();
  if (old_size == 0 || old_size > new_size || new_size > *log_size) {
    return absl::InvalidArgumentError("need 0 < old_size <= new_size <= the log's size");
  }
  store::StoredHashReader hashes(store_, node_id);
  const audit::SubtreeHashes tree = audit::StoredTree(hashes);
  absl::StatusOr<std::vector<audit::Hash>> path = audit::ConsistencyProof(old_size, new_size, tree);
  if (!path.ok()) return path.status();
  absl::StatusOr<audit::Hash> old_root = tree(0, old_size);
  absl::StatusOr<audit::Hash> new_root = tree(0, new_size);
  if (!old_root.ok()) return old_root.status();
  if (!new_root.ok()) return new_root.status();
  idv::v1::ConsistencyProof out;
  out.set_node_id(node_id);
  out.set_old_size(old_size);
  out.set_new_size(new_size);
  for (const audit::Hash& h : *path) out.add_hashes(Bytes(h));
  out.set_old_root(Bytes(*old_root));
  out.set_new_root(Bytes(*new_root));
  return out;
}

absl::Status Auditor::CheckPurgeRecord(const std::string& node_id,
                                       const store::LogInfo& log) const {
  const std::string mark = absl::StrCat("the store marks records 1..", log.purged_through,
                                        " as removed by retention, but ");
  absl::StatusOr<std::vector<store::StoredRecord>> r = Await<std::vector<store::StoredRecord>>(
      [&](auto done) { store_.ReadAuditRecords(node_id, log.purge_record, 1, std::move(done)); });
  if (!r.ok()) return r.status();
  idv::store::v1::AuditRecord record;
  if (r->empty() || (*r)[0].sequence != log.purge_record ||
      !record.ParseFromString((*r)[0].bytes) || !record.has_purge()) {
    return absl::DataLossError(
        absl::StrCat(mark, "record ", log.purge_record, " is no record of such a purge"));
  }
  if (record.purge().through_sequence() != log.purged_through ||
      record.purge().node_id() != node_id) {
    return absl::DataLossError(absl::StrCat(mark, "the log's purge record ", log.purge_record,
                                            " says records 1..", record.purge().through_sequence(),
                                            " of ", record.purge().node_id()));
  }
  return absl::OkStatus();
}

absl::StatusOr<idv::v1::IntegrityReport> Auditor::VerifyIntegrity(
    const std::string& node_id, const std::vector<std::string>& trusted, uint64_t first,
    uint64_t last) const {
  absl::StatusOr<store::LogInfo> log = Log(node_id);
  if (!log.ok()) return log.status();
  const bool ranged = first > 0 || last > 0;
  if (ranged) {
    if (first == 0) first = log->purged_through + 1;
    if (last == 0) last = log->size;
    if (first <= log->purged_through) {
      return absl::InvalidArgumentError(absl::StrCat("records 1..", log->purged_through,
                                                     " were removed by retention: start at ",
                                                     log->purged_through + 1, " or later"));
    }
    if (last < first || last > log->size) {
      return absl::InvalidArgumentError(
          absl::StrCat("records ", first, "..", last, " are not in the log of ", node_id,
                       " (records ", log->purged_through + 1, "..", log->size, ")"));
    }
  }
  absl::StatusOr<std::vector<idv::store::v1::Checkpoint>> stored =
      Await<std::vector<idv::store::v1::Checkpoint>>(
          [&](auto done) { store_.ReadCheckpoints(node_id, SIZE_MAX, std::move(done)); });
  if (!stored.ok()) return stored.status();
  store::StoredHashReader hashes(store_, node_id);
  audit::IntegritySource source;
  source.node_id = node_id;
  source.hashes = &hashes;
  source.verifier_key = VerifierKey(node_id);
  source.purged_through = log->purged_through;
  source.first = first;
  source.last = last;
  for (const auto& c : *stored) source.checkpoint_notes.push_back(c.note());
  source.checkpoint_notes.insert(source.checkpoint_notes.end(), trusted.begin(), trusted.end());
  source.records = [&](uint64_t first,
                       size_t limit) -> absl::StatusOr<std::vector<audit::LogRecord>> {
    absl::StatusOr<std::vector<store::StoredRecord>> r = Await<std::vector<store::StoredRecord>>(
        [&](auto done) { store_.ReadAuditRecords(node_id, first, limit, std::move(done)); });
    if (!r.ok()) return r.status();
    std::vector<audit::LogRecord> out;
    out.reserve(r->size());
    for (store::StoredRecord& s : *r) {
      audit::LogRecord lr;
      idv::store::v1::AuditRecord parsed;
      if (parsed.ParseFromString(s.bytes)) {  // unparsable: the fields stay empty and fail
        lr.inner_sequence = parsed.sequence();
        lr.inner_node = parsed.node_id();
      }
      lr.sequence = s.sequence;
      lr.bytes = std::move(s.bytes);
      lr.leaf_hash = std::move(s.leaf_hash);
      out.push_back(std::move(lr));
    }
    return out;
  };
  absl::StatusOr<audit::IntegrityReport> report = audit::VerifyLog(source);
  if (!report.ok()) return report.status();
  if (report->ok && log->purged_through > 0 && !ranged) {
    // The log itself (checked above) must say that exactly these records were purged.
    absl::Status said = CheckPurgeRecord(node_id, *log);
    if (!said.ok()) {
      report->ok = false;
      report->first_bad_index = log->purge_record;
      report->problem = std::string(said.message());
    }
  }
  idv::v1::IntegrityReport out;
  out.set_node_id(node_id);
  out.set_intact(report->ok);
  out.set_records_checked(report->records_checked);
  out.set_checkpoints_checked(report->checkpoints_checked);
  out.set_first_bad_sequence(report->first_bad_index);
  out.set_problem(report->problem);
  out.set_log_size(report->size);
  out.set_root(Bytes(report->root));
  out.set_purged_through(log->purged_through);
  return out;
}

}  // namespace idv::services
