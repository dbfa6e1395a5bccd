// A real RabbitMQ broker for a test (Debian's rabbitmq-server), on reserved
// ports and in the test's own directory: its own node name, database and
// logs, so parallel tests never share a broker. Erlang's port mapper (epmd,
// port 4369) is shared by every broker on the machine, as it is meant to be.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include "support/process.h"

namespace betcore::test {

class RabbitMq {
 public:
  // Prepares the directory; start() starts the broker.
  explicit RabbitMq(std::filesystem::path dir);
  ~RabbitMq();

  // Starts the broker and waits (up to `timeout_ms`: Erlang is slow to boot
  // on a loaded machine) until it takes AMQP connections. Starts it again
  // on new ports if its ports were taken. Fails the test (gtest FAIL) with
  // the broker's last log lines when it does not come up.
  void start(int timeout_ms = 120000);
  // kill -9 and restart on the same ports and database: durable queues and
  // their persistent messages survive, as after a crash of the server.
  void kill_and_restart();
  void kill();  // kill -9, no restart

  uint16_t port() const { return port_; }
  std::string url() const;  // amqp://guest:guest@127.0.0.1:PORT
  std::string log() const;  // its last lines, for failure messages

 private:
  bool start_once(int timeout_ms, std::string& why);
  std::filesystem::path dir_;
  std::string node_name_;
  uint16_t port_ = 0;
  uint16_t dist_port_ = 0;
  Process proc_;
};

// True when rabbitmq-server is installed (scripts/install-deps.sh does it).
bool rabbitmq_installed();

}  // namespace betcore::test
