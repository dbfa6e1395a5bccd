// TCP ports for the servers that tests, `betcore drill` and the benches start
// (betcore nodes, etcd, HAProxy): reserved so that two of them can never be
// handed the same port, even from parallel processes.
//
// Why not "bind port 0, read it, close, hand it out": that port lies in the
// kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768-60999 by
// default), which every outgoing connection on the machine draws from, so a
// client connection of a parallel test can take it before the server binds
// it (it did: a cluster test's etcd member died "address already in use").
//
// A reservation instead takes a port below the ephemeral range (20000-32000,
// narrowed when the kernel's range reaches lower), holds an exclusive flock on
// `<lock dir>/<port>.lock` for as long as the reservation lives (the kernel
// drops it when the holder dies, so a killed test leaves nothing stale), and
// checks that nothing outside this protocol listens on it right now. Lock dir:
// $BETCORE_PORT_LOCK_DIR, default /tmp/betcore-ports.
//
// Where a server binds port 0 itself and reports what it got, that is better
// still: `betcore node --listen 127.0.0.1:0` logs "ready on http://HOST:PORT".
// The harnesses reserve anyway: they restart a node on the same port, write
// HAProxy's and etcd's configuration before those start, and a node on :0
// advertises "HOST:0" (docs/testing.md).
#pragma once

#include <cstdint>
#include <string>

namespace betcore::tools {

// Ports [first, last]. reservable_ports() is where reservations come from:
// 20000-32000, or up to the start of the kernel's ephemeral range if lower.
struct PortRange {
  uint16_t first;
  uint16_t last;
};
PortRange reservable_ports();

// An exclusive reservation of one port. Movable, not copyable; the port is
// released when it is destroyed.
class PortLease {
 public:
  PortLease() = default;
  ~PortLease();
  PortLease(PortLease&& other) noexcept;
  PortLease& operator=(PortLease&& other) noexcept;
  PortLease(const PortLease&) = delete;
  PortLease& operator=(const PortLease&) = delete;

  uint16_t port() const { return port_; }
  explicit operator bool() const { return port_ != 0; }

 private:
  friend PortLease lease_port(std::string* why, const PortRange* range);
  PortLease(uint16_t port, int lock_fd) : port_(port), lock_fd_(lock_fd) {}
  void release() noexcept;

  uint16_t port_ = 0;
  int lock_fd_ = -1;
};

// Reserves a port from `range` (default: reservable_ports()); an empty lease,
// and `why`, when none is left in it.
PortLease lease_port(std::string* why = nullptr, const PortRange* range = nullptr);

// Reserves a port for the rest of this process's life and returns it (the
// lease is kept in a process-wide list: never released, never handed out
// twice). Throws std::runtime_error, with the reason, when the range is full.
// Thread-safe.
uint16_t reserve_port();


}  // namespace betcore::tools
