// Test helper: runs a binary as a child process and watches its output.
#ifndef IDV_TESTS_SUPPORT_PROCESS_H_
#define IDV_TESTS_SUPPORT_PROCESS_H_

#include <sys/types.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace idv::testing {

class Process {
 public:
  // Starts `argv` with stdout and stderr captured. The child is killed (SIGKILL) when the Process
  // is destroyed if it is still running.
  static absl::StatusOr<std::unique_ptr<Process>> Start(const std::vector<std::string>& argv);
  ~Process();

  // Waits until the output holds "listening on HOST:PORT" and returns "HOST:PORT". Fails when the
  // child exits first or `timeout` passes.
  absl::StatusOr<std::string> WaitForListening(absl::Duration timeout = absl::Seconds(30));

  void Signal(int sig);
  // Sends SIGSTOP and waits (bounded) until the kernel reports the process stopped: kill()
  // returns before the target has actually stopped.
  bool Stop();
  // Waits for the child to exit and for its output to be read to the end; returns its wait
  // status.
  int Wait();
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // The child's anonymous resident memory (RssAnon), in KiB; 0 when it cannot be read.
  int64_t RssAnonKib() const;

  // Everything the child printed so far.
  std::string Output();

 private:
  Process(pid_t pid, int out_fd);
  void ReadOutput();

  pid_t pid_;
  int out_fd_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string output_;  // guarded by mu_
  bool eof_ = false;    // guarded by mu_
  std::thread reader_;
};

// A fresh directory under /tmp, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Every regular file below `dir`, recursively.
std::vector<std::string> ListFiles(const std::string& dir);
std::string ReadFileOrDie(const std::string& path);
void WriteFileOrDie(const std::string& path, const std::string& contents);

}  // namespace idv::testing

#endif  // IDV_TESTS_SUPPORT_PROCESS_H_
