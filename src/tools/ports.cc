#include "tools/ports.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <stdexcept>
#include <vector>

namespace betcore::tools {
namespace {

constexpr uint16_t kFirstPort = 20000;
constexpr uint16_t kLastPort = 32000;

std::string lock_dir() {
  const char* env = std::getenv("BETCORE_PORT_LOCK_DIR");
  return env && *env ? env : "/tmp/betcore-ports";
}

// True when a listener could bind 127.0.0.1:port now (with SO_REUSEADDR, as
// every server we start binds: a port with only TIME_WAIT leftovers is fine).
bool bindable(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

PortRange reservable_ports() {
  PortRange range{kFirstPort, kLastPort};
  // Stay below the kernel's ephemeral range, wherever it starts.
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 0, high = 0;
  if (in >> low >> high && low > kFirstPort + 1000 && low <= kLastPort + 1) {
    range.last = static_cast<uint16_t>(low - 1);
  }
  return range;
}

PortLease::~PortLease() { release(); }

PortLease::PortLease(PortLease&& other) noexcept : port_(other.port_), lock_fd_(other.lock_fd_) {
  other.port_ = 0;
  other.lock_fd_ = -1;
}

PortLease& PortLease::operator=(PortLease&& other) noexcept {
  if (this != &other) {
    release();
    port_ = other.port_;
    lock_fd_ = other.lock_fd_;
    other.port_ = 0;
    other.lock_fd_ = -1;
  }
  return *this;
}

void PortLease::release() noexcept {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // drops the flock
  lock_fd_ = -1;
  port_ = 0;
}

PortLease lease_port(std::string* why, const PortRange* wanted) {
  const std::string dir = lock_dir();
  ::mkdir(dir.c_str(), 01777);
  ::chmod(dir.c_str(), 01777);  // shared by every user's tests
  const PortRange range = wanted ? *wanted : reservable_ports();
  const uint32_t count = static_cast<uint32_t>(range.last - range.first + 1);
  // A random start spreads parallel processes over the range; the scan then
  // visits every port once.
  std::mt19937 rng(static_cast<uint32_t>(::getpid()) ^
                   static_cast<uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  const uint32_t start = rng() % count;
  int locked = 0, in_use = 0;
  std::string last_error;
  for (uint32_t k = 0; k < count; ++k) {
    uint16_t port = static_cast<uint16_t>(range.first + (start + k) % count);
    std::string path = dir + "/" + std::to_string(port) + ".lock";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
      last_error = "cannot open " + path + ": " + std::strerror(errno);
      continue;
    }
    // Per open file description: a second lease of this port, even in this
    // process, fails here too.
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      ++locked;
      continue;
    }
    if (!bindable(port)) {  // held by something outside this protocol
      ::close(fd);
      ++in_use;
      continue;
    }
    return PortLease(port, fd);
  }
  if (why) {
    *why = "no free port in " + std::to_string(range.first) + "-" + std::to_string(range.last) +
           " (" + std::to_string(locked) + " reserved by running tests, " + std::to_string(in_use) +
           " in use by other programs" + (last_error.empty() ? "" : "; " + last_error) + ")";
  }
  return PortLease();
}

uint16_t reserve_port() {
  static std::mutex mu;
  static std::vector<PortLease>* held = new std::vector<PortLease>();  // never destroyed
  std::string why;
  PortLease lease = lease_port(&why);
  if (!lease) throw std::runtime_error("cannot reserve a port: " + why);
  uint16_t port = lease.port();
  std::lock_guard<std::mutex> lock(mu);
  held->push_back(std::move(lease));
  return port;
}

}  // namespace betcore::tools
