// HTTPS: the server's TLS against betcore's own client (tools/http_client)
// and a bare OpenSSL client over real sockets, with certificates from a
// private CA made per test.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <thread>

#include "api/http/http_server.h"
#include "ops/metrics.h"
#include "support/temp_dir.h"
#include "tls/tls.h"
#include "tools/http_client.h"

namespace betcore::http {
namespace fs = std::filesystem;

namespace {

// A TCP connection to the server on 127.0.0.1, with timeouts so no test hangs.
int connect_to(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  return fd;
}

// OpenSSL without Asio, to see how the server ends a session: close_notify
// (SSL_read gives SSL_ERROR_ZERO_RETURN) or a bare FIN (SSL_ERROR_SYSCALL,
// or SSL_ERROR_SSL "unexpected eof" in OpenSSL 3), which a client must
// treat as a possible truncation.
class BareTlsClient {
 public:
  BareTlsClient(uint16_t port, const std::string& ca_file)
      : fd_(connect_to(port)), ctx_(SSL_CTX_new(TLS_client_method())) {
    SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
  }
  ~BareTlsClient() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    ::close(fd_);
  }
  BareTlsClient(const BareTlsClient&) = delete;
  BareTlsClient& operator=(const BareTlsClient&) = delete;

  bool handshake() { return SSL_connect(ssl_) == 1; }
  bool send(const std::string& bytes) {
    return SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) ==
           static_cast<int>(bytes.size());
  }
  // Reads until `got` holds `marker`; false if the session ended first.
  bool read_until(std::string& got, std::string_view marker) {
    char buf[4096];
    while (got.find(marker) == std::string::npos) {
      const int n = SSL_read(ssl_, buf, sizeof buf);
      if (n <= 0) return false;
      got.append(buf, static_cast<size_t>(n));
    }
    return true;
  }
  // Reads until the session ends; SSL_get_error of the read that ended it.
  int read_to_end(std::string& got) {
    char buf[4096];
    for (;;) {
      const int n = SSL_read(ssl_, buf, sizeof buf);
      if (n <= 0) {
        const int error = SSL_get_error(ssl_, n);
        ERR_clear_error();
        return error;
      }
      got.append(buf, static_cast<size_t>(n));
    }
  }
  void shutdown() { SSL_shutdown(ssl_); }

 private:
  int fd_;
  SSL_CTX* ctx_;
  SSL* ssl_ = nullptr;
};

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(tls::ensure_ca(ca_dir(), "test CA"), "");
    issue("server", {"127.0.0.1", "localhost"});
  }

  std::string ca_dir() const { return (dir_ / "ca").string(); }
  std::string path(const std::string& name) const { return (dir_ / "certs" / name).string(); }
  void issue(const std::string& name, std::vector<std::string> hosts, int64_t not_after = 0,
             const std::string& ca = "") {
    tls::CertSpec spec;
    spec.hosts = std::move(hosts);
    if (not_after != 0) {
      spec.not_before_unix = not_after - 86400;
      spec.not_after_unix = not_after;
    }
    ASSERT_EQ(tls::issue_cert(ca.empty() ? ca_dir() : ca, (dir_ / "certs").string(), name, spec),
              "");
  }

  void start(const std::string& cert = "server", const std::string& client_ca = "",
             Options o = {}, Handler handler = nullptr) {
    o.tls = {path(cert + ".pem"), path(cert + ".key"), client_ca};
    o.metrics = &metrics_;
    if (!handler) {
      handler = [](Request&& r, Responder responder) {
        responder.send(Response::json(200, R"({"path":")" + std::string(r.path()) + R"("})"));
      };
    }
    server_ = std::make_unique<Server>(o, std::move(handler));
    const Status s = server_->start();
    ASSERT_TRUE(s.ok()) << s.error;
  }

  tools::HttpClient client(const std::string& ca, const std::string& host = "127.0.0.1",
                           const std::string& cert = "") {
    tools::HttpClientOptions o;
    o.tls = tls::ClientFiles{ca, cert.empty() ? "" : path(cert + ".pem"),
                             cert.empty() ? "" : path(cert + ".key")};
    o.connect_timeout_ms = 3000;
    return tools::HttpClient(host, server_->bound_port(), o);
  }

  std::string ca() const { return ca_dir() + "/ca.pem"; }
  double metric(const std::string& series) const {
    const std::string text = metrics_.expose();
    const size_t at = text.find("\n" + series + " ");
    return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size() + 2));
  }

  test::TempDir dir_{"betcore-tls"};
  ops::Registry metrics_;  // declared before server_: outlives it
  std::unique_ptr<Server> server_;
};

TEST_F(TlsTest, AClientWithTheCaIsServedOverTls) {
  start();
  auto c = client(ca());
  const auto r = c.get("/v1/health");
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, R"({"path":"/v1/health"})");
  // Keep-alive works over TLS, and the name "localhost" matches too.
  EXPECT_EQ(c.get("/again").status, 200);
  EXPECT_EQ(client(ca(), "localhost").get("/").status, 200);
}

