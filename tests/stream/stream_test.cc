// GET /v1/stream against a real node: committed events arrive in log order,
// (index, seq) resumes exactly where a consumer stopped, new commits are fed
// live, and the stream survives a restart of the node by replay.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/support.h"
#include "tools/http_client.h"

namespace betcore::test {
namespace {

using nlohmann::json;

// Reads an NDJSON stream over a raw socket (the HTTP client waits for a
// whole answer; a stream never ends).
class StreamReader {
 public:
  StreamReader(uint16_t port, const std::string& target, const std::string& token) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{0, 200'000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("connect");
    std::string req = "GET " + target + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\n\r\n";
    if (::write(fd_, req.data(), req.size()) != static_cast<ssize_t>(req.size())) throw std::runtime_error("write");
  }
  ~StreamReader() { ::close(fd_); }

  // The status line and the decoded chunk payload so far.
  int status() {
    fill_until([&] { return head_done_; }, 3000);
    return status_;
  }
  // Waits for at least n complete event lines.
  std::vector<json> lines(size_t n, int timeout_ms = 5000) {
    fill_until([&] { return complete_lines() >= n; }, timeout_ms);
    std::vector<json> out;
    size_t start = 0;
    for (size_t nl; (nl = body_.find('\n', start)) != std::string::npos; start = nl + 1) {
      out.push_back(json::parse(body_.substr(start, nl - start)));
    }
    return out;
  }
  std::string raw_body() const { return body_; }

 private:
  size_t complete_lines() const { return static_cast<size_t>(std::count(body_.begin(), body_.end(), '\n')); }

  template <class Done>
  void fill_until(Done done, int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      char buf[65536];
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n > 0) {
        raw_.append(buf, static_cast<size_t>(n));
        parse();
      } else if (n == 0) {
        return;
      }
    }
  }
  void parse() {
    if (!head_done_) {
      size_t end = raw_.find("\r\n\r\n");
      if (end == std::string::npos) return;
      status_ = std::stoi(raw_.substr(9, 3));
      chunked_ = raw_.substr(0, end).find("chunked") != std::string::npos;
      raw_.erase(0, end + 4);
      head_done_ = true;
    }
    if (!chunked_) {
      body_ += raw_;
      raw_.clear();
      return;
    }
    for (;;) {
      size_t crlf = raw_.find("\r\n");
      if (crlf == std::string::npos) return;
      size_t len = std::stoul(raw_.substr(0, crlf), nullptr, 16);
      if (raw_.size() < crlf + 2 + len + 2) return;
      body_ += raw_.substr(crlf + 2, len);
      raw_.erase(0, crlf + 2 + len + 2);
    }
  }

  int fd_ = -1;
  std::string raw_, body_;
  bool head_done_ = false, chunked_ = false;
  int status_ = 0;
};

struct Node {
  TempDir dir{"betcore-stream"};
  TestTokens tokens = write_tokens_file(dir.path());
  uint16_t port = reserve_port();
  Process proc;

  void start() {
    std::string why;
    for (int attempt = 1; attempt <= kBindAttemptsMax; ++attempt) {
      SpawnOptions o;
      o.program = betcore_binary().string();
      o.args = {"node", "--data", (dir / "data").string(), "--listen", "127.0.0.1:" + std::to_string(port),
                "--tokens", tokens.file.string(), "--plain-http"};
      o.log_path = (dir / "node.log").string();
      proc = Process::spawn(o);
      if (wait_http_ready("127.0.0.1", port, "/health/ready", 20000, &proc, &why)) return;
      proc.stop(2000);
      std::string log = proc.read_log();
      why = "betcore node on port " + std::to_string(port) + " is not ready: " + why + "\n" + last_lines(log);
      if (!log_says_address_in_use(log)) break;
      port = reserve_port();  // taken by a program outside the reservations
    }
    FAIL() << why;
  }
  tools::Response post(const std::string& target, const std::string& body, const std::string& token) {
    tools::HttpClient c("127.0.0.1", port);
    return c.post(target, body, token);
  }
};

void seed_book(Node& n) {
  ASSERT_EQ(n.post("/v1/accounts", R"({"account_id":"alice","currency":"EUR"})", n.tokens.admin).status, 201);
  ASSERT_EQ(n.post("/v1/deposits", R"({"payment_ref":"p1","account_id":"alice","amount":10000})", n.tokens.payments).status, 201);
  ASSERT_EQ(n.post("/v1/events", R"({"event_id":"e1","name":"A v B","starts_at":"2026-12-01T20:00:00Z"})", n.tokens.trader).status, 201);
  ASSERT_EQ(n.post("/v1/markets",
                   R"({"market_id":"m1","event_id":"e1","name":"Match odds","selections":[{"selection_id":"h","name":"H","odds":"2.00"},{"selection_id":"a","name":"A","odds":"2.00"}]})",
                   n.tokens.trader).status, 201);
}

