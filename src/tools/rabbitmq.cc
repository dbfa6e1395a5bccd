// Starting and killing a broker of our own.
#include "tools/rabbitmq.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "tools/ports.h"

namespace betcore::tools {
namespace {

constexpr const char* kServer = "/usr/lib/rabbitmq/bin/rabbitmq-server";

bool accepts(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

std::string last_lines(const std::string& text, int n) {
  size_t pos = text.size();
  for (int i = 0; i <= n && pos > 0; ++i) {
    size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) return text;
    pos = nl;
  }
  return text.substr(pos + 1);
}

}  // namespace

bool rabbitmq_installed() { return ::access(kServer, X_OK) == 0; }

RabbitMq::RabbitMq(std::filesystem::path dir) : dir_(std::move(dir)) {
  std::filesystem::create_directories(dir_);
}

RabbitMq::~RabbitMq() { kill(); }

std::string RabbitMq::url() const { return "amqp://guest:guest@127.0.0.1:" + std::to_string(port_); }

std::string RabbitMq::log_tail() const { return last_lines(proc_.read_log(), 30); }

bool RabbitMq::running() { return proc_.running(); }

void RabbitMq::kill() {
  if (proc_.started()) {
    proc_.kill(SIGKILL);
    proc_.wait(10000);
  }
}

bool RabbitMq::start_once(int timeout_ms, std::string& why) {
  {
    std::ofstream conf(dir_ / "rabbitmq.conf");
    conf << "listeners.tcp.default = 127.0.0.1:" << port_ << "\nloopback_users = none\n";
    std::ofstream plugins(dir_ / "enabled_plugins");
    plugins << "[].\n";
  }
  SpawnOptions o;
  o.program = kServer;
  if (nice_ != 0) {  // nice execs the server: the process we spawn is still the broker
    o.program = "nice";
    o.args = {"-n", std::to_string(nice_), kServer};
  }
  o.env = {{"HOME", dir_.string()},  // the Erlang cookie goes here
           {"RABBITMQ_NODENAME", node_name_},
           {"RABBITMQ_DIST_PORT", std::to_string(dist_port_)},
           {"RABBITMQ_MNESIA_BASE", (dir_ / "mnesia").string()},
           {"RABBITMQ_LOG_BASE", (dir_ / "log").string()},
           {"RABBITMQ_CONFIG_FILE", (dir_ / "rabbitmq.conf").string()},
           {"RABBITMQ_ENABLED_PLUGINS_FILE", (dir_ / "enabled_plugins").string()},
           // Idle schedulers sleep instead of spinning: Erlang's default busy
           // wait takes CPU that the tests and the drill's cluster need on a
           // 2-core machine (RabbitMQ's runtime guide suggests it for hosts
           // shared with other services).
           {"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "+sbwt none +sbwtdcpu none +sbwtdio none"},
           // Makes the start script exec the Erlang VM instead of running it
           // as its child: the process we spawn is the broker, so kill -9
           // kills the broker (and it dies with its parent).
           {"RUNNING_UNDER_SYSTEMD", "true"}};
  o.log_path = (dir_ / "rabbitmq.out").string();
  proc_ = Process::spawn(o);
  if (!proc_.started()) {
    why = "cannot start " + std::string(kServer) + ": " + proc_.spawn_error() +
          "; run scripts/install-deps.sh";
    return false;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (accepts(port_)) return true;
    if (!proc_.running()) {
      why = "rabbitmq-server exited at start";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  why = "rabbitmq-server did not take connections on port " + std::to_string(port_) + " in " +
        std::to_string(timeout_ms) + " ms";
  return false;
}

bool RabbitMq::start(std::string& why, int timeout_ms) {
  for (int attempt = 1; attempt <= 3; ++attempt) {
    port_ = reserve_port();
    dist_port_ = reserve_port();
    node_name_ = "betcore-" + std::to_string(port_) + "@localhost";
    if (start_once(timeout_ms, why)) return true;
    std::string out = proc_.read_log();
    kill();
    if (out.find("eaddrinuse") == std::string::npos) break;  // not a port taken: do not retry
  }
  why += "\n" + log_tail();
  return false;
}

bool RabbitMq::restart(std::string& why, int timeout_ms) {
  kill();
  if (start_once(timeout_ms, why)) return true;
  why += "\n" + log_tail();
  return false;
}

}  // namespace betcore::tools
