#include "support/tokens.h"

#include <fstream>
#include <random>
#include <stdexcept>

#include "api/auth.h"

namespace betcore::test {

namespace {

std::string random_token(const std::string& role) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token = role + "-";
  for (int i = 0; i < 24; ++i) token += kHex[rng() % 16];
  return token;
}

}  // namespace

TestTokens write_tokens_file(const std::filesystem::path& dir,
                             const std::vector<std::string>& punter_accounts) {
  TestTokens t;
  t.file = dir / "tokens.txt";
  t.credentials = dir / "credentials.txt";
  t.admin = random_token("admin");
  t.trader = random_token("trader");
  t.payments = random_token("payments");
  t.feed = random_token("feed");
  t.backup = random_token("backup");
  std::vector<std::pair<std::string, std::string>> lines = {  // role [account], token
      {"admin", t.admin}, {"trader", t.trader}, {"payments", t.payments},
      {"feed", t.feed},   {"backup", t.backup}};
  for (const auto& account : punter_accounts) {
    std::string token = random_token("punter");
    lines.emplace_back("punter " + account, token);
    t.punters[account] = token;
  }
  // The node's file holds hashes; the clients' holds the tokens.
  std::ofstream hashed(t.file), clear(t.credentials);
  hashed << "# written by betcore_test_support: <role> sha256:<hash> [<account_id>]\n";
  clear << "# written by betcore_test_support: <role> <token> [<account_id>]\n";
  for (const auto& [who, token] : lines) {
    const size_t space = who.find(' ');
    const std::string role = who.substr(0, space);
    const std::string account = space == std::string::npos ? "" : who.substr(space);
    hashed << role << " " << api::token_hash_text(token) << account << "\n";
    clear << role << " " << token << account << "\n";
  }
  hashed.close();
  clear.close();
  if (!hashed || !clear) throw std::runtime_error("cannot write " + t.file.string());
  return t;
}

}  // namespace betcore::test
