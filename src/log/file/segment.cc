#include "log/file/segment.h"

#include <fcntl.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

namespace betcore::log::file {

std::string segment_file_name(Position first) {
  return fmt::format("{:0{}}{}", first.value, kSegmentNameDigits, kSegmentSuffix);
}

std::optional<Position> parse_segment_file_name(std::string_view name) {
  if (name.size() != kSegmentNameDigits + kSegmentSuffix.size()) return std::nullopt;
  if (name.substr(kSegmentNameDigits) != kSegmentSuffix) return std::nullopt;
  uint64_t value = 0;
  for (char c : name.substr(0, kSegmentNameDigits)) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;  // 20 digits can overflow
    value = value * 10 + digit;
  }
  return Position{value};
}

Result<std::vector<SegmentFileName>> list_segment_files(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<SegmentFileName> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    auto first = parse_segment_file_name(it->path().filename().string());
    if (first) names.push_back(SegmentFileName{*first, it->path().string()});
  }
  if (ec) return io_error_from_errno("list", dir, ec.value());
  std::sort(names.begin(), names.end(),
            [](const SegmentFileName& a, const SegmentFileName& b) { return a.first < b.first; });
  return names;
}

Result<std::shared_ptr<Segment>> open_segment(const SegmentFileName& name) {
  auto file = open_file(name.path, O_RDWR);
  if (!file) return file.error();
  auto segment = std::make_shared<Segment>();
  segment->first = name.first;
  segment->path = name.path;
  segment->file = std::move(file.value());
  return segment;
}

Result<std::shared_ptr<Segment>> create_segment(const std::string& dir, Position first) {
  const SegmentFileName name{first, dir + "/" + segment_file_name(first)};
  auto file = open_file(name.path, O_RDWR | O_CREAT | O_EXCL, 0644);
  if (!file) return file.error();
  auto segment = std::make_shared<Segment>();
  segment->first = first;
  segment->path = name.path;
  segment->file = std::move(file.value());
  return segment;
}

}  // namespace betcore::log::file