TEST_F(TlsTest, AClientWithoutTheCaIsRefused) {
  start();
  // The system store does not know our private CA.
  const auto r = client("").get("/");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("certificate verify failed"), std::string::npos) << r.error;
}

TEST_F(TlsTest, AnExpiredServerCertificateIsRefused) {
  issue("expired", {"127.0.0.1"}, static_cast<int64_t>(std::time(nullptr)) - 3600);
  start("expired");
  const auto r = client(ca()).get("/");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("certificate verify failed"), std::string::npos) << r.error;
}

TEST_F(TlsTest, ACertificateFromAnotherCaIsRefused) {
  const std::string other = (dir_ / "other-ca").string();
  ASSERT_EQ(tls::ensure_ca(other, "another CA"), "");
  issue("foreign", {"127.0.0.1"}, 0, other);
  start("foreign");
  EXPECT_EQ(client(ca()).get("/").status, 0);
  // And a certificate for another name is refused even from our CA.
  issue("wrong-name", {"10.9.9.9"});
  server_.reset();
  start("wrong-name");
  EXPECT_EQ(client(ca()).get("/").status, 0);
}

// A node's own HTTPS clients (to its peers) share a TLS context per set of
// files; after forget_tls_contexts (the node's SIGHUP) the next connection
// reads the files again. Here the trusted CA file is replaced by the CA
// that signed the server: the same long-lived client is refused before and
// served after, with no new client made.
TEST_F(TlsTest, ClientsReadRenewedFilesAfterForgetTlsContexts) {
  const std::string other = (dir_ / "other-ca").string();
  ASSERT_EQ(tls::ensure_ca(other, "another CA"), "");
  issue("foreign", {"127.0.0.1"}, 0, other);
  start("foreign");
  const std::string trusted = (dir_ / "trusted.pem").string();
  fs::copy_file(ca(), trusted);
  auto c = client(trusted);
  EXPECT_EQ(c.get("/").status, 0);
  fs::copy_file(other + "/ca.pem", trusted, fs::copy_options::overwrite_existing);
  EXPECT_EQ(c.get("/").status, 0) << "the context was read again without being forgotten";
  tools::forget_tls_contexts();
  const auto r = c.get("/");
  EXPECT_EQ(r.status, 200) << r.error;
}

TEST_F(TlsTest, PlainHttpToTheTlsPortGetsAPlain400NamingHttps) {
  start();
  tools::HttpClient plain("127.0.0.1", server_->bound_port());
  const auto r = plain.get("/");
  ASSERT_EQ(r.status, 400) << r.error;
  EXPECT_NE(r.body.find("https://"), std::string::npos) << r.body;
}

TEST_F(TlsTest, AnIdleTimeoutEndsTheSessionWithCloseNotify) {
  Options o;
  o.idle_timeout_ms = 200;
  start("server", "", o);
  BareTlsClient c(server_->bound_port(), ca());
  ASSERT_TRUE(c.handshake());
  ASSERT_TRUE(c.send("GET /first HTTP/1.1\r\nHost: x\r\n\r\n"));
  // The answer, then 200 ms of nothing: the server ends the session.
  const auto begin = std::chrono::steady_clock::now();
  std::string got;
  EXPECT_EQ(c.read_to_end(got), SSL_ERROR_ZERO_RETURN) << "no close_notify before the FIN";
  EXPECT_NE(got.find("/first"), std::string::npos) << got;
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(4));
  c.shutdown();
  EXPECT_EQ(metric("betcore_http_timeouts_total{phase=\"read\"}"), 1);
}

