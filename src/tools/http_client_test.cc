#include "tools/http_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "support/fake_http_server.h"
#include "support/net.h"

namespace betcore::tools {
namespace {

using test::FakeHttpServer;
using test::FakeRequest;
using test::FakeResponse;

TEST(ParseUrl, HostAndPort) {
  auto u = parse_url("http://127.0.0.1:8080");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->path, "");
  EXPECT_EQ(u->host_port(), "127.0.0.1:8080");
}

TEST(ParseUrl, SchemeIsOptionalAndCaseInsensitive) {
  EXPECT_EQ(parse_url("localhost:9000")->port, 9000);
  EXPECT_EQ(parse_url("HTTP://node-1.example:81/")->host, "node-1.example");
}

TEST(ParseUrl, DefaultPortAndPath) {
  auto u = parse_url("http://example.com/betcore/");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->path, "/betcore");
}

TEST(ParseUrl, Ipv6InBrackets) {
  auto u = parse_url("http://[::1]:8080");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->host_port(), "[::1]:8080");
}

TEST(ParseUrl, HttpsDefaultsToPort443AndSaysTls) {
  auto u = parse_url("https://example.test");
  ASSERT_TRUE(u.has_value());
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->origin(), "https://example.test:443");
  auto p = parse_url("HTTP://127.0.0.1:8080");
  ASSERT_TRUE(p.has_value());
  EXPECT_FALSE(p->tls);
  EXPECT_EQ(p->origin(), "http://127.0.0.1:8080");
}

TEST(ParseUrl, RejectsWhatIsNotAnHttpUrl) {
  for (const char* bad :
       {"", "httpx://127.0.0.1:8080", "https://", "http://", "http://:8080", "http://host:", "http://host:0",
        "http://host:65536", "http://host:80x", "http://ho st:80", "http://[::1", "http://[::1]x",
        "ftp://host", "http://host:8080/path?q=1"}) {
    EXPECT_FALSE(parse_url(bad).has_value()) << bad;
  }
}

TEST(HttpClient, SendsMethodTargetBodyAndBearerToken) {
  std::mutex mu;
  FakeRequest seen;
  FakeHttpServer server([&](const FakeRequest& r) {
    std::lock_guard lock(mu);
    seen = r;
    return FakeResponse{201, R"({"ok":true})", {{"Retry-After", "3"}}};
  });
  HttpClient client("127.0.0.1", server.port());
  Response r = client.post("/v1/accounts", R"({"account_id":"alice"})", "s3cret");
  EXPECT_EQ(r.status, 201) << r.error;
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.body, R"({"ok":true})");
  EXPECT_EQ(r.header("retry-after"), "3");
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  std::lock_guard lock(mu);
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.target, "/v1/accounts");
  EXPECT_EQ(seen.body, R"({"account_id":"alice"})");
  EXPECT_EQ(seen.header("authorization"), "Bearer s3cret");
  EXPECT_EQ(seen.header("content-type"), "application/json");
}

TEST(HttpClient, KeepsTheConnectionAlive) {
  FakeHttpServer server([](const FakeRequest&) { return FakeResponse{200, "{}"}; });
  HttpClient client("127.0.0.1", server.port());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(client.get("/health/live").status, 200);
  EXPECT_EQ(server.connections(), 1u);
  EXPECT_TRUE(client.connected());
}

TEST(HttpClient, ReconnectsWhenTheServerClosedAnIdleConnection) {
  FakeHttpServer server([](const FakeRequest&) {
    FakeResponse r{200, "{}"};
    r.close_silently = true;
    return r;
  });
  HttpClient client("127.0.0.1", server.port());
  for (int i = 0; i < 3; ++i) {
    Response r = client.get("/health/live");
    EXPECT_EQ(r.status, 200) << r.error;
    // Give the server's close time to arrive, so the next request finds a dead connection.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(server.requests(), 3u);
  EXPECT_EQ(server.connections(), 3u);
}

TEST(HttpClient, ConnectionRefusedIsAValueNotAnException) {
  uint16_t port = test::reserve_port();
  ASSERT_NE(port, 0);
  HttpClient client("127.0.0.1", port);
  Response r = client.get("/health/live");
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("connect to 127.0.0.1:"), std::string::npos) << r.error;
}

TEST(HttpClient, TimesOutOnASlowServerAndRecovers) {
  std::atomic<bool> slow{true};
  FakeHttpServer server([&](const FakeRequest&) {
    if (slow) std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return FakeResponse{200, "{}"};
  });
  HttpClientOptions options;
  options.request_timeout_ms = 100;
  HttpClient client(*parse_url(server.url()), options);
  auto start = std::chrono::steady_clock::now();
  Response r = client.get("/slow");
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("within 100 ms"), std::string::npos) << r.error;
  EXPECT_LT(took, std::chrono::milliseconds(280));
  EXPECT_FALSE(client.connected());
  slow = false;
  // The fake serves one request at a time: let it finish the slow one.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Response fast = client.get("/fast");
  EXPECT_EQ(fast.status, 200) << fast.error;
}

TEST(HttpClient, HonoursConnectionClose) {
  FakeHttpServer server([](const FakeRequest&) {
    return FakeResponse{200, "{}", {{"Connection", "close"}}};
  });
  HttpClient client("127.0.0.1", server.port());
  EXPECT_EQ(client.get("/").status, 200);
  EXPECT_FALSE(client.connected());
  EXPECT_EQ(client.get("/").status, 200);
  EXPECT_EQ(server.connections(), 2u);
}

