#include "support/temp_dir.h"

#include <gtest/gtest.h>

#include <fstream>

namespace betcore::test {
namespace {

TEST(TempDir, CreatesAndRemovesRecursively) {
  std::filesystem::path path;
  {
    TempDir dir("betcore-tempdir-test");
    path = dir.path();
    EXPECT_TRUE(std::filesystem::is_directory(path));
    EXPECT_EQ(path.string().rfind("/tmp/betcore-tempdir-test-", 0), 0u);
    std::filesystem::create_directories(dir / "a/b");
    std::ofstream(dir / "a/b/file.txt") << "data";
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(TempDir, DistinctAndMovable) {
  TempDir a;
  TempDir b;
  EXPECT_NE(a.path(), b.path());
  std::filesystem::path pa = a.path();
  TempDir c = std::move(a);
  EXPECT_EQ(c.path(), pa);
  EXPECT_TRUE(a.path().empty());
  EXPECT_TRUE(std::filesystem::exists(pa));
}

TEST(TempDir, KeepLeavesItInPlace) {
  std::filesystem::path path;
  {
    TempDir dir;
    dir.keep();
    path = dir.path();
  }
  EXPECT_TRUE(std::filesystem::exists(path));
  std::filesystem::remove_all(path);
}

}  // namespace
}  // namespace betcore::test