TEST(Stream, DeliversCommittedEventsInOrderAndLive) {
  Node n;
  n.start();
  seed_book(n);
  StreamReader s(n.port, "/v1/stream?from=0", n.tokens.feed);
  ASSERT_EQ(s.status(), 200);
  auto first = s.lines(4);
  ASSERT_EQ(first.size(), 4u);
  EXPECT_EQ(first[0]["type"], "account_created");
  EXPECT_EQ(first[1]["type"], "deposit_credited");
  EXPECT_EQ(first[1]["deposit"]["balance"], 10000);
  EXPECT_EQ(first[2]["type"], "event_created");
  EXPECT_EQ(first[3]["type"], "market_created");
  for (size_t i = 1; i < first.size(); ++i) {
    EXPECT_GT(first[i]["index"].get<uint64_t>(), first[i - 1]["index"].get<uint64_t>());
    EXPECT_EQ(first[i]["seq"], 1);
  }
  // Live: a bet committed now arrives on the open stream.
  auto bet = n.post("/v1/bets", R"({"bet_id":"b1","account_id":"alice","stake":300,"legs":[{"market_id":"m1","selection_id":"h","odds":"2.00"}]})", n.tokens.trader);
  ASSERT_EQ(bet.status, 201) << bet.body;
  auto more = s.lines(5);
  ASSERT_EQ(more.size(), 5u);
  EXPECT_EQ(more[4]["type"], "bet_placed");
  EXPECT_EQ(more[4]["bet"]["bet_id"], "b1");
  EXPECT_EQ(more[4]["index"], json::parse(bet.body)["index"]);
  // A settlement emits one bet_settled per bet, then market_settled, all at one index.
  ASSERT_EQ(n.post("/v1/markets/m1/settle", R"({"results":[{"selection_id":"h","result":"win"},{"selection_id":"a","result":"lose"}]})", n.tokens.trader).status, 200);
  auto all = s.lines(7);
  ASSERT_EQ(all.size(), 7u);
  EXPECT_EQ(all[5]["type"], "bet_settled");
  EXPECT_EQ(all[5]["bet"]["payout"], 600);
  EXPECT_EQ(all[6]["type"], "market_settled");
  EXPECT_EQ(all[5]["index"], all[6]["index"]);
  EXPECT_EQ(all[5]["seq"], 1);
  EXPECT_EQ(all[6]["seq"], 2);
}

TEST(Stream, ResumesAfterTheLastHandledEventAcrossARestart) {
  Node n;
  n.start();
  seed_book(n);
  ASSERT_EQ(n.post("/v1/bets", R"({"bet_id":"b1","account_id":"alice","stake":300,"legs":[{"market_id":"m1","selection_id":"h","odds":"2.00"}]})", n.tokens.trader).status, 201);
  ASSERT_EQ(n.post("/v1/markets/m1/settle", R"({"results":[{"selection_id":"h","result":"lose"},{"selection_id":"a","result":"win"}]})", n.tokens.trader).status, 200);
  std::vector<json> before;
  {
    StreamReader s(n.port, "/v1/stream?from=0", n.tokens.admin);
    before = s.lines(7);
  }
  ASSERT_EQ(before.size(), 7u);
  // The node restarts (kill -9): the journal is rebuilt by replay.
  n.proc.kill(SIGKILL);
  n.proc.wait(5000);
  n.start();
  // Resume after the first of the two events at the settlement's index.
  uint64_t idx = before[5]["index"];
  StreamReader s(n.port, "/v1/stream?from=" + std::to_string(idx) + "&after_seq=1", n.tokens.payments);
  auto rest = s.lines(1);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0], before[6]);
  // Nothing more than that one event.
  EXPECT_EQ(s.lines(2, 500).size(), 1u);
}

TEST(Stream, RefusesRolesAndBadCursors) {
  Node n;
  n.start();
  StreamReader punter(n.port, "/v1/stream?from=0", n.tokens.punter("alice"));
  EXPECT_EQ(punter.status(), 403);
  StreamReader trader(n.port, "/v1/stream?from=0", n.tokens.trader);
  EXPECT_EQ(trader.status(), 403);
  StreamReader bad(n.port, "/v1/stream?from=-1", n.tokens.admin);
  EXPECT_EQ(bad.status(), 400);
}

}  // namespace
}  // namespace betcore::test
