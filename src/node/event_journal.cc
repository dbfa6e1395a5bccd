#include "node/event_journal.h"

#include <algorithm>

namespace betcore::node {

void EventJournal::set_first_covered(uint64_t index) {
  std::lock_guard lock(mu_);
  first_covered_ = index;
}

void EventJournal::restart_at(uint64_t first_covered) {
  std::lock_guard lock(mu_);
  lines_.clear();
  bytes_ = 0;
  first_covered_ = first_covered;
  dropped_any_ = true;
  dropped_through_ = StreamCursor{first_covered - 1, UINT32_MAX};
}

uint64_t EventJournal::first_covered() const {
  std::lock_guard lock(mu_);
  return first_covered_;
}

void EventJournal::append(uint64_t index, uint32_t seq, std::string line) {
  std::lock_guard lock(mu_);
  bytes_ += line.size();
  lines_.push_back(Line{index, seq, std::move(line)});
  while (bytes_ > bytes_max_ && lines_.size() > 1) {
    // Dropping part of a batch means that whole batch is no longer covered.
    first_covered_ = std::max(first_covered_, lines_.front().index + 1);
    dropped_any_ = true;
    dropped_through_ = StreamCursor{lines_.front().index, lines_.front().seq};
    bytes_ -= lines_.front().text.size();
    lines_.pop_front();
  }
}

void EventJournal::publish() {
  std::vector<std::function<bool()>> wakes;
  {
    std::lock_guard lock(mu_);
    if (subs_.empty()) return;
    wakes.swap(subs_);
  }
  // Outside the lock: a wake reads the journal.
  std::erase_if(wakes, [](const std::function<bool()>& w) { return !w(); });
  std::lock_guard lock(mu_);
  for (auto& w : wakes) subs_.push_back(std::move(w));
}

namespace {
bool before(StreamCursor a, StreamCursor b) { return a.index < b.index || (a.index == b.index && a.seq < b.seq); }
}  // namespace

bool EventJournal::dropped_after(StreamCursor cursor) const {
  std::lock_guard lock(mu_);
  return dropped_any_ && before(cursor, dropped_through_);
}

StreamCursor EventJournal::read_after(StreamCursor cursor, std::string& out, size_t bytes_max, bool* gap) const {
  std::lock_guard lock(mu_);
  *gap = dropped_any_ && before(cursor, dropped_through_);
  if (*gap) return cursor;
  auto it = std::upper_bound(lines_.begin(), lines_.end(), cursor, [](const StreamCursor& c, const Line& l) {
    return c.index < l.index || (c.index == l.index && c.seq < l.seq);
  });
  size_t taken = 0;
  for (; it != lines_.end(); ++it) {
    if (taken > 0 && taken + it->text.size() > bytes_max) break;
    out.append(it->text);
    taken += it->text.size();
    cursor = StreamCursor{it->index, it->seq};
  }
  return cursor;
}

void EventJournal::subscribe(std::function<bool()> wake) {
  std::lock_guard lock(mu_);
  subs_.push_back(std::move(wake));
}

}  // namespace betcore::node
