#include "tools/ports.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace betcore::tools {
namespace {

std::string lock_path(uint16_t port) {
  const char* env = std::getenv("BETCORE_PORT_LOCK_DIR");
  return std::string(env && *env ? env : "/tmp/betcore-ports") + "/" + std::to_string(port) + ".lock";
}

TEST(Ports, LeasesAreDistinctAndBelowTheEphemeralRange) {
  PortRange range = reservable_ports();
  int ephemeral_low = 0, ephemeral_high = 0;
  FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(std::fscanf(f, "%d %d", &ephemeral_low, &ephemeral_high), 2);
  std::fclose(f);
  EXPECT_LT(range.last, ephemeral_low);

  std::vector<PortLease> leases;
  std::set<uint16_t> ports;
  for (int i = 0; i < 200; ++i) {
    std::string why;
    leases.push_back(lease_port(&why));
    ASSERT_TRUE(leases.back()) << why;
    uint16_t p = leases.back().port();
    EXPECT_GE(p, range.first);
    EXPECT_LE(p, range.last);
    EXPECT_TRUE(ports.insert(p).second) << "port " << p << " handed out twice";
  }
}

TEST(Ports, AnotherProcessCannotTakeALeasedPort) {
  PortLease lease = lease_port();
  ASSERT_TRUE(lease);
  std::string path = lock_path(lease.port());
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int fd = ::open(path.c_str(), O_RDWR);
    if (fd < 0) ::_exit(2);
    ::_exit(::flock(fd, LOCK_EX | LOCK_NB) == 0 ? 1 : 0);  // 0: refused, as it must be
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child got the lock of a leased port (2: no lock file)";
}

TEST(Ports, AReleasedPortCanBeLockedAgain) {
  std::string path;
  {
    PortLease lease = lease_port();
    ASSERT_TRUE(lease);
    path = lock_path(lease.port());
  }
  int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  ::close(fd);
}

TEST(Ports, APortAnotherProgramListensOnIsSkipped) {
  // A listener outside the protocol (no lock) on the only port of a range:
  // no lease, and the reason says so; with a second port, that one.
  PortLease probe = lease_port();
  ASSERT_TRUE(probe);
  const uint16_t taken = probe.port();
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(taken);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  probe = PortLease();  // the lock is free; the port is not

  PortRange only{taken, taken};
  std::string why;
  EXPECT_FALSE(lease_port(&why, &only));
  EXPECT_NE(why.find("1 in use by other programs"), std::string::npos) << why;

  PortRange two{static_cast<uint16_t>(taken - 1), taken};
  for (int i = 0; i < 20; ++i) {
    PortLease lease = lease_port(&why, &two);
    if (!lease) continue;  // taken-1 is busy too: nothing to learn from this round
    EXPECT_EQ(lease.port(), taken - 1);
  }
  ::close(listener);
}

TEST(Ports, ReservePortKeepsItForTheProcess) {
  uint16_t a = reserve_port();
  uint16_t b = reserve_port();
  EXPECT_NE(a, b);
  int fd = ::open(lock_path(a).c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  EXPECT_NE(::flock(fd, LOCK_EX | LOCK_NB), 0) << "a reserved port's lock was free";
  ::close(fd);
}

}  // namespace
}  // namespace betcore::tools
