// HOST:PORT flags and stop signals for long-running processes.
#include "tools/server_process.h"

#include "tools/tokens_file.h"

#include <pthread.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <optional>

namespace betcore::tools {

Url url_flag_or_exit(const std::string& flag, const std::string& text) {
  std::optional<Url> u = parse_url(text);
  if (!u) {
    std::fprintf(stderr, "%s %s is not an http://HOST:PORT URL\n", flag.c_str(), text.c_str());
    std::exit(2);
  }
  return *u;
}

void listen_flag_or_exit(const std::string& flag, const std::string& text, std::string& host,
                         uint16_t& port) {
  if (!split_host_port(text, host, port)) {
    std::fprintf(stderr, "%s %s is not HOST:PORT (port 0: any free port)\n", flag.c_str(),
                 text.c_str());
    std::exit(2);
  }
}

std::string role_token_or_exit(const std::string& path, const std::string& role) {
  std::string error;
  std::optional<TokensFile> file = read_tokens_file(path, &error);
  if (file && file->errors.empty()) {
    if (std::optional<std::string> token = file->first(role)) return *token;
    error = "no token with role " + role + "; add a line '" + role + " <token>'";
  } else if (file) {
    error = file->errors.front();
  }
  std::fprintf(stderr, "--tokens %s: %s\n", path.c_str(), error.c_str());
  std::exit(2);
}

bool split_host_port(const std::string& s, std::string& host, uint16_t& port) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = s.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  // Digits only, all of them: "8080xyz", "+80" and " 80" are refused.
  const char* first = s.data() + colon + 1;
  const char* last = s.data() + s.size();
  if (first == last || last - first > 5) return false;
  unsigned p = 0;
  const auto [end, ec] = std::from_chars(first, last, p);
  if (ec != std::errc() || end != last || p > 65535) return false;
  port = static_cast<uint16_t>(p);
  return true;
}

sigset_t block_stop_signals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return stop_signals;
}

int wait_for_stop_signal(const sigset_t& stop_signals) {
  int sig = 0;
  sigwait(&stop_signals, &sig);
  return sig;
}

}  // namespace betcore::tools
