#include "support/tokens.h"

#include <fstream>
#include <random>
#include <stdexcept>

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
  t.admin = random_token("admin");
  t.trader = random_token("trader");
  t.payments = random_token("payments");
  t.feed = random_token("feed");
  t.backup = random_token("backup");
  std::ofstream out(t.file);
  out << "# written by betcore_test_support: <role> <token> [<account_id>]\n"
      << "admin " << t.admin << "\n"
      << "trader " << t.trader << "\n"
      << "payments " << t.payments << "\n"
      << "feed " << t.feed << "\n"
      << "backup " << t.backup << "\n";
  for (const auto& account : punter_accounts) {
    std::string token = random_token("punter");
    out << "punter " << token << " " << account << "\n";
    t.punters[account] = token;
  }
  out.close();
  if (!out) throw std::runtime_error("cannot write " + t.file.string());
  return t;
}

}  // namespace betcore::test
