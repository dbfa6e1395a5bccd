#include "log/file/record.h"

// Only for XXH3_state_t on the stack (no allocation per record). The struct's
// layout is taken from the header we build against, which is the library we link.
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "domain/assert.h"

namespace betcore::log::file {

static_assert(kHeaderSize == 4 + 4 + 8 + 8, "docs/log-format.md: the header is 24 bytes");
static_assert(kChecksummedHeaderBytes == kHeaderSize - 8);

namespace {

void put_u32(unsigned char* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<unsigned char>(v >> (8 * i));
}

void put_u64(unsigned char* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<unsigned char>(v >> (8 * i));
}

uint32_t get_u32(const unsigned char* in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{in[i]} << (8 * i);
  return v;
}

uint64_t get_u64(const unsigned char* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{in[i]} << (8 * i);
  return v;
}

void encode_checksummed_fields(const RecordHeader& header, unsigned char* out) {
  put_u32(out + 0, header.magic);
  put_u32(out + 4, header.payload_bytes);
  put_u64(out + 8, header.position);
}

}  // namespace

uint64_t record_checksum(const RecordHeader& header, std::string_view payload) {
  unsigned char fields[kChecksummedHeaderBytes];
  encode_checksummed_fields(header, fields);
  // Streaming over (fields ++ payload) gives the same value as one XXH3_64bits
  // call over the concatenation, without copying the payload.
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, fields, sizeof fields);
  XXH3_64bits_update(&state, payload.data(), payload.size());
  return XXH3_64bits_digest(&state);
}

void encode_record_header(uint64_t position, std::string_view payload, unsigned char* out) {
  BETCORE_ASSERT(payload.size() <= kPayloadBytesMax);
  RecordHeader header;
  header.magic = kMagic;
  header.payload_bytes = static_cast<uint32_t>(payload.size());
  header.position = position;
  header.checksum = record_checksum(header, payload);
  encode_checksummed_fields(header, out);
  put_u64(out + kChecksummedHeaderBytes, header.checksum);
}

RecordHeader decode_record_header(const unsigned char* in) {
  RecordHeader header;
  header.magic = get_u32(in + 0);
  header.payload_bytes = get_u32(in + 4);
  header.position = get_u64(in + 8);
  header.checksum = get_u64(in + 16);
  return header;
}

bool record_is_valid(const RecordHeader& header, std::string_view payload) {
  return header_is_plausible(header) && payload.size() == header.payload_bytes &&
         record_checksum(header, payload) == header.checksum;
}

}  // namespace betcore::log::file
