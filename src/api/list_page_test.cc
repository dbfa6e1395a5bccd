#include "api/list_page.h"

#include <gtest/gtest.h>

namespace betcore::api {
namespace {

auto all = [](uint32_t) { return true; };
auto even = [](uint32_t row) { return row % 2 == 0; };

std::vector<uint32_t> rows(std::initializer_list<uint32_t> r) { return r; }

TEST(ListPage, EmptyTableIsOneEmptyLastPage) {
  Page p = page_rows(0, 0, 10, kListScanRowsMax, all);
  EXPECT_TRUE(p.rows.empty());
  EXPECT_FALSE(p.next);
}

TEST(ListPage, FullPageWithMoreAfterItNamesItsLastRow) {
  Page p = page_rows(5, 0, 2, kListScanRowsMax, all);
  EXPECT_EQ(p.rows, rows({0, 1}));
  EXPECT_EQ(p.next, 1u);
}

TEST(ListPage, PageThatReachesTheEndHasNoNext) {
  Page p = page_rows(5, 3, 2, kListScanRowsMax, all);
  EXPECT_EQ(p.rows, rows({3, 4}));
  EXPECT_FALSE(p.next);
  // Starting after the last row: empty, and the end.
  p = page_rows(5, 5, 2, kListScanRowsMax, all);
  EXPECT_TRUE(p.rows.empty());
  EXPECT_FALSE(p.next);
}

TEST(ListPage, FilterSkipsRowsAndStopsAtTheLimit) {
  Page p = page_rows(10, 1, 2, kListScanRowsMax, even);
  EXPECT_EQ(p.rows, rows({2, 4}));
  EXPECT_EQ(p.next, 4u);
  // The last match is the last row: no next, though rows were filtered out.
  p = page_rows(9, 5, 100, kListScanRowsMax, even);
  EXPECT_EQ(p.rows, rows({6, 8}));
  EXPECT_FALSE(p.next);
}

TEST(ListPage, ScanBoundEndsAPageShortWithANextItMayNotHoldItself) {
  // Rows 1, 3, 5 are refused; at most 3 looked at from 1: rows 1, 2, 3.
  Page p = page_rows(10, 1, 100, 3, even);
  EXPECT_EQ(p.rows, rows({2}));
  EXPECT_EQ(p.next, 3u);  // refused by the filter, but where the scan stopped
  // Nothing matched at all: an empty page that still continues.
  p = page_rows(10, 1, 100, 1, [](uint32_t) { return false; });
  EXPECT_TRUE(p.rows.empty());
  EXPECT_EQ(p.next, 1u);
  // Following the nexts visits every row once and ends.
  std::vector<uint32_t> seen;
  size_t begin = 0;
  for (int pages = 0; pages < 20; ++pages) {
    p = page_rows(10, begin, 2, 3, even);
    seen.insert(seen.end(), p.rows.begin(), p.rows.end());
    if (!p.next) break;
    begin = *p.next + 1;
  }
  EXPECT_EQ(seen, rows({0, 2, 4, 6, 8}));
  EXPECT_FALSE(p.next);
}

}  // namespace
}  // namespace betcore::api
