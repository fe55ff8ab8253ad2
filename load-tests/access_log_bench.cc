// The access log's own cost per Verify line (services/logging.h): building the JSON line,
// buffering it and, amortized, writing it. Process CPU time, so the writer thread counts too.
// Run with standard output sent to a file, as idvd's is:
//   build/load-tests/access_log_bench --benchmark_min_time=2 > /tmp/access.log
// (the access lines and, at the end, the benchmark's results).
#include <benchmark/benchmark.h>

#include "absl/time/time.h"
#include "services/logging.h"

namespace {

void BM_AccessLogVerify(benchmark::State& state) {
  idv::services::AccessLog log(1);
  idv::v1::VerifyResponse response;
  response.set_outcome(idv::v1::VERIFIED);
  response.set_binding(idv::v1::BOUND);
  response.set_cached(true);
  response.add_checks();
  for (auto _ : state) {
    log.Verify("01JG4M5Q7W0000000000000000", "default", "signup-web", 0, response,
               absl::Microseconds(850));
  }
}
BENCHMARK(BM_AccessLogVerify)->MeasureProcessCPUTime()->UseRealTime();

void BM_AccessLogNotSampled(benchmark::State& state) {
  idv::services::AccessLog log(0.01);
  idv::v1::VerifyResponse response;
  for (auto _ : state) {
    log.Verify("01JG4M5Q7W0000000000000000", "default", "signup-web", 0, response,
               absl::Microseconds(850));
  }
}
BENCHMARK(BM_AccessLogNotSampled)->MeasureProcessCPUTime()->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
