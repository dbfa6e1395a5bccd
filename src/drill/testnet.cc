// The drill's test hosts: network namespaces, veth pairs, a bridge and nftables partitions.
#include "drill/testnet.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

namespace betcore::drill {
namespace {

constexpr const char* kBridge = "bcdrill0";
constexpr const char* kTable = "bcdrill";

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

bool ok(const std::vector<std::string>& argv, std::string& why) {
  std::string out;
  int rc = run_command(argv, out);
  if (rc == 0) return true;
  std::string cmd;
  for (const std::string& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
  why = fmt::format("`{}` failed (exit {}): {}", cmd, rc, out);
  return false;
}

}  // namespace

int run_command(const std::vector<std::string>& argv, std::string& output) {
  std::string cmd;
  for (const std::string& a : argv) cmd += (cmd.empty() ? "" : " ") + quote(a);
  cmd += " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  output.clear();
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
  int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool TestNet::create(const std::vector<std::string>& names, std::string& why) {
  destroy();
  // What a killed earlier drill left: namespaces named bcd-*, the bridge.
  std::string out;
  run_command({"ip", "netns", "list"}, out);
  for (size_t at = out.find("bcd-"); at != std::string::npos; at = out.find("bcd-", at + 1)) {
    if (at > 0 && out[at - 1] != '\n') continue;
    std::string ns = out.substr(at, out.find_first_of(" \n", at) - at);
    std::string ignored;  // not `out`: the loop is still reading the list
    run_command({"ip", "netns", "del", ns}, ignored);
  }
  run_command({"ip", "link", "del", kBridge}, out);
  for (const std::string& name : names) {
    run_command({"ip", "link", "del", "bcd-" + name}, out);   // a veth left in the root namespace
    run_command({"ip", "link", "del", "bcd-" + name + "p"}, out);
  }

  if (!ok({"ip", "link", "add", kBridge, "type", "bridge"}, why)) {
    why += " (the drill makes its own network namespaces: it needs root with CAP_NET_ADMIN)";
    return false;
  }
  bridge_ = true;
  if (!ok({"ip", "addr", "add", bridge_ip() + "/24", "dev", kBridge}, why) ||
      !ok({"ip", "link", "set", kBridge, "up"}, why)) {
    return false;
  }
  int next = 11;
  for (const std::string& name : names) {
    TestHost h{name, "bcd-" + name, fmt::format("{}.{}", prefix_, next++)};
    std::string outer = "bcd-" + name;   // stays on the bridge
    std::string inner = "bcd-" + name + "p";
    if (!ok({"ip", "netns", "add", h.ns}, why)) return false;
    hosts_[name] = h;
    if (!ok({"ip", "link", "add", outer, "type", "veth", "peer", "name", inner}, why) ||
        !ok({"ip", "link", "set", inner, "netns", h.ns}, why) ||
        !ok({"ip", "link", "set", outer, "master", kBridge, "up"}, why) ||
        !ok({"ip", "netns", "exec", h.ns, "ip", "link", "set", "lo", "up"}, why) ||
        !ok({"ip", "netns", "exec", h.ns, "ip", "link", "set", inner, "name", "eth0"}, why) ||
        !ok({"ip", "netns", "exec", h.ns, "ip", "addr", "add", h.ip + "/24", "dev", "eth0"}, why) ||
        !ok({"ip", "netns", "exec", h.ns, "ip", "link", "set", "eth0", "up"}, why)) {
      return false;
    }
  }
  return true;
}

void TestNet::destroy() {
  std::string out;
  for (const auto& [name, h] : hosts_) run_command({"ip", "netns", "del", h.ns}, out);
  hosts_.clear();
  if (bridge_) run_command({"ip", "link", "del", kBridge}, out);
  bridge_ = false;
}

std::vector<std::string> TestNet::exec_in(const std::string& name) const {
  return {"ip", "netns", "exec", host(name).ns};
}

bool TestNet::isolate(const std::string& name, const std::vector<std::string>& peers, std::string& why) {
  const TestHost& h = host(name);
  std::string set;
  for (const std::string& p : peers) set += (set.empty() ? "" : ", ") + host(p).ip;
  std::string rules = fmt::format(
      "table inet {0} {{\n"
      "  chain input {{ type filter hook input priority 0; policy accept; ip saddr {{ {1} }} drop; }}\n"
      "  chain output {{ type filter hook output priority 0; policy accept; ip daddr {{ {1} }} drop; }}\n"
      "}}\n",
      kTable, set);
  std::string file = fmt::format("/tmp/betcore-drill-nft-{}-{}.nft", ::getpid(), name);
  {
    std::ofstream f(file);
    f << rules;
  }
  std::string out;
  run_command({"ip", "netns", "exec", h.ns, "nft", "delete", "table", "inet", kTable}, out);
  bool done = ok({"ip", "netns", "exec", h.ns, "nft", "-f", file}, why);
  std::error_code ec;
  std::filesystem::remove(file, ec);
  return done;
}

bool TestNet::set_link(const std::string& name, bool up, std::string& why) {
  return ok({"ip", "netns", "exec", host(name).ns, "ip", "link", "set", "eth0", up ? "up" : "down"}, why);
}

bool TestNet::heal(const std::string& name, std::string& why) {
  std::string out;
  run_command({"ip", "netns", "exec", host(name).ns, "nft", "delete", "table", "inet", kTable}, out);
  return set_link(name, true, why);
}

}  // namespace betcore::drill
