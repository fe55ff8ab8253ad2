#include "identity/derived.h"

namespace idv::identity {

int AgeOn(absl::CivilDay birth, absl::CivilDay on) {
  int age = static_cast<int>(on.year() - birth.year());
  if (on.month() < birth.month() || (on.month() == birth.month() && on.day() < birth.day())) {
    --age;
  }
  return age;
}

idv::v1::DerivedAttributes Derive(absl::CivilDay birth, absl::CivilDay on) {
  const int age = AgeOn(birth, on);
  idv::v1::DerivedAttributes d;
  d.set_adult(age >= 18);
  if (age < 8) {
    d.set_age_band(idv::v1::UNDER_8);
  } else if (age < 16) {
    d.set_age_band(idv::v1::AGE_8_TO_15);
  } else if (age < 18) {
    d.set_age_band(idv::v1::AGE_16_TO_17);
  } else {
    d.set_age_band(idv::v1::AGE_18_AND_OVER);
  }
  return d;
}

}  // namespace idv::identity
