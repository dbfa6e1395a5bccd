#include "support/tokens.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "support/temp_dir.h"
#include "api/auth.h"
#include "tools/tokens_file.h"

namespace betcore::test {
namespace {

TEST(WriteTokensFile, RoundTripsThroughTheParser) {
  TempDir dir;
  TestTokens t = write_tokens_file(dir.path(), {"alice", "bob"});
  EXPECT_EQ(t.file, dir / "tokens.txt");
  std::string error;
  // The node's file holds only hashes, each the hash of a credential.
  api::Tokens node_tokens;
  ASSERT_TRUE(node_tokens.load(t.file.string(), error)) << error;
  EXPECT_EQ(node_tokens.size(), 7u);
  EXPECT_EQ(node_tokens.find("Bearer " + t.punter("bob"))->account_id, "bob");
  EXPECT_EQ(node_tokens.find("Bearer " + t.admin)->role, api::Role::admin);
  std::ifstream hashed(t.file);
  std::stringstream text;
  text << hashed.rdbuf();
  EXPECT_EQ(text.str().find(t.admin), std::string::npos) << "a token in clear in the node's file";
  auto parsed = tools::read_tokens_file(t.credentials.string(), &error);
  ASSERT_TRUE(parsed.has_value()) << error;
  ASSERT_TRUE(parsed->errors.empty()) << parsed->errors.front();
  EXPECT_EQ(parsed->first("admin"), t.admin);
  EXPECT_EQ(parsed->first("trader"), t.trader);
  EXPECT_EQ(parsed->first("payments"), t.payments);
  EXPECT_EQ(parsed->first("feed"), t.feed);
  int punters = 0;
  for (const auto& e : parsed->entries) {
    if (e.role != "punter") continue;
    ++punters;
    EXPECT_EQ(t.punter(e.account_id), e.token);
  }
  EXPECT_EQ(punters, 2);
}

TEST(WriteTokensFile, TokensAreDistinct) {
  TempDir dir;
  TestTokens t = write_tokens_file(dir.path(), {"alice"});
  EXPECT_NE(t.admin, t.trader);
  EXPECT_NE(t.trader, t.payments);
  EXPECT_NE(t.punter("alice"), t.admin);
  EXPECT_GE(t.admin.size(), 16u);
}

}  // namespace
}  // namespace betcore::test
