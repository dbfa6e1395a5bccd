#include "log/file/record.h"

#include <string>

#include <gtest/gtest.h>

namespace betcore::log::file {
namespace {

TEST(Record, HeaderRoundTripsLittleEndian) {
  const std::string payload = "hello, ledger";
  unsigned char bytes[kHeaderSize];
  encode_record_header(0x0102030405060708ull, payload, bytes);
  // docs/log-format.md: magic "BCLG", then the length, then the position, LE.
  EXPECT_EQ(std::string(reinterpret_cast<char*>(bytes), 4), "BCLG");
  EXPECT_EQ(bytes[4], payload.size());
  EXPECT_EQ(bytes[5], 0);
  EXPECT_EQ(bytes[8], 0x08);
  EXPECT_EQ(bytes[15], 0x01);
  const RecordHeader header = decode_record_header(bytes);
  EXPECT_EQ(header.magic, kMagic);
  EXPECT_EQ(header.payload_bytes, payload.size());
  EXPECT_EQ(header.position, 0x0102030405060708ull);
  EXPECT_EQ(header.checksum, record_checksum(header, payload));
  EXPECT_TRUE(record_is_valid(header, payload));
}

TEST(Record, ChecksumCoversHeaderFieldsAndEveryPayloadBit) {
  const std::string payload(100, 'x');
  unsigned char bytes[kHeaderSize];
  encode_record_header(7, payload, bytes);
  const RecordHeader header = decode_record_header(bytes);
  for (size_t bit = 0; bit < payload.size() * 8; ++bit) {
    std::string flipped = payload;
    flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
    ASSERT_FALSE(record_is_valid(header, flipped)) << "payload bit " << bit;
  }
  for (size_t bit = 0; bit < kHeaderSize * 8; ++bit) {
    unsigned char copy[kHeaderSize];
    std::copy(bytes, bytes + kHeaderSize, copy);
    copy[bit / 8] = static_cast<unsigned char>(copy[bit / 8] ^ (1 << (bit % 8)));
    ASSERT_FALSE(record_is_valid(decode_record_header(copy), payload)) << "header bit " << bit;
  }
}

TEST(Record, EmptyPayloadIsValid) {
  unsigned char bytes[kHeaderSize];
  encode_record_header(1, {}, bytes);
  EXPECT_TRUE(record_is_valid(decode_record_header(bytes), {}));
}

}  // namespace
}  // namespace betcore::log::file
