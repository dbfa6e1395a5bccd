#include "tools/tokens_file.h"

#include <gtest/gtest.h>

namespace betcore::tools {
namespace {

TEST(TokensFile, ParsesRolesCommentsAndBlankLines) {
  auto f = parse_tokens(
      "# betcore tokens\n"
      "admin   a-secret\n"
      "\n"
      "trader\tt-secret   # the trading desk\n"
      "payments p-secret\r\n"
      "punter u-secret alice\n"
      "feed f-secret");
  ASSERT_TRUE(f.errors.empty()) << f.errors.front();
  ASSERT_EQ(f.entries.size(), 5u);
  EXPECT_EQ(f.entries[0].role, "admin");
  EXPECT_EQ(f.entries[0].token, "a-secret");
  EXPECT_EQ(f.entries[0].line, 2);
  EXPECT_EQ(f.entries[1].token, "t-secret");
  EXPECT_EQ(f.entries[2].token, "p-secret");
  EXPECT_EQ(f.entries[3].account_id, "alice");
  EXPECT_EQ(f.entries[4].role, "feed");
  EXPECT_EQ(f.first("trader"), "t-secret");
  EXPECT_EQ(f.first("punter"), "u-secret");
}

TEST(TokensFile, FirstTokenOfARoleWins) {
  auto f = parse_tokens("admin one\nadmin two\n");
  EXPECT_EQ(f.first("admin"), "one");
  EXPECT_FALSE(f.first("trader").has_value());
}

TEST(TokensFile, ReportsBadLinesWithTheirNumbers) {
  auto f = parse_tokens(
      "admin\n"          // 1: no token
      "trader t x y\n"   // 2: too many fields
      "punter p\n"       // 3: punter without account
      "admin a alice\n"  // 4: account on a non-punter
      "admni typo\n"     // 5: unknown role
      "payments ok\n");
  ASSERT_EQ(f.errors.size(), 5u);
  EXPECT_EQ(f.errors[0].rfind("line 1:", 0), 0u);
  EXPECT_EQ(f.errors[1].rfind("line 2:", 0), 0u);
  EXPECT_NE(f.errors[2].find("punter"), std::string::npos);
  EXPECT_EQ(f.errors[3].rfind("line 4:", 0), 0u);
  EXPECT_NE(f.errors[4].find("admni"), std::string::npos);
  ASSERT_EQ(f.entries.size(), 1u);
  EXPECT_EQ(f.entries[0].role, "payments");
}

TEST(TokensFile, MissingFileIsAnError) {
  std::string error;
  EXPECT_FALSE(read_tokens_file("/nonexistent/tokens.txt", &error).has_value());
  EXPECT_NE(error.find("/nonexistent/tokens.txt"), std::string::npos);
}

}  // namespace
}  // namespace betcore::tools
