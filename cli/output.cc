#include "cli/output.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "google/protobuf/any.pb.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace idv::cli {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using Row = std::vector<std::pair<std::string, std::string>>;

std::string Json(const Message& m, bool pretty) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  opts.always_print_primitive_fields = true;
  opts.add_whitespace = pretty;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(m, &out, opts).ok()) {
    // Only an Any of a type this binary does not know: fall back to the text format.
    google::protobuf::TextFormat::PrintToString(m, &out);
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// A well-known type printed as one value; false for any other message.
bool WellKnown(const Message& v, std::string* text) {
  const std::string& type = v.GetDescriptor()->full_name();
  if (type == "google.protobuf.Timestamp") {
    *text = google::protobuf::util::TimeUtil::ToString(
        static_cast<const google::protobuf::Timestamp&>(v));
    return true;
  }
  if (type == "google.protobuf.Duration") {
    const auto& d = static_cast<const google::protobuf::Duration&>(v);
    *text = HumanDuration(d.seconds(), d.nanos());
    return true;
  }
  if (type == "google.protobuf.Any") {
    *text = Json(v, false);
    return true;
  }
  return false;
}

// The message inside an Any whose type this binary knows; null for anything else.
std::unique_ptr<Message> Unpack(const Message& v) {
  if (v.GetDescriptor()->full_name() != "google.protobuf.Any") return nullptr;
  const auto& any = static_cast<const google::protobuf::Any&>(v);
  const std::string type(absl::StripPrefix(any.type_url(), "type.googleapis.com/"));
  const Descriptor* d =
      google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(type);
  if (d == nullptr) return nullptr;
  const Message* prototype = google::protobuf::MessageFactory::generated_factory()->GetPrototype(d);
  if (prototype == nullptr) return nullptr;
  std::unique_ptr<Message> inner(prototype->New());
  if (!inner->ParseFromString(any.value())) return nullptr;
  return inner;
}

std::string Scalar(const Message& m, const FieldDescriptor* f, int index) {
  const Reflection* r = m.GetReflection();
  const bool repeated = index >= 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string s = repeated ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
      return f->type() == FieldDescriptor::TYPE_BYTES ? absl::Base64Escape(s) : s;
    }
    case FieldDescriptor::CPPTYPE_ENUM:
      return (repeated ? r->GetRepeatedEnum(m, f, index) : r->GetEnum(m, f))->name();
    case FieldDescriptor::CPPTYPE_BOOL:
      return (repeated ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false";
    default: {
      std::string text;
      google::protobuf::TextFormat::PrintFieldValueToString(m, f, index, &text);
      // Milliseconds as durations people read: "timeout_ms 800" -> 800ms.
      if (absl::EndsWith(f->name(), "_ms")) text += "ms";
      return text;
    }
  }
}

// Appends one (dotted name, value) pair per set scalar of `m`, nested messages flattened.
void Flatten(const Message& m, const std::string& prefix, const FieldDescriptor* skip, Row& row) {
  const Reflection* r = m.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    if (f == skip) continue;
    const std::string key = prefix + f->name();
    std::string text;
    if (f->is_repeated()) {
      std::vector<std::string> items;
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
          items.push_back(Scalar(m, f, i));
        } else if (const Message& item = r->GetRepeatedMessage(m, f, i); !WellKnown(item, &text)) {
          items.push_back(Json(item, false));
        } else {
          items.push_back(text);
        }
      }
      row.emplace_back(key, absl::StrJoin(items, ", "));
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      const Message& sub = r->GetMessage(m, f);
      if (std::unique_ptr<Message> inner = Unpack(sub)) {
        // An Any (a backend's typed config): its type's short name, then its fields.
        row.emplace_back(key, inner->GetDescriptor()->name());
        Flatten(*inner, key + ".", nullptr, row);
      } else if (WellKnown(sub, &text)) {
        row.emplace_back(key, text);
      } else {
        const size_t before = row.size();
        Flatten(sub, key + ".", nullptr, row);
        if (row.size() == before) row.emplace_back(key, "{}");
      }
    } else {
      row.emplace_back(key, Scalar(m, f, -1));
    }
  }
}

// The one repeated message field of a list-shaped response (ListBackends, ListRecords, ...).
const FieldDescriptor* ListField(const Message& m) {
  const Descriptor* d = m.GetDescriptor();
  const FieldDescriptor* found = nullptr;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (!f->is_repeated() || f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE || f->is_map()) {
      continue;
    }
    if (found != nullptr) return nullptr;
    found = f;
  }
  return found;
}

void PrintRows(const Row& row, std::ostream& out) {
  size_t width = 0;
  for (const auto& [key, value] : row) width = std::max(width, key.size());
  width = std::min<size_t>(width + 2, 34);
  for (const auto& [key, value] : row) {
    const std::string pad(key.size() < width ? width - key.size() : 2, ' ');
    out << key << pad << absl::StrReplaceAll(value, {{"\n", "\n" + std::string(width, ' ')}})
        << "\n";
  }
}

