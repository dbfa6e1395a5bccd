// A fresh directory under /tmp for one test, removed with everything in it
// when the TempDir goes out of scope, unless the gtest test it lives in has
// failed by then (kept for the post-mortem). Set BETCORE_KEEP_TEST_DIRS=1 to
// keep every one. A kept directory's path is printed to stderr.
#pragma once

#include <filesystem>
#include <string_view>

namespace betcore::test {

class TempDir {
 public:
  // mkdtemp("/tmp/<prefix>-XXXXXX"). Throws std::system_error if it cannot.
  explicit TempDir(std::string_view prefix = "betcore-test");
  ~TempDir();
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

  // Keeps the directory after destruction.
  void keep() { keep_ = true; }

 private:
  void remove() noexcept;

  std::filesystem::path path_;
  bool keep_ = false;
};

}  // namespace betcore::test
