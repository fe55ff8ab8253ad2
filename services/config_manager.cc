#include "services/config_manager.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "audit/records.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "services/verification_id.h"

namespace idv::services {
namespace {

using google::protobuf::util::TimeUtil;
using idv::store::v1::ConfigVersion;

constexpr absl::Duration kProbeTimeout = absl::Seconds(3);

std::string Short(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  printer.SetExpandAny(true);
  printer.PrintToString(m, &out);
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// "field: old -> new" for each field that differs, "; "-separated (Any configs unpacked).
std::string FieldChanges(const google::protobuf::Message& before,
                         const google::protobuf::Message& after) {
  std::string text;
  {
    google::protobuf::io::StringOutputStream stream(&text);
    google::protobuf::util::MessageDifferencer::StreamReporter reporter(&stream);
    google::protobuf::util::MessageDifferencer differ;
    differ.ReportDifferencesTo(&reporter);
    differ.Compare(before, after);
  }
  std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  for (std::string& line : lines) {
    // The reporter's "modified: a.b: 1 -> 2" / "added: a: 3" / "deleted: a: 3".
    if (absl::StartsWith(line, "modified: ")) {
      line.erase(0, 10);
    } else if (absl::StartsWith(line, "added: ")) {
      line = absl::StrCat(line.substr(7), " (added)");
    } else if (absl::StartsWith(line, "deleted: ")) {
      line = absl::StrCat(line.substr(9), " (removed)");
    }
  }
  return absl::StrJoin(lines, "; ");
}

template <typename Message>
void DiffByName(const char* kind, const google::protobuf::RepeatedPtrField<Message>& before,
                const google::protobuf::RepeatedPtrField<Message>& after,
                std::vector<std::string>& lines) {
  std::map<std::string, const Message*> old_items, new_items;
  for (const Message& m : before) old_items[m.name()] = &m;
  for (const Message& m : after) new_items[m.name()] = &m;
  for (const auto& [name, m] : new_items) {
    auto it = old_items.find(name);
    if (it == old_items.end()) {
      lines.push_back(absl::StrCat(kind, " ", name, " added: ", Short(*m)));
    } else if (it->second->SerializeAsString() != m->SerializeAsString()) {
      lines.push_back(absl::StrCat(kind, " ", name, " changed: ", FieldChanges(*it->second, *m)));
    }
  }
  for (const auto& [name, m] : old_items) {
    if (new_items.count(name) == 0) lines.push_back(absl::StrCat(kind, " ", name, " removed"));
  }
}

absl::StatusOr<std::shared_ptr<verifiers::PolicyEngine>> Build(
    const ConfigVersion& config, const verifiers::VerifierRegistry& registry,
    const verifiers::PolicyEngine* previous) {
  return verifiers::PolicyEngine::Create(config.backends(), config.policies(), registry, previous);
}

// Probes `names` one after another, then calls `done` with the first failure or OK.
void ProbeAll(std::shared_ptr<verifiers::PolicyEngine> engine, std::vector<std::string> names,
              size_t i, absl::AnyInvocable<void(absl::Status) &&> done) {
  if (i == names.size()) return std::move(done)(absl::OkStatus());
  const verifiers::GuardedVerifier* backend = engine->backend(names[i]);
  if (backend == nullptr)
    return ProbeAll(std::move(engine), std::move(names), i + 1, std::move(done));
  backend->Probe(absl::Now() + kProbeTimeout, [engine, names = std::move(names), i,
                                               done = std::move(done)](absl::Status s) mutable {
    if (!s.ok()) {
      return std::move(done)(absl::FailedPreconditionError(
          absl::StrCat("backend \"", names[i], "\" failed its probe: ", s.message())));
    }
    ProbeAll(std::move(engine), std::move(names), i + 1, std::move(done));
  });
}

absl::StatusOr<std::vector<ConfigVersion>> ReadNewest(store::Store& store) {
  return store::Await<std::vector<ConfigVersion>>(
      [&store](auto done) { store.ReadConfigVersions(1, std::move(done)); });
}

// The document types some policy of `config` routes.
std::set<int> RoutedTypes(const ConfigVersion& config) {
  std::set<int> out;
  for (const idv::config::v1::Policy& p : config.policies()) {
    for (int t : p.document_types()) out.insert(t);
  }
  return out;
}

}  // namespace

std::vector<std::string> DescribeChanges(const ConfigVersion& before, const ConfigVersion& after) {
  std::vector<std::string> lines;
  DiffByName("backend", before.backends(), after.backends(), lines);
  DiffByName("policy", before.policies(), after.policies(), lines);
  if (after.keys().current() != before.keys().current()) {
    lines.push_back(absl::StrCat("key version ", after.keys().current(), " made current"));
  }
  // Unset (a version from before key rotation) is the same as 1.
  if (std::max(after.keys().oldest(), 1u) != std::max(before.keys().oldest(), 1u)) {
    lines.push_back(absl::StrCat("key versions below ", after.keys().oldest(), " retired"));
  }
  return lines;
}

absl::StatusOr<std::unique_ptr<ConfigManager>> ConfigManager::Open(
    store::Store& store, const verifiers::VerifierRegistry& registry,
    const idv::config::v1::ServerConfig& file) {
  absl::StatusOr<std::vector<ConfigVersion>> versions = ReadNewest(store);
  if (!versions.ok()) return versions.status();
  if (!versions->empty()) {
    absl::StatusOr<std::shared_ptr<verifiers::PolicyEngine>> engine =
        Build(versions->front(), registry, nullptr);
    if (!engine.ok()) return engine.status();
    return std::unique_ptr<ConfigManager>(
        new ConfigManager(store, registry, versions->front(), *std::move(engine)));
  }
  // First start: the file's backends and policies become version 1.
  ConfigVersion seed;
  seed.set_version(1);
  *seed.mutable_created_at() = TimeUtil::GetCurrentTime();
  seed.set_actor("config-file");
  seed.set_summary("seeded from the configuration file");
  *seed.mutable_backends() = file.backends();
  *seed.mutable_policies() = file.policies();
  for (int i = 0; i < seed.policies_size(); ++i) {
    if (seed.policies(i).name().empty()) {
      seed.mutable_policies(i)->set_name(absl::StrCat("policy-", i + 1));
    }
  }
  absl::StatusOr<std::shared_ptr<verifiers::PolicyEngine>> engine = Build(seed, registry, nullptr);
  if (!engine.ok()) return engine.status();
  store::VerificationCommit commit;
  const absl::Time now = absl::Now();
  commit.record = audit::RecordBuilder::AdminChange(NewVerificationId(now), now, "SeedConfig", "",
                                                    1, seed.summary())
                      .By("", "config-file")
                      .Build();
  *commit.record.mutable_decided_at() = seed.created_at();
  commit.config = seed;
  absl::StatusOr<store::CommitResult> written =
      store::Await<store::CommitResult>([&store, &commit](auto done) {
        store.CommitVerification(std::move(commit), std::move(done));
      });
  if (absl::IsAborted(written.status())) {
    // Another node sharing the database seeded version 1 first: use what it stored.
    return Open(store, registry, file);
  }
  if (!written.ok()) return written.status();
  return std::unique_ptr<ConfigManager>(
      new ConfigManager(store, registry, std::move(seed), *std::move(engine)));
}

ConfigVersion ConfigManager::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

void ConfigManager::OnSwap(std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(mu_);
  on_swap_ = std::move(hook);
}

bool ConfigManager::Swap(ConfigVersion next, std::shared_ptr<verifiers::PolicyEngine> engine) {
  std::function<void()> hook;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // A notification of this node's own change, or of an older one, arrives after the swap.
    if (next.version() <= current_.version()) return false;
    current_ = std::move(next);
    // Calls that already hold the old engine finish on it; new calls see this one.
    std::atomic_store(&engine_, std::move(engine));
    hook = on_swap_;
  }
  if (hook) hook();
  return true;
}

void ConfigManager::Refresh() {
  store_.ReadConfigVersions(1, [this](absl::StatusOr<std::vector<ConfigVersion>> versions) {
    if (!versions.ok()) {
      spdlog::warn("configuration refresh: {}", std::string(versions.status().message()));
      return;
    }
    if (versions->empty() || versions->front().version() <= current().version()) return;
    ConfigVersion next = std::move(versions->front());
    absl::StatusOr<std::shared_ptr<verifiers::PolicyEngine>> engine =
        Build(next, registry_, this->engine().get());
    if (!engine.ok()) {
      spdlog::error("configuration version {} from the store cannot be applied: {}", next.version(),
                    std::string(engine.status().message()));
      return;
    }
    const uint64_t version = next.version();
    const std::string actor = next.actor();
    if (Swap(std::move(next), *std::move(engine))) {
      spdlog::info("configuration version {} (by {}) is live", version, actor);
    }
  });
}

void ConfigManager::Change(
    const Principal& who, ChangeRequest request,
    absl::AnyInvocable<void(absl::StatusOr<idv::v1::ConfigChange>) &&> done) {
  const ConfigVersion base = current();
  ConfigVersion next = base;
  if (absl::Status s = std::move(request.edit)(next); !s.ok()) return std::move(done)(s);
  next.set_version(base.version() + 1);
  if (!request.force) {
    std::vector<std::string> unrouted;
    const std::set<int> after = RoutedTypes(next);
    for (int type : RoutedTypes(base)) {
      if (after.count(type) == 0) {
        unrouted.push_back(idv::v1::DocumentType_Name(static_cast<idv::v1::DocumentType>(type)));
      }
    }
    if (!unrouted.empty()) {
      return std::move(done)(absl::FailedPreconditionError(absl::StrCat(
          "after this change no policy routes ", absl::StrJoin(unrouted, ", "),
          ": every Verify of it would answer UNAVAILABLE. Route it in another policy first, or "
          "repeat the change with force (idvctl --force) if that is what you want")));
    }
  }
  absl::StatusOr<std::shared_ptr<verifiers::PolicyEngine>> candidate =
      Build(next, registry_, engine().get());
  if (!candidate.ok()) return std::move(done)(candidate.status());

  idv::v1::ConfigChange change;
  change.set_version(next.version());
  for (std::string& line : DescribeChanges(base, next)) change.add_changes(std::move(line));
  if (request.dry_run) return std::move(done)(std::move(change));

  std::vector<std::string> probe = std::move(request.probe);
  std::shared_ptr<verifiers::PolicyEngine> built = *std::move(candidate);
  ProbeAll(built, std::move(probe), 0,
           [this, who, request = std::move(request), next = std::move(next), built,
            change = std::move(change), done = std::move(done)](absl::Status probed) mutable {
             if (!probed.ok()) return std::move(done)(probed);
             Commit(who, request, std::move(next), std::move(built), std::move(change),
                    std::move(done));
           });
}

void ConfigManager::Commit(
    const Principal& who, const ChangeRequest& request, ConfigVersion next,
    std::shared_ptr<verifiers::PolicyEngine> engine, idv::v1::ConfigChange change,
    absl::AnyInvocable<void(absl::StatusOr<idv::v1::ConfigChange>) &&> done) {
  *next.mutable_created_at() = TimeUtil::GetCurrentTime();
  next.set_actor(who.client_id());
  next.set_summary(absl::StrJoin(change.changes(), "; "));
  store::VerificationCommit commit;
  const absl::Time now = absl::Now();
  commit.record = audit::RecordBuilder::AdminChange(NewVerificationId(now), now, request.action,
                                                    request.target, next.version(), next.summary())
                      .By(who.tenant(), who.client_id())
                      .Build();
  *commit.record.mutable_decided_at() = next.created_at();
  commit.config = next;
  store_.CommitVerification(
      std::move(commit),
      [this, next = std::move(next), engine = std::move(engine), change = std::move(change),
       done = std::move(done)](absl::StatusOr<store::CommitResult> r) mutable {
        if (!r.ok()) return std::move(done)(r.status());
        spdlog::info("configuration version {} by {}: {}", next.version(), next.actor(),
                     next.summary());
        Swap(std::move(next), std::move(engine));
        change.set_applied(true);
        std::move(done)(std::move(change));
      });
}

}  // namespace idv::services
