// The tokens file holds hashes (auth.h): what it accepts, what it refuses and
// says, and what a request's token finds.
#include "api/auth.h"

#include <gtest/gtest.h>

#include <string>

namespace betcore::api {
namespace {

std::string line(const std::string& role, const std::string& token, const std::string& account = "") {
  return role + " " + token_hash_text(token) + (account.empty() ? "" : " " + account) + "\n";
}

TEST(Tokens, AHashedFileFindsEachTokenWithItsRoleAccountAndId) {
  const std::string admin = new_token(), punter = new_token();
  Tokens t;
  std::string error;
  ASSERT_TRUE(t.parse("# comment\n" + line("admin", admin) + "\n" + line("punter", punter, "alice"), error))
      << error;
  EXPECT_EQ(t.size(), 2u);
  const auto a = t.find("Bearer " + admin);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->role, Role::admin);
  EXPECT_EQ(a->token_id, token_hash_text(admin).substr(7, 12));
  const auto p = t.find("bEaReR " + punter);  // RFC 9110: the scheme is case-insensitive
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->account_id, "alice");
  EXPECT_EQ(t.find("Bearer " + admin + "x"), nullptr);
  EXPECT_EQ(t.find("Bearer "), nullptr);
  EXPECT_EQ(t.find("Basic " + admin), nullptr);
  EXPECT_EQ(t.find(admin), nullptr);
}

TEST(Tokens, NewTokensAreLongRandomAndDistinct) {
  const std::string a = new_token(), b = new_token();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), 4u + 40u);
  EXPECT_EQ(a.substr(0, 4), "bct_");
}

TEST(Tokens, AClearTextTokenIsRefusedWithoutEchoingItAndSaysHowToConvert) {
  Tokens t;
  std::string error;
  EXPECT_FALSE(t.parse("admin s3cret-token-in-clear-text\n", error));
  EXPECT_EQ(error.find("s3cret"), std::string::npos) << error;
  EXPECT_NE(error.find("line 1"), std::string::npos) << error;
  EXPECT_NE(error.find("betcore token hash"), std::string::npos) << error;
}

TEST(Tokens, BadLinesSayWhichAndWhy) {
  const std::string h = token_hash_text("x");
  struct Case {
    std::string text, says;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"root " + h + "\n", "unknown role"},
           {"admin\n", "missing"},
           {"punter " + h + "\n", "account"},
           {"admin " + h + " alice\n", "only punter"},
           {"admin " + h + "\ntrader " + h + "\n", "twice"},
           {"admin sha256:1234\n", "sha256:<64 hex"},
           {"# nothing\n", "no tokens"},
       }) {
    Tokens t;
    std::string error;
    EXPECT_FALSE(t.parse(c.text, error)) << c.text;
    EXPECT_NE(error.find(c.says), std::string::npos) << c.text << " -> " << error;
  }
}

TEST(Tokens, AFailedReloadKeepsTheTokensAndAFoundPrincipalOutlivesAReload) {
  const std::string old_token = new_token(), new_one = new_token();
  Tokens t;
  std::string error;
  ASSERT_TRUE(t.parse(line("admin", old_token), error));
  const auto held = t.find("Bearer " + old_token);
  ASSERT_NE(held, nullptr);
  EXPECT_FALSE(t.parse("admin not-a-hash\n", error));
  EXPECT_NE(t.find("Bearer " + old_token), nullptr) << "a bad file replaced the good one";
  ASSERT_TRUE(t.parse(line("trader", new_one), error));
  EXPECT_EQ(t.find("Bearer " + old_token), nullptr) << "a revoked token still works";
  EXPECT_NE(t.find("Bearer " + new_one), nullptr);
  EXPECT_EQ(held->role, Role::admin);  // still readable by the request that found it
}

}  // namespace
}  // namespace betcore::api
