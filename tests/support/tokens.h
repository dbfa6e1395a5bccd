// The tokens of a test node: the node's tokens file (`betcore node --tokens
// FILE`: `<role> sha256:<hash> [<account_id>]` a line, docs/security.md) and
// the clients' credentials file (`<role> <token> [<account_id>]`, what the
// adapters, the archiver and bench read with --tokens).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace betcore::test {

struct TestTokens {
  std::filesystem::path file;         // the node's --tokens: hashes
  std::filesystem::path credentials;  // the tools' --tokens: '<role> <token> [<account>]'

  std::string admin;
  std::string trader;
  std::string payments;
  std::string feed;
  std::string backup;
  std::map<std::string, std::string> punters;  // account_id -> token

  // The punter token of `account_id`; throws std::out_of_range if none.
  const std::string& punter(const std::string& account_id) const { return punters.at(account_id); }
};

// Writes `<dir>/tokens.txt` (hashes) and `<dir>/credentials.txt` with one admin, trader, payments, feed and backup token
// and a punter token for each of `punter_accounts`. Tokens are random (a test
// can grep a log to check that no token leaked). Throws std::runtime_error if
// the file cannot be written.
TestTokens write_tokens_file(const std::filesystem::path& dir,
                             const std::vector<std::string>& punter_accounts = {"alice", "bob"});

}  // namespace betcore::test
