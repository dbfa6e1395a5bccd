#include "crash/log_surgery.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace betcore::crash {
namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

uint64_t parse_u64(std::string_view digits) {
  uint64_t v = 0;
  for (char c : digits) v = v * 10 + static_cast<uint64_t>(c - '0');
  return v;
}

template <typename T>
T load_le(const std::string& bytes, size_t at) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    v |= static_cast<T>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  }
  return v;
}

[[noreturn]] void fail(const fs::path& path, uint64_t offset, const std::string& why) {
  throw std::runtime_error(path.string() + " at offset " + std::to_string(offset) + ": " + why);
}

}  // namespace

std::vector<fs::path> segment_files(const fs::path& log_dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(log_dir)) {
    const std::string name = e.path().filename().string();
    if (name.size() == 24 && name.ends_with(".log") && all_digits(name.substr(0, 20))) {
      out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::vector<LogRecord> read_records(const fs::path& segment) {
  const std::string bytes = read_file(segment);
  uint64_t expected = parse_u64(segment.filename().string().substr(0, 20));
  std::vector<LogRecord> out;
  uint64_t offset = 0;
  while (offset < bytes.size()) {
    if (bytes.size() - offset < kRecordHeaderBytes) fail(segment, offset, "a torn header");
    LogRecord r;
    r.offset = offset;
    if (load_le<uint32_t>(bytes, offset) != kRecordMagic) fail(segment, offset, "bad magic");
    r.payload_bytes = load_le<uint32_t>(bytes, offset + 4);
    r.position = load_le<uint64_t>(bytes, offset + 8);
    const uint64_t checksum = load_le<uint64_t>(bytes, offset + 16);
    if (r.position != expected) {
      fail(segment, offset, "position " + std::to_string(r.position) + ", expected " +
                                std::to_string(expected));
    }
    if (r.end() > bytes.size()) fail(segment, offset, "a torn payload");
    std::string covered = bytes.substr(offset, 16) + bytes.substr(offset + kPayloadOffset, r.payload_bytes);
    if (XXH3_64bits(covered.data(), covered.size()) != checksum) {
      fail(segment, offset, "checksum mismatch");
    }
    out.push_back(r);
    offset = r.end();
    ++expected;
  }
  return out;
}

std::map<std::string, std::string> read_tree(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = read_file(e.path());
  }
  return out;
}

void flip_bits(const fs::path& path, uint64_t offset, uint8_t mask) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path.string());
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  if (!f.get(c)) throw std::runtime_error("cannot read byte " + std::to_string(offset) + " of " + path.string());
  c = static_cast<char>(static_cast<uint8_t>(c) ^ mask);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(c);
  if (!f) throw std::runtime_error("cannot write " + path.string());
}

void write_u32(const fs::path& path, uint64_t offset, uint32_t value) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path.string());
  char le[4];
  for (int i = 0; i < 4; ++i) le[i] = static_cast<char>((value >> (8 * i)) & 0xff);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(le, 4);
  if (!f) throw std::runtime_error("cannot write " + path.string());
}

void chop(const fs::path& path, uint64_t bytes) {
  const uint64_t size = fs::file_size(path);
  if (bytes > size) throw std::runtime_error("cannot chop " + std::to_string(bytes) + " bytes off " + path.string());
  fs::resize_file(path, size - bytes);
}

std::map<uint64_t, fs::path> snapshot_files(const fs::path& snapshots_dir) {
  std::map<uint64_t, fs::path> out;
  if (!fs::exists(snapshots_dir)) return out;
  for (const auto& e : fs::directory_iterator(snapshots_dir)) {
    const std::string name = e.path().filename().string();
    // snapshot-00000000000000000042.bcs
    if (name.size() == 33 && name.starts_with("snapshot-") && name.ends_with(".bcs") &&
        all_digits(name.substr(9, 20))) {
      out[parse_u64(name.substr(9, 20))] = e.path();
    }
  }
  return out;
}

}  // namespace betcore::crash
