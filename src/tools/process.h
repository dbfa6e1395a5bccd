// A child process for tools and tests that drive real processes (`betcore
// drill`, the process tests: `betcore node`, etcd, HAProxy):
// spawned with fork/exec, its stdout and stderr appended to a log file, killed
// with SIGKILL and reaped by the destructor so a failing test leaves no
// zombie and no stray server behind.
//
// The child also gets SIGKILL if the thread that spawned it dies
// (PR_SET_PDEATHSIG): spawn from the test's main thread, or from a thread
// that outlives the child.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace betcore::tools {

struct ExitStatus {
  bool exited = false;  // returned from main or called exit(): `code` is valid
  int code = 0;
  bool signaled = false;  // killed by `signal`
  int signal = 0;

  bool success() const { return exited && code == 0; }
  std::string describe() const;  // "exit code 0", "killed by signal 9 (Killed)"
};

struct SpawnOptions {
  std::string program;            // a path, or a name looked up in $PATH
  std::vector<std::string> args;  // argv[1..]
  // Set on top of the parent's environment (or of an empty one).
  std::vector<std::pair<std::string, std::string>> env;
  bool inherit_env = true;
  std::string log_path;     // stdout and stderr are appended here; "" keeps the parent's
  std::string working_dir;  // "" keeps the parent's
  std::string stdin_path;   // the child reads this file as its stdin; "" gives it /dev/null
};

// Thread: one thread at a time per Process. Movable, not copyable.
class Process {
 public:
  // Starts the program. On failure (not found, not executable, log file not
  // writable, stdin file not readable) the result has started() == false and
  // spawn_error() says why.
  static Process spawn(const SpawnOptions& options);
  static Process spawn(const std::string& program, const std::vector<std::string>& args = {}) {
    SpawnOptions options;
    options.program = program;
    options.args = args;
    return spawn(options);
  }

  Process() = default;
  ~Process();  // SIGKILL and reap if still running
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  bool started() const { return pid_ > 0; }
  const std::string& spawn_error() const { return spawn_error_; }
  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }

  // Sends `signal` (SIGTERM, SIGKILL, SIGSTOP, SIGCONT, ...). False if the
  // process was never started or has already been reaped.
  bool kill(int signal);

  // Waits up to `timeout_ms` (< 0: forever) for the process to exit and reaps
  // it; nullopt on timeout. Once reaped, returns the same status again.
  std::optional<ExitStatus> wait(int timeout_ms);
  std::optional<ExitStatus> try_wait() { return wait(0); }
  bool running() { return started() && !try_wait().has_value(); }

  // SIGTERM, up to `grace_ms` to exit, then SIGKILL. Returns the exit status.
  ExitStatus stop(int grace_ms = 5000);

  // The whole log file so far ("" if none), for failure messages.
  std::string read_log() const;

 private:
  void reset() noexcept;  // kill -9 and reap if running

  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;  // set once reaped
  std::string log_path_;
  std::string spawn_error_;
};

// The last line of a betcore command's output that is a JSON object (its
// report: `betcore restore`, `betcore backup verify`), or "" when none.
std::string last_json_line(const std::string& output);

}  // namespace betcore::tools