void PrintTable(const Message& m, const FieldDescriptor* list, std::ostream& out) {
  const Reflection* r = m.GetReflection();
  std::vector<Row> rows;
  std::vector<std::string> columns;
  for (int i = 0; i < r->FieldSize(m, list); ++i) {
    Row row;
    Flatten(r->GetRepeatedMessage(m, list, i), "", nullptr, row);
    for (const auto& [key, value] : row) {
      if (std::find(columns.begin(), columns.end(), key) == columns.end()) columns.push_back(key);
    }
    rows.push_back(std::move(row));
  }
  if (rows.empty()) {
    out << "(no " << absl::StrReplaceAll(list->name(), {{"_", " "}}) << ")\n";
    return;
  }
  std::vector<std::vector<std::string>> cells;
  std::vector<size_t> widths;
  for (const std::string& c : columns) widths.push_back(c.size());
  for (const Row& row : rows) {
    std::vector<std::string> line(columns.size());
    for (const auto& [key, value] : row) {
      const size_t at = std::find(columns.begin(), columns.end(), key) - columns.begin();
      line[at] = absl::StrReplaceAll(value, {{"\n", "\\n"}});
      widths[at] = std::max(widths[at], line[at].size());
    }
    cells.push_back(std::move(line));
  }
  auto emit = [&](const std::vector<std::string>& line) {
    std::string text;
    for (size_t i = 0; i < line.size(); ++i) {
      text += line[i];
      if (i + 1 < line.size()) text += std::string(widths[i] - line[i].size() + 2, ' ');
    }
    out << text << "\n";
  };
  std::vector<std::string> header;
  for (const std::string& c : columns) header.push_back(absl::AsciiStrToUpper(c));
  emit(header);
  for (const auto& line : cells) emit(line);
}

// A string YAML would read back as something else (a number, a boolean, null) is quoted.
bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  static const char* const kWords[] = {"true", "false", "yes", "no", "on",
                                       "off",  "null",  "~",   "y",  "n"};
  for (const char* w : kWords) {
    if (absl::EqualsIgnoreCase(s, w)) return true;
  }
  return !nlohmann::json::parse(s, nullptr, false).is_discarded();
}

void EmitYaml(const nlohmann::json& j, YAML::Emitter& out) {
  if (j.is_object()) {
    out << YAML::BeginMap;
    for (auto it = j.begin(); it != j.end(); ++it) {
      out << YAML::Key << it.key() << YAML::Value;
      EmitYaml(it.value(), out);
    }
    out << YAML::EndMap;
  } else if (j.is_array()) {
    out << YAML::BeginSeq;
    for (const auto& item : j) EmitYaml(item, out);
    out << YAML::EndSeq;
  } else if (j.is_string()) {
    const std::string& s = j.get_ref<const std::string&>();
    if (NeedsQuotes(s)) out << YAML::DoubleQuoted;
    out << s;
  } else if (j.is_boolean()) {
    out << j.get<bool>();
  } else if (j.is_null()) {
    out << YAML::Null;
  } else {
    out << j.dump();
  }
}

}  // namespace

std::optional<Format> ParseFormat(const std::string& name) {
  if (name == "table") return Format::kTable;
  if (name == "json") return Format::kJson;
  if (name == "jsonl") return Format::kJsonl;
  if (name == "yaml") return Format::kYaml;
  return std::nullopt;
}

std::string HumanDuration(int64_t seconds, int32_t nanos) {
  const absl::Duration d = absl::Seconds(seconds) + absl::Nanoseconds(nanos);
  const double ns = absl::ToDoubleNanoseconds(d);
  if (ns < 0) return "-" + HumanDuration(-seconds, -nanos);
  if (ns < 1e3) return absl::StrFormat("%.0fns", ns);
  if (ns < 1e6) return absl::StrFormat("%.3gµs", ns / 1e3);
  if (ns < 1e9) return absl::StrFormat("%.3gms", ns / 1e6);
  if (ns < 60e9) return absl::StrFormat("%.3gs", ns / 1e9);
  return absl::FormatDuration(absl::Trunc(d, absl::Seconds(1)));
}

void PrintMessage(const Message& m, Format format, std::ostream& out) {
  const FieldDescriptor* list = ListField(m);
  switch (format) {
    case Format::kJson:
      out << Json(m, true) << "\n";
      return;
    case Format::kJsonl:
      if (list == nullptr) {
        out << Json(m, false) << "\n";
        return;
      }
      for (int i = 0; i < m.GetReflection()->FieldSize(m, list); ++i) {
        out << Json(m.GetReflection()->GetRepeatedMessage(m, list, i), false) << "\n";
      }
      return;
    case Format::kYaml: {
      YAML::Emitter yaml;
      EmitYaml(nlohmann::json::parse(Json(m, false)), yaml);
      out << yaml.c_str() << "\n";
      return;
    }
    case Format::kTable: {
      Row row;
      Flatten(m, "", list, row);
      PrintRows(row, out);
      if (list != nullptr) {
        if (!row.empty()) out << "\n";
        PrintTable(m, list, out);
      }
      return;
    }
  }
}

}  // namespace idv::cli
