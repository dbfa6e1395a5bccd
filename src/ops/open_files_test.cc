#include "ops/open_files.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

namespace betcore::ops {
namespace {

TEST(OpenFiles, TheSoftLimitIsRaisedToTheHardLimit) {
  rlimit before{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &before), 0);
  if (before.rlim_max == RLIM_INFINITY || before.rlim_max < 64) GTEST_SKIP() << "odd hard limit";
  // Start low, as under a shell's or systemd's default soft limit of 1024.
  rlimit low = before;
  low.rlim_cur = 64;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  EXPECT_EQ(raise_open_files_limit(), before.rlim_max);
  rlimit after{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &after), 0);
  EXPECT_EQ(after.rlim_cur, before.rlim_max);
  ::setrlimit(RLIMIT_NOFILE, &before);
}

TEST(OpenFiles, AWarningWhenTheLimitIsBelowConnectionsPlusHeadroom) {
  EXPECT_EQ(open_files_warning(10'256, 10'000), "");
  EXPECT_EQ(open_files_warning(1'048'576, 10'000), "");
  const std::string w = open_files_warning(1024, 10'000);
  EXPECT_NE(w.find(") is 1024,"), std::string::npos) << w;
  EXPECT_NE(w.find("LimitNOFILE=10256"), std::string::npos) << w;
  EXPECT_NE(w.find("ulimit -n 10256"), std::string::npos) << w;
  EXPECT_NE(open_files_warning(10'255, 10'000), "");
}

}  // namespace
}  // namespace betcore::ops
