#include "codec/command_codec.h"

#include <vector>

#include "codec/binary.h"

namespace betcore::codec {
namespace {

using namespace betcore::domain;

// Lists in commands are bounded by the domain (64 selections, prices or
// results; 20 legs). On the wire a list has at most one element more than
// any of those bounds: a longer list is written cut to kListMax elements,
// which the state machine still refuses. Encoder and decoder agree on this
// bound, so any command a client can send encodes into a record that
// decodes (one bad request must not make a whole batch undecodable for
// every replica), and the decoder refuses longer counts before allocating.
constexpr size_t kListMax = kSelectionsMax + 1;
static_assert(kLegsMax < kListMax);

template <class T>
size_t list_count(Writer& w, const std::vector<T>& v) {
  const size_t n = v.size() < kListMax ? v.size() : kListMax;
  w.u16(static_cast<uint16_t>(n));
  return n;
}

struct Encoder {
  Writer& w;
  void operator()(const CreateAccount& c) {
    w.str(c.account_id);
    w.str(c.currency);
    w.i64(c.deposit_limit_24h.minor);
  }
  void operator()(const SetSelfExclusion& c) {
    w.str(c.account_id);
    w.i64(c.until.ms);
  }
  void operator()(const Deposit& c) {
    w.str(c.payment_ref);
    w.str(c.account_id);
    w.i64(c.amount.minor);
  }
  void operator()(const RequestWithdrawal& c) {
    w.str(c.withdrawal_id);
    w.str(c.account_id);
    w.i64(c.amount.minor);
  }
  void operator()(const CompleteWithdrawal& c) {
    w.str(c.withdrawal_id);
    w.str(c.gateway_ref);
  }
  void operator()(const FailWithdrawal& c) {
    w.str(c.withdrawal_id);
    w.str(c.reason);
  }
  void operator()(const CreateEvent& c) {
    w.str(c.event_id);
    w.str(c.name);
    w.i64(c.starts_at.ms);
  }
  void operator()(const CreateMarket& c) {
    w.str(c.market_id);
    w.str(c.event_id);
    w.str(c.name);
    const size_t n = list_count(w, c.selections);
    for (size_t i = 0; i < n; ++i) {
      const SelectionSpec& s = c.selections[i];
      w.str(s.selection_id);
      w.str(s.name);
      w.i64(s.odds.thousandths);
    }
    w.i64(c.min_stake.minor);
    w.i64(c.max_stake.minor);
    w.i64(c.max_liability.minor);
  }
  void operator()(const UpdatePrices& c) {
    w.str(c.market_id);
    const size_t n = list_count(w, c.prices);
    for (size_t i = 0; i < n; ++i) {
      const PriceSpec& p = c.prices[i];
      w.str(p.selection_id);
      w.i64(p.odds.thousandths);
      w.u8(static_cast<uint8_t>(p.active));
    }
    optional_request_id(c.request_id);
  }
  void operator()(const ChangeMarketStatus& c) {
    w.str(c.market_id);
    w.u8(static_cast<uint8_t>(c.action));
    w.str(c.reason);
    optional_request_id(c.request_id);
  }
  void operator()(const PlaceBet& c) {
    w.str(c.bet_id);
    w.str(c.account_id);
    w.i64(c.stake.minor);
    w.u8(c.accept_better_odds ? 1 : 0);
    const size_t n = list_count(w, c.legs);
    for (size_t i = 0; i < n; ++i) {
      const LegSpec& l = c.legs[i];
      w.str(l.market_id);
      w.str(l.selection_id);
      w.i64(l.odds.thousandths);
    }
  }
  void operator()(const SettleMarket& c) {
    w.str(c.market_id);
    w.u8(c.resettle ? 1 : 0);
    const size_t n = list_count(w, c.results);
    for (size_t i = 0; i < n; ++i) {
      const ResultSpec& r = c.results[i];
      w.str(r.selection_id);
      w.u8(static_cast<uint8_t>(r.result));
    }
    optional_request_id(c.request_id);
  }
  // A trader command's request_id is a trailing field, written only when
  // set: commands logged before it existed decode unchanged.
  void optional_request_id(const std::string& id) {
    if (!id.empty()) w.str(id);
  }
};

std::string s(Reader& r) { return std::string(r.str()); }

// The optional trailing request_id: absent, or present and not empty (an
// empty one is never written, so accepting it would break re-encoding).
bool read_request_id(Reader& r, std::string& id) {
  if (r.remaining() == 0) return true;
  id = s(r);
  return r.ok() && !id.empty();
}

std::optional<Command> decode_body(CommandTag tag, Reader& r) {
  switch (tag) {
    case CommandTag::create_account: {
      CreateAccount c;
      c.account_id = s(r);
      c.currency = s(r);
      c.deposit_limit_24h.minor = r.i64();
      return c;
    }
    case CommandTag::set_self_exclusion: {
      SetSelfExclusion c;
      c.account_id = s(r);
      c.until.ms = r.i64();
      return c;
    }
    case CommandTag::deposit: {
      Deposit c;
      c.payment_ref = s(r);
      c.account_id = s(r);
      c.amount.minor = r.i64();
      return c;
    }
    case CommandTag::request_withdrawal: {
      RequestWithdrawal c;
      c.withdrawal_id = s(r);
      c.account_id = s(r);
      c.amount.minor = r.i64();
      return c;
    }
    case CommandTag::complete_withdrawal: {
      CompleteWithdrawal c;
      c.withdrawal_id = s(r);
      c.gateway_ref = s(r);
      return c;
    }
    case CommandTag::fail_withdrawal: {
      FailWithdrawal c;
      c.withdrawal_id = s(r);
      c.reason = s(r);
      return c;
    }
    case CommandTag::create_event: {
      CreateEvent c;
      c.event_id = s(r);
      c.name = s(r);
      c.starts_at.ms = r.i64();
      return c;
    }
    case CommandTag::create_market: {
      CreateMarket c;
      c.market_id = s(r);
      c.event_id = s(r);
      c.name = s(r);
      uint16_t n = r.u16();
      if (n > kListMax) return std::nullopt;
      c.selections.resize(n);
      for (auto& sel : c.selections) {
        sel.selection_id = s(r);
        sel.name = s(r);
        sel.odds.thousandths = r.i64();
      }
      c.min_stake.minor = r.i64();
      c.max_stake.minor = r.i64();
      c.max_liability.minor = r.i64();
      return c;
    }
    case CommandTag::update_prices: {
      UpdatePrices c;
      c.market_id = s(r);
      uint16_t n = r.u16();
      if (n > kListMax) return std::nullopt;
      c.prices.resize(n);
      for (auto& p : c.prices) {
        p.selection_id = s(r);
        p.odds.thousandths = r.i64();
        p.active = static_cast<int8_t>(r.u8());
        if (p.active < -1 || p.active > 1) return std::nullopt;
      }
      if (!read_request_id(r, c.request_id)) return std::nullopt;
      return c;
    }
    case CommandTag::change_market_status: {
      ChangeMarketStatus c;
      c.market_id = s(r);
      uint8_t a = r.u8();
      if (a < 1 || a > 3) return std::nullopt;
      c.action = static_cast<MarketAction>(a);
      c.reason = s(r);
      if (!read_request_id(r, c.request_id)) return std::nullopt;
      return c;
    }
    case CommandTag::place_bet: {
      PlaceBet c;
      c.bet_id = s(r);
      c.account_id = s(r);
      c.stake.minor = r.i64();
      uint8_t better = r.u8();
      if (better > 1) return std::nullopt;
      c.accept_better_odds = better == 1;
      uint16_t n = r.u16();
      if (n > kListMax) return std::nullopt;
      c.legs.resize(n);
      for (auto& l : c.legs) {
        l.market_id = s(r);
        l.selection_id = s(r);
        l.odds.thousandths = r.i64();
      }
      return c;
    }
    case CommandTag::settle_market: {
      SettleMarket c;
      c.market_id = s(r);
      uint8_t re = r.u8();
      if (re > 1) return std::nullopt;
      c.resettle = re == 1;
      uint16_t n = r.u16();
      if (n > kListMax) return std::nullopt;
      c.results.resize(n);
      for (auto& x : c.results) {
        x.selection_id = s(r);
        uint8_t v = r.u8();
        if (v > 3) return std::nullopt;
        x.result = static_cast<LegResult>(v);
      }
      if (!read_request_id(r, c.request_id)) return std::nullopt;
      return c;
    }
  }
  return std::nullopt;
}

}  // namespace

void encode_command(const Command& command, std::string& out) {
  Writer w(out);
  w.u8(static_cast<uint8_t>(command_tag(command)));
  size_t len_at = out.size();
  w.u32(0);  // patched below
  std::visit(Encoder{w}, command);
  uint32_t len = static_cast<uint32_t>(out.size() - len_at - 4);
  for (int i = 0; i < 4; ++i) out[len_at + static_cast<size_t>(i)] = static_cast<char>(len >> (8 * i));
}

std::optional<Command> decode_command(std::string_view in, size_t* pos) {
  if (*pos > in.size()) return std::nullopt;  // substr would throw
  Reader head(in.substr(*pos));
  uint8_t tag = head.u8();
  uint32_t len = head.u32();
  if (!head.ok() || tag < 1 || tag > 12) return std::nullopt;
  std::string_view body = head.take(len);
  if (!head.ok()) return std::nullopt;
  Reader r(body);
  std::optional<Command> c = decode_body(static_cast<CommandTag>(tag), r);
  if (!c || !r.ok() || r.remaining() != 0) return std::nullopt;
  *pos += 5 + len;
  return c;
}

}  // namespace betcore::codec
