#include "codec/snapshot.h"

#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>

#include "codec/binary.h"
#include "codec/field_io.h"
#include "domain/assert.h"
#include "domain/state_machine.h"

namespace betcore::codec {
namespace {
// Tags of the trailing sections of an encoded state (see encode_state).
constexpr uint8_t kSectionRequestIds = 1;
constexpr uint8_t kSectionRejected = 2;
constexpr uint8_t kSectionProducers = 3;
constexpr uint8_t kSectionMarketFeeds = 4;
constexpr uint8_t kSectionAliveStamps = 5;
constexpr uint8_t kSectionAuditChain = 6;
constexpr uint8_t kSectionLast = kSectionAuditChain;
}  // namespace

using namespace betcore::domain;

namespace {

// A table: its row count (u32), then each row's fields (domain/fields.h).
template <class Rows>
void write_table(FieldWriter& fields, const Rows& rows) {
  fields.w.u32(static_cast<uint32_t>(rows.size()));
  for (const auto& row : rows) describe(fields, row);
}

}  // namespace

namespace {
std::string encode(const State& s, bool with_refusals);
}  // namespace

std::string encode_state(const State& s) { return encode(s, true); }

std::string digest_without_refusals(const State& s) { return digest_of_encoding(encode(s, false)); }

namespace {
// Sections 3 to 5: the odds feed.
void write_feed_sections(Writer& w, FieldWriter& fields, const State& s) {
  // 3: odds feed producers.
  if (!s.producers.empty()) {
    w.u8(kSectionProducers);
    write_table(fields, s.producers);
  }
  // 4: the markets an odds feed prices: market, producer, the provider's
  // order of the last prices applied. Markets priced by hand have no row.
  uint32_t fed = 0;
  for (const Market& m : s.markets) fed += m.producer.valid() ? 1 : 0;
  if (fed != 0) {
    w.u8(kSectionMarketFeeds);
    w.u32(fed);
    for (uint32_t i = 0; i < s.markets.size(); ++i) {
      const Market& m = s.markets[i];
      if (!m.producer.valid()) continue;
      w.u32(i);
      w.u32(m.producer.value);
      w.i64(m.feed_ts);
      w.u64(m.feed_seq);
    }
  }
  // 5: the provider's stamp of each producer's last alive accepted
  // (Producer::last_source_ts), for producers that have one. A section of
  // its own rather than a field of section 3, so states written before
  // alives were stamped encode and digest as they did.
  uint32_t stamped = 0;
  for (const Producer& p : s.producers) stamped += p.last_source_ts != 0 ? 1 : 0;
  if (stamped != 0) {
    w.u8(kSectionAliveStamps);
    w.u32(stamped);
    for (uint32_t i = 0; i < s.producers.size(); ++i) {
      if (s.producers[i].last_source_ts == 0) continue;
      w.u32(i);
      w.i64(s.producers[i].last_source_ts);
    }
  }
}

std::string encode(const State& s, bool with_refusals) {
  std::string out;
  out.reserve(64 + s.accounts.size() * 96 + s.bets.size() * 96);
  Writer w(out);
  w.u32(kSnapshotMagic);
  w.u8(kSnapshotVersion);
  w.u64(s.applied.value);
  w.i64(s.now.ms);
  w.u64(s.commands_applied);

  FieldWriter fields{w, kSelectionsMax};
  write_table(fields, s.currencies);
  write_table(fields, s.accounts);
  write_table(fields, s.events);
  write_table(fields, s.markets);
  write_table(fields, s.legs);
  write_table(fields, s.bets);
  write_table(fields, s.deposits);
  write_table(fields, s.withdrawals);
  // The hash map is never iterated in its own order: sort by account.
  std::vector<uint32_t> keys;
  keys.reserve(s.deposit_windows.size());
  for (const auto& [k, v] : s.deposit_windows) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  w.u32(static_cast<uint32_t>(keys.size()));
  for (uint32_t k : keys) {
    const auto& entries = s.deposit_windows.at(k);
    w.u32(k);
    write_table(fields, entries);
  }
  // Trailing sections, each a tag and written only when it has entries, so
  // a state without them encodes (and digests) as before they existed.
  // 1: trader requests by request_id.
  if (!s.request_ids.empty()) {
    w.u8(kSectionRequestIds);
    w.u32(static_cast<uint32_t>(s.request_ids.size()));
    for (const auto& [id, rec] : s.request_ids) {
      w.str(id);
      describe(fields, rec);
    }
  }
  // 2: refused requests by client id.
  if (with_refusals && !s.rejected.empty()) {
    w.u8(kSectionRejected);
    w.u32(static_cast<uint32_t>(s.rejected.size()));
    for (const auto& [key, rec] : s.rejected) {
      w.str(key);
      describe(fields, rec);
    }
  }
  write_feed_sections(w, fields, s);
  // 6: the audit chain (docs/audit.md). Not part of what "a rejected write
  // changes nothing" compares: every batch, rejected or not, moves it.
  if (with_refusals && s.audit.begun()) {
    w.u8(kSectionAuditChain);
    w.raw(std::string_view(reinterpret_cast<const char*>(s.audit.head.data()), s.audit.head.size()));
    w.u32(static_cast<uint32_t>(s.audit.recent.size()));
    for (const ChainPoint& p : s.audit.recent) {
      w.u64(p.position);
      w.raw(std::string_view(reinterpret_cast<const char*>(p.chain.data()), p.chain.size()));
    }
  }
  return out;
}
}  // namespace

namespace {

// Decoding helpers: each returns false (and sets the error) on bad input.
struct Decoder {
  Reader r;
  std::string error;

