// systemd's readiness protocol (sd_notify(3), Type=notify): datagrams such
// as "READY=1", "STATUS=replaying", "STOPPING=1" to the socket named by
// $NOTIFY_SOCKET. Without that variable (not under systemd) it does nothing.
#pragma once

#include <atomic>
#include <string>

namespace betcore::ops {

class Notifier {
 public:
  // Reads $NOTIFY_SOCKET once (a path, or "@name" for an abstract socket).
  Notifier();
  bool enabled() const { return !socket_path_.empty(); }
  // Sends one message ("READY=1", "STATUS=..."); false when it could not
  // be sent (logged once), true when sent or when not under systemd.
  bool send(const std::string& message);

 private:
  std::string socket_path_;
  std::atomic<bool> warned_{false};
};

}  // namespace betcore::ops
