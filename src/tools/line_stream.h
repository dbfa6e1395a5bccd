// A client for a long-lived newline-delimited HTTP response (GET /v1/stream):
// opens the request, then hands out one complete line at a time as chunks
// arrive. Blocking; cancel() from another thread ends a read in progress.
// TCP keep-alive probes (5 s idle, 2 s apart, 3 tries) notice a peer that
// vanished without a FIN or RST (a partition), so a read never hangs forever.
#pragma once
#include <memory>
#include <string>

#include "tools/http_client.h"

namespace betcore::tools {

class LineStream {
 public:
  LineStream();
  ~LineStream();
  LineStream(const LineStream&) = delete;
  LineStream& operator=(const LineStream&) = delete;

  // Connects and sends GET `target`. On a 200 the stream is open and the
  // Response has no body; otherwise the Response says what happened (status 0
  // with an error for a transport failure, or the status and the body).
  Response open(const Url& url, const std::string& target, const std::string& bearer_token,
                int connect_timeout_ms = 2000);
  // The next line, without its '\n'. False when the stream ended or failed
  // (error() says why) or cancel() was called.
  bool next_line(std::string& line);
  const std::string& error() const;
  // Thread-safe: makes a blocked next_line() return false soon.
  void cancel();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace betcore::tools