  bool fail(std::string e) {
    if (error.empty()) error = std::move(e);
    return false;
  }
  // A count of items each at least `min_bytes` long: refuses counts that
  // cannot fit in what is left, before anything is allocated.
  bool count(uint32_t& n, size_t min_bytes) {
    n = r.u32();
    if (!r.ok() || uint64_t(n) * min_bytes > r.remaining()) return fail("truncated table");
    return true;
  }
  template <class Idx>
  bool id(IdTable<Idx>& table, std::string_view& out, uint32_t idx) {
    std::string_view raw = r.str();
    if (!r.ok() || !valid_id(raw)) return fail("invalid id in snapshot");
    if (table.find(raw).valid()) return fail("duplicate id in snapshot");
    out = table.insert(raw, Idx{idx});
    return true;
  }
};

// Interns a table's ids into its IdTable: each valid and unique.
template <class Idx>
struct TableIds final : FieldReader::Interner {
  explicit TableIds(IdTable<Idx>& t) : table(t) {}
  const char* intern(std::string_view raw, std::string_view& out) override {
    if (!valid_id(raw)) return "invalid id in snapshot";
    if (table.find(raw).valid()) return "duplicate id in snapshot";
    out = table.insert(raw, Idx{row});
    return nullptr;
  }
  IdTable<Idx>& table;
  uint32_t row = 0;
};

// What a row's fields cannot say alone: its references into the tables
// read before it. Returns why the row is refused, or nullptr.
const char* check_row(const State&, const CurrencyBook&) { return nullptr; }
const char* check_row(const State&, const Event&) { return nullptr; }
const char* check_row(const State&, const Producer&) { return nullptr; }
const char* check_row(const State& s, const Account& a) {
  return a.currency.value < s.currencies.size() ? nullptr : "account currency out of range";
}
const char* check_row(const State& s, const Market& m) {
  return m.event.value < s.events.size() ? nullptr : "market event out of range";
}
const char* check_row(const State& s, const Leg& l) {
  const bool in_range = l.market.value < s.markets.size() &&
                        l.selection < s.markets[l.market.value].selections.size();
  return in_range ? nullptr : "leg out of range";
}
const char* check_row(const State& s, const Bet& b) {
  const bool in_range = b.account.value < s.accounts.size() && b.leg_count != 0 && b.leg_count <= kLegsMax &&
                        uint64_t(b.legs_begin) + b.leg_count <= s.legs.size();
  return in_range ? nullptr : "bet out of range";
}
const char* check_row(const State& s, const DepositRecord& d) {
  return d.account.value < s.accounts.size() ? nullptr : "deposit account out of range";
}
const char* check_row(const State& s, const Withdrawal& x) {
  return x.account.value < s.accounts.size() ? nullptr : "withdrawal account out of range";
}

// Reads a table written by write_table. `min_bytes` is a row's smallest
// encoding (a 1-byte id, empty strings): a count that cannot fit in what is
// left is refused before anything is allocated.
template <class Rows, class Idx>
bool read_table(Decoder& d, State& s, Rows& rows, size_t min_bytes, IdTable<Idx>* ids,
                const char* name) {
  uint32_t n = 0;
  if (!d.count(n, min_bytes)) return false;
  std::optional<TableIds<Idx>> interner;
  if (ids != nullptr) interner.emplace(*ids);
  FieldReader fields(d.r, kSelectionsMax, interner ? &*interner : nullptr);
  rows.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    if (interner) interner->row = i;
    describe(fields, rows[i]);
    if (!fields.ok()) return d.fail(std::string(name) + ": " + fields.why());
    if (const char* why = check_row(s, rows[i])) return d.fail(why);
  }
  return true;
}

// The rolling deposit windows, by account: written sorted, each once.
bool read_deposit_windows(Decoder& d, State& s) {
  Reader& r = d.r;
  uint32_t n = 0;
  if (!d.count(n, 8)) return false;
  uint32_t previous = 0;
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t account = r.u32();
    uint32_t m = 0;
    if (!d.count(m, 16)) return false;
    if (account >= s.accounts.size()) return d.fail("deposit window account out of range");
    // Written sorted by account, each once: a repeat would merge two lists
    // into one and re-encode differently (and change the digest).
    if (i > 0 && account <= previous) return d.fail("deposit windows out of order");
    previous = account;
    auto& entries = s.deposit_windows[account];
    entries.resize(m);
    FieldReader fields(r, 0);
    for (DepositWindowEntry& e : entries) describe(fields, e);
  }
  if (!r.ok()) return d.fail("truncated snapshot");
  return true;
}

