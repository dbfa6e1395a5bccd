// Starting and killing a test's own RabbitMQ broker.
#include "support/rabbitmq.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "support/net.h"

namespace betcore::test {
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

}  // namespace

bool rabbitmq_installed() { return ::access(kServer, X_OK) == 0; }

RabbitMq::RabbitMq(std::filesystem::path dir) : dir_(std::move(dir)) {
  std::filesystem::create_directories(dir_);
}

RabbitMq::~RabbitMq() { kill(); }

std::string RabbitMq::url() const { return "amqp://guest:guest@127.0.0.1:" + std::to_string(port_); }

std::string RabbitMq::log() const { return last_lines(proc_.read_log(), 40); }

void RabbitMq::kill() {
  if (proc_.started()) {
    proc_.kill(SIGKILL);
    proc_.wait(10000);
  }
  // The Erlang VM runs as a child of the start script: end it too.
  std::ifstream pid_file(dir_ / "pid");
  pid_t pid = 0;
  if (pid_file >> pid && pid > 0) ::kill(pid, SIGKILL);
  std::filesystem::remove(dir_ / "pid");
}

bool RabbitMq::start_once(int timeout_ms, std::string& why) {
  {
    std::ofstream conf(dir_ / "rabbitmq.conf");
    conf << "listeners.tcp.default = 127.0.0.1:" << port_ << "\n"
         << "loopback_users = none\n"
         << "log.file.level = info\n";
    std::ofstream plugins(dir_ / "enabled_plugins");
    plugins << "[].\n";
  }
  SpawnOptions o;
  o.program = kServer;
  o.env = {{"HOME", dir_.string()},  // the Erlang cookie goes here
           {"RABBITMQ_NODENAME", node_name_},
           {"RABBITMQ_DIST_PORT", std::to_string(dist_port_)},
           {"RABBITMQ_MNESIA_BASE", (dir_ / "mnesia").string()},
           {"RABBITMQ_LOG_BASE", (dir_ / "log").string()},
           {"RABBITMQ_CONFIG_FILE", (dir_ / "rabbitmq.conf").string()},
           {"RABBITMQ_ENABLED_PLUGINS_FILE", (dir_ / "enabled_plugins").string()},
           {"RABBITMQ_PID_FILE", (dir_ / "pid").string()},
           // Makes the start script exec the Erlang VM instead of running it
           // as its child: the process we spawn is the broker, so kill -9
           // kills the broker (and it dies with the test).
           {"RUNNING_UNDER_SYSTEMD", "true"}};
  o.log_path = (dir_ / "rabbitmq.out").string();
  proc_ = Process::spawn(o);
  if (!proc_.started()) {
    why = proc_.spawn_error();
    return false;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (accepts(port_)) return true;
    if (!proc_.running()) {
      why = "rabbitmq-server exited";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  why = "rabbitmq-server did not take connections on port " + std::to_string(port_) + " in " +
        std::to_string(timeout_ms) + " ms";
  return false;
}

void RabbitMq::start(int timeout_ms) {
  std::string why;
  for (int attempt = 1; attempt <= kBindAttemptsMax; ++attempt) {
    port_ = reserve_port();
    dist_port_ = reserve_port();
    node_name_ = "betcore-test-" + std::to_string(port_) + "@localhost";
    if (start_once(timeout_ms, why)) return;
    std::string out = proc_.read_log();
    kill();
    if (!log_says_address_in_use(out) && out.find("eaddrinuse") == std::string::npos) break;
  }
  FAIL() << "RabbitMQ did not start: " << why << "\n" << log();
}

void RabbitMq::kill_and_restart() {
  kill();
  std::string why;
  // The same ports: clients reconnect to where the broker was.
  if (!start_once(120000, why)) FAIL() << "RabbitMQ did not restart: " << why << "\n" << log();
}

}  // namespace betcore::test
