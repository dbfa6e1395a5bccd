// How route handlers answer: JSON responses, errors (API.md, Errors), Retry-After.
#pragma once

#include <string>
#include <string_view>

#include "api/http/http_server.h"

namespace betcore::api {

http::Response json_response(int status, std::string body);

// {"error": {code, message}}. The message may quote what the client sent:
// every byte that is not part of valid UTF-8 becomes '?', so the answer stays
// JSON.
http::Response error(int status, std::string_view code, std::string_view message);

http::Response with_retry_after(http::Response r, int seconds);

}  // namespace betcore::api
