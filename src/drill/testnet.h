// The drill's own test hosts: one Linux network namespace per process
// (etcd member, betcore node), each with a veth pair into one bridge, on a
// private /24 that nothing else uses. Partitions are nftables rules inside a
// host's namespace (drop to and from chosen peers), or its link taken down.
// Everything is made by the drill and removed after it, also what a killed
// earlier drill left behind. Needs root (CAP_NET_ADMIN).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace betcore::drill {

struct TestHost {
  std::string name;  // "e1", "n2"
  std::string ns;    // "bcd-e1"
  std::string ip;    // "10.213.77.11"
};

class TestNet {
 public:
  // `prefix`: the first three octets of the /24, e.g. "10.213.77".
  explicit TestNet(std::string prefix) : prefix_(std::move(prefix)) {}
  ~TestNet() { destroy(); }

  // Creates the bridge and one namespace per host (`names`, each given the
  // next address from .11). False with `why`.
  bool create(const std::vector<std::string>& names, std::string& why);
  // Removes every namespace, link and rule of the drill. Idempotent.
  void destroy();

  const TestHost& host(const std::string& name) const { return hosts_.at(name); }
  std::string bridge_ip() const { return prefix_ + ".1"; }
  // argv prefix that runs a program inside the host's namespace.
  std::vector<std::string> exec_in(const std::string& name) const;

  // Drops all traffic between `name` and each of `peers` (host names), both
  // ways, with nftables in `name`'s namespace. Replaces earlier rules there.
  bool isolate(const std::string& name, const std::vector<std::string>& peers, std::string& why);
  // Takes the host's link down (or up again).
  bool set_link(const std::string& name, bool up, std::string& why);
  // Removes `name`'s partition rules and brings its link up.
  bool heal(const std::string& name, std::string& why);

 private:
  std::string prefix_;
  std::map<std::string, TestHost> hosts_;
  bool bridge_ = false;
};

// Runs a command (argv), waits, and returns its exit code; its output goes
// into `output`. -1 when it could not run.
int run_command(const std::vector<std::string>& argv, std::string& output);

}  // namespace betcore::drill