// A trader request remembered by its request_id.
bool read_request_id(Decoder& d, State& s, std::string id) {
  domain::RequestRecord rec;
  FieldReader fields(d.r, 0);
  describe(fields, rec);
  if (!fields.ok()) return d.fail("truncated request ids");
  if (!valid_id(id)) return d.fail("invalid request id in snapshot");
  // Every trader request is about a market: its answer renders it.
  if (rec.ref >= s.markets.size()) return d.fail("request id refers to a market out of range");
  // Written in order, each once.
  if (!s.request_ids.empty() && id <= s.request_ids.rbegin()->first) return d.fail("request ids out of order");
  s.request_ids.emplace_hint(s.request_ids.end(), std::move(id), rec);
  return true;
}

// A refused request remembered by its client id ("bet:b-1").
bool read_refusal(Decoder& d, State& s, std::string key) {
  domain::RejectedRecord rec;
  FieldReader fields(d.r, 0);
  describe(fields, rec);
  if (!fields.ok()) return d.fail("refused requests: " + fields.why());
  const size_t colon = key.find(':');
  if (colon == std::string::npos || !valid_id(std::string_view(key).substr(colon + 1))) {
    return d.fail("invalid refused request key in snapshot");
  }
  if (!s.rejected.empty() && key <= s.rejected.rbegin()->first) return d.fail("refused requests out of order");
  s.rejected.emplace_hint(s.rejected.end(), std::move(key), std::move(rec));
  return true;
}

// Section 4: which markets an odds feed prices, in market order.
bool read_market_feeds(Decoder& d, State& s) {
  Reader& r = d.r;
  uint32_t k = 0;
  if (!d.count(k, 24)) return false;
  if (k == 0) return d.fail("an empty snapshot section");  // never written
  int64_t previous = -1;
  for (uint32_t i = 0; i < k; ++i) {
    const uint32_t market = r.u32();
    const uint32_t producer = r.u32();
    const int64_t ts = r.i64();
    const uint64_t seq = r.u64();
    if (!r.ok()) return d.fail("truncated market feeds");
    if (market >= s.markets.size() || producer >= s.producers.size()) return d.fail("market feed out of range");
    if (int64_t{market} <= previous) return d.fail("market feeds out of order");
    previous = market;
    Market& m = s.markets[market];
    m.producer = ProducerIdx{producer};
    m.feed_ts = ts;
    m.feed_seq = seq;
  }
  return true;
}

// Section 5: the stamp of each producer's last alive, in producer order.
bool read_alive_stamps(Decoder& d, State& s) {
  Reader& r = d.r;
  uint32_t k = 0;
  if (!d.count(k, 12)) return false;
  if (k == 0) return d.fail("an empty snapshot section");  // never written
  int64_t previous = -1;
  for (uint32_t i = 0; i < k; ++i) {
    const uint32_t producer = r.u32();
    const int64_t ts = r.i64();
    if (!r.ok()) return d.fail("truncated alive stamps");
    if (producer >= s.producers.size()) return d.fail("alive stamp out of range");
    if (int64_t{producer} <= previous) return d.fail("alive stamps out of order");
    if (ts <= 0) return d.fail("an alive stamp that is not positive");  // 0 is never written
    previous = producer;
    s.producers[producer].last_source_ts = ts;
  }
  return true;
}

// The trailing sections, in tag order, each once and never empty.
void read_hash(Reader& r, std::array<uint8_t, 32>& out) {
  std::string_view b = r.take(out.size());
  if (r.ok()) std::copy(b.begin(), b.end(), out.begin());
}

