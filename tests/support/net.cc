#include "support/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "support/process.h"
#include "tools/http_client.h"

namespace betcore::test {

uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

bool wait_http_ready(const std::string& host, uint16_t port, const std::string& path,
                     int timeout_ms, Process* process, std::string* last_failure) {
  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  tools::HttpClientOptions options;
  options.connect_timeout_ms = 500;
  options.request_timeout_ms = 1000;
  tools::HttpClient client(host, port, options);
  std::string failure = "not polled";
  for (;;) {
    if (process) {
      if (auto status = process->try_wait()) {
        failure = "the process exited: " + status->describe();
        break;
      }
    }
    tools::Response r = client.get(path);
    if (r.status == 200) return true;
    failure = r.status == 0 ? r.error : std::to_string(r.status) + " " + r.body;
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (last_failure) *last_failure = failure;
  return false;
}

}  // namespace betcore::test
