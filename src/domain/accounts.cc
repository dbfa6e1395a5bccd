// Accounts and money in and out: creation, self-exclusion, deposits with the
// rolling 24-hour limit, withdrawals requested -> completed | failed.
#include <string>

#include "domain/handlers.h"
#include "domain/ledger.h"

namespace betcore::domain {
namespace {

constexpr uint32_t kCurrenciesMax = 64;
constexpr int64_t kDayMs = 24LL * 60 * 60 * 1000;

bool valid_currency(std::string_view c) {
  if (c.size() != 3) return false;
  for (char ch : c) {
    if (ch < 'A' || ch > 'Z') return false;
  }
  return true;
}

// The sum of deposits inside the rolling window (now - 24h, now].
Amount deposits_in_window(const State& s, AccountIdx a) {
  auto it = s.deposit_windows.find(a.value);
  if (it == s.deposit_windows.end()) return Amount{0};
  Amount sum{0};
  for (const auto& e : it->second) {
    if (e.at.ms > s.now.ms - kDayMs) sum += e.amount;
  }
  return sum;
}

// Records a deposit in the window and drops entries that left it (only on an
// accepted deposit: a rejected command changes nothing).
void record_in_window(State& s, AccountIdx a, Amount amount) {
  auto& entries = s.deposit_windows[a.value];
  size_t keep_from = 0;
  while (keep_from < entries.size() && entries[keep_from].at.ms <= s.now.ms - kDayMs) ++keep_from;
  entries.erase(entries.begin(), entries.begin() + static_cast<ptrdiff_t>(keep_from));
  entries.push_back({s.now, amount});
}

}  // namespace

Outcome apply_create_account(Ctx& c, const CreateAccount& cmd) {
  State& s = c.s;
  if (!valid_id(cmd.account_id)) return reject(Code::invalid_request, "account_id is not a valid id");
  if (!valid_currency(cmd.currency)) {
    return reject(Code::invalid_request, "currency must be 3 uppercase letters, like EUR");
  }
  if (cmd.deposit_limit_24h.minor < 0 || cmd.deposit_limit_24h.minor > kAmountMax) {
    return reject(Code::invalid_request, "deposit_limit_24h must be between 1 and 10^13");
  }
  const HashedId id = s.account_ids.hashed(cmd.account_id);
  if (auto answer = remembered(s.account_ids, s.accounts, id, c.fp, "account")) return *answer;
  CurrencyIdx cur = s.find_currency(cmd.currency);
  if (!cur.valid()) {
    if (s.currencies.size() >= kCurrenciesMax) {
      return reject(Code::invalid_request, "too many currencies (at most 64)");
    }
    cur = CurrencyIdx{static_cast<uint32_t>(s.currencies.size())};
    s.currencies.push_back(CurrencyBook{cmd.currency});
  }
  AccountIdx idx{static_cast<uint32_t>(s.accounts.size())};
  Account& a = s.accounts.emplace_back();
  a.id = s.account_ids.insert(id, idx);
  a.currency = cur;
  a.deposit_limit_24h = cmd.deposit_limit_24h;
  a.created_at = s.now;
  a.created_index = s.applied;
  a.fingerprint = c.fp;
  c.emit(EventType::account_created, idx.value);
  return accept(idx.value);
}

Outcome apply_self_exclusion(Ctx& c, const SetSelfExclusion& cmd) {
  State& s = c.s;
  AccountIdx idx = s.account_ids.find(cmd.account_id);
  if (!idx.valid()) return reject(Code::not_found, "no account " + quoted(cmd.account_id));
  if (cmd.until.ms <= 0) return reject(Code::invalid_request, "until must be a time after 1970");
  Account& a = s.accounts[idx.value];
  // A self-exclusion can be extended, never shortened (responsible gambling:
  // the punter cannot undo it in a weak moment).
  if (cmd.until > a.self_excluded_until) a.self_excluded_until = cmd.until;
  c.emit(EventType::self_exclusion_set, idx.value);
  return accept(idx.value);
}

Outcome apply_deposit(Ctx& c, const Deposit& cmd) {
  State& s = c.s;
  if (!valid_id(cmd.payment_ref)) return reject(Code::invalid_request, "payment_ref is not a valid id");
  if (!amount_in_range(cmd.amount)) return reject(Code::invalid_request, "amount must be 1..10^13");
  if (!valid_id(cmd.account_id)) return reject(Code::invalid_request, "account_id is not a valid id");
  const HashedId ref = s.deposit_refs.hashed(cmd.payment_ref);
  if (auto answer = remembered(s.deposit_refs, s.deposits, ref, c.fp, "payment_ref")) return *answer;
  AccountIdx idx = s.account_ids.find(cmd.account_id);
  if (!idx.valid()) return reject(Code::not_found, "no account " + quoted(cmd.account_id));
  Account& a = s.accounts[idx.value];
  if (s.self_excluded(a)) {
    return reject(Code::account_not_active, "account " + quoted(cmd.account_id) + " is self-excluded");
  }
  if (a.deposit_limit_24h.minor > 0) {
    Amount used = deposits_in_window(s, idx);
    if (used.minor + cmd.amount.minor > a.deposit_limit_24h.minor) {
      return reject(Code::deposit_limit_exceeded,
                    "deposits in the last 24 hours would reach " +
                        std::to_string(used.minor + cmd.amount.minor) + ", over the limit of " +
                        std::to_string(a.deposit_limit_24h.minor));
    }
  }
  if (a.balance.minor + cmd.amount.minor > kDepositBalanceMax) {
    return reject(Code::deposit_limit_exceeded, "the balance would exceed the platform maximum");
  }
  pay_into_balance(s, world_of(a.currency), idx, cmd.amount);
  s.currencies[a.currency.value].deposits_total += cmd.amount;
  if (a.deposit_limit_24h.minor > 0) {
    record_in_window(s, idx, cmd.amount);
  }
  DepositIdx d{static_cast<uint32_t>(s.deposits.size())};
  DepositRecord& r = s.deposits.emplace_back();
  r.payment_ref = s.deposit_refs.insert(ref, d);
  r.account = idx;
  r.amount = cmd.amount;
  r.balance_after = a.balance;
  r.at = s.now;
  r.index = s.applied;
  r.fingerprint = c.fp;
  c.emit(EventType::deposit_credited, d.value);
  return accept(d.value);
}

Outcome apply_request_withdrawal(Ctx& c, const RequestWithdrawal& cmd) {
  State& s = c.s;
  if (!valid_id(cmd.withdrawal_id)) return reject(Code::invalid_request, "withdrawal_id is not a valid id");
  if (!amount_in_range(cmd.amount)) return reject(Code::invalid_request, "amount must be 1..10^13");
  if (!valid_id(cmd.account_id)) return reject(Code::invalid_request, "account_id is not a valid id");
  const HashedId id = s.withdrawal_ids.hashed(cmd.withdrawal_id);
  if (auto answer = remembered(s.withdrawal_ids, s.withdrawals, id, c.fp, "withdrawal")) return *answer;
  AccountIdx idx = s.account_ids.find(cmd.account_id);
  if (!idx.valid()) return reject(Code::not_found, "no account " + quoted(cmd.account_id));
  Account& a = s.accounts[idx.value];
  if (a.balance < cmd.amount) {
    return reject(Code::insufficient_funds, "balance " + std::to_string(a.balance.minor) +
                                                " is less than the amount " +
                                                std::to_string(cmd.amount.minor));
  }
  move(s, balance_of(idx), pending_of(idx), cmd.amount);
  WithdrawalIdx w{static_cast<uint32_t>(s.withdrawals.size())};
  Withdrawal& r = s.withdrawals.emplace_back();
  r.id = s.withdrawal_ids.insert(id, w);
  r.account = idx;
  r.amount = cmd.amount;
  r.requested_at = s.now;
  r.index = s.applied;
  r.fingerprint = c.fp;
  c.emit(EventType::withdrawal_requested, w.value);
  return accept(w.value);
}

namespace {

// Shared by complete and fail: the withdrawal, or the answer to give now.
struct Found {
  Withdrawal* w = nullptr;
  Outcome early;
  bool done = false;
};

Found find_pending(Ctx& c, std::string_view id, WithdrawalStatus wanted) {
  State& s = c.s;
  Found f;
  if (!valid_id(id)) {
    f.early = reject(Code::invalid_request, "withdrawal_id is not a valid id");
    f.done = true;
    return f;
  }
  WithdrawalIdx idx = s.withdrawal_ids.find(id);
  if (!idx.valid()) {
    f.early = reject(Code::not_found, "no withdrawal " + quoted(id));
    f.done = true;
    return f;
  }
  Withdrawal& w = s.withdrawals[idx.value];
  if (w.status == wanted && w.outcome_fingerprint == c.fp) {
    f.early = accept(idx.value, true);
    f.done = true;
  } else if (w.status != WithdrawalStatus::pending) {
    f.early = reject(Code::conflict, "withdrawal " + quoted(id) + " is already " +
                                         (w.status == WithdrawalStatus::completed ? "completed"
                                                                                  : "failed"));
    f.done = true;
  }
  f.w = &w;
  return f;
}

}  // namespace

Outcome apply_complete_withdrawal(Ctx& c, const CompleteWithdrawal& cmd) {
  if (cmd.gateway_ref.empty() || cmd.gateway_ref.size() > kTextBytesMax) {
    return reject(Code::invalid_request, "gateway_ref must be 1..256 bytes");
  }
  Found f = find_pending(c, cmd.withdrawal_id, WithdrawalStatus::completed);
  if (f.done) return f.early;
  State& s = c.s;
  Withdrawal& w = *f.w;
  const Account& a = s.accounts[w.account.value];
  move(s, pending_of(w.account), world_of(a.currency), w.amount);
  s.currencies[a.currency.value].withdrawals_completed_total += w.amount;
  w.status = WithdrawalStatus::completed;
  w.outcome_ref = cmd.gateway_ref;
  w.outcome_at = s.now;
  w.outcome_index = s.applied;
  w.outcome_fingerprint = c.fp;
  uint32_t ref = static_cast<uint32_t>(&w - s.withdrawals.data());
  c.emit(EventType::withdrawal_completed, ref);
  return accept(ref);
}

Outcome apply_fail_withdrawal(Ctx& c, const FailWithdrawal& cmd) {
  if (cmd.reason.size() > kTextBytesMax) return reject(Code::invalid_request, "reason is over 256 bytes");
  Found f = find_pending(c, cmd.withdrawal_id, WithdrawalStatus::failed);
  if (f.done) return f.early;
  State& s = c.s;
  Withdrawal& w = *f.w;
  pay_into_balance(s, pending_of(w.account), w.account, w.amount);
  w.status = WithdrawalStatus::failed;
  w.outcome_ref = cmd.reason;
  w.outcome_at = s.now;
  w.outcome_index = s.applied;
  w.outcome_fingerprint = c.fp;
  uint32_t ref = static_cast<uint32_t>(&w - s.withdrawals.data());
  c.emit(EventType::withdrawal_failed, ref);
  return accept(ref);
}

}  // namespace betcore::domain
