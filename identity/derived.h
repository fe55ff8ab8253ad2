// Attributes derived from a verified document's birth date. Thread-safe; no state.
#ifndef IDV_IDENTITY_DERIVED_H_
#define IDV_IDENTITY_DERIVED_H_

#include "absl/time/civil_time.h"
#include "idv/v1/verification.pb.h"

namespace idv::identity {

// Completed years of age on `on` (a person born on 29 February turns a year older on 1 March in
// common years).
int AgeOn(absl::CivilDay birth, absl::CivilDay on);

// `adult` and the age band on the decision date `on` (China Standard Time).
idv::v1::DerivedAttributes Derive(absl::CivilDay birth, absl::CivilDay on);

}  // namespace idv::identity

#endif  // IDV_IDENTITY_DERIVED_H_
