// The gateway's ledger: payouts by idempotency key, deposits, settlement.
#include "payments/gateway_ledger.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>

#include "domain/assert.h"

namespace betcore::payments::gateway {
namespace {

std::optional<uint64_t> seq_after_prefix(std::string_view id, std::string_view prefix) {
  if (!id.starts_with(prefix)) return std::nullopt;
  std::string_view digits = id.substr(prefix.size());
  uint64_t seq = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seq);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || seq == 0) {
    return std::nullopt;
  }
  return seq;
}

// FNV-1a 64, then splitmix64's finalizer so that keys differing in one
// character spread over the whole range. Fixed forever: a payout must fail
// the same way on every run and every machine.
uint64_t key_hash(std::string_view key) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : key) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

template <typename T>
Page<T> page_of(const std::vector<T>& all, uint64_t after_seq, int limit) {
  BETCORE_ASSERT(limit >= 1 && limit <= kPageLimitMax);
  Page<T> page;
  for (uint64_t seq = after_seq + 1; seq <= all.size(); ++seq) {
    if (page.items.size() == static_cast<size_t>(limit)) {
      page.next_after = page.items.back()->seq;
      break;
    }
    page.items.push_back(&all[seq - 1]);
  }
  return page;
}

}  // namespace

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > kIdBytesMax) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == ':' || c == '-';
  });
}

