#include "support/betcore_binary.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <stdexcept>

namespace betcore::test {
namespace {

// Restores BETCORE_BINARY after a test changed it.
class BetcoreBinaryEnv : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* v = std::getenv("BETCORE_BINARY");
    had_ = v != nullptr;
    if (had_) saved_ = v;
  }
  void TearDown() override {
    if (had_) {
      ::setenv("BETCORE_BINARY", saved_.c_str(), 1);
    } else {
      ::unsetenv("BETCORE_BINARY");
    }
  }

 private:
  bool had_ = false;
  std::string saved_;
};

TEST_F(BetcoreBinaryEnv, EnvironmentOverridesTheBuiltInPath) {
  ::setenv("BETCORE_BINARY", "/bin/sh", 1);
  EXPECT_EQ(betcore_binary(), "/bin/sh");
}

TEST_F(BetcoreBinaryEnv, NotAnExecutableSaysWhatToDo) {
  ::setenv("BETCORE_BINARY", "/nonexistent/betcore", 1);
  try {
    betcore_binary();
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("build the `betcore` target"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace betcore::test
