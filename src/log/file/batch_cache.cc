#include "log/file/batch_cache.h"

#include <utility>

#include "domain/assert.h"

namespace betcore::log::file {

void BatchCache::push(Entry entry) {
  BETCORE_ASSERT(entries_.empty() || entry.position.value == entries_.back().position.value + 1);
  bytes_ += cost_bytes(entry);
  entries_.push_back(std::move(entry));
  while (!entries_.empty() && bytes_ > bytes_max_) pop_front();
}

bool BatchCache::contains(Position position) const {
  return !entries_.empty() && entries_.front().position <= position &&
         position <= entries_.back().position;
}

void BatchCache::copy_from(Position from, size_t entries_max, size_t bytes_max,
                           std::vector<Entry>& out) const {
  BETCORE_ASSERT(contains(from));
  size_t payload_bytes = 0;
  size_t copied = 0;
  for (size_t i = from.value - entries_.front().position.value;
       i < entries_.size() && copied < entries_max; ++i) {
    const Entry& entry = entries_[i];
    if (!out.empty() && payload_bytes + entry.batch.size() > bytes_max) break;
    payload_bytes += entry.batch.size();
    out.push_back(entry);
    ++copied;
  }
}

void BatchCache::drop_below(Position position) {
  while (!entries_.empty() && entries_.front().position < position) pop_front();
}

void BatchCache::clear() {
  entries_.clear();
  bytes_ = 0;
}

void BatchCache::pop_front() {
  bytes_ -= cost_bytes(entries_.front());
  entries_.pop_front();
}

}  // namespace betcore::log::file
