// Fuzz target: the HTTP/1.1 request parser (src/api/http/request_parser.h)
// driven the way a connection drives it (src/api/http/connection.cc,
// Connection::parse): bytes into a buffer, put() until a request is done,
// then the next pipelined request from what is left.
//
// The input is parsed twice: whole, and in slices of a few bytes (as reads
// from a slow client arrive). Invariants: nothing crashes; a parse ends in
// a request, an error or a need for more bytes; both ways agree on every
// request they complete; the request helpers (path, query, query_param,
// percent_decode) run on whatever was parsed; limits hold.
#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http/request_parser.h"
#include "domain/assert.h"

namespace {

using betcore::http::Request;
using betcore::http::RequestParser;
using boost::beast::http::error;

// Small limits, so inputs of a few KiB reach them.
constexpr size_t kBodyBytesMax = 2048;
constexpr size_t kHeaderBytesMax = 1024;
constexpr int kRequestsMax = 16;  // pipelined requests per input

const std::vector<std::string>& capture() {
  static const std::vector<std::string> names = {"x-forwarded-for", "idempotency-key",
                                                 "gateway-signature"};
  return names;
}

struct Parsed {
  std::vector<Request> requests;  // completed, in order
  bool failed = false;            // stopped on a parse error
};

// Exercises what the routes call on a request.
void use(const Request& r) {
  const std::string_view path = r.path();
  const std::string_view query = r.query();
  BETCORE_ASSERT_MSG(path.size() + (query.empty() ? 0 : query.size() + 1) <= r.target.size(),
                     "path and query are longer than the target");
  for (const char* key : {"account_id", "limit", "after", "from", "status"}) {
    const std::optional<std::string> v = r.query_param(key);
    BETCORE_ASSERT_MSG(!v || v->size() <= query.size(), "a query value longer than the query");
  }
  const std::optional<std::string> decoded = betcore::http::percent_decode(path, false);
  BETCORE_ASSERT_MSG(!decoded || decoded->size() <= path.size(), "decoding grew the path");
  (void)r.header("x-forwarded-for");
  BETCORE_ASSERT_MSG(r.body.size() <= kBodyBytesMax, "a body over the limit");
}

// Parses `in` fed `slice` bytes at a time (0: all at once).
Parsed parse(std::string_view in, size_t slice) {
  Parsed out;
  std::string buffer;
  size_t fed = 0;
  for (int n = 0; n < kRequestsMax; ++n) {
    Request request;
    RequestParser parser(request, kBodyBytesMax, kHeaderBytesMax, capture());
    // Bound: each round feeds more input or consumes buffered bytes or stops.
    while (true) {
      boost::beast::error_code ec;
      const size_t used = buffer.empty() ? 0 : parser.put(boost::asio::buffer(buffer), ec);
      BETCORE_ASSERT_MSG(used <= buffer.size(), "the parser used more than it was given");
      buffer.erase(0, used);
      if (ec && ec != error::need_more) {
        out.failed = true;
        return out;
      }
      if (parser.is_done()) break;
      if (!ec && used > 0) continue;
      if (fed == in.size()) return out;  // the input ends inside a request
      const size_t take = slice == 0 ? in.size() - fed : std::min(slice, in.size() - fed);
      buffer.append(in.substr(fed, take));
      fed += take;
    }
    use(request);
    out.requests.push_back(std::move(request));
    if (buffer.empty() && fed == in.size()) return out;
  }
  return out;
}

bool same(const Request& a, const Request& b) {
  return a.method == b.method && a.version == b.version && a.target == b.target &&
         a.body == b.body && a.authorization == b.authorization &&
         a.content_type == b.content_type && a.headers == b.headers;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const Parsed whole = parse(in, 0);
  // A slice size from the input's length: different inputs cut differently.
  const Parsed sliced = parse(in, 1 + size % 7);
  const size_t n = std::min(whole.requests.size(), sliced.requests.size());
  for (size_t i = 0; i < n; ++i) {
    BETCORE_ASSERT_MSG(same(whole.requests[i], sliced.requests[i]),
                       "a request parses differently when it arrives in pieces");
  }
  return 0;
}
