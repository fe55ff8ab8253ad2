#include "store/backup.h"

#include <fcntl.h>
#include <leveldb/db.h>
#include <leveldb/write_batch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "crypto/backup_stream.h"
#include "google/protobuf/util/time_util.h"
#include "store/leveldb/keys.h"

namespace idv::store {
namespace {

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::UnavailableError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// A file written once, synced, then renamed into place.
class AtomicFile {
 public:
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_ && !partial_.empty()) ::unlink(partial_.c_str());
  }
  absl::Status Open(const std::string& path) {
    path_ = path;
    partial_ = path + ".partial";
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) {
      return absl::AlreadyExistsError(absl::StrCat(path, " exists; backups are never overwritten"));
    }
    fd_ = ::open(partial_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      const absl::Status s = Errno("cannot create", partial_);
      partial_.clear();  // not ours to remove
      return s;
    }
    return absl::OkStatus();
  }
  absl::Status Write(absl::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Errno("cannot write", partial_);
      bytes.remove_prefix(static_cast<size_t>(n));
      written_ += static_cast<uint64_t>(n);
    }
    return absl::OkStatus();
  }
  absl::Status Commit() {
    if (::fsync(fd_) != 0) return Errno("cannot sync", partial_);
    ::close(fd_);
    fd_ = -1;
    if (::rename(partial_.c_str(), path_.c_str()) != 0) return Errno("cannot rename", partial_);
    committed_ = true;
    // The rename is durable once the directory is synced.
    const std::string dir = std::filesystem::path(path_).parent_path().string();
    const int d = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d >= 0) {
      ::fsync(d);
      ::close(d);
    }
    return absl::OkStatus();
  }
  uint64_t written() const { return written_; }

 private:
  std::string path_, partial_;
  int fd_ = -1;
  bool committed_ = false;
  uint64_t written_ = 0;
};

// Reads the whole backup, handing each pair to `pair`; checks the trailer against what was read.
absl::StatusOr<BackupSummary> ReadAll(
    const crypto::KeyRing& keys, const std::string& path,
    const std::function<absl::Status(const std::string&, const std::string&)>& pair) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  absl::StatusOr<std::unique_ptr<crypto::BackupReader>> reader =
      crypto::BackupReader::Open(keys, in);
  if (!reader.ok()) return reader.status();
  BackupSummary out;
  if (!out.manifest.ParseFromString((*reader)->manifest()) || out.manifest.format() != 1) {
    return absl::DataLossError("the backup's manifest is not one this version reads");
  }
  std::string key, value;
  uint64_t pairs = 0, bytes = 0, records = 0;
  for (;;) {
    absl::StatusOr<bool> more = (*reader)->Next(&key, &value);
    if (!more.ok()) return more.status();
    if (!*more) break;
    ++pairs;
    bytes += 8 + key.size() + value.size();
    if (key.size() == 10 && key.compare(0, 2, "a/") == 0) ++records;
    if (absl::Status s = pair(key, value); !s.ok()) return s;
  }
  if (!out.trailer.ParseFromString((*reader)->trailer()) || out.trailer.pairs() != pairs ||
      out.trailer.pair_bytes() != bytes || out.trailer.audit_records() != records) {
    return absl::DataLossError("the backup does not hold what its trailer says");
  }
  in.clear();
  in.seekg(0, std::ios::end);
  out.file_bytes = static_cast<uint64_t>(in.tellg());
  return out;
}

}  // namespace

absl::StatusOr<BackupSummary> CreateBackup(Store& store, const crypto::KeyRing& keys,
                                           const std::string& node_id, const std::string& path) {
  AtomicFile file;
  if (absl::Status s = file.Open(path); !s.ok()) return s;
  BackupSummary out;
  out.manifest.set_format(1);
  out.manifest.set_engine("leveldb");
  out.manifest.set_node_id(node_id);
  *out.manifest.mutable_created_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
  out.manifest.set_key_version(keys.current_version());
  absl::StatusOr<std::unique_ptr<crypto::BackupWriter>> writer =
      crypto::BackupWriter::Start(keys, out.manifest.SerializeAsString(),
                                  [&file](absl::string_view bytes) { return file.Write(bytes); });
  if (!writer.ok()) return writer.status();
  uint64_t pairs = 0, records = 0;
  absl::Status s =
      store.ExportSnapshot([&](absl::string_view key, absl::string_view value) -> absl::Status {
        ++pairs;
        if (key.size() == 10 && key.substr(0, 2) == "a/") ++records;
        return (*writer)->Add(key, value);
      });
  if (!s.ok()) return s;
  out.trailer.set_pairs(pairs);
  out.trailer.set_pair_bytes((*writer)->pair_bytes());
  out.trailer.set_audit_records(records);
  if (s = (*writer)->Finish(out.trailer.SerializeAsString()); !s.ok()) return s;
  if (s = file.Commit(); !s.ok()) return s;
  out.file_bytes = file.written();
  return out;
}

absl::StatusOr<BackupSummary> VerifyBackup(const crypto::KeyRing& keys, const std::string& path) {
  return ReadAll(keys, path,
                 [](const std::string&, const std::string&) { return absl::OkStatus(); });
}

absl::StatusOr<BackupSummary> RestoreBackup(const crypto::KeyRing& keys, const std::string& path,
                                            const std::string& db_path) {
  std::error_code ec;
  if (std::filesystem::exists(db_path, ec) && !std::filesystem::is_empty(db_path, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat(db_path, " is not empty: a backup is restored into an empty place only"));
  }
  const std::string staging = db_path + ".restoring";
  const std::filesystem::path parent = std::filesystem::path(db_path).parent_path();
  if (!parent.empty() && !std::filesystem::exists(parent, ec)) {
    std::filesystem::create_directories(parent, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", parent.string()));
  }
  if (std::filesystem::exists(staging, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat(staging, " exists (an interrupted restore?); remove it first"));
  }
  leveldb::Options options;
  options.create_if_missing = true;
  options.error_if_exists = true;
  leveldb::DB* raw = nullptr;
  if (leveldb::Status s = leveldb::DB::Open(options, staging, &raw); !s.ok()) {
    return ldb::FromLevelDb(s, absl::StrCat("create ", staging));
  }
  std::unique_ptr<leveldb::DB> db(raw);
  leveldb::WriteBatch batch;
  auto flush = [&](bool sync) {
    leveldb::WriteOptions wo;
    wo.sync = sync;
    leveldb::Status s = db->Write(wo, &batch);
    batch.Clear();
    return ldb::FromLevelDb(s, "write the restored database");
  };
  absl::StatusOr<BackupSummary> read =
      ReadAll(keys, path, [&](const std::string& key, const std::string& value) {
        batch.Put(key, value);
        return batch.ApproximateSize() >= (4 << 20) ? flush(false) : absl::OkStatus();
      });
  absl::Status s = read.status();
  if (s.ok()) s = flush(true);
  db.reset();
  if (s.ok()) {
    if (std::filesystem::exists(db_path, ec)) std::filesystem::remove(db_path, ec);
    std::filesystem::rename(staging, db_path, ec);
    if (ec) s = absl::UnavailableError(absl::StrCat("cannot rename ", staging, ": ", ec.message()));
  }
  if (!s.ok()) {
    std::filesystem::remove_all(staging, ec);
    return s;
  }
  return read;
}

absl::StatusOr<uint32_t> BackupKeyVersion(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  return crypto::BackupReader::PeekVersion(in);
}

}  // namespace idv::store
