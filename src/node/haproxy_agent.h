// HAProxy's agent check for one node (deploy/haproxy/betcore.cfg.in, `agent-check`): a TCP
// port that answers every connection with one line, "ready" or "drain", then closes it.
// HAProxy sends no new requests to a server whose agent says "drain", and lets the ones in
// flight and the open streams finish; "ready" brings it back. A failed health check instead
// marks it down, and the shipped configuration then closes its sessions at once: so the guard
// takes a slow node out of rotation through this agent (guard.h, "rotation").
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

namespace betcore::node {

class HaproxyAgent {
 public:
  // `draining` says, at each connection, whether to answer "drain".
  explicit HaproxyAgent(std::function<bool()> draining) : draining_(std::move(draining)) {}
  ~HaproxyAgent() { stop(); }
  HaproxyAgent(const HaproxyAgent&) = delete;
  HaproxyAgent& operator=(const HaproxyAgent&) = delete;

  // Listens on host:port (port 0: any) and answers on a thread of its own;
  // false with `error` set.
  bool start(const std::string& host, uint16_t port, std::string& error);
  void stop();
  uint16_t port() const { return port_; }

 private:
  void run();

  std::function<bool()> draining_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace betcore::node
