// Log entries framed back to back.
#include "log/entry_frames.h"

#include "codec/binary.h"

namespace betcore::log {

std::string encode_entry_frames(const std::vector<Entry>& entries) {
  size_t bytes = 0;
  for (const Entry& e : entries) bytes += 12 + e.batch.size();
  std::string out;
  out.reserve(bytes);
  codec::Writer w(out);
  for (const Entry& e : entries) {
    w.u64(e.position.value);
    w.u32(static_cast<uint32_t>(e.batch.size()));
    w.raw(e.batch);
  }
  return out;
}

bool decode_entry_frames(std::string_view bytes, std::vector<Entry>& entries, std::string& error) {
  codec::Reader r(bytes);
  entries.clear();
  while (r.ok() && r.remaining() > 0) {
    uint64_t position = r.u64();
    uint32_t n = r.u32();
    std::string_view batch = r.take(n);
    if (!r.ok()) break;
    if (!entries.empty() && position <= entries.back().position.value) {
      error = "positions out of order at " + std::to_string(position);
      return false;
    }
    entries.push_back(Entry{Position{position}, std::string(batch)});
  }
  if (!r.ok()) {
    error = "the entries are cut short after position " +
            (entries.empty() ? std::string("(none)") : std::to_string(entries.back().position.value));
    return false;
  }
  return true;
}

}  // namespace betcore::log
