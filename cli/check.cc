#include "cli/check.h"

#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "identity/claim.h"
#include "identity/document.h"
#include "identity/mask.h"
#include "identity/name.h"
#include "identity/phone.h"

namespace idv::cli {
namespace {

struct Outcome {
  bool valid = false;
  std::string reason;   // ReasonCode name, empty when valid
  std::string message;  // empty when valid
  std::string canonical;
  std::string masked;
  std::vector<std::string> notes;
};

using Checker = std::function<Outcome(const std::string&)>;

Outcome FromField(const identity::FieldResult& r) {
  Outcome o;
  o.valid = r.ok();
  if (!r.ok()) {
    o.reason = idv::v1::ReasonCode_Name(r.rejection->code);
    o.message = r.rejection->message;
  } else {
    o.canonical = r.canonical;
  }
  return o;
}

void AppendResult(std::string& out, const std::string& input, const Outcome& o, bool json) {
  if (!json) {
    out += input;
    out += o.valid ? "\tvalid\t" : "\tinvalid\t";
    out += o.valid ? o.canonical : o.reason;
    if (!o.notes.empty()) out += "\t" + o.notes.front();
    out.push_back('\n');
    return;
  }
  nlohmann::ordered_json j;
  j["input"] = input;
  j["valid"] = o.valid;
  j["reason"] = o.reason;
  if (!o.valid) j["message"] = o.message;
  j["canonical"] = o.canonical;
  j["masked"] = o.masked;
  if (!o.notes.empty()) j["notes"] = o.notes;
  // Bytes that are not UTF-8 (the input is whatever was typed) become U+FFFD.
  out += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out.push_back('\n');
}

bool MakeChecker(const CheckOptions& options, Checker* checker) {
  const absl::CivilDay today = identity::TodayInChina(absl::Now());
  if (options.type == "name") {
    *checker = [](const std::string& s) {
      Outcome o = FromField(identity::CheckName(s));
      if (o.valid) o.masked = identity::MaskName(o.canonical);
      return o;
    };
    return true;
  }
  if (options.type == "phone") {
    *checker = [](const std::string& s) {
      Outcome o = FromField(identity::CheckMobileNumber(s));
      if (o.valid) o.masked = identity::MaskDocumentNumber(o.canonical);
      return o;
    };
    return true;
  }
  idv::v1::DocumentType type;
  if (!idv::v1::DocumentType_Parse(absl::AsciiStrToUpper(options.type), &type) ||
      type == idv::v1::DOCUMENT_TYPE_UNSPECIFIED) {
    return false;
  }
  *checker = [type, today, country = options.country](const std::string& s) {
    identity::DocumentResult r = identity::CheckDocument(type, s, country, today);
    Outcome o;
    o.valid = r.ok();
    if (!r.ok()) {
      o.reason = idv::v1::ReasonCode_Name(r.rejection->code);
      o.message = r.rejection->message;
      return o;
    }
    o.masked = identity::MaskDocumentNumber(r.canonical);
    o.canonical = std::move(r.canonical);
    for (const identity::Finding& n : r.notes) o.notes.push_back(idv::v1::ReasonCode_Name(n.code));
    return o;
  };
  return true;
}

// Calls `fn` with every line of `in` (without its line ending; a final unterminated line too).
template <typename Fn>
void ForEachLine(std::FILE* in, Fn fn) {
  std::string pending;
  std::vector<char> buf(1 << 16);
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), in)) > 0) {
    size_t start = 0;
    for (size_t i = 0; i < n; ++i) {
      if (buf[i] != '\n') continue;
      pending.append(buf.data() + start, i - start);
      if (!pending.empty() && pending.back() == '\r') pending.pop_back();
      fn(pending);
      pending.clear();
      start = i + 1;
    }
    pending.append(buf.data() + start, n - start);
  }
  if (!pending.empty()) fn(pending);
}

}  // namespace

int RunCheck(const CheckOptions& options, const std::vector<std::string>& inputs, std::FILE* in,
             std::FILE* out) {
  Checker checker;
  if (!MakeChecker(options, &checker)) {
    std::cerr << "idvctl check: unknown --type \"" << options.type
              << "\"; use cn_resident_id, cn_residence_permit_hmt, cn_permanent_residence, "
                 "hmt_travel_permit, passport, name or phone\n";
    return 2;
  }
  bool all_valid = true;
  std::string buffer;
  buffer.reserve(1 << 17);
  auto check_one = [&](const std::string& input) {
    Outcome o = checker(input);
    all_valid = all_valid && o.valid;
    AppendResult(buffer, input, o, options.json);
    if (buffer.size() >= (1 << 16)) {
      std::fwrite(buffer.data(), 1, buffer.size(), out);
      buffer.clear();
    }
  };
  if (!inputs.empty()) {
    for (const std::string& input : inputs) check_one(input);
  } else {
    ForEachLine(in, check_one);
  }
  std::fwrite(buffer.data(), 1, buffer.size(), out);
  std::fflush(out);
  return all_valid ? 0 : 1;
}

}  // namespace idv::cli
