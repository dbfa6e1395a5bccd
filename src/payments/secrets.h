// The secrets file shared by `betcore payment-gateway` and `betcore payments`
// (docs/payment-gateway.md, "Secrets"): one `name value` a line, `#` starts a
// comment. Secrets are never logged.
#pragma once
#include <optional>
#include <string>

namespace betcore::payments {

struct Secrets {
  std::string api_key;         // Authorization: Bearer on the gateway's /v1/*
  std::string webhook_secret;  // HMAC key of the webhook signatures
};

// nullopt with `error` set (what to fix, with the line) when the file cannot
// be read, a line is not `name value`, a name is unknown or either is missing.
std::optional<Secrets> read_secrets_file(const std::string& path, std::string* error);

}  // namespace betcore::payments
