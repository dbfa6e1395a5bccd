#include "support/temp_dir.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <string>
#include <system_error>
#include <utility>

namespace betcore::test {

TempDir::TempDir(std::string_view prefix) {
  std::string pattern = "/tmp/" + std::string(prefix) + "-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
  }
  path_ = pattern;
  const char* keep = std::getenv("BETCORE_KEEP_TEST_DIRS");
  keep_ = keep != nullptr && *keep != '\0' && std::string(keep) != "0";
}

TempDir::~TempDir() { remove(); }

TempDir::TempDir(TempDir&& other) noexcept
    : path_(std::exchange(other.path_, {})), keep_(other.keep_) {}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    remove();
    path_ = std::exchange(other.path_, {});
    keep_ = other.keep_;
  }
  return *this;
}

namespace {

// True inside a gtest test that has already failed: its files are the
// evidence (logs of every process it started), so they stay.
bool current_test_failed() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return info != nullptr && info->result() != nullptr && info->result()->Failed();
}

}  // namespace

void TempDir::remove() noexcept {
  if (path_.empty()) return;
  if (keep_ || current_test_failed()) {
    std::cerr << "kept test directory " << path_.string()
              << (keep_ ? "" : " (the test failed: its logs are there)") << "\n";
  } else {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  path_.clear();
}

}  // namespace betcore::test
