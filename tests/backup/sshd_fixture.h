// A real OpenSSH server on 127.0.0.1 as the backup's "other site", for the
// shipper's tests: its own host key, a client key it accepts, a known_hosts
// line for it, a remote directory. stop() takes the whole site down at once
// (the daemon and every session it forked, as a lost machine would);
// start() brings it back on the same port with the same keys.
//
// Runs as root, as the tests do: sshd needs /run/sshd (made here if missing)
// and logs in the current user with the client key.
#pragma once

#include <cstdint>
#include <string>

#include "support/process.h"
#include "support/temp_dir.h"

namespace betcore::test {

// Thread: the test's main thread (sshd dies with the thread that spawned it).
class SshdSite {
 public:
  // Makes the keys and the configuration; ready() is false, and why() says
  // why, if that failed.
  SshdSite();
  ~SshdSite();  // stop()
  SshdSite(const SshdSite&) = delete;
  SshdSite& operator=(const SshdSite&) = delete;

  bool ready() const { return why_.empty(); }
  const std::string& why() const { return why_; }

  // Starts sshd and waits until its port accepts connections. False, with
  // why() (its log included), if it does not.
  bool start();
  // Kills sshd and every process it forked (sessions, their commands):
  // established connections drop too. Nothing if not running.
  void stop();
  bool running() { return sshd_.running(); }

  uint16_t port() const { return port_; }
  const std::string& user() const { return user_; }
  // Where the shipper's files land: "<temp>/remote" (not made here).
  std::string remote_dir() const { return (dir_ / "remote").string(); }
  std::string target() const { return user_ + "@127.0.0.1:" + remote_dir(); }
  std::string identity_file() const { return (dir_ / "client_key").string(); }
  std::string known_hosts() const { return (dir_ / "known_hosts").string(); }
  std::string log() const { return sshd_.read_log(); }

 private:
  bool prepare();

  TempDir dir_{"betcore-sshd"};
  uint16_t port_ = 0;
  std::string user_;
  std::string why_;
  Process sshd_;
};

}  // namespace betcore::test
