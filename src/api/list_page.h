// One page of a list read: which rows of a table, looked at in table order,
// go in it, and where the next page starts. Pure, so it is tested alone
// (list_page_test.cc); list_reads.cc writes the rows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace betcore::api {

// A page looks at no more rows than this, whatever its filter: reads may run
// on the applier thread, which applies nothing meanwhile. 100,000 rows of a
// field compare take well under a millisecond (docs/api.md, Listing
// deposits and withdrawals).
inline constexpr size_t kListScanRowsMax = 100'000;
inline constexpr size_t kListLimitMax = 1000;
inline constexpr size_t kListLimitDefault = 100;

struct Page {
  std::vector<uint32_t> rows;  // in table order, at most `limit`
  // The last row looked at, when rows after it were not: where the next page
  // starts after. May be a row `keep` refused, when the scan bound ended the page.
  std::optional<uint32_t> next;
};

// Rows begin, begin+1, ... < size that `keep(row)` takes, until `limit` are
// taken or `scan_rows_max` have been looked at.
// REQUIRES: limit >= 1, scan_rows_max >= 1, size <= 2^32.
template <class Keep>
Page page_rows(size_t size, size_t begin, size_t limit, size_t scan_rows_max, Keep keep) {
  Page page;
  size_t row = begin;
  for (; row < size && page.rows.size() < limit && row - begin < scan_rows_max; ++row) {
    if (keep(static_cast<uint32_t>(row))) page.rows.push_back(static_cast<uint32_t>(row));
  }
  if (row < size && row > begin) page.next = static_cast<uint32_t>(row - 1);
  return page;
}

}  // namespace betcore::api
