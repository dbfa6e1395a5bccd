// StableVector: chunks that double, rows that never move, and the vector
// operations the state's tables use.
#include "domain/stable_vector.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace betcore::domain {
namespace {

TEST(StableVector, RowsNeverMoveAsItGrowsAndEachIndexHoldsItsRow) {
  StableVector<uint64_t> v;
  EXPECT_TRUE(v.empty());
  std::vector<const uint64_t*> where;
  for (uint64_t i = 0; i < 300'000; ++i) {
    where.push_back(&v.emplace_back(i * 3));
  }
  ASSERT_EQ(v.size(), 300'000u);
  for (uint64_t i = 0; i < v.size(); ++i) {
    ASSERT_EQ(v[i], i * 3) << i;
    ASSERT_EQ(&v[i], where[i]) << "row " << i << " moved";
  }
  EXPECT_EQ(v.back(), 299'999u * 3);
  EXPECT_THROW(v.at(300'000), std::out_of_range);
  uint64_t sum = 0, n = 0;
  for (uint64_t x : v) {
    sum += x;
    ++n;
  }
  EXPECT_EQ(n, 300'000u);
  EXPECT_EQ(sum, uint64_t{3} * 299'999 * 300'000 / 2);
}

// The chunks: 64 rows, then 128, 256, ...; the first row of each chunk sits
// right after the last row of the one before in index order.
TEST(StableVector, ChunksDoubleFrom64Rows) {
  EXPECT_EQ(StableVector<int>::chunk_capacity(0), 64u);
  EXPECT_EQ(StableVector<int>::chunk_capacity(1), 128u);
  EXPECT_EQ(StableVector<int>::chunk_capacity(10), 65'536u);
  StableVector<int> v;
  for (int i = 0; i < 64 + 128 + 1; ++i) v.emplace_back(i);
  // Rows 0..63 contiguous, 64..191 contiguous, 192 in a third chunk.
  EXPECT_EQ(&v[63] - &v[0], 63);
  EXPECT_EQ(&v[191] - &v[64], 127);
  EXPECT_EQ(v[192], 192);
}

TEST(StableVector, ResizeConstructsAndDestroysRows) {
  auto counter = std::make_shared<int>(0);
  struct Counted {
    std::shared_ptr<int> c;
    Counted() = default;
    explicit Counted(std::shared_ptr<int> p) : c(std::move(p)) {}
  };
  {
    StableVector<Counted> v;
    for (int i = 0; i < 1000; ++i) v.emplace_back(counter);
    EXPECT_EQ(counter.use_count(), 1001);
    v.resize(10);
    EXPECT_EQ(counter.use_count(), 11);
    v.resize(500);
    EXPECT_EQ(v.size(), 500u);
    EXPECT_EQ(v[499].c, nullptr);
    v.push_back(Counted(counter));
    EXPECT_EQ(counter.use_count(), 12);
  }
  EXPECT_EQ(counter.use_count(), 1) << "the destructor destroyed every row";
  StableVector<std::string> strings;
  strings.resize(3);
  strings[2] = std::string(100, 'x');
  strings.clear();
  EXPECT_TRUE(strings.empty());
  strings.emplace_back("again");
  EXPECT_EQ(strings[0], "again");
}

}  // namespace
}  // namespace betcore::domain
