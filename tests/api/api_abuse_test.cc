// A client that abuses the API is held to its budget and the others are not
// (docs/security.md, "Limits"): per-token and per-address rate limits (429
// rate_limited with Retry-After), slow-header connections that cannot hold
// the node, a cap on connections from one address, and tokens revoked and
// added on SIGHUP without a restart.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>
#include <vector>

#include "api/auth.h"
#include "api_node.h"
#include "api_world.h"
#include "raw_socket.h"

namespace betcore::apitest {
namespace {

using Clock = std::chrono::steady_clock;

// Counts the answers of `threads` clients hammering `target` for `seconds`.
struct Tally {
  std::atomic<int> ok{0}, limited{0}, other{0};
  std::atomic<bool> retry_after_ok{true};
};
void hammer(ApiNode& n, const std::string& target, const std::string& token, int threads,
            double seconds, Tally& t, std::vector<std::pair<std::string, std::string>> headers = {}) {
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> running;
  for (int i = 0; i < threads; ++i) {
    running.emplace_back([&] {
      tools::HttpClient c = n.client();
      tools::Request req;
      req.target = target;
      req.bearer_token = token;
      req.headers = headers;
      while (Clock::now() < end) {
        const tools::Response r = c.request(req);
        if (r.status == 200) {
          ++t.ok;
        } else if (r.status == 429) {
          ++t.limited;
          const int after = std::atoi(r.header("retry-after").c_str());
          if (after < 1 || r.body.find("rate_limited") == std::string::npos) t.retry_after_ok = false;
        } else {
          ++t.other;
        }
      }
    });
  }
  for (auto& th : running) th.join();
}

TEST(ApiAbuse, APunterTokenIsHeldToItsBudgetWhileAnotherIsServed) {
  ApiNode n({{"alice", "bob"}, {"--rate-limit-punter-rps", "20", "--rate-limit-punter-burst", "20"}});
  ASSERT_TRUE(n.start()) << n.why();
  create_account(n, "alice");
  create_account(n, "bob");
  Tally abuser, neighbour;
  const auto t0 = Clock::now();
  std::thread hog([&] { hammer(n, "/v1/accounts/alice", n.punter("alice"), 4, 3.0, abuser); });
  // Bob reads five times a second meanwhile: every read is served.
  for (int i = 0; i < 15; ++i) {
    EXPECT_STATUS(n.get("/v1/accounts/bob", n.punter("bob")), 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  hog.join();
  const double elapsed_s = std::chrono::duration<double>(Clock::now() - t0).count();
  // The burst plus the rate over the run, and no more.
  EXPECT_LE(abuser.ok.load(), 20 + 20 * elapsed_s + 2) << elapsed_s << " s";
  EXPECT_GE(abuser.ok.load(), 20 + 20 * 2);
  EXPECT_GT(abuser.limited.load(), abuser.ok.load()) << "four threads ask far more than the budget";
  EXPECT_EQ(abuser.other.load(), 0);
  EXPECT_TRUE(abuser.retry_after_ok.load()) << "a 429 without Retry-After or without rate_limited";
  // The admin (a service token, not limited by default) is served too.
  EXPECT_STATUS(n.get("/v1/accounts/alice", n.admin()), 200);
}

TEST(ApiAbuse, AnAddressBehindATrustedProxyIsHeldToItsBudgetAndOthersAreNot) {
  ApiNode n({{}, {"--rate-limit-address-rps", "10", "--rate-limit-address-burst", "10",
                  "--trusted-proxy", "127.0.0.1"}});
  ASSERT_TRUE(n.start()) << n.why();
  Tally one, two;
  // HAProxy appends the address it saw; an earlier, forged entry is ignored.
  std::thread a([&] {
    hammer(n, "/v1/ledger/balance", n.admin(), 2, 2.0, one, {{"X-Forwarded-For", "10.9.9.9, 203.0.113.7"}});
  });
  std::thread b([&] {
    hammer(n, "/v1/ledger/balance", n.admin(), 1, 2.0, two, {{"X-Forwarded-For", "10.9.9.9, 203.0.113.8"}});
  });
  a.join();
  b.join();
  EXPECT_LE(one.ok.load(), 10 + 10 * 2.5 + 2);
  EXPECT_LE(two.ok.load(), 10 + 10 * 2.5 + 2);
  EXPECT_GT(one.limited.load(), 0);
  EXPECT_GT(two.ok.load(), 10) << "the second address has its own budget";
  // A client's own X-Forwarded-For line comes before the proxy's (HAProxy
  // appends a line): a new forged address on every request still counts
  // against the proxy's entry, here 203.0.113.7, whose budget is spent.
  int forged_ok = 0;
  const auto forged_from = Clock::now();
  for (int i = 0; i < 20; ++i) {
    const std::string reply = raw_exchange(
        n.port(), "GET /v1/ledger/balance HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + n.admin() +
                      "\r\nX-Forwarded-For: 198.51.100." + std::to_string(i) +
                      "\r\nX-Forwarded-For: 203.0.113.7\r\nConnection: close\r\n\r\n");
    if (reply.rfind("HTTP/1.1 200", 0) == 0) ++forged_ok;
  }
  // At most what the spent bucket refilled meanwhile (10 a second), not 20.
  const double forged_s = std::chrono::duration<double>(Clock::now() - forged_from).count();
  EXPECT_LE(forged_ok, 1 + 10 * forged_s + 1) << "forged X-Forwarded-For lines escaped the proxy's "
                                                  "address budget in "
                                               << forged_s << " s";
  // Health checks are never limited (HAProxy's would take the node out).
  for (int i = 0; i < 50; ++i) EXPECT_STATUS(n.get("/health/ready", ""), 200);
}

// A socket from `source` (a 127.x address) that sent half a request header.
int slow_header_socket(uint16_t port, const char* source) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  constexpr std::string_view kHalf = "GET /v1/ledger/balance HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  (void)!::send(fd, kHalf.data(), kHalf.size(), MSG_NOSIGNAL);
  return fd;
}

TEST(ApiAbuse, AThousandSlowHeaderConnectionsDoNotStopTheNodeServingOthers) {
  ApiNode n({{}, {"--connections-per-address-max", "2000"}});
  ASSERT_TRUE(n.start()) << n.why();
  std::vector<int> slow;
  for (int i = 0; i < 1000; ++i) {
    const int fd = slow_header_socket(n.port(), "127.0.0.1");
    ASSERT_GE(fd, 0) << "connection " << i;
    slow.push_back(fd);
  }
  // Each holds a connection, none a thread: others are served at once.
  for (int i = 0; i < 20; ++i) EXPECT_STATUS(n.get("/v1/ledger/balance", n.admin()), 200);
  const std::string metrics = n.get("/metrics", "").body;
  EXPECT_GE(metric(metrics, "betcore_http_connections_open").value_or(0), 1000);
  for (int fd : slow) ::close(fd);
}

TEST(ApiAbuse, OneAddressCannotTakeEveryConnection) {
  ApiNode n({{}, {"--connections-per-address-max", "100"}});
  ASSERT_TRUE(n.start()) << n.why();
  std::vector<int> slow;
  int refused = 0;
  for (int i = 0; i < 300; ++i) {
    const int fd = slow_header_socket(n.port(), "127.0.0.2");
    if (fd >= 0) slow.push_back(fd);
  }
  // The node answered the ones over the cap with 503 and closed them; the
  // others wait for the rest of their header.
  std::vector<pollfd> fds;
  for (int fd : slow) fds.push_back({fd, POLLIN, 0});
  for (const auto until = Clock::now() + std::chrono::seconds(2); Clock::now() < until;) {
    if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
    for (pollfd& p : fds) {
      if (p.fd < 0 || (p.revents & (POLLIN | POLLHUP)) == 0) continue;
      char buf[256];
      const ssize_t got = ::recv(p.fd, buf, sizeof buf, MSG_DONTWAIT);
      if (got > 0 && std::string_view(buf, static_cast<size_t>(got)).find(" 503 ") != std::string_view::npos) {
        ++refused;
      }
      p.fd = -1;  // poll ignores it from now on
    }
  }
  EXPECT_EQ(refused, 200);
  // Another address is served.
  for (int i = 0; i < 10; ++i) EXPECT_STATUS(n.get("/v1/ledger/balance", n.admin()), 200);
  for (int fd : slow) ::close(fd);
}

TEST(ApiAbuse, TokensAreRevokedAndAddedOnSighupWithoutARestart) {
  ApiNode n({{"alice"}, {}});
  ASSERT_TRUE(n.start()) << n.why();
  EXPECT_STATUS(n.get("/v1/ledger/balance", n.admin()), 200);
  // The operator replaces the file: the admin token is revoked, a new one added.
  const std::string fresh = api::new_token();
  {
    std::ofstream out(n.tokens().file, std::ios::trunc);
    out << "admin " << api::token_hash_text(fresh) << "\ntrader " << api::token_hash_text(n.trader()) << "\n";
  }
  ASSERT_TRUE(n.reload());
  bool swapped = false;
  for (int i = 0; i < 100 && !swapped; ++i) {
    swapped = n.get("/v1/ledger/balance", fresh).status == 200;
    if (!swapped) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(swapped) << n.log();
  EXPECT_ERROR(n.get("/v1/ledger/balance", n.admin()), 401, "unauthenticated");
  // A file that does not parse changes nothing, and the node says so.
  { std::ofstream(n.tokens().file, std::ios::trunc) << "admin in-clear-text-token\n"; }
  ASSERT_TRUE(n.reload());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_STATUS(n.get("/v1/ledger/balance", fresh), 200);
  EXPECT_TRUE(n.running());
  EXPECT_NE(n.log().find("the tokens were not reloaded"), std::string::npos) << n.log();
  EXPECT_EQ(n.log().find("in-clear-text-token"), std::string::npos) << "a token was logged";
}

}  // namespace
}  // namespace betcore::apitest
