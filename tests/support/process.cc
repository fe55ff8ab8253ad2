#include "tests/support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace idv::testing {

absl::StatusOr<std::unique_ptr<Process>> Process::Start(const std::vector<std::string>& argv) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return absl::InternalError(absl::StrCat("cannot start ", argv[0]));
  }
  return std::unique_ptr<Process>(new Process(pid, fds[0]));
}

Process::Process(pid_t pid, int out_fd) : pid_(pid), out_fd_(out_fd) {
  reader_ = std::thread([this] { ReadOutput(); });
}

Process::~Process() {
  if (pid_ > 0) {
    Signal(SIGKILL);
    Wait();
  }
  reader_.join();
  close(out_fd_);
}

void Process::ReadOutput() {
  char buf[4096];
  for (;;) {
    const ssize_t n = read(out_fd_, buf, sizeof buf);
    std::lock_guard<std::mutex> lock(mu_);
    if (n <= 0) {
      eof_ = true;
      cv_.notify_all();
      return;
    }
    output_.append(buf, static_cast<size_t>(n));
    cv_.notify_all();
  }
}

absl::StatusOr<std::string> Process::WaitForListening(absl::Duration timeout) {
  static const std::regex kListening(R"(listening on (\S+:\d+))");
  std::unique_lock<std::mutex> lock(mu_);
  std::smatch m;
  const bool found = cv_.wait_for(lock, absl::ToChronoSeconds(timeout), [&] {
    return std::regex_search(output_, m, kListening) || eof_;
  });
  if (found && !m.empty()) return m[1].str();
  return absl::DeadlineExceededError(absl::StrCat("no \"listening on\" line; output:\n", output_));
}

void Process::Signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

bool Process::Stop() {
  if (pid_ <= 0) return false;
  kill(pid_, SIGSTOP);
  const std::string path = absl::StrCat("/proc/", pid_, "/stat");
  const absl::Time until = absl::Now() + absl::Seconds(5);
  while (absl::Now() < until) {
    std::ifstream in(path);
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Format: "pid (comm) S ...": the state follows the last ')'.
    const size_t close = stat.rfind(')');
    if (close != std::string::npos && close + 2 < stat.size() &&
        (stat[close + 2] == 'T' || stat[close + 2] == 't')) {
      return true;
    }
    std::this_thread::yield();
  }
  return false;
}

int Process::Wait() {
  int status = 0;
  if (pid_ > 0) {
    waitpid(pid_, &status, 0);
    pid_ = 0;
  }
  // The child has exited, but the reader may not have drained the pipe yet: wait for its EOF so
  // Output() holds everything the child wrote.
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::seconds(10), [this] { return eof_; });
  return status;
}

std::string Process::Output() {
  std::lock_guard<std::mutex> lock(mu_);
  return output_;
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/idv-it-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) std::abort();
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::vector<std::string> ListFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(e.path().string());
  }
  return out;
}

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) std::abort();
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFileOrDie(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  if (!out) std::abort();
}

int64_t Process::RssAnonKib() const {
  std::ifstream status(absl::StrCat("/proc/", pid_, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    int64_t kib = 0;
    if (std::sscanf(line.c_str(), "RssAnon: %" SCNd64 " kB", &kib) == 1) return kib;
  }
  return 0;
}

}  // namespace idv::testing
