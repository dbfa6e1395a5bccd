#include "tools/bench_setup.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

namespace betcore::tools {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string error_code_of(const Response& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object() &&
      j["error"].contains("code") && j["error"]["code"].is_string()) {
    return j["error"]["code"].get<std::string>();
  }
  return {};
}

std::string error_message_of(const Response& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object() &&
      j["error"].contains("message") && j["error"]["message"].is_string()) {
    return j["error"]["message"].get<std::string>();
  }
  return r.body.substr(0, 200);
}

std::string targets_text(const std::vector<Url>& targets) {
  std::string out;
  for (const auto& t : targets) out += (out.empty() ? "" : ", ") + t.origin();
  return out;
}

// One setup write: what it is, for messages.
struct Write {
  std::string_view path;
  std::string_view role;  // whose token it uses
  std::string id;
  std::string body;
  const std::string* token;
  // 409 means "made by an earlier run with this run id": fine. Only for the
  // event, whose starts_at differs from run to run; every other setup body is
  // the same for the same flags, so a re-run replays it (API.md: exactly once).
  bool exists_is_ok = false;
};

// A blocking client over all targets that fails over on transport errors and
// 503, and retries 429/503/504 with the same body (the id makes it safe).
class SetupClient {
 public:
  SetupClient(const std::vector<Url>& targets, size_t first, const SetupOptions& options)
      : targets_(targets), current_(first % targets.size()), options_(options) {
    HttpClientOptions http;
    http.request_timeout_ms = options.timeout_ms;
    for (const auto& t : targets_) clients_.push_back(std::make_unique<HttpClient>(t, http));
  }

  // The final answer: 2xx, a refusal, or the last failure after all attempts.
  Response write(const Write& w) {
    Response r;
    for (int attempt = 0; attempt < options_.attempts_max; ++attempt) {
      r = clients_[current_]->post(targets_[current_].path + std::string(w.path), w.body, *w.token);
      bool transient = r.status == 0 || r.status == 429 || r.status == 503 || r.status == 504;
      if (!transient) return r;
      if (r.status == 0 || r.status == 503) current_ = (current_ + 1) % clients_.size();
      int pause_ms = std::min(options_.backoff_ms_max, 20 << std::min(attempt, 10));
      std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
    }
    return r;
  }

 private:
  const std::vector<Url>& targets_;
  std::vector<std::unique_ptr<HttpClient>> clients_;
  size_t current_;
  SetupOptions options_;
};

// "" if `r` is a success, else what went wrong and what to do about it.
std::string explain_failure(const Write& w, const Response& r, const std::vector<Url>& targets) {
  std::string what = fmt::format("POST {} ({})", w.path, w.id);
  if (r.ok()) return {};
  if (r.status == 0) {
    return fmt::format(
        "{} failed: {}.\nIs a node listening on {}? Start one with `betcore node --data DIR "
        "--listen HOST:PORT --tokens FILE` and pass --target http://HOST:PORT.",
        what, r.error, targets_text(targets));
  }
  std::string code = error_code_of(r);
  std::string head =
      fmt::format("{} answered {} {}: {}", what, r.status, code, error_message_of(r));
  if (r.status == 401 || r.status == 403) {
    return fmt::format(
        "{}\nCheck the {} token: pass the node's tokens file with --tokens FILE, or "
        "--token {}=TOKEN.",
        head, w.role, w.role);
  }
  if (r.status == 409) {
    return head +
           "\nThe id exists with a different body (a reused --run-id with other flags?). "
           "Omit --run-id or pass a fresh one.";
  }
  if (code == "deposit_limit_exceeded") {
    return head + "\nEach account gets one deposit of --deposit cents; pass a smaller --deposit.";
  }
  if (r.status == 429 || r.status == 503 || r.status == 504) {
    return head + fmt::format("\nThe node stayed unavailable; is {} healthy (GET /health/ready)?",
                              targets_text(targets));
  }
  return head;
}

