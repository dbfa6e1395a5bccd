// One betcore node per test suite (a node takes a moment to start; the tests
// of a suite share it and keep out of each other's way by using their own
// ids). ctest runs each test in a process of its own, so every test must
// also pass alone: a suite's world is built in SetUpTestSuite.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "api_node.h"

namespace betcore::apitest {

// Suite: a class deriving from NodeSuite<Suite> with
//   static NodeConfig config();
//   static void build_world(ApiNode&);  // may use EXPECT_*; a failure stops every test
template <class Suite>
class NodeSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    node_ = std::make_unique<ApiNode>(Suite::config());
    ready_ = node_->start();
    if (!ready_) return;
    Suite::build_world(*node_);
    // In SetUpTestSuite, HasFailure() looks at the suite's own results.
    world_ok_ = !::testing::Test::HasFailure();
  }
  static void TearDownTestSuite() { node_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(ready_) << node_->why();
    ASSERT_TRUE(world_ok_) << "building the suite's world failed (see above)";
  }
  void TearDown() override {
    // Every test leaves a live node behind: a crash is a failure of the test
    // that caused it.
    ASSERT_TRUE(node_->running()) << "the node died\n--- node log ---\n" << node_->log();
  }

  static ApiNode& node() { return *node_; }

 private:
  static inline std::unique_ptr<ApiNode> node_;
  static inline bool ready_ = false;
  static inline bool world_ok_ = false;
};

}  // namespace betcore::apitest