bool valid_currency(std::string_view currency) {
  return currency.size() == 3 &&
         std::all_of(currency.begin(), currency.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

bool valid_amount(int64_t amount) { return amount >= 1 && amount <= kAmountMax; }

std::string payout_id(uint64_t seq) { return fmt::format("po_{:06}", seq); }
std::string payment_id(uint64_t seq) { return fmt::format("pay_{:06}", seq); }
std::string event_id(uint64_t seq) { return fmt::format("evt_{:06}", seq); }
std::optional<uint64_t> payout_seq(std::string_view id) { return seq_after_prefix(id, "po_"); }
std::optional<uint64_t> payment_seq(std::string_view id) { return seq_after_prefix(id, "pay_"); }

std::string_view to_string(PayoutStatus s) {
  switch (s) {
    case PayoutStatus::processing:
      return "processing";
    case PayoutStatus::paid:
      return "paid";
    case PayoutStatus::failed:
      return "failed";
  }
  return "?";
}

std::string_view to_string(Refusal r) {
  switch (r) {
    case Refusal::invalid_request:
      return "invalid_request";
    case Refusal::idempotency_key_reused:
      return "idempotency_key_reused";
    case Refusal::ledger_full:
      return "ledger_full";
  }
  return "?";
}

bool fails_by_key(std::string_view idempotency_key, double fail_share) {
  if (fail_share <= 0) return false;
  if (fail_share >= 1) return true;
  // The top 53 bits as a fraction in [0, 1).
  double unit = static_cast<double>(key_hash(idempotency_key) >> 11) * 0x1.0p-53;
  return unit < fail_share;
}

std::string_view failure_reason_by_key(std::string_view idempotency_key) {
  static constexpr std::array<std::string_view, 3> kReasons = {
      "destination_closed", "destination_not_found", "limit_exceeded"};
  return kReasons[key_hash(idempotency_key) % kReasons.size()];
}

Ledger::Ledger(LedgerConfig config) : config_(config) {
  BETCORE_ASSERT(config_.settle_ms >= 0);
  BETCORE_ASSERT(config_.fail_share >= 0 && config_.fail_share <= 1);
}

void Ledger::settle(Now now) {
  // Every payout waits the same settle_ms, so creation order is due order.
  while (!processing_.empty()) {
    Payout& p = payouts_[processing_.front() - 1];
    if (p.settle_mono_ms > now.mono_ms) break;
    BETCORE_ASSERT(p.status == PayoutStatus::processing);
    if (p.will_fail) {
      p.status = PayoutStatus::failed;
      p.failure_reason = failure_reason_by_key(p.idempotency_key);
      ++counts_.payouts_failed;
    } else {
      p.status = PayoutStatus::paid;
      ++counts_.payouts_paid;
    }
    processing_.pop_front();
  }
  BETCORE_ASSERT(counts_.payouts_paid + counts_.payouts_failed + processing_.size() ==
                 payouts_.size());
}

CreateResult Ledger::create_payout(const std::string& idempotency_key, const PayoutFields& fields,
                                   Now now) {
  settle(now);
  CreateResult r;
  if (!valid_id(idempotency_key) || !valid_amount(fields.amount) ||
      !valid_currency(fields.currency) || !valid_id(fields.destination) ||
      !valid_id(fields.reference)) {
    r.refusal = Refusal::invalid_request;
    r.message =
        "a payout needs an Idempotency-Key and destination, reference (ids of 1-64 "
        "[A-Za-z0-9_.:-]), amount (1..10^15) and currency (3 upper-case letters)";
    return r;
  }
  if (auto it = by_key_.find(idempotency_key); it != by_key_.end()) {
    const Payout& known = payouts_[it->second - 1];
    BETCORE_ASSERT(known.idempotency_key == idempotency_key);
    if (known.fields != fields) {
      r.refusal = Refusal::idempotency_key_reused;
      r.message = fmt::format("Idempotency-Key {} was used for {} with another body",
                              idempotency_key, payout_id(known.seq));
      return r;
    }
    ++counts_.idempotent_replays;
    r.payout = &known;
    r.replay = true;
    return r;
  }
  if (payouts_.size() >= kPayoutsMax) {
    r.refusal = Refusal::ledger_full;
    r.message = fmt::format("the gateway holds {} payouts, its bound; restart it", kPayoutsMax);
    return r;
  }
  Payout& p = payouts_.emplace_back();
  p.seq = payouts_.size();
  p.idempotency_key = idempotency_key;
  p.fields = fields;
  p.created_ms = now.wall_ms;
  p.settle_mono_ms = now.mono_ms + config_.settle_ms;
  p.will_fail = fails_by_key(idempotency_key, config_.fail_share);
  by_key_.emplace(idempotency_key, p.seq);
  processing_.push_back(p.seq);
  ++counts_.payouts_created;
  settle(now);  // --settle-ms 0: final at once
  r.payout = &p;
  return r;
}

const Payout* Ledger::payout(uint64_t seq, Now now) {
  settle(now);
  if (seq == 0 || seq > payouts_.size()) return nullptr;
  return &payouts_[seq - 1];
}

Page<Payout> Ledger::payouts(uint64_t after_seq, int limit, Now now) {
  settle(now);
  return page_of(payouts_, after_seq, limit);
}

DepositResult Ledger::record_deposit(const std::string& account_id, int64_t amount,
                                     const std::string& currency, Now now) {
  settle(now);
  DepositResult r;
  if (!valid_id(account_id) || !valid_amount(amount) || !valid_currency(currency)) {
    r.refusal = Refusal::invalid_request;
    r.message =
        "a deposit needs account_id (an id of 1-64 [A-Za-z0-9_.:-]), amount (1..10^15) "
        "and currency (3 upper-case letters)";
    return r;
  }
  if (deposits_.size() >= kDepositsMax) {
    r.refusal = Refusal::ledger_full;
    r.message = fmt::format("the gateway holds {} deposits, its bound; restart it", kDepositsMax);
    return r;
  }
  Deposit& d = deposits_.emplace_back();
  d.seq = deposits_.size();
  d.account_id = account_id;
  d.amount = amount;
  d.currency = currency;
  d.created_ms = now.wall_ms;
  ++counts_.deposits;
  BETCORE_ASSERT(counts_.deposits == deposits_.size());
  r.deposit = &d;
  return r;
}

Page<Deposit> Ledger::deposits(uint64_t after_seq, int limit, Now now) {
  settle(now);
  return page_of(deposits_, after_seq, limit);
}

LedgerCounts Ledger::counts(Now now) {
  settle(now);
  return counts_;
}

}  // namespace betcore::payments::gateway
