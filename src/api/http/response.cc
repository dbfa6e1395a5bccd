// Response heads and error bodies: plain string building, no Beast. Writing
// the head ourselves into a per-connection buffer costs no allocation per
// response, where a beast::http::fields would allocate one node per header.
#include <charconv>
#include <string>

#include "api/http/exchange.h"
#include "api/http/http_server.h"

namespace betcore::http {

namespace {

std::string_view reason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "";  // the reason phrase is optional (RFC 9112, 4)
  }
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool is_token_char(char c) {
  // RFC 9110, 5.6.2: tchar.
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Headers the server owns, and anything that could split the head.
bool header_allowed(std::string_view name, std::string_view value) {
  if (name.empty()) return false;
  for (const char c : name) {
    if (!is_token_char(c)) return false;
  }
  for (const char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return !iequals(name, "content-length") && !iequals(name, "transfer-encoding") &&
         !iequals(name, "connection") && !iequals(name, "content-type");
}

void append_uint(std::string& out, uint64_t value) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, r.ptr);
}

void append_json_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;  // UTF-8 passes through
    }
  }
  out += '"';
}

}  // namespace

Response Response::json(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response Response::error(int status, std::string_view code, std::string_view message) {
  Response r;
  r.status = status;
  r.body.reserve(32 + code.size() + message.size());
  r.body += "{\"error\":{\"code\":";
  append_json_string(r.body, code);
  r.body += ",\"message\":";
  append_json_string(r.body, message);
  r.body += "}}";
  return r;
}

namespace detail {

bool status_has_body(int status) { return status >= 200 && status != 204 && status != 304; }

void append_head(std::string& out, int status, std::string_view content_type,
                 const std::vector<std::pair<std::string, std::string>>& headers, Framing framing,
                 size_t body_bytes, bool keep_alive, int version) {
  status = final_status(status);
  out += "HTTP/1.1 ";
  append_uint(out, static_cast<uint64_t>(status));
  out += ' ';
  out += reason(status);
  out += "\r\n";
  if (status_has_body(status)) {
    out += "Content-Type: ";
    out += content_type.empty() ? std::string_view("application/json") : content_type;
    out += "\r\n";
    switch (framing) {
      case Framing::content_length:
        out += "Content-Length: ";
        append_uint(out, body_bytes);
        out += "\r\n";
        break;
      case Framing::chunked:
        out += "Transfer-Encoding: chunked\r\n";
        break;
      case Framing::until_close:
        break;
    }
  }
  for (const auto& [name, value] : headers) {
    if (!header_allowed(name, value)) continue;
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  // RFC 9112, 9.3: HTTP/1.1 connections persist unless "close" is sent;
  // HTTP/1.0 ones close unless "keep-alive" is sent.
  if (!keep_alive) {
    out += "Connection: close\r\n";
  } else if (version < 11) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
}

}  // namespace detail
}  // namespace betcore::http
