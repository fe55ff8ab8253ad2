// The group-commit writer alone: how many durable audit records per second the LevelDB store takes
// and what each costs in CPU (all of the process's threads: the writer, LevelDB's compaction
// thread and the callers), with `inflight` commits queued at once, as a warm Verify makes them.
//
//   build/load-tests/store_bench [--benchmark_min_time=2]
//
// Counters: records/s (wall clock) and cpu_us/record (getrusage of the whole process).
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/synchronization/notification.h"
#include "store/leveldb/leveldb_store.h"

namespace idv::store {
namespace {

double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// A record shaped like a cache hit's: every field Verify fills in, realistic sizes.
VerificationCommit WarmCommit(uint64_t i) {
  VerificationCommit c;
  idv::store::v1::AuditRecord& r = c.record;
  std::string id = "01JD" + std::to_string(1000000000000000000ull + i);
  id.resize(26, '0');
  r.set_verification_id(id);
  r.mutable_decided_at()->set_seconds(1795000000 + static_cast<int64_t>(i / 1000));
  r.mutable_decided_at()->set_nanos(static_cast<int32_t>(i % 1000) * 1000);
  r.set_tenant("default");
  r.set_client_id("admin");
  r.set_account_id("load-" + std::to_string(i));
  r.set_document_type(idv::v1::CN_RESIDENT_ID);
  r.set_masked_document_number("110***********1234");
  r.set_masked_name("张*");
  r.set_identity_fingerprint(std::string(32, static_cast<char>(i)));
  r.set_key_version(1);
  r.set_outcome(idv::v1::VERIFIED);
  r.mutable_reason()->set_code(idv::v1::REASON_CODE_UNSPECIFIED);
  r.mutable_reason()->set_message("the authority confirmed the claim");
  r.set_cached(true);
  r.mutable_derived()->set_adult(true);
  return c;
}

void BM_CommitVerification(benchmark::State& state) {
  const int inflight = static_cast<int>(state.range(0));
  char dir[] = "/tmp/idv-store-bench-XXXXXX";
  if (mkdtemp(dir) == nullptr) {
    state.SkipWithError("mkdtemp failed");
    return;
  }
  LevelDbStoreOptions options;
  options.data_dir = dir;
  absl::StatusOr<std::unique_ptr<Store>> store = OpenLevelDbStore(options);
  if (!store.ok()) {
    state.SkipWithError(std::string(store.status().message()).c_str());
    return;
  }
  uint64_t next = 0;
  int64_t records = 0;
  std::atomic<int64_t> failed{0};
  const double cpu_start = ProcessCpuSeconds();
  for (auto _ : state) {
    // `inflight` commits queued back to back, then wait for all: the writer groups them.
    std::atomic<int> left{inflight};
    absl::Notification all_done;
    for (int k = 0; k < inflight; ++k) {
      (*store)->CommitVerification(WarmCommit(next++), [&](absl::StatusOr<CommitResult> r) {
        if (!r.ok()) failed.fetch_add(1, std::memory_order_relaxed);
        if (left.fetch_sub(1, std::memory_order_acq_rel) == 1) all_done.Notify();
      });
    }
    all_done.WaitForNotification();
    records += inflight;
  }
  const double cpu = ProcessCpuSeconds() - cpu_start;
  store->reset();  // closes the database, so nothing writes into the directory any more
  if (failed.load() > 0) state.SkipWithError("commits failed");
  state.SetItemsProcessed(records);
  state.counters["cpu_us/record"] = cpu * 1e6 / static_cast<double>(records);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (ec) state.SkipWithError("cleanup failed");
}
BENCHMARK(BM_CommitVerification)
    ->Arg(1)
    ->Arg(64)
    ->Arg(256)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace idv::store

BENCHMARK_MAIN();
