#include "verifiers/registry_sim/population.h"

#include <cstdio>
#include <fstream>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "identity/document.h"

namespace idv::sim {
namespace {

// County-level address codes of GB/T 2260, one or two per province.
constexpr const char* kAddressCodes[] = {
    "110101", "110105", "120101", "130102", "140105", "150102", "210102", "220102", "230102",
    "310101", "310104", "320102", "330102", "340102", "350102", "360102", "370102", "410102",
    "420102", "430102", "440103", "440305", "450102", "460105", "500101", "510104", "520102",
    "530102", "540102", "610102", "620102", "630102", "640104", "650102"};

constexpr const char* kSurnames[] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵",   "吴",
                                     "周", "徐", "孙", "马", "朱", "胡", "郭", "何",   "林",
                                     "高", "罗", "郑", "梁", "谢", "宋", "唐", "欧阳", "司马"};

constexpr const char* kGiven[] = {"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳",
                                  "勇", "军", "杰", "娟", "涛", "明", "超", "秀", "英", "华",
                                  "玉", "兰", "桂", "平", "刚", "辉", "鹏", "霞", "浩", "宇",
                                  "欣", "怡", "嘉", "子", "梓", "涵", "轩", "博", "文", "睿"};

constexpr const char* kMinorityFirst[] = {"阿依古丽", "帕尔哈提", "迪丽热巴", "古丽米拉",
                                          "艾克拜尔", "努尔兰",   "热依拉",   "买尔旦"};
constexpr const char* kMinorityLast[] = {"买买提", "艾力",   "吐尔逊", "米吉提",
                                         "阿不都", "库尔班", "司马义", "热合曼"};

// Mobile prefixes of the three carriers.
constexpr const char* kMobilePrefixes[] = {"130", "131", "132", "133", "135", "136", "137", "138",
                                           "139", "150", "151", "152", "155", "157", "158", "159",
                                           "180", "181", "182", "183", "185", "186", "187", "189"};

template <typename T, size_t N>
const T& Pick(std::mt19937_64& rng, const T (&items)[N]) {
  return items[rng() % N];
}

std::string RandomName(std::mt19937_64& rng) {
  if (rng() % 100 < 3) {
    return absl::StrCat(Pick(rng, kMinorityFirst), "\u00b7", Pick(rng, kMinorityLast));
  }
  std::string name = Pick(rng, kSurnames);
  const int given = 1 + static_cast<int>(rng() % 2);
  for (int i = 0; i < given; ++i) name += Pick(rng, kGiven);
  return name;
}

std::string RandomNumber(std::mt19937_64& rng) {
  static const absl::CivilDay kFirst(1940, 1, 1);
  static const absl::CivilDay kLast(2015, 12, 31);
  const absl::CivilDay birth = kFirst + static_cast<int64_t>(rng() % (kLast - kFirst + 1));
  std::string n = absl::StrFormat("%s%04d%02d%02d%03d", Pick(rng, kAddressCodes), birth.year(),
                                  birth.month(), birth.day(), static_cast<int>(rng() % 1000));
  n.push_back(identity::ResidentIdCheckCharacter(n));
  return n;
}

}  // namespace

Population Population::Generate(size_t size, uint64_t seed) {
  // mt19937_64's output sequence is fixed by the C++ standard, so a seed means the same population
  // everywhere (the standard distributions are not, which is why they are not used).
  std::mt19937_64 rng(seed);
  Population p;
  p.people_.reserve(size);
  p.by_number_.reserve(size);
  while (p.people_.size() < size) {
    std::string number = RandomNumber(rng);
    std::string name = RandomName(rng);
    std::string phone = absl::StrFormat("+86%s%08d", Pick(rng, kMobilePrefixes),
                                        static_cast<int>(rng() % 100000000));
    if (p.by_number_.count(number) != 0 || p.by_phone_.count(phone) != 0) continue;
    p.by_number_.emplace(number, p.people_.size());
    p.by_phone_.emplace(phone, p.people_.size());
    p.people_.push_back(Person{std::move(number), std::move(name), std::move(phone)});
  }
  return p;
}

const Person* Population::Find(absl::string_view document_number) const {
  auto it = by_number_.find(std::string(document_number));
  return it == by_number_.end() ? nullptr : &people_[it->second];
}

const Person* Population::FindByPhone(absl::string_view e164) const {
  auto it = by_phone_.find(std::string(e164));
  return it == by_phone_.end() ? nullptr : &people_[it->second];
}

absl::Status Population::ExportCsv(const std::string& path) const {
  std::ofstream out(path, std::ios::trunc);
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  out << "document_type,document_number,full_name,phone_number\n";
  for (const Person& p : people_) {
    out << "CN_RESIDENT_ID," << p.document_number << ',' << p.full_name << ',' << p.phone_number
        << '\n';
  }
  out.flush();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace idv::sim
