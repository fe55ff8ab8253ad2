// idv-audit-fill: fills the store an idvd configuration names with synthetic verification records,
// for measuring the audit queries at scale while idvd is stopped.
//
//   idv-audit-fill --config idvd.textproto --records 1000000 --accounts 100000 --day 2026-11-22
//
// The records go through the same Store as idvd's own (same engine, same Merkle log, same
// checkpoint signing under the configuration's master key), spread evenly over the given UTC
// day (or the N hours before now): outcomes 85 % VERIFIED, 8 % MISMATCH, 4 % NOT_FOUND (each with
// one "sim" backend check of 150 µs to 3 ms), 3 % INVALID (offline, no check). Accounts are
// "acct-<n>", round-robin, so a given account has records / accounts of them spread over the day.
// No identity data: masked forms and random fingerprints only. Prints records/s.
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <random>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "audit/records.h"
#include "services/server.h"

ABSL_FLAG(std::string, config, "", "idvd's configuration file (its store and keys are used)");
ABSL_FLAG(uint64_t, records, 1000000, "records to add");
ABSL_FLAG(uint64_t, accounts, 100000, "distinct account ids");
ABSL_FLAG(std::string, day, "",
          "UTC day the records are decided on, YYYY-MM-DD (default: yesterday)");
ABSL_FLAG(uint32_t, last_hours, 0,
          "spread the records over the N hours before now instead of a UTC day (0: --day)");
ABSL_FLAG(uint32_t, in_flight, 4096, "commits queued at once");

namespace idv::load {
namespace {

store::VerificationCommit MakeCommit(uint64_t i, uint64_t accounts, absl::Time at,
                                     std::mt19937_64& rng) {
  const uint32_t roll = rng() % 100;
  idv::v1::Outcome outcome = idv::v1::VERIFIED;
  idv::v1::ReasonCode code = idv::v1::ELEMENTS_MATCH;
  if (roll >= 97) {
    outcome = idv::v1::INVALID;
    code = idv::v1::INVALID_CHECK_CHARACTER;
  } else if (roll >= 93) {
    outcome = idv::v1::NOT_FOUND;
    code = idv::v1::NO_RECORD;
  } else if (roll >= 85) {
    outcome = idv::v1::MISMATCH;
    code = idv::v1::NAME_MISMATCH;
  }
  idv::v1::Reason reason;
  reason.set_code(code);
  google::protobuf::RepeatedPtrField<idv::v1::Check> checks;
  if (outcome != idv::v1::INVALID) {
    idv::v1::Check* c = checks.Add();
    c->set_backend("sim");
    c->set_outcome(outcome);
    c->set_raw_code("0");
    c->set_latency_us(150 + rng() % 2850);
  }
  std::string fingerprint(32, '\0');
  for (char& ch : fingerprint) ch = static_cast<char>(rng());
  store::VerificationCommit commit;
  commit.record = audit::RecordBuilder::Verification(absl::StrCat("fill-", i), at)
                      .By("default", "audit-fill")
                      .Account(absl::StrCat("acct-", i % accounts))
                      .Document(idv::v1::CN_RESIDENT_ID, "1101**********123X", "*某")
                      .Identity(fingerprint, 1)
                      .Result(outcome, reason, checks, {}, /*cached=*/roll % 3 == 0)
                      .Build();
  return commit;
}

int Main() {
  absl::StatusOr<idv::config::v1::ServerConfig> config =
      services::LoadConfig(absl::GetFlag(FLAGS_config));
  if (!config.ok()) {
    std::cerr << "idv-audit-fill: " << config.status() << "\n";
    return 2;
  }
  absl::StatusOr<services::KeysAndStore> opened = services::OpenKeysAndStore(*config);
  if (!opened.ok()) {
    std::cerr << "idv-audit-fill: " << opened.status() << "\n";
    return 1;
  }
  absl::CivilDay day = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone()) - 1;
  if (!absl::GetFlag(FLAGS_day).empty() && !absl::ParseCivilTime(absl::GetFlag(FLAGS_day), &day)) {
    std::cerr << "idv-audit-fill: --day is not YYYY-MM-DD\n";
    return 2;
  }
  const uint32_t last_hours = absl::GetFlag(FLAGS_last_hours);
  const absl::Duration span = last_hours > 0 ? absl::Hours(last_hours) : absl::Hours(24);
  const absl::Time start =
      last_hours > 0 ? absl::Now() - span : absl::FromCivil(day, absl::UTCTimeZone());
  const uint64_t n = absl::GetFlag(FLAGS_records);
  const uint64_t accounts = std::max<uint64_t>(1, absl::GetFlag(FLAGS_accounts));
  const uint32_t in_flight = std::max<uint32_t>(1, absl::GetFlag(FLAGS_in_flight));
  std::mt19937_64 rng(42);
  std::mutex mu;
  std::condition_variable cv;
  uint64_t queued = 0, done = 0, failed = 0;  // guarded by mu
  const absl::Time began = absl::Now();
  for (uint64_t i = 0; i < n; ++i) {
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return queued - done < in_flight; });
      ++queued;
    }
    const absl::Time at = start + span * (static_cast<double>(i) / n);
    opened->store->CommitVerification(MakeCommit(i, accounts, at, rng),
                                      [&](absl::StatusOr<store::CommitResult> r) {
                                        std::lock_guard<std::mutex> lock(mu);
                                        ++done;
                                        if (!r.ok() && failed++ == 0)
                                          std::cerr << "idv-audit-fill: " << r.status() << "\n";
                                        cv.notify_one();
                                      });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return queued == done; });
  }
  opened->store->Close();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - began);
  std::cout << n - failed << " records "
            << (last_hours > 0 ? absl::StrCat("in the last ", last_hours, " hours")
                               : absl::StrCat("on ", absl::FormatCivilTime(day)))
            << " in " << seconds << " s (" << static_cast<uint64_t>((n - failed) / seconds)
            << " records/s)" << (failed > 0 ? absl::StrCat(", ", failed, " failed") : "")
            << std::endl;
  return failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace idv::load

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return idv::load::Main();
}
