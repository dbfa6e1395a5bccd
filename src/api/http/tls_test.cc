// HTTPS: the server's TLS against betcore's own client (tools/http_client)
// over real sockets, with certificates from a private CA made per test.
#include <gtest/gtest.h>

#include <ctime>
#include <string>

#include "api/http/http_server.h"
#include "support/temp_dir.h"
#include "tls/tls.h"
#include "tools/http_client.h"

namespace betcore::http {
namespace {

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

  void start(const std::string& cert = "server", const std::string& client_ca = "") {
    Options o;
    o.tls = {path(cert + ".pem"), path(cert + ".key"), client_ca};
    server_ = std::make_unique<Server>(o, [](Request&& r, Responder responder) {
      responder.send(Response::json(200, R"({"path":")" + std::string(r.path()) + R"("})"));
    });
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

  test::TempDir dir_{"betcore-tls"};
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

TEST_F(TlsTest, PlainHttpToTheTlsPortGetsAPlain400NamingHttps) {
  start();
  tools::HttpClient plain("127.0.0.1", server_->bound_port());
  const auto r = plain.get("/");
  ASSERT_EQ(r.status, 400) << r.error;
  EXPECT_NE(r.body.find("https://"), std::string::npos) << r.body;
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

}  // namespace
}  // namespace betcore::http
