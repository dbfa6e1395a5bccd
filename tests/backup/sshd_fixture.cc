// SshdSite: keys, configuration, start, and stopping the whole process tree.
#include "backup/sshd_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "support/net.h"

namespace betcore::test {
namespace fs = std::filesystem;
namespace {

constexpr const char* kSshd = "/usr/sbin/sshd";
constexpr int kToolTimeoutMs = 30'000;
constexpr int kReadyTimeoutMs = 20'000;
constexpr int kFreezePassesMax = 20;  // rounds of "stop whatever is new in the tree"

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  return static_cast<bool>(out.flush());
}

// Runs a setup tool to its end; "" on success, else what went wrong.
std::string run_tool(const std::string& program, const std::vector<std::string>& args,
                     const fs::path& log) {
  SpawnOptions o;
  o.program = program;
  o.args = args;
  o.log_path = log.string();
  Process p = Process::spawn(o);
  if (!p.started()) return p.spawn_error();
  auto status = p.wait(kToolTimeoutMs);
  if (!status) return program + " did not finish in time";
  if (!status->success()) return program + " failed (" + status->describe() + "): " + p.read_log();
  return "";
}

// Every process whose parent chain leads to `root` (not `root` itself).
std::set<pid_t> descendants(pid_t root) {
  std::multimap<pid_t, pid_t> children;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces
    // and parentheses, so read after the last ')'.
    const std::string stat = read_text(entry.path() / "stat");
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 1));
    char state;
    pid_t ppid = 0;
    if (rest >> state >> ppid) children.emplace(ppid, static_cast<pid_t>(std::stol(name)));
  }
  std::set<pid_t> found;
  std::vector<pid_t> todo{root};
  while (!todo.empty()) {
    const pid_t at = todo.back();
    todo.pop_back();
    auto [first, last] = children.equal_range(at);
    for (auto it = first; it != last; ++it) {
      if (found.insert(it->second).second) todo.push_back(it->second);
    }
  }
  return found;
}

bool port_accepts(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

SshdSite::SshdSite() {
  if (!prepare() && why_.empty()) why_ = "cannot prepare the sshd site";
}

SshdSite::~SshdSite() { stop(); }

bool SshdSite::prepare() {
  if (::access(kSshd, X_OK) != 0) {
    why_ = std::string(kSshd) + " is missing: install openssh-server (scripts/install-deps.sh)";
    return false;
  }
  const passwd* pw = ::getpwuid(::geteuid());
  if (pw == nullptr) {
    why_ = "the current user has no passwd entry: sshd cannot log it in";
    return false;
  }
  user_ = pw->pw_name;
  // sshd's privilege separation directory: it refuses to start without it.
  std::error_code ec;
  if (!fs::exists("/run/sshd", ec)) {
    fs::create_directories("/run/sshd", ec);
    ::chmod("/run/sshd", 0755);
  }
  port_ = reserve_port();
  const fs::path keygen_log = dir_ / "ssh-keygen.log";
  for (const char* key : {"host_key", "client_key"}) {
    why_ = run_tool(
        "ssh-keygen",
        {"-q", "-t", "ed25519", "-N", "", "-C", "betcore-test", "-f", (dir_ / key).string()},
        keygen_log);
    if (!why_.empty()) return false;
  }
  std::istringstream host_pub(read_text(dir_ / "host_key.pub"));
  std::string type, blob;
  host_pub >> type >> blob;
  const std::string config = "Port " + std::to_string(port_) + "\n" +
                             "ListenAddress 127.0.0.1\n"
                             "HostKey " +
                             (dir_ / "host_key").string() + "\n" + "AuthorizedKeysFile " +
                             (dir_ / "authorized_keys").string() + "\n" + "PidFile " +
                             (dir_ / "sshd.pid").string() + "\n" +
                             "PubkeyAuthentication yes\n"
                             "PasswordAuthentication no\n"
                             "KbdInteractiveAuthentication no\n"
                             "PermitRootLogin prohibit-password\n"
                             "StrictModes no\n"
                             "UsePAM no\n"
                             "UseDNS no\n"
                             "PrintMotd no\n"
                             "LogLevel VERBOSE\n"
                             // The site is this machine, logged in as the
                             // tests' user: bash run by sshd would source that
                             // user's ~/.bashrc (Debian builds it so), and a
                             // start-up file that takes a lock (pyenv's rehash
                             // on a developer's machine) left stale by stop()
                             // stalled every later command for 60 s. SHLVL >= 2
                             // makes bash skip it; a real site has its own
                             // account for the archive.
                             "SetEnv SHLVL=2\n";
  if (!write_text(dir_ / "authorized_keys", read_text(dir_ / "client_key.pub")) ||
      !write_text(dir_ / "known_hosts",
                  "[127.0.0.1]:" + std::to_string(port_) + " " + type + " " + blob + "\n") ||
      !write_text(dir_ / "sshd_config", config)) {
    why_ = "cannot write the sshd site's files in " + dir_.path().string();
    return false;
  }
  // sshd -t: a configuration error says so here, not as a refused connection.
  why_ = run_tool(kSshd, {"-t", "-f", (dir_ / "sshd_config").string()}, dir_ / "sshd-check.log");
  return why_.empty();
}

bool SshdSite::start() {
  if (!ready()) return false;
  if (sshd_.running()) return true;
  SpawnOptions o;
  o.program = kSshd;
  o.args = {"-D", "-e", "-f", (dir_ / "sshd_config").string()};
  o.log_path = (dir_ / "sshd.log").string();
  sshd_ = Process::spawn(o);
  if (!sshd_.started()) {
    why_ = "cannot start sshd: " + sshd_.spawn_error();
    return false;
  }
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kReadyTimeoutMs);
  while (!port_accepts(port_)) {
    if (auto status = sshd_.try_wait()) {
      why_ = "sshd exited (" + status->describe() + "): " + last_lines(sshd_.read_log());
      return false;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      why_ = "sshd does not accept on port " + std::to_string(port_) + ": " +
             last_lines(sshd_.read_log());
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

void SshdSite::stop() {
  if (!sshd_.running()) return;
  // Freeze first, then kill: a session whose parent died would be adopted
  // by init and out of reach, and a frozen process forks nothing new.
  sshd_.kill(SIGSTOP);
  std::set<pid_t> frozen;
  for (int pass = 0; pass < kFreezePassesMax; ++pass) {
    bool grew = false;
    for (pid_t pid : descendants(sshd_.pid())) {
      if (frozen.insert(pid).second) {
        ::kill(pid, SIGSTOP);
        grew = true;
      }
    }
    if (!grew) break;
  }
  for (pid_t pid : frozen) ::kill(pid, SIGKILL);
  sshd_.kill(SIGKILL);
  sshd_.wait(-1);
}

}  // namespace betcore::test
