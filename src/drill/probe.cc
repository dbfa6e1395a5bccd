// Probing the drill's helper processes over HTTP (probe.h).
#include "drill/probe.h"

#include "drill/clock.h"
#include "tools/http_client.h"

namespace betcore::drill {

bool wait_http_ready(tools::Process& p, uint16_t port, const std::string& path, int timeout_ms) {
  const int64_t deadline = now_ms() + timeout_ms;
  while (now_ms() < deadline && p.running()) {
    tools::HttpClient c("127.0.0.1", port, {.connect_timeout_ms = 500, .request_timeout_ms = 2000});
    if (c.get(path).status == 200) return true;
    sleep_ms(200);
  }
  return false;
}

}  // namespace betcore::drill