class Setup {
 public:
  Setup(const BenchPlan& plan, const std::vector<Url>& targets, const BenchTokens& tokens,
        const SetupOptions& options, std::ostream& progress)
      : plan_(plan), targets_(targets), tokens_(tokens), options_(options), progress_(progress) {
    int n = std::max(1, options.connections);
    for (int i = 0; i < n; ++i) {
      clients_.push_back(std::make_unique<SetupClient>(targets, static_cast<size_t>(i), options));
    }
  }

  SetupResult run() {
    auto start = Clock::now();
    SetupResult result;
    std::string starts_at = rfc3339_utc_from_now(24 * 3600);
    bool ok = phase("event", 1, [&](SetupClient& c, size_t) {
      return do_write(c, {"/v1/events", "trader", plan_.event_id, event_body(plan_, starts_at),
                          &tokens_.trader, /*exists_is_ok=*/true});
    });
    ok = ok && phase("markets", plan_.markets.size(), [&](SetupClient& c, size_t i) {
           return do_write(c, {"/v1/markets", "trader", plan_.markets[i].id, market_body(plan_, i),
                               &tokens_.trader});
         });
    ok = ok &&
         phase("accounts and deposits", plan_.account_ids.size(), [&](SetupClient& c, size_t i) {
           std::string e = do_write(c, {"/v1/accounts", "admin", plan_.account_ids[i],
                                        account_body(plan_, i), &tokens_.admin});
           if (!e.empty()) return e;
           return do_write(c, {"/v1/deposits", "payments", deposit_ref(plan_, i),
                               deposit_body(plan_, i), &tokens_.payments});
         });
    result.ok = ok;
    result.error = first_error_;
    result.writes = writes_.load();
    result.seconds = seconds_since(start);
    return result;
  }

 private:
  using Job = std::function<std::string(SetupClient&, size_t)>;

  std::string do_write(SetupClient& c, const Write& w) {
    Response r = c.write(w);
    if (r.ok()) ++writes_;
    if (r.status == 409 && w.exists_is_ok) {
      std::lock_guard lock(mu_);
      progress_ << fmt::format("setup: {} exists (run id reused); using it\n", w.id) << std::flush;
      return {};
    }
    return explain_failure(w, r, targets_);
  }

  // Runs job(i) for i in [0, n) on up to `clients_.size()` threads; false
  // after the first failure (the other threads stop taking new work).
  bool phase(std::string_view name, size_t n, const Job& job) {
    auto start = Clock::now();
    std::atomic<size_t> next{0};
    std::atomic<size_t> done{0};
    std::atomic<bool> failed{false};
    size_t threads = std::min(n, clients_.size());
    std::vector<std::thread> workers;
    for (size_t t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        for (size_t i = next++; i < n && !failed; i = next++) {
          std::string error = job(*clients_[t], i);
          if (!error.empty()) {
            std::lock_guard lock(mu_);
            if (first_error_.empty()) first_error_ = error;
            failed = true;
          }
          ++done;
        }
      });
    }
    auto last_print = Clock::now();
    while (done < n && !failed) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (Clock::now() - last_print >= std::chrono::seconds(1)) {
        progress_ << fmt::format("setup: {} {}/{}\n", name, done.load(), n) << std::flush;
        last_print = Clock::now();
      }
    }
    for (auto& w : workers) w.join();
    if (failed) return false;
    progress_ << fmt::format("setup: {} {}/{} in {:.1f} s\n", name, n, n, seconds_since(start))
              << std::flush;
    return true;
  }

  const BenchPlan& plan_;
  const std::vector<Url>& targets_;
  const BenchTokens& tokens_;
  SetupOptions options_;
  std::ostream& progress_;
  std::vector<std::unique_ptr<SetupClient>> clients_;
  std::atomic<uint64_t> writes_{0};
  std::mutex mu_;
  std::string first_error_;  // guarded by mu_
};

}  // namespace

SetupResult run_setup(const BenchPlan& plan, const std::vector<Url>& targets,
                      const BenchTokens& tokens, const SetupOptions& options,
                      std::ostream& progress) {
  if (targets.empty()) return SetupResult{false, "no --target given", 0, 0};
  return Setup(plan, targets, tokens, options, progress).run();
}

}  // namespace betcore::tools
