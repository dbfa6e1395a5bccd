#include "tools/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

extern char** environ;

namespace betcore::tools {

namespace {

std::string find_in_path(const std::string& program) {
  if (program.find('/') != std::string::npos) return program;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return program;  // execve reports ENOENT
}

std::vector<std::string> build_env(const SpawnOptions& options) {
  std::map<std::string, std::string> vars;
  if (options.inherit_env) {
    for (char** e = environ; e && *e; ++e) {
      std::string entry(*e);
      auto eq = entry.find('=');
      if (eq != std::string::npos) vars[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
  }
  for (const auto& [k, v] : options.env) vars[k] = v;
  std::vector<std::string> out;
  for (const auto& [k, v] : vars) out.push_back(k + "=" + v);
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// In the child between fork and exec: async-signal-safe calls only.
[[noreturn]] void exec_child(pid_t parent, int log_fd, int stdin_fd, int error_fd,
                             const char* working_dir, const char* path, char* const* argv,
                             char* const* envp) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_DFL);  // an ignored signal would stay ignored across exec
  ::dup2(stdin_fd, STDIN_FILENO);
  if (log_fd >= 0) {
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
  }
  if (working_dir && ::chdir(working_dir) != 0) {
    int err = errno;
    (void)!::write(error_fd, &err, sizeof err);
    ::_exit(127);
  }
  ::execve(path, argv, envp);
  int err = errno;
  (void)!::write(error_fd, &err, sizeof err);
  ::_exit(127);
}

ExitStatus decode(int raw) {
  ExitStatus s;
  if (WIFEXITED(raw)) {
    s.exited = true;
    s.code = WEXITSTATUS(raw);
  } else if (WIFSIGNALED(raw)) {
    s.signaled = true;
    s.signal = WTERMSIG(raw);
  }
  return s;
}

}  // namespace

std::string ExitStatus::describe() const {
  if (exited) return "exit code " + std::to_string(code);
  if (signaled) {
    const char* name = ::strsignal(signal);
    return "killed by signal " + std::to_string(signal) + " (" + (name ? name : "?") + ")";
  }
  return "unknown exit status";
}

Process Process::spawn(const SpawnOptions& options) {
  Process p;
  p.log_path_ = options.log_path;
  std::string path = find_in_path(options.program);
  std::vector<std::string> args{options.program};
  args.insert(args.end(), options.args.begin(), options.args.end());
  std::vector<std::string> env = build_env(options);
  std::vector<char*> argv = pointers(args);
  std::vector<char*> envp = pointers(env);

  int log_fd = -1;
  if (!options.log_path.empty()) {
    log_fd = ::open(options.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
      p.spawn_error_ = "cannot open log " + options.log_path + ": " + std::strerror(errno);
      return p;
    }
  }
  const std::string stdin_path = options.stdin_path.empty() ? "/dev/null" : options.stdin_path;
  int stdin_fd = ::open(stdin_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (stdin_fd < 0) {
    p.spawn_error_ = "cannot open stdin " + stdin_path + ": " + std::strerror(errno);
    if (log_fd >= 0) ::close(log_fd);
    return p;
  }
  int error_pipe[2];
  if (::pipe2(error_pipe, O_CLOEXEC) != 0) {
    p.spawn_error_ = std::string("cannot prepare the child: ") + std::strerror(errno);
    if (log_fd >= 0) ::close(log_fd);
    ::close(stdin_fd);
    return p;
  }
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    exec_child(parent, log_fd, stdin_fd, error_pipe[1],
               options.working_dir.empty() ? nullptr : options.working_dir.c_str(), path.c_str(),
               argv.data(), envp.data());
  }
  int fork_errno = errno;
  ::close(error_pipe[1]);
  if (log_fd >= 0) ::close(log_fd);
  ::close(stdin_fd);
  if (pid < 0) {
    ::close(error_pipe[0]);
    p.spawn_error_ = std::string("fork failed: ") + std::strerror(fork_errno);
    return p;
  }
  // The pipe closes on a successful exec (O_CLOEXEC) or carries exec's errno.
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(error_pipe[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  ::close(error_pipe[0]);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    int raw = 0;
    while (::waitpid(pid, &raw, 0) < 0 && errno == EINTR) {
    }
    p.spawn_error_ = "cannot execute " + options.program + ": " + std::strerror(child_errno);
    return p;
  }
  p.pid_ = pid;
  return p;
}

Process::~Process() { reset(); }

Process::Process(Process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      status_(std::move(other.status_)),
      log_path_(std::move(other.log_path_)),
      spawn_error_(std::move(other.spawn_error_)) {}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    reset();
    pid_ = std::exchange(other.pid_, -1);
    status_ = std::move(other.status_);
    log_path_ = std::move(other.log_path_);
    spawn_error_ = std::move(other.spawn_error_);
  }
  return *this;
}

void Process::reset() noexcept {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    wait(-1);
  }
}

bool Process::kill(int signal) {
  if (pid_ <= 0 || status_) return false;
  return ::kill(pid_, signal) == 0;
}

std::optional<ExitStatus> Process::wait(int timeout_ms) {
  if (status_) return status_;
  if (pid_ <= 0) return std::nullopt;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  auto pause = std::chrono::microseconds(500);
  for (;;) {
    int raw = 0;
    pid_t r = ::waitpid(pid_, &raw, timeout_ms < 0 ? 0 : WNOHANG);
    if (r == pid_) {
      status_ = decode(raw);
      return status_;
    }
    if (r < 0 && errno != EINTR) {
      // ECHILD: reaped elsewhere (SIGCHLD ignored?); the status is lost.
      status_ = ExitStatus{};
      return status_;
    }
    if (r == 0) {
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(pause);
      pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(10));
    }
  }
}

ExitStatus Process::stop(int grace_ms) {
  if (status_) return *status_;
  if (pid_ <= 0) return ExitStatus{};
  kill(SIGTERM);
  if (auto s = wait(grace_ms)) return *s;
  kill(SIGKILL);
  return wait(-1).value_or(ExitStatus{});
}

std::string Process::read_log() const {
  if (log_path_.empty()) return {};
  std::ifstream in(log_path_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string last_json_line(const std::string& output) {
  std::string last;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("{\"")) last = line;
  }
  return last;
}

}  // namespace betcore::tools
