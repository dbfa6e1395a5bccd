// Regression tests for bugs these API tests found (each now fixed): a NUL
// byte after the JSON passed as the JSON before it; error messages quoted
// request bytes that are not UTF-8, so the answer was not JSON.
#include <gtest/gtest.h>

#include "api_node.h"
#include "api_world.h"
#include "node_suite.h"
#include "raw_socket.h"

namespace betcore::apitest {
namespace {

// The body of a raw HTTP answer (after the blank line).
std::string body_of(const std::string& answer) {
  size_t p = answer.find("\r\n\r\n");
  return p == std::string::npos ? std::string() : answer.substr(p + 4);
}

class ApiServerBugs : public NodeSuite<ApiServerBugs> {
 public:
  static NodeConfig config() { return {{}, {}}; }
  static void build_world(ApiNode& n) {
    create_account(n, "bug-acct");
    deposit(n, "bug-dep", "bug-acct", 1'000);
    create_event(n, "bug-ev");
    create_market(n, "bug-m", "bug-ev", {{"a", "2"}});
    place_bet(n, "bug-bet", "bug-acct", 100, {{"bug-m", "a", "2"}});
  }
};

// request_parsing.cc parses the body with nlohmann::json, whose lexer takes
// a NUL byte for the end of the input: whatever follows it is never read.
// API.md: malformed JSON is 400 invalid_request, and a 4xx changes nothing.
TEST_F(ApiServerBugs, BodyWithANulAfterTheJsonIsRefused) {
  ApiNode& n = node();
  EXPECT_ERROR(n.post_raw("/v1/accounts",
                          bytes("{\"account_id\":\"nul-tail\",\"currency\":\"EUR\"}\0"), n.admin()),
               400, "invalid_request");
  EXPECT_ERROR(
      n.post_raw("/v1/accounts",
                 bytes("{\"account_id\":\"nul-tail\",\"currency\":\"EUR\"}\0 trailing {{{"),
                 n.admin()),
      400, "invalid_request");
  EXPECT_ERROR(n.get("/v1/accounts/nul-tail", n.admin()), 404, "not_found");
  EXPECT_ERROR(
      n.post_raw("/v1/deposits",
                 bytes("{\"payment_ref\":\"nul-dep\",\"account_id\":\"bug-acct\",\"amount\":5}\0x"),
                 n.payments()),
      400, "invalid_request");
  EXPECT_EQ(account(n, "bug-acct")["balance"], 900);
}

// API.md: "JSON bodies, UTF-8". Error messages quote bytes of the request
// (the path, a query parameter) as they came, so an answer can hold bytes
// that are not UTF-8, and is then not JSON at all.
TEST_F(ApiServerBugs, ErrorMessagesStayValidUtf8) {
  ApiNode& n = node();
  // A query id that is not a valid id is a bad request (API.md: bad ids are 400).
  Reply r = n.get("/v1/bets/bug-bet?account_id=%FF", n.admin());
  EXPECT_ERROR(r, 400, "invalid_request");

  const std::string a404 =
      raw_exchange(n.port(), "GET /nope\xff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(a404.rfind("HTTP/1.1 404", 0), 0u) << a404;
  EXPECT_TRUE(json::accept(body_of(a404))) << "not JSON: " << body_of(a404);
  const std::string a405 = raw_exchange(
      n.port(), "DELETE /v1/accounts/\xc3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(a405.rfind("HTTP/1.1 405", 0), 0u) << a405;
  EXPECT_TRUE(json::accept(body_of(a405))) << "not JSON: " << body_of(a405);
}

}  // namespace
}  // namespace betcore::apitest
