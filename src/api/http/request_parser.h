// Internal: a Beast parser that writes straight into our Request.
//
// Why not beast::http::request_parser<string_body>: it stores every header in
// a beast::http::fields (one allocation per field) that we would then copy
// from. Deriving from basic_parser keeps Beast's RFC 9112 parsing and its
// limits, and keeps only the few headers the API reads, reusing the Request's
// string capacity from one request to the next.
#pragma once

// GCC 12 with -O2 and the sanitizers reports boost::optional's storage in
// basic_parser::content_length_unchecked() as "maybe uninitialized": a known
// false positive of GCC's inliner on boost::optional, not a Beast bug. The
// diagnostic is tied to the header's lines, so silencing it around the
// include leaves our own code checked. (Clang has no such warning, and
// would warn about the unknown name: the fuzz build is clang's.)
#pragma GCC diagnostic push
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#pragma GCC diagnostic pop
#include <cstdint>
#include <string>
#include <vector>

#include "api/http/http_server.h"

namespace betcore::http {

class RequestParser final : public boost::beast::http::basic_parser<true> {
 public:
  using error_code = boost::beast::error_code;
  using field = boost::beast::http::field;
  using string_view = boost::beast::string_view;
  using verb = boost::beast::http::verb;

  // `out` must have empty body, authorization and content_type.
  // `capture`: lower-case names of the other headers to keep in out.headers.
  RequestParser(Request& out, size_t body_bytes_max, size_t header_bytes_max,
                const std::vector<std::string>& capture)
      : out_(out), capture_(capture) {
    body_limit(body_bytes_max);
    header_limit(
        static_cast<std::uint32_t>(header_bytes_max > UINT32_MAX ? UINT32_MAX : header_bytes_max));
    eager(true);  // parse the body in the same put() when it is already buffered
  }

  bool expect_continue() const { return expect_continue_; }

 private:
  static Method to_method(verb v) {
    switch (v) {
      case verb::get:
        return Method::get;
      case verb::head:
        return Method::head;
      case verb::post:
        return Method::post;
      case verb::put:
        return Method::put;
      case verb::patch:
        return Method::patch;
      case verb::delete_:
        return Method::delete_;
      case verb::options:
        return Method::options;
      default:
        return Method::other;
    }
  }

  void on_request_impl(verb method, string_view, string_view target, int version,
                       error_code&) override {
    out_.method = to_method(method);
    out_.target.assign(target.data(), target.size());
    out_.version = version;
  }

  void on_response_impl(int, string_view, int, error_code& ec) override {
    ec = boost::beast::http::error::bad_method;  // unreachable for a request parser
  }

  void on_field_impl(field name, string_view name_text, string_view value,
                     error_code& ec) override {
    // Fields after the header are a chunked body's trailer: never credentials
    // or types (RFC 9110, 6.5.1: trailers must not carry control data).
    if (is_header_done()) return;
    switch (name) {
      case field::authorization:
        // Two credentials are ambiguous: refuse rather than pick one.
        if (has_authorization_) {
          ec = boost::beast::http::error::bad_value;
          return;
        }
        has_authorization_ = true;
        out_.authorization.assign(value.data(), value.size());
        break;
      case field::content_type:
        out_.content_type.assign(value.data(), value.size());
        break;
      case field::expect:
        expect_continue_ = boost::beast::iequals(value, "100-continue");
        break;
      case field::transfer_encoding:
        has_transfer_encoding_ = true;
        break;
      default:
        for (const std::string& wanted : capture_) {
          if (boost::beast::iequals(name_text, wanted)) {
            out_.headers.emplace_back(wanted, std::string(value.data(), value.size()));
            break;
          }
        }
        break;
    }
  }

  void on_header_impl(error_code& ec) override {
    // RFC 9112, 6.3: a request whose Transfer-Encoding does not end in
    // "chunked" has no reliable length: 400. (Beast would read it as empty.)
    if (has_transfer_encoding_ && !chunked()) ec = boost::beast::http::error::bad_transfer_encoding;
  }

  void on_body_init_impl(boost::optional<std::uint64_t> const& content_length,
                         error_code&) override {
    // Beast has already checked the length against body_limit.
    if (content_length) out_.body.reserve(static_cast<size_t>(*content_length));
  }

  size_t on_body_impl(string_view body, error_code&) override {
    out_.body.append(body.data(), body.size());
    return body.size();
  }

  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}

  size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code&) override {
    out_.body.append(body.data(), body.size());
    return body.size();
  }

  void on_finish_impl(error_code&) override {}

  Request& out_;
  const std::vector<std::string>& capture_;
  bool has_authorization_ = false;
  bool has_transfer_encoding_ = false;
  bool expect_continue_ = false;
};

}  // namespace betcore::http
