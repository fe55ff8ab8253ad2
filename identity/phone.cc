#include "identity/phone.h"

#include <phonenumbers/phonenumberutil.h>

#include "identity/normalize.h"

namespace idv::identity {

FieldResult CheckMobileNumber(absl::string_view raw) {
  using i18n::phonenumbers::PhoneNumber;
  using i18n::phonenumbers::PhoneNumberUtil;
  if (!IsValidUtf8(raw)) {
    return Rejected(idv::v1::INVALID_PHONE, kPhoneField, "The phone number is not valid UTF-8.");
  }
  const PhoneNumberUtil* util = PhoneNumberUtil::GetInstance();
  PhoneNumber number;
  if (util->Parse(std::string(raw), "CN", &number) != PhoneNumberUtil::NO_PARSING_ERROR ||
      !util->IsValidNumber(number)) {
    return Rejected(idv::v1::INVALID_PHONE, kPhoneField, "The phone number is not valid.");
  }
  const PhoneNumberUtil::PhoneNumberType type = util->GetNumberType(number);
  if (type != PhoneNumberUtil::MOBILE && type != PhoneNumberUtil::FIXED_LINE_OR_MOBILE) {
    return Rejected(idv::v1::PHONE_NOT_MOBILE, kPhoneField,
                    "The phone number is not a mobile number.");
  }
  FieldResult r;
  util->Format(number, PhoneNumberUtil::E164, &r.canonical);
  return r;
}

}  // namespace idv::identity