TEST_F(TlsTest, ServerStopEndsAnIdleSessionWithCloseNotify) {
  start();
  BareTlsClient c(server_->bound_port(), ca());
  ASSERT_TRUE(c.handshake());
  ASSERT_TRUE(c.send("GET /idle HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string got;
  ASSERT_TRUE(c.read_until(got, R"({"path":"/idle"})")) << got;  // now idle, between requests
  std::thread stopper([&] { server_->stop(); });
  EXPECT_EQ(c.read_to_end(got), SSL_ERROR_ZERO_RETURN) << "no close_notify before the FIN";
  c.shutdown();
  stopper.join();
}

TEST_F(TlsTest, AFinishedStreamEndsTheSessionWithCloseNotify) {
  // A stream keeps a read going to notice the client leaving: the end of
  // the stream cancels it before close_notify goes out.
  start("server", "", {}, [](Request&&, Responder responder) {
    Stream s = responder.start_stream({});
    s.write("a\n");
    s.finish();
  });
  BareTlsClient c(server_->bound_port(), ca());
  ASSERT_TRUE(c.handshake());
  ASSERT_TRUE(c.send("GET /v1/stream HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string got;
  EXPECT_EQ(c.read_to_end(got), SSL_ERROR_ZERO_RETURN) << "no close_notify before the FIN";
  EXPECT_NE(got.find("a\n\r\n0\r\n\r\n"), std::string::npos) << got;
  c.shutdown();
}

TEST_F(TlsTest, OverTheConnectionCapATlsClientGetsACloseNotPlaintext) {
  Options o;
  o.connections_max = 1;
  start("server", "", o);
  auto kept = client(ca());
  ASSERT_EQ(kept.get("/").status, 200);  // holds the one connection
  // A plaintext 503 would reach a TLS client as a corrupt record; the
  // refused connection is closed with nothing written.
  const int fd = connect_to(server_->bound_port());
  char buf[256];
  const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  EXPECT_LE(n, 0) << std::string(buf, static_cast<size_t>(std::max<ssize_t>(n, 0)));
  ::close(fd);
  EXPECT_EQ(client(ca()).get("/").status, 0);
  EXPECT_EQ(metric("betcore_http_connections_refused_total"), 2);
  EXPECT_EQ(kept.get("/still").status, 200);
}

TEST_F(TlsTest, MutualTlsRefusesAClientWithoutACertificate) {
  issue("client", {"client"});
  start("server", ca());
  EXPECT_EQ(client(ca()).get("/").status, 0);
  const auto r = client(ca(), "127.0.0.1", "client").get("/");
  EXPECT_EQ(r.status, 200) << r.error;
}

TEST_F(TlsTest, ReloadServesTheNewCertificateToNewConnectionsAndKeepsOpenOnes) {
  start();
  auto kept = client(ca());
  ASSERT_EQ(kept.get("/").status, 200);
  // Rotate to a certificate from a new CA: only its clients get in after.
  const std::string next = (dir_ / "next-ca").string();
  ASSERT_EQ(tls::ensure_ca(next, "next CA"), "");
  issue("server", {"127.0.0.1"}, 0, next);
  ASSERT_TRUE(server_->reload_tls().ok());
  EXPECT_EQ(kept.get("/still").status, 200) << "an open connection keeps its session";
  EXPECT_EQ(client(next + "/ca.pem").get("/").status, 200);
  EXPECT_EQ(client(ca()).get("/").status, 0);
}

TEST_F(TlsTest, AFailedReloadKeepsTheOldCertificate) {
  start();
  // A key that does not match the certificate (a half-done rotation).
  issue("other", {"127.0.0.1"});
  std::filesystem::copy_file(path("other.key"), path("server.key"),
                             std::filesystem::copy_options::overwrite_existing);
  const Status s = server_->reload_tls();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.error.find("does not match"), std::string::npos) << s.error;
  EXPECT_EQ(client(ca()).get("/").status, 200);
}

TEST_F(TlsTest, ABadCertificateFileFailsStartWithTheFileNamed) {
  Options o;
  o.tls = {path("missing.pem"), path("missing.key"), ""};
  Server server(o, [](Request&&, Responder r) { r.send(Response::json(200, "{}")); });
  const Status s = server.start();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.error.find("missing.pem"), std::string::npos) << s.error;
}

TEST(TlsCerts, NotAfterIsReadFromTheCertificate) {
  test::TempDir dir("betcore-tls");
  ASSERT_EQ(tls::ensure_ca((dir / "ca").string(), "CA"), "");
  tls::CertSpec spec;
  spec.not_before_unix = 1'700'000'000;
  spec.not_after_unix = 1'800'000'000;
  ASSERT_EQ(tls::issue_cert((dir / "ca").string(), dir.path().string(), "n", spec), "");
  std::string error;
  EXPECT_EQ(tls::cert_not_after((dir / "n.pem").string(), &error), 1'800'000'000) << error;
  EXPECT_FALSE(tls::cert_not_after((dir / "none.pem").string(), &error).has_value());
}

TEST(TlsCerts, HalfACaIsAnErrorNamingTheMissingFileNotANewCa) {
  test::TempDir dir("betcore-tls");
  const std::string ca = (dir / "ca").string();
  ASSERT_EQ(tls::ensure_ca(ca, "CA"), "");
  const auto read = [](const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string cert = read(ca + "/ca.pem"), key = read(ca + "/ca.key");
  for (const std::string lost : {"ca.key", "ca.pem"}) {
    const std::string kept = lost == "ca.key" ? "ca.pem" : "ca.key";
    std::filesystem::remove(ca + "/" + lost);
    const std::string error = tls::ensure_ca(ca, "CA");
    EXPECT_NE(error.find(ca + "/" + lost + " is missing"), std::string::npos) << error;
    EXPECT_NE(error.find("remove " + ca + "/" + kept), std::string::npos) << error;
    EXPECT_FALSE(std::filesystem::exists(ca + "/" + lost)) << "nothing written";
    EXPECT_EQ(read(ca + "/" + kept), kept == "ca.pem" ? cert : key) << kept << " kept as it was";
    // Restored: the same CA again.
    std::ofstream(ca + "/" + lost) << (lost == "ca.pem" ? cert : key);
    EXPECT_EQ(tls::ensure_ca(ca, "CA"), "");
    EXPECT_EQ(read(ca + "/ca.pem"), cert);
  }
}

}  // namespace
}  // namespace betcore::http
