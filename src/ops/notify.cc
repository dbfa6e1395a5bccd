#include "ops/notify.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace betcore::ops {

Notifier::Notifier() {
  const char* p = std::getenv("NOTIFY_SOCKET");
  if (p != nullptr && (p[0] == '/' || p[0] == '@') && std::strlen(p) < sizeof(sockaddr_un::sun_path)) {
    socket_path_ = p;
  }
}

bool Notifier::send(const std::string& message) {
  if (socket_path_.empty()) return true;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path_.data(), socket_path_.size());
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  const socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_path_.size());
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  bool ok = fd >= 0 && ::sendto(fd, message.data(), message.size(), MSG_NOSIGNAL,
                                reinterpret_cast<const sockaddr*>(&addr), len) ==
                           static_cast<ssize_t>(message.size());
  const int err = errno;
  if (fd >= 0) ::close(fd);
  if (!ok && !warned_.exchange(true)) {
    spdlog::warn("cannot notify systemd at {} ({}): check the unit's NotifyAccess=", socket_path_,
                 std::strerror(err));
  }
  return ok;
}

}  // namespace betcore::ops