bool read_audit_chain(Decoder& d, State& s) {
  AuditChain& a = s.audit;
  read_hash(d.r, a.head);
  uint32_t n = 0;
  if (!d.count(n, 40)) return false;
  if (n == 0 || n > AuditChain::kWindow) return d.fail("bad audit chain window");
  for (uint32_t i = 0; i < n; ++i) {
    ChainPoint p;
    p.position = d.r.u64();
    read_hash(d.r, p.chain);
    if (!d.r.ok()) return d.fail("the audit chain is cut short");
    if (!a.recent.empty() && p.position <= a.recent.back().position) return d.fail("audit chain out of order");
    a.recent.push_back(p);
  }
  if (a.recent.back().position != s.applied.value || a.recent.back().chain != a.head) {
    return d.fail("the audit chain does not end at the snapshot's position");
  }
  return true;
}

bool read_sections(Decoder& d, State& s) {
  Reader& r = d.r;
  uint8_t last_section = 0;
  while (r.remaining() != 0) {
    const uint8_t tag = r.u8();
    if (tag <= last_section || tag > kSectionLast) return d.fail("unknown or repeated snapshot section");
    last_section = tag;
    if (tag == kSectionProducers) {
      IdTable<ProducerIdx>* ids = &s.producer_ids;
      if (!read_table(d, s, s.producers, 31, ids, "producers")) return false;  // id 3, 3 x 8, 4
      if (s.producers.empty()) return d.fail("an empty snapshot section");  // never written
      continue;
    }
    if (tag == kSectionMarketFeeds) {
      if (!read_market_feeds(d, s)) return false;
      continue;
    }
    if (tag == kSectionAliveStamps) {
      if (!read_alive_stamps(d, s)) return false;
      continue;
    }
    if (tag == kSectionAuditChain) {
      if (!read_audit_chain(d, s)) return false;
      continue;
    }
    uint32_t k = 0;
    if (!d.count(k, 13)) return false;
    if (k == 0) return d.fail("an empty snapshot section");  // never written
    for (uint32_t i = 0; i < k; ++i) {
      std::string id(r.str());
      const bool ok = tag == kSectionRequestIds ? read_request_id(d, s, std::move(id)) : read_refusal(d, s, std::move(id));
      if (!ok) return false;
    }
  }
  return true;
}

bool decode_tables(Decoder& d, State& s) {
  IdTable<CurrencyIdx>* no_ids = nullptr;
  // Minimum row sizes: a 1-byte id and empty strings.
  if (!read_table(d, s, s.currencies, 34, no_ids, "currencies")) return false;  // code 2, 4 x amount
  if (s.currencies.size() > 64) return d.fail("too many currencies");
  if (!read_table(d, s, s.accounts, 80, &s.account_ids, "accounts")) return false;  // 87
  if (!read_table(d, s, s.events, 29, &s.event_ids, "events")) return false;
  // id 3, event 4, name 2, status 1, 3 x amount, reason 2, 4 x u64, 2 x u32, count 2
  if (!read_table(d, s, s.markets, 78, &s.market_ids, "markets")) return false;
  if (!read_table(d, s, s.legs, 11, no_ids, "legs")) return false;
  if (!read_table(d, s, s.bets, 70, &s.bet_ids, "bets")) return false;
  // The chains the snapshot does not store: each account's bets, newest
  // first, and each market's bets.
  for (uint32_t i = 0; i < s.bets.size(); ++i) {
    Bet& b = s.bets[i];
    Account& owner = s.accounts[b.account.value];
    b.prev_of_account = owner.last_bet;
    owner.last_bet = i;
    ++owner.bet_count;
    for (uint32_t k = 0; k < b.leg_count; ++k) {
      s.markets[s.legs[b.legs_begin + k].market.value].bets.push_back(i);
    }
  }
  if (!read_table(d, s, s.deposits, 47, &s.deposit_refs, "deposits")) return false;  // ref 3, account 4, 5 x 8
  // id 3, account 4, amount 8, status 1, ref 2, 6 x 8
  if (!read_table(d, s, s.withdrawals, 66, &s.withdrawal_ids, "withdrawals")) return false;
  return read_deposit_windows(d, s) && read_sections(d, s);
}

}  // namespace

DecodedState decode_state(std::string_view bytes) {
  DecodedState out;
  Decoder d{Reader(bytes), {}};
  if (d.r.u32() != kSnapshotMagic) {
    out.error = "not a betcore snapshot (bad magic)";
    return out;
  }
  uint8_t version = d.r.u8();
  if (version != kSnapshotVersion) {
    out.error = "snapshot version " + std::to_string(version) + "; this build reads version 1";
    return out;
  }
  auto s = std::make_unique<State>();
  s->applied.value = d.r.u64();
  s->now.ms = d.r.i64();
  s->commands_applied = d.r.u64();
  if (!decode_tables(d, *s)) {
    out.error = "corrupt snapshot: " + d.error;
    return out;
  }
  // Without the section the chain has not begun: no version 2 batch up to
  // this position (a snapshot from before the chain existed reads so too).
  out.state = std::move(s);
  return out;
}

