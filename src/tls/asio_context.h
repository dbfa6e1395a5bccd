// Asio ssl::contexts built from betcore's TLS files (tls.h). Included only by
// the .cc files that speak TLS.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "tls/tls.h"

namespace betcore::tls {

// TLS 1.2 and 1.3 only, forward-secret AEAD ciphers for 1.2 (Mozilla's
// "intermediate" profile). nullptr with `error` (which file and why) on failure.
std::shared_ptr<boost::asio::ssl::context> server_context(const ServerFiles& files,
                                                          std::string* error);
// Verifies the server's chain against ca_file (or the system store) and, when
// `host` is given, its name or address (RFC 6125), and sends SNI.
std::shared_ptr<boost::asio::ssl::context> client_context(const ClientFiles& files,
                                                          std::string* error);

// Sets SNI and host-name verification on a new SSL stream's handle.
// `host` may be a DNS name or an IP address.
bool set_peer_host(void* ssl_native_handle, const std::string& host, std::string* error);

// The last OpenSSL error queue entry as text, and the queue cleared.
std::string openssl_error();

}  // namespace betcore::tls
