#include "codec/snapshot.h"

#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "codec/binary.h"
#include "domain/assert.h"
#include "domain/state_machine.h"

namespace betcore::codec {
namespace {
// Tags of the trailing sections of an encoded state (see encode_state).
constexpr uint8_t kSectionRequestIds = 1;
constexpr uint8_t kSectionRejected = 2;
}  // namespace

using namespace betcore::domain;

namespace {

void amount(Writer& w, Amount a) { w.i64(a.minor); }

}  // namespace

namespace {
std::string encode(const State& s, bool with_refusals);
}  // namespace

std::string encode_state(const State& s) { return encode(s, true); }

std::string digest_without_refusals(const State& s) { return digest_of_encoding(encode(s, false)); }

namespace {
std::string encode(const State& s, bool with_refusals) {
  std::string out;
  out.reserve(64 + s.accounts.size() * 96 + s.bets.size() * 96);
  Writer w(out);
  w.u32(kSnapshotMagic);
  w.u8(kSnapshotVersion);
  w.u64(s.applied.value);
  w.i64(s.now.ms);
  w.u64(s.commands_applied);

  w.u32(static_cast<uint32_t>(s.currencies.size()));
  for (const auto& c : s.currencies) {
    w.str(c.code);
    amount(w, c.house);
    amount(w, c.world);
    amount(w, c.deposits_total);
    amount(w, c.withdrawals_completed_total);
  }
  w.u32(static_cast<uint32_t>(s.accounts.size()));
  for (const auto& a : s.accounts) {
    w.str(a.id);
    w.u32(a.currency.value);
    amount(w, a.balance);
    amount(w, a.in_play);
    amount(w, a.pending_withdrawals);
    amount(w, a.receivable);
    amount(w, a.open_payouts);
    amount(w, a.deposit_limit_24h);
    w.i64(a.self_excluded_until.ms);
    w.i64(a.created_at.ms);
    w.u64(a.created_index.value);
    w.u64(a.fingerprint);
  }
  w.u32(static_cast<uint32_t>(s.events.size()));
  for (const auto& e : s.events) {
    w.str(e.id);
    w.str(e.name);
    w.i64(e.starts_at.ms);
    w.u64(e.created_index.value);
    w.u64(e.fingerprint);
  }
  w.u32(static_cast<uint32_t>(s.markets.size()));
  for (const auto& m : s.markets) {
    w.str(m.id);
    w.u32(m.event.value);
    w.str(m.name);
    w.u8(static_cast<uint8_t>(m.status));
    amount(w, m.min_stake);
    amount(w, m.max_stake);
    amount(w, m.max_liability);
    w.str(m.status_reason);
    w.u64(m.created_index.value);
    w.u64(m.fingerprint);
    w.u64(m.settle_fingerprint);
    w.u64(m.settled_index.value);
    w.u32(m.settled_bets);
    w.u32(m.settlements);
    w.u16(static_cast<uint16_t>(m.selections.size()));
    for (const auto& sel : m.selections) {
      w.str(sel.id);
      w.str(sel.name);
      w.i64(sel.odds.thousandths);
      w.u8(sel.active ? 1 : 0);
      w.u8(static_cast<uint8_t>(sel.result));
      amount(w, sel.liability);
    }
  }
  w.u32(static_cast<uint32_t>(s.legs.size()));
  for (const auto& l : s.legs) {
    w.u32(l.market.value);
    w.u16(l.selection);
    w.u8(static_cast<uint8_t>(l.result));
    w.u32(static_cast<uint32_t>(l.odds_thousandths));
  }
  w.u32(static_cast<uint32_t>(s.bets.size()));
  for (const auto& b : s.bets) {
    w.str(b.id);
    w.u32(b.account.value);
    w.u32(b.legs_begin);
    w.u8(b.leg_count);
    w.u8(static_cast<uint8_t>(b.status));
    w.u8(b.settlements);
    amount(w, b.stake);
    w.i64(b.odds.thousandths);
    amount(w, b.potential_payout);
    amount(w, b.payout);
    w.i64(b.placed_at.ms);
    w.u64(b.index.value);
    w.u64(b.fingerprint);
  }
  w.u32(static_cast<uint32_t>(s.deposits.size()));
  for (const auto& d : s.deposits) {
    w.str(d.payment_ref);
    w.u32(d.account.value);
    amount(w, d.amount);
    amount(w, d.balance_after);
    w.i64(d.at.ms);
    w.u64(d.index.value);
    w.u64(d.fingerprint);
  }
  w.u32(static_cast<uint32_t>(s.withdrawals.size()));
  for (const auto& x : s.withdrawals) {
    w.str(x.id);
    w.u32(x.account.value);
    amount(w, x.amount);
    w.u8(static_cast<uint8_t>(x.status));
    w.str(x.outcome_ref);
    w.i64(x.requested_at.ms);
    w.i64(x.outcome_at.ms);
    w.u64(x.index.value);
    w.u64(x.outcome_index.value);
    w.u64(x.fingerprint);
    w.u64(x.outcome_fingerprint);
  }
  // The hash map is never iterated in its own order: sort by account.
  std::vector<uint32_t> keys;
  keys.reserve(s.deposit_windows.size());
  for (const auto& [k, v] : s.deposit_windows) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  w.u32(static_cast<uint32_t>(keys.size()));
  for (uint32_t k : keys) {
    const auto& entries = s.deposit_windows.at(k);
    w.u32(k);
    w.u32(static_cast<uint32_t>(entries.size()));
    for (const auto& e : entries) {
      w.i64(e.at.ms);
      amount(w, e.amount);
    }
  }
  // Trailing sections, each a tag and written only when it has entries, so
  // a state without them encodes (and digests) as before they existed.
  // 1: trader requests by request_id.
  if (!s.request_ids.empty()) {
    w.u8(kSectionRequestIds);
    w.u32(static_cast<uint32_t>(s.request_ids.size()));
    for (const auto& [id, rec] : s.request_ids) {
      w.str(id);
      w.u64(rec.fingerprint);
      w.u32(rec.ref);
      w.u32(rec.count);
    }
  }
  // 2: refused requests by client id.
  if (with_refusals && !s.rejected.empty()) {
    w.u8(kSectionRejected);
    w.u32(static_cast<uint32_t>(s.rejected.size()));
    for (const auto& [key, rec] : s.rejected) {
      w.str(key);
      w.u64(rec.fingerprint);
      w.u8(static_cast<uint8_t>(rec.code));
      w.str(rec.message);
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
  Amount amount() { return Amount{r.i64()}; }
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

bool decode_tables(Decoder& d, State& s) {
  Reader& r = d.r;
  uint32_t n = 0;
  // Each count's minimum is its row's smallest encoding (a 1-byte id, empty
  // strings); a larger one refuses valid snapshots.
  if (!d.count(n, 34)) return false;  // code 2, 4 x amount
  if (n > 64) return d.fail("too many currencies");
  for (uint32_t i = 0; i < n; ++i) {
    CurrencyBook c;
    c.code = std::string(r.str());
    c.house = d.amount();
    c.world = d.amount();
    c.deposits_total = d.amount();
    c.withdrawals_completed_total = d.amount();
    s.currencies.push_back(std::move(c));
  }
  if (!d.count(n, 80)) return false;  // (87: id 3, currency 4, 6 x amount, 4 x 8)
  s.accounts.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    Account& a = s.accounts[i];
    if (!d.id(s.account_ids, a.id, i)) return false;
    a.currency.value = r.u32();
    if (a.currency.value >= s.currencies.size()) return d.fail("account currency out of range");
    a.balance = d.amount();
    a.in_play = d.amount();
    a.pending_withdrawals = d.amount();
    a.receivable = d.amount();
    a.open_payouts = d.amount();
    a.deposit_limit_24h = d.amount();
    a.self_excluded_until.ms = r.i64();
    a.created_at.ms = r.i64();
    a.created_index.value = r.u64();
    a.fingerprint = r.u64();
  }
  if (!d.count(n, 29)) return false;  // id 3, name 2, 3 x u64
  s.events.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    Event& e = s.events[i];
    if (!d.id(s.event_ids, e.id, i)) return false;
    e.name = std::string(r.str());
    e.starts_at.ms = r.i64();
    e.created_index.value = r.u64();
    e.fingerprint = r.u64();
  }
  if (!d.count(n, 78)) return false;  // id 3, event 4, name 2, status 1, 3 x amount, reason 2, 4 x u64, 2 x u32, count 2
  s.markets.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    Market& m = s.markets[i];
    if (!d.id(s.market_ids, m.id, i)) return false;
    m.event.value = r.u32();
    if (m.event.value >= s.events.size()) return d.fail("market event out of range");
    m.name = std::string(r.str());
    uint8_t st = r.u8();
    if (st > 3) return d.fail("bad market status");
    m.status = static_cast<MarketStatus>(st);
    m.min_stake = d.amount();
    m.max_stake = d.amount();
    m.max_liability = d.amount();
    m.status_reason = std::string(r.str());
    m.created_index.value = r.u64();
    m.fingerprint = r.u64();
    m.settle_fingerprint = r.u64();
    m.settled_index.value = r.u64();
    m.settled_bets = r.u32();
    m.settlements = r.u32();
    uint16_t ns = r.u16();
    if (ns > kSelectionsMax) return d.fail("too many selections");
    m.selections.resize(ns);
    for (auto& sel : m.selections) {
      sel.id = std::string(r.str());
      sel.name = std::string(r.str());
      sel.odds.thousandths = r.i64();
      uint8_t active = r.u8();
      if (active > 1) return d.fail("bad selection active flag");  // 0 or 1, or not canonical
      sel.active = active == 1;
      uint8_t res = r.u8();
      if (res > 3) return d.fail("bad selection result");
      sel.result = static_cast<LegResult>(res);
      sel.liability = d.amount();
    }
    if (!r.ok()) return d.fail("truncated market");
  }
  if (!d.count(n, 11)) return false;
  s.legs.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    Leg& l = s.legs[i];
    l.market.value = r.u32();
    l.selection = r.u16();
    uint8_t res = r.u8();
    l.odds_thousandths = static_cast<int32_t>(r.u32());
    if (!r.ok()) return d.fail("truncated leg");
    if (l.market.value >= s.markets.size() ||
        l.selection >= s.markets[l.market.value].selections.size() || res > 3) {
      return d.fail("leg out of range");
    }
    l.result = static_cast<LegResult>(res);
  }
  if (!d.count(n, 70)) return false;
  s.bets.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    Bet& b = s.bets[i];
    if (!d.id(s.bet_ids, b.id, i)) return false;
    b.account.value = r.u32();
    b.legs_begin = r.u32();
    b.leg_count = r.u8();
    uint8_t st = r.u8();
    b.settlements = r.u8();
    b.stake = d.amount();
    b.odds.thousandths = r.i64();
    b.potential_payout = d.amount();
    b.payout = d.amount();
    b.placed_at.ms = r.i64();
    b.index.value = r.u64();
    b.fingerprint = r.u64();
    if (!r.ok()) return d.fail("truncated bet");
    if (b.account.value >= s.accounts.size() || st > 3 || b.leg_count == 0 ||
        b.leg_count > kLegsMax || uint64_t(b.legs_begin) + b.leg_count > s.legs.size()) {
      return d.fail("bet out of range");
    }
    b.status = static_cast<BetStatus>(st);
    Account& owner = s.accounts[b.account.value];
    b.prev_of_account = owner.last_bet;
    owner.last_bet = i;
    ++owner.bet_count;
    for (uint32_t k = 0; k < b.leg_count; ++k) {
      s.markets[s.legs[b.legs_begin + k].market.value].bets.push_back(i);
    }
  }
  if (!d.count(n, 47)) return false;  // ref 3, account 4, 5 x 8
  s.deposits.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    DepositRecord& x = s.deposits[i];
    if (!d.id(s.deposit_refs, x.payment_ref, i)) return false;
    x.account.value = r.u32();
    if (x.account.value >= s.accounts.size()) return d.fail("deposit account out of range");
    x.amount = d.amount();
    x.balance_after = d.amount();
    x.at.ms = r.i64();
    x.index.value = r.u64();
    x.fingerprint = r.u64();
  }
  if (!d.count(n, 66)) return false;  // id 3, account 4, amount 8, status 1, ref 2, 6 x 8
  s.withdrawals.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    Withdrawal& x = s.withdrawals[i];
    if (!d.id(s.withdrawal_ids, x.id, i)) return false;
    x.account.value = r.u32();
    if (x.account.value >= s.accounts.size()) return d.fail("withdrawal account out of range");
    x.amount = d.amount();
    uint8_t st = r.u8();
    if (st > 2) return d.fail("bad withdrawal status");
    x.status = static_cast<WithdrawalStatus>(st);
    x.outcome_ref = std::string(r.str());
    x.requested_at.ms = r.i64();
    x.outcome_at.ms = r.i64();
    x.index.value = r.u64();
    x.outcome_index.value = r.u64();
    x.fingerprint = r.u64();
    x.outcome_fingerprint = r.u64();
  }
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
    for (uint32_t k = 0; k < m; ++k) {
      DepositWindowEntry e;
      e.at.ms = r.i64();
      e.amount = d.amount();
      entries.push_back(e);
    }
  }
  if (!r.ok()) return d.fail("truncated snapshot");
  uint8_t last_section = 0;
  while (r.remaining() != 0) {
    // Trailing sections, in tag order, each once and never empty.
    const uint8_t tag = r.u8();
    uint32_t k = 0;
    if (!d.count(k, 13)) return false;
    if (tag <= last_section || tag > kSectionRejected) return d.fail("unknown or repeated snapshot section");
    if (k == 0) return d.fail("an empty snapshot section");  // never written
    last_section = tag;
    for (uint32_t i = 0; i < k; ++i) {
      std::string id(r.str());
      if (tag == kSectionRequestIds) {
        domain::RequestRecord rec;
        rec.fingerprint = r.u64();
        rec.ref = r.u32();
        rec.count = r.u32();
        if (!r.ok()) return d.fail("truncated request ids");
        if (!valid_id(id)) return d.fail("invalid request id in snapshot");
        // Every trader request is about a market: its answer renders it.
        if (rec.ref >= s.markets.size()) return d.fail("request id refers to a market out of range");
        // Written in order, each once.
        if (!s.request_ids.empty() && id <= s.request_ids.rbegin()->first) return d.fail("request ids out of order");
        s.request_ids.emplace_hint(s.request_ids.end(), std::move(id), rec);
      } else {
        domain::RejectedRecord rec;
        rec.fingerprint = r.u64();
        const uint8_t code = r.u8();
        rec.message = std::string(r.str());
        if (!r.ok()) return d.fail("truncated refused requests");
        if (code == 0 || code > static_cast<uint8_t>(domain::Code::duplicate_leg)) {
          return d.fail("refused request with an unknown code");
        }
        rec.code = static_cast<domain::Code>(code);
        const size_t colon = id.find(':');
        if (colon == std::string::npos || !valid_id(std::string_view(id).substr(colon + 1))) {
          return d.fail("invalid refused request key in snapshot");
        }
        if (!s.rejected.empty() && id <= s.rejected.rbegin()->first) return d.fail("refused requests out of order");
        s.rejected.emplace_hint(s.rejected.end(), std::move(id), std::move(rec));
      }
    }
  }
  return true;
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