std::string digest_of_encoding(std::string_view encoded) {
  XXH128_hash_t h = XXH3_128bits(encoded.data(), encoded.size());
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return std::string(buf, 32);
}

std::string state_digest(const State& state) { return digest_of_encoding(encode_state(state)); }

namespace {

// File header: magic u32, version u8, flags u8, reserved u16, applied index
// u64, raw length u64, checksum u64 (32 bytes), then one zstd frame that
// carries zstd's own checksum of the raw bytes.
constexpr size_t kFileChecksumAt = 24;
static_assert(kFileChecksumAt + 8 == kSnapshotFileHeaderBytes);

// XXH3-64 of every byte of the file but the checksum itself: the header
// before it and the whole frame after it. A checksum of the raw bytes alone
// would miss damage that decompresses to the same bytes (zstd has bits it
// ignores) and damage to the header (the applied index).
uint64_t file_checksum(std::string_view file) {
  std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> st(XXH3_createState(),
                                                                     XXH3_freeState);
  BETCORE_ASSERT(st != nullptr);
  XXH3_64bits_reset(st.get());
  XXH3_64bits_update(st.get(), file.data(), kFileChecksumAt);
  XXH3_64bits_update(st.get(), file.data() + kSnapshotFileHeaderBytes,
                     file.size() - kSnapshotFileHeaderBytes);
  return XXH3_64bits_digest(st.get());
}

}  // namespace

std::string seal_snapshot(std::string_view encoded, uint64_t applied_index) {
  size_t bound = ZSTD_compressBound(encoded.size());
  std::string out;
  out.resize(kSnapshotFileHeaderBytes + bound);
  std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  if (cctx == nullptr) return {};
  // Level 1: snapshots are taken while serving; speed beats ratio here.
  // The content checksum makes zstd verify the raw bytes it restores.
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, 1);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1);
  size_t n = ZSTD_compress2(cctx.get(), out.data() + kSnapshotFileHeaderBytes, bound, encoded.data(),
                            encoded.size());
  if (ZSTD_isError(n)) return {};
  out.resize(kSnapshotFileHeaderBytes + n);
  std::string header;
  Writer w(header);
  w.u32(kSnapshotFileMagic);
  w.u8(kSnapshotVersion);
  w.u8(0);
  w.u16(0);
  w.u64(applied_index);
  w.u64(encoded.size());
  BETCORE_ASSERT(header.size() == kFileChecksumAt);
  out.replace(0, kFileChecksumAt, header);
  std::string sum;
  Writer(sum).u64(file_checksum(out));
  out.replace(kFileChecksumAt, 8, sum);
  return out;
}

OpenedSnapshot open_snapshot(std::string_view file) {
  OpenedSnapshot o;
  Reader r(file);
  if (r.u32() != kSnapshotFileMagic) {
    o.error = "not a betcore snapshot file";
    return o;
  }
  uint8_t version = r.u8();
  r.u8();
  r.u16();
  if (version != kSnapshotVersion) {
    o.error = "snapshot file version " + std::to_string(version) + "; this build reads version 1";
    return o;
  }
  o.applied_index = r.u64();
  uint64_t raw = r.u64();
  uint64_t checksum = r.u64();
  if (!r.ok()) {
    o.error = "snapshot header is truncated";
    return o;
  }
  // Checked before anything else is trusted (the raw length, the frame).
  if (file_checksum(file) != checksum) {
    o.error = "snapshot checksum mismatch: the file is corrupt";
    o.applied_index = 0;
    return o;
  }
  if (raw > (uint64_t(1) << 40)) {
    o.error = "snapshot header is corrupt (raw length)";
    return o;
  }
  std::string_view frame = file.substr(kSnapshotFileHeaderBytes);
  unsigned long long content = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (content != raw) {
    o.error = "snapshot frame does not match its header (truncated or corrupt)";
    return o;
  }
  std::string encoded;
  encoded.resize(raw);
  size_t n = ZSTD_decompress(encoded.data(), encoded.size(), frame.data(), frame.size());
  if (ZSTD_isError(n) || n != raw) {
    o.error = "snapshot does not decompress: " + std::string(ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short");
    return o;
  }
  o.encoded_state = std::move(encoded);
  return o;
}

}  // namespace betcore::codec