// A body of `n` bytes no two neighbours of which are alike, so a piece
// written twice or dropped shows.
std::string pattern(size_t n) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return out;
}

// A peer that sends the head and `sent` bytes of a 100,000-byte body, then
// nothing more, holding the connection open.
FakeHttpServer::Handler stalls_after(size_t sent) {
  return [sent](const FakeRequest&) {
    FakeResponse r{200, pattern(100'000)};
    r.body_bytes_sent = sent;
    return r;
  };
}

Request snapshot_request() {
  Request r;
  r.target = "/v1/snapshot";
  return r;
}

TEST(HttpClientDownload, HandsOverTheBodyInPiecesWithItsSize) {
  const std::string body = pattern(3 << 20);
  FakeHttpServer server([&](const FakeRequest&) {
    return FakeResponse{200, body, {{"Content-Type", "application/octet-stream"}}};
  });
  HttpClient client(*parse_url(server.url()));
  std::string got;
  size_t pieces = 0;
  uint64_t total_seen = 0;
  Download d;
  d.sink = [&](std::string_view piece, uint64_t total, std::string&) {
    got.append(piece);
    total_seen = total;
    ++pieces;
    return true;
  };
  Response r = client.download(snapshot_request(), d);
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(got, body);
  EXPECT_EQ(total_seen, body.size());
  EXPECT_GT(pieces, 1u);  // never held whole
  // The connection stays usable.
  EXPECT_EQ(client.get("/again").status, 200);
  EXPECT_EQ(server.connections(), 1u);
}

TEST(HttpClientDownload, AnErrorAnswerKeepsItsBodyAndNeverReachesTheSink) {
  FakeHttpServer server([](const FakeRequest&) {
    return FakeResponse{403, R"({"error":{"code":"forbidden"}})"};
  });
  HttpClient client(*parse_url(server.url()));
  bool sunk = false;
  Download d;
  d.sink = [&](std::string_view, uint64_t, std::string&) { return sunk = true; };
  Response r = client.download(snapshot_request(), d);
  EXPECT_EQ(r.status, 403) << r.error;
  EXPECT_EQ(r.body, R"({"error":{"code":"forbidden"}})");
  EXPECT_FALSE(sunk);
}

TEST(HttpClientDownload, APeerThatStallsMidBodyFailsAfterTheStallLimit) {
  FakeHttpServer server(stalls_after(1'000));
  HttpClientOptions options;
  options.request_timeout_ms = 200;
  HttpClient client(*parse_url(server.url()), options);
  uint64_t received = 0;
  Download d;
  d.sink = [&](std::string_view piece, uint64_t, std::string&) {
    received += piece.size();
    return true;
  };
  Response r = client.download(snapshot_request(), d);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("no bytes from 127.0.0.1:"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("after 1000 bytes"), std::string::npos) << r.error;
  EXPECT_EQ(received, 1'000u);
  EXPECT_FALSE(client.connected());
}

TEST(HttpClientDownload, ACancelEndsAStalledTransferLongBeforeItsStallLimit) {
  FakeHttpServer server(stalls_after(5'000));
  HttpClientOptions options;
  options.request_timeout_ms = 120'000;  // a cancel that did not work would say "no bytes ... for"
  HttpClient client(*parse_url(server.url()), options);
  std::atomic<bool> stop{false};
  Download d;
  d.sink = [&](std::string_view, uint64_t, std::string&) {
    stop = true;  // the stop begins once bytes flow
    return true;
  };
  d.cancelled = [&] { return stop.load(); };
  Response r = client.download(snapshot_request(), d);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error, "cancelled");
  EXPECT_FALSE(client.connected());
}

TEST(HttpClientDownload, ACancelEndsATransferWhoseBytesKeepComing) {
  // 1 KiB every 20 ms: a read never waits long enough for the 100 ms poll.
  FakeHttpServer server([](const FakeRequest&) {
    FakeResponse r{200, pattern(400'000)};
    r.body_piece_bytes = 1'024;
    r.body_piece_ms = 20;
    return r;
  });
  HttpClient client(*parse_url(server.url()));
  std::atomic<bool> stop{false};
  uint64_t received = 0;
  Download d;
  d.sink = [&](std::string_view piece, uint64_t, std::string&) {
    received += piece.size();
    if (received >= 10'000) stop = true;  // a stop begins mid-transfer
    return true;
  };
  d.cancelled = [&] { return stop.load(); };
  Response r = client.download(snapshot_request(), d);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error, "cancelled");
  EXPECT_LT(received, 20'000u) << "the transfer went on after the stop";
  EXPECT_FALSE(client.connected());
}

TEST(HttpClientDownload, ABodyOverTheLimitAndAFailingSinkFailTheTransfer) {
  FakeHttpServer server([](const FakeRequest&) { return FakeResponse{200, pattern(50'000)}; });
  HttpClientOptions options;
  options.response_bytes_max = 10'000;
  HttpClient small(*parse_url(server.url()), options);
  Download d;
  d.sink = [](std::string_view, uint64_t, std::string&) { return true; };
  Response r = small.download(snapshot_request(), d);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("body limit exceeded"), std::string::npos) << r.error;

  HttpClient client(*parse_url(server.url()));
  d.sink = [](std::string_view, uint64_t, std::string& why) {
    why = "disk full";
    return false;
  };
  r = client.download(snapshot_request(), d);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error, "disk full");
}

}  // namespace
}  // namespace betcore::tools
