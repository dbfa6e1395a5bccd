// A RabbitMQ broker of our own (Debian's rabbitmq-server) for the tests and
// `betcore drill`: reserved ports, its own node name, database and logs in
// a directory of the caller's, so parallel runs never share a broker.
// Erlang's port mapper (epmd, port 4369) is shared by every broker on the
// machine, as it is meant to be. Errors are values: `why` says what failed.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include "tools/process.h"

namespace betcore::tools {

class RabbitMq {
 public:
  explicit RabbitMq(std::filesystem::path dir);
  ~RabbitMq();  // kill -9
  RabbitMq(const RabbitMq&) = delete;
  RabbitMq& operator=(const RabbitMq&) = delete;

  // Starts the broker on newly reserved ports and waits (up to `timeout_ms`:
  // Erlang is slow to boot on a loaded machine) until it takes connections;
  // again on new ports if its ports were taken. False with `why` (and the
  // broker's last log lines).
  bool start(std::string& why, int timeout_ms = 120000);
  // Starts it again after kill(), on the same ports and database: durable
  // queues and their persistent messages survive, as after a server crash.
  bool restart(std::string& why, int timeout_ms = 120000);
  void kill();  // kill -9
  bool running();
  // Runs the broker (from its next start) under `nice -n N`. The drill gives
  // it -10: a broker has a host of its own in production, and on the drill's
  // two shared cores a restart under load took 37 s instead of 13 (measured
  // with six busy processes beside it). Without root, nice says it cannot
  // and the broker runs at the usual priority.
  void set_nice(int nice) { nice_ = nice; }

  uint16_t port() const { return port_; }
  std::string url() const;  // amqp://guest:guest@127.0.0.1:PORT
  std::string log_tail() const;

 private:
  bool start_once(int timeout_ms, std::string& why);
  std::filesystem::path dir_;
  std::string node_name_;
  uint16_t port_ = 0;
  uint16_t dist_port_ = 0;
  int nice_ = 0;
  Process proc_;
};

// True when rabbitmq-server is installed (scripts/install-deps.sh does it).
bool rabbitmq_installed();

}  // namespace betcore::tools
