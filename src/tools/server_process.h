// What every long-running betcore process (node, feed adapter, feed
// provider) does the same way: read HOST:PORT flags, and stop on SIGINT or
// SIGTERM, caught by sigwait in the main thread.
#pragma once
#include <signal.h>

#include <cstdint>
#include <string>

#include "tools/http_client.h"

namespace betcore::tools {

// "127.0.0.1:8080", "[::1]:8080" (brackets dropped), "host:0". False when
// there is no host or the port is not a number in 0..65535.
bool split_host_port(const std::string& s, std::string& host, uint16_t& port);

// An http://HOST:PORT flag's value; on anything else, logs what `flag`
// wants and exits 2 (a command line's error).
Url url_flag_or_exit(const std::string& flag, const std::string& text);

// A HOST:PORT flag's value into host and port; on anything else, logs what
// `flag` wants and exits 2.
void listen_flag_or_exit(const std::string& flag, const std::string& text, std::string& host,
                         uint16_t& port);

// The first token of `role` in the tokens file `path` (--tokens); when the
// file cannot be read, has a bad line or no such role, logs what to fix and
// exits 2.
std::string role_token_or_exit(const std::string& path, const std::string& role);

// Blocks SIGINT and SIGTERM in this thread and every thread it starts
// later (call it before starting any), so that only wait_for_stop_signal
// sees them; ignores SIGPIPE (a peer gone is an error value, not a death).
sigset_t block_stop_signals();

// Waits for SIGINT or SIGTERM; returns which.
int wait_for_stop_signal(const sigset_t& stop_signals);

}  // namespace betcore::tools
