// Ports and readiness for tests that start servers.
#pragma once

#include <cstdint>
#include <string>

#include "support/process.h"

namespace betcore::test {



// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0 and
// released), or 0 if none could be bound. Another process may take it before
// the server binds it: a test that loses that race should retry with a new one.
uint16_t free_port();

// Polls GET `path` on host:port until it answers 200 or `timeout_ms` passes.
// Returns true once ready. With `process`, gives up as soon as it exits. With
// `last_failure`, stores the last answer or error (for the test's message).
bool wait_http_ready(const std::string& host, uint16_t port, const std::string& path,
                     int timeout_ms, Process* process = nullptr,
                     std::string* last_failure = nullptr);

}  // namespace betcore::test
