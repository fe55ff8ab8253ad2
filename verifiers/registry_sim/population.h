// The synthetic population of idv-registry-sim: deterministic for a (size, seed) pair, so tests and
// load runs on any machine see the same people. Every document number is a valid GB 11643 resident
// ID (real address codes, real birth dates 1940-2015, correct check character); names are
// plausible Chinese names, about 3% of them minority names with a middle dot (U+00B7); everyone has
// a unique Chinese mobile number (for carrier three-element checks).
//
// Immutable after Generate; safe to read from any number of threads.
#ifndef IDV_VERIFIERS_REGISTRY_SIM_POPULATION_H_
#define IDV_VERIFIERS_REGISTRY_SIM_POPULATION_H_

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace idv::sim {

struct Person {
  std::string document_number;
  std::string full_name;
  std::string phone_number;  // E.164 mobile number, unique in the population
};

class Population {
 public:
  static Population Generate(size_t size, uint64_t seed);

  size_t size() const { return people_.size(); }
  const Person& at(size_t i) const { return people_[i]; }
  // The person holding `document_number`, or nullptr.
  const Person* Find(absl::string_view document_number) const;
  // The person the mobile number `e164` is registered to, or nullptr.
  const Person* FindByPhone(absl::string_view e164) const;

  // Writes "document_type,document_number,full_name,phone_number" lines (with that header).
  absl::Status ExportCsv(const std::string& path) const;

 private:
  std::vector<Person> people_;
  std::unordered_map<std::string, size_t> by_number_;
  std::unordered_map<std::string, size_t> by_phone_;
};

}  // namespace idv::sim

#endif  // IDV_VERIFIERS_REGISTRY_SIM_POPULATION_H_
