// Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/) from the real
// encoders: a small trading day of commands (accounts, deposits, an event,
// markets by hand and by feed, singles and a multiple, settlement and
// resettlement, withdrawals, a refusal) is sealed into batches the way a
// submitter seals them (anchors, actors), appended to a real file log and
// applied the way the applier applies them (chain, then commands). From that:
//   command_codec  each command's record, and runs of records
//   batch_codec    the batches as logged
//   snapshot       the state after each batch (encoded and sealed)
//   log_recovery   the log's segment file, whole, cut and damaged
//   http_request   the requests of docs/api.md, as a client sends them
//   json_request   the request bodies of docs/api.md
//
// Usage: make_seeds OUT_DIR (scripts/fuzz.sh --seeds runs it on fuzz/corpus).
// Deterministic: the same build writes the same files.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "codec/batch.h"
#include "codec/chain.h"
#include "codec/command_codec.h"
#include "codec/snapshot.h"
#include "domain/assert.h"
#include "domain/state_machine.h"
#include "log/file/file_log.h"

namespace {

namespace fs = std::filesystem;
using namespace betcore;
using namespace betcore::domain;

constexpr int64_t kT0 = 1'796'330'400'000;  // 2026-12-03T20:00:00Z
constexpr int64_t kMinuteMs = 60'000;

struct Seeds {
  fs::path root;
  int count = 0;
  void write(const std::string& target, const std::string& name, std::string_view bytes) {
    std::ofstream out(root / target / name, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    BETCORE_ASSERT_MSG(out.good(), "cannot write a seed file");
    ++count;
  }
};

CreateMarket market(std::string id, std::string event,
                    std::vector<std::pair<std::string, int64_t>> sels, std::string producer = "") {
  CreateMarket m;
  m.market_id = std::move(id);
  m.event_id = std::move(event);
  m.name = "Match odds";
  for (auto& [sel, odds] : sels) m.selections.push_back({sel, "Name of " + sel, Odds{odds}});
  m.producer_id = std::move(producer);
  return m;
}

LegSpec leg(std::string market_id, std::string sel, int64_t odds) {
  return LegSpec{std::move(market_id), std::move(sel), Odds{odds}};
}

// A batch of commands and who sent them (role, token id).
struct Step {
  std::vector<Command> commands;
  codec::Actor actor;
};

// Long: one trading day as data, in the order it happens.
std::vector<Step> trading_day() {
  const codec::Actor admin{"admin", "t-admin"};
  const codec::Actor trader{"trader", "t-trader"};
  const codec::Actor payments{"payments", "t-psp"};
  const codec::Actor user{"user", "t-alice"};
  const codec::Actor feed{"feed", "t-feed"};
  UpdatePrices px{"mk-1", {{"home", Odds{2200}, -1}, {"away", Odds{1750}, 0}}, "px-1"};
  FeedPrices fp{
      "mk-2", "live", kT0 + 3 * kMinuteMs, 7, {{"over", Odds{1910}, -1}, {"under", Odds{1950}, 1}}};
  SettleMarket settle{
      "mk-1", {{"home", LegResult::win}, {"away", LegResult::lose}}, false, "set-1"};
  SettleMarket resettle{
      "mk-1", {{"home", LegResult::lose}, {"away", LegResult::win}}, true, "set-2"};
  return {
      {{CreateAccount{"alice", "EUR", Amount{0}}, CreateAccount{"bob", "GBP", Amount{50'000}}},
       admin},
      {{Deposit{"dep-1", "alice", Amount{10'000}}, Deposit{"dep-2", "bob", Amount{4'000}}},
       payments},
      {{CreateEvent{"ev-1", "Home v Away", TimeMs{kT0 + 60 * kMinuteMs}}}, trader},
      {{market("mk-1", "ev-1", {{"home", 2100}, {"away", 1800}})}, trader},
      {{FeedAlive{"live", 5'000, false, kT0 + kMinuteMs},
        market("mk-2", "ev-1", {{"over", 1900}, {"under", 1900}}, "live")},
       feed},
      {{PlaceBet{"bet-1", "alice", Amount{500}, {leg("mk-1", "home", 2100)}, false}}, user},
      {{px, fp}, trader},
      {{PlaceBet{"bet-2",
                 "alice",
                 Amount{200},
                 {leg("mk-1", "away", 1750), leg("mk-2", "over", 1910)},
                 true},
        PlaceBet{"bet-3", "bob", Amount{1'000'000}, {leg("mk-1", "home", 2200)}, false}},
       user},
      {{ChangeMarketStatus{"mk-1", MarketAction::suspend, "goal", "st-1"},
        ChangeMarketStatus{"mk-1", MarketAction::resume, "", "st-2"}},
       trader},
      {{SetSelfExclusion{"bob", TimeMs{kT0 + 30LL * 24 * 60 * kMinuteMs}}}, user},
      {{ChangeMarketStatus{"mk-1", MarketAction::close, "full time", "st-3"}, settle}, trader},
      {{RequestWithdrawal{"w-1", "alice", Amount{2'000}},
        RequestWithdrawal{"w-2", "alice", Amount{100}}},
       user},
      {{CompleteWithdrawal{"w-1", "psp-77"}, FailWithdrawal{"w-2", "the bank said no"}}, payments},
      {{resettle}, trader},
  };
}

std::string record_of(const Command& c) {
  std::string out;
  codec::encode_command(c, out);
  return out;
}

// The log as a node writes it: each step a batch (anchors of the chain so
// far, one actor for its commands), appended, then applied.
struct Day {
  std::vector<std::string> batches;  // as appended, position i + 1
  std::vector<std::string> states;   // encoded state after each batch
  std::string segment;               // the file log's segment file
};

// Long: the submitter's and the applier's steps side by side, for one day.
Day run_day(const fs::path& scratch) {
  Day day;
  const std::string dir = (scratch / "log").string();
  fs::remove_all(dir);
  log::FileLog::Options options;
  options.fsync = false;
  auto opened = log::FileLog::open(dir, options);
  BETCORE_ASSERT_MSG(opened.ok(), "cannot open the scratch file log");
  log::FileLog& file_log = *opened.value();
  StateMachine machine;
  uint64_t anchored = 0;
  int64_t stamp = kT0;
  uint64_t seq = 1;
  for (const Step& step : trading_day()) {
    codec::BatchHeader header;
    header.node_id = "node-1";
    header.first_seq = seq;
    header.stamped_ms = stamp;
    header.anchors = codec::anchors_after(machine.state().audit, anchored);
    if (!header.anchors.empty()) anchored = header.anchors.back().position;
    header.actors = {step.actor};
    header.actor_of.assign(step.commands.size(), 0);
    std::vector<std::string> records;
    for (const Command& c : step.commands) records.push_back(record_of(c));
    const std::string bytes = codec::encode_batch(header, records);
    auto position = file_log.append(bytes);
    BETCORE_ASSERT_MSG(position.ok(), "the scratch file log refused an append");
    const codec::DecodedBatch decoded = codec::decode_batch(bytes);
    BETCORE_ASSERT(decoded.error == codec::BatchError::none);
    machine.begin_batch(LogIndex{position.value().value}, TimeMs{stamp});
    BETCORE_ASSERT(codec::chain_entry(machine, position.value().value, bytes, decoded).ok);
    for (const Command& c : decoded.commands) machine.apply(c);
    day.batches.push_back(bytes);
    day.states.push_back(codec::encode_state(machine.state()));
    stamp += kMinuteMs;
    seq += step.commands.size();
  }
  file_log.close();
  opened.value().reset();
  std::ifstream in(fs::path(dir) / "00000000000000000001.log", std::ios::binary);
  day.segment.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  fs::remove_all(dir);
  return day;
}

void codec_seeds(Seeds& seeds, const Day& day) {
  int n = 0;
  std::string all;
  for (const Step& step : trading_day()) {
    std::string run;
    for (const Command& c : step.commands) {
      const std::string r = record_of(c);
      seeds.write("command_codec", "record-" + std::to_string(++n) + ".bin", r);
      run += r;
    }
    all += run;
    if (step.commands.size() > 1)
      seeds.write("command_codec", "run-" + std::to_string(n) + ".bin", run);
  }
  seeds.write("command_codec", "run-day.bin", all);
  for (size_t i = 0; i < day.batches.size(); ++i) {
    seeds.write("batch_codec", "batch-" + std::to_string(i + 1) + ".bin", day.batches[i]);
  }
  // Version 1 (no anchors, no actors), an empty batch and a negative stamp.
  std::vector<std::string> records;
  for (const Step& step : trading_day()) {
    for (const Command& c : step.commands) records.push_back(record_of(c));
  }
  seeds.write("batch_codec", "v1-day.bin", codec::encode_batch({"node-2", 1, kT0}, records));
  seeds.write("batch_codec", "v1-empty.bin", codec::encode_batch({"n", 0, -1}, {}));
}

void snapshot_seeds(Seeds& seeds, const Day& day) {
  seeds.write("snapshot", "state-0.bin", codec::encode_state(State{}));
  for (size_t i = 0; i < day.states.size(); ++i) {
    const std::string name = "state-" + std::to_string(i + 1);
    seeds.write("snapshot", name + ".bin", day.states[i]);
    if (i % 3 == 2 || i + 1 == day.states.size()) {
      seeds.write("snapshot", name + ".bcs", codec::seal_snapshot(day.states[i], i + 1));
    }
  }
}

// The segment whole, after each record, cut inside records, with zeros as a
// crash leaves them, and with a damaged byte at the tail and in the middle.
void log_seeds(Seeds& seeds, const Day& day) {
  const std::string& seg = day.segment;
  seeds.write("log_recovery", "empty.log", "");
  seeds.write("log_recovery", "whole.log", seg);
  std::vector<size_t> ends;
  size_t offset = 0;
  for (const std::string& b : day.batches) {
    offset += log::file::kHeaderSize + b.size();
    ends.push_back(offset);
  }
  BETCORE_ASSERT_MSG(offset == seg.size(), "the segment is not the batches framed");
  for (size_t i = 0; i + 1 < ends.size(); i += 3) {
    seeds.write("log_recovery", "first-" + std::to_string(i + 1) + ".log", seg.substr(0, ends[i]));
  }
  const size_t last = ends[ends.size() - 2];  // where the last record starts
  seeds.write("log_recovery", "torn-header.log", seg.substr(0, last + 10));
  seeds.write("log_recovery", "torn-payload.log", seg.substr(0, seg.size() - 5));
  seeds.write("log_recovery", "zero-tail.log", seg + std::string(700, '\0'));
  std::string sector = seg.substr(0, last + 6);
  sector.resize((sector.size() / 512 + 2) * 512, '\0');
  seeds.write("log_recovery", "zeroed-sectors.log", sector);
  std::string tail = seg;
  tail[seg.size() - 3] ^= 0x10;
  seeds.write("log_recovery", "damaged-tail.log", tail);
  std::string length = seg;
  length[last + 4] ^= 0x01;
  seeds.write("log_recovery", "damaged-length.log", length);
  std::string middle = seg;
  middle[ends[2] + 30] ^= 0x40;
  seeds.write("log_recovery", "damaged-middle.log", middle);
  seeds.write("log_recovery", "garbage-tail.log",
              seg + "not a record at all, but more than a header");
}

// The request bodies of docs/api.md (its curl examples), and a few of the
// shapes its tables allow.
struct Body {
  const char* name;
  const char* method;
  const char* target;
  const char* token;
  const char* json;
};

// Long: a table of the documented requests.
const std::vector<Body>& documented() {
  static const std::vector<Body> bodies = {
      {"account", "POST", "/v1/accounts", "admin", R"({"account_id":"alice","currency":"EUR"})"},
      {"account-limit", "POST", "/v1/accounts", "admin",
       R"({"account_id":"bob","currency":"GBP","deposit_limit_24h":50000})"},
      {"self-exclusion", "POST", "/v1/accounts/alice/self-exclusion", "punter",
       R"({"until":"2027-06-01T00:00:00Z"})"},
      {"deposit", "POST", "/v1/deposits", "payments",
       R"({"payment_ref":"dep-1","account_id":"alice","amount":10000})"},
      {"withdrawal", "POST", "/v1/withdrawals", "punter",
       R"({"withdrawal_id":"w-1","account_id":"alice","amount":2000})"},
      {"complete", "POST", "/v1/withdrawals/w-1/complete", "payments",
       R"({"gateway_ref":"psp-77"})"},
      {"fail", "POST", "/v1/withdrawals/w-1/fail", "payments", R"({"reason":"account closed"})"},
      {"event", "POST", "/v1/events", "trader",
       R"({"event_id":"ev-1","name":"Home v Away","starts_at":"2026-12-01T20:00:00Z"})"},
      {"market", "POST", "/v1/markets", "trader",
       R"({"market_id":"mk-1","event_id":"ev-1","name":"Match odds","selections":[{"selection_id":"home","name":"Home","odds":"2.10"},{"selection_id":"away","name":"Away","odds":"1.80"}]})"},
      {"market-fed", "POST", "/v1/markets", "trader",
       R"({"market_id":"mk-2","event_id":"ev-1","name":"Total goals","producer":"live","min_stake":100,"max_stake":500000,"max_liability":10000000,"selections":[{"selection_id":"over","name":"Over 2.5","odds":"1.9"},{"selection_id":"under","name":"Under 2.5","odds":"1.95"}]})"},
      {"prices", "POST", "/v1/markets/mk-1/prices", "feed",
       R"({"request_id":"px-1","prices":[{"selection_id":"home","odds":"2.20"},{"selection_id":"away","odds":"1.75","active":false}]})"},
      {"suspend", "POST", "/v1/markets/mk-1/suspend", "feed",
       R"({"request_id":"st-1","reason":"goal"})"},
      {"close", "POST", "/v1/markets/mk-1/close", "trader", ""},
      {"settle", "POST", "/v1/markets/mk-1/settle", "trader",
       R"({"request_id":"set-1","results":[{"selection_id":"home","result":"win"},{"selection_id":"away","result":"lose"}]})"},
      {"resettle", "POST", "/v1/markets/mk-1/resettle", "trader",
       R"({"request_id":"set-2","results":[{"selection_id":"home","result":"lose"},{"selection_id":"away","result":"win"}]})"},
      {"void", "POST", "/v1/markets/mk-2/settle", "trader",
       R"({"results":[{"selection_id":"over","result":"void"},{"selection_id":"under","result":"void"}]})"},
      {"alive", "POST", "/v1/producers/live/alive", "feed",
       R"({"limit_ms":5000,"source_ts":1796369400120})"},
      {"alive-recovered", "POST", "/v1/producers/live/alive", "feed",
       R"({"limit_ms":60000,"recovered":true,"source_ts":1796369400999})"},
      {"feed-prices", "POST", "/v1/markets/mk-2/feed-prices", "feed",
       R"({"producer":"live","source_ts":1764833405120,"source_seq":88,"prices":[{"selection_id":"over","odds":"1.91"},{"selection_id":"under","odds":"1.95","active":true}]})"},
      {"feed-batch", "POST", "/v1/feed-prices", "feed",
       "{\"changes\":[\n  "
       "{\"market_id\":\"m-1-1\",\"producer\":\"live\",\"source_ts\":1764833405120,\"source_seq\":"
       "88,\n"
       "   "
       "\"prices\":[{\"selection_id\":\"home\",\"odds\":\"2.1\"},{\"selection_id\":\"away\","
       "\"odds\":\"1.75\"}]},\n"
       "  "
       "{\"market_id\":\"m-4-2\",\"producer\":\"live\",\"source_ts\":1764833405121,\"source_seq\":"
       "89,\n"
       "   \"prices\":[{\"selection_id\":\"over\",\"odds\":\"1.9\",\"active\":false}]}]}"},
      {"bet", "POST", "/v1/bets", "punter",
       R"({"bet_id":"bet-1","account_id":"alice","stake":500,"legs":[{"market_id":"mk-1","selection_id":"home","odds":"2.10"}]})"},
      {"bet-multiple", "POST", "/v1/bets", "punter",
       R"({"bet_id":"bet-2","account_id":"alice","stake":200,"accept_better_odds":true,"legs":[{"market_id":"mk-1","selection_id":"away","odds":"1.75"},{"market_id":"mk-2","selection_id":"over","odds":"1.9"}]})"},
      {"get-account", "GET", "/v1/accounts/alice", "admin", nullptr},
      {"get-bets", "GET", "/v1/accounts/alice/bets?status=open&limit=2", "punter", nullptr},
      {"get-bet", "GET", "/v1/bets/bet-1?account_id=alice", "punter", nullptr},
      {"get-deposits", "GET", "/v1/deposits?limit=2&after=dep-2", "payments", nullptr},
      {"get-withdrawals", "GET", "/v1/withdrawals?status=pending&limit=100", "payments", nullptr},
      {"get-log", "GET", "/v1/log?from=1&wait_ms=500", "backup", nullptr},
      {"stream", "GET", "/v1/stream?from=1", "feed", nullptr},
      {"head-ready", "HEAD", "/health/ready", nullptr, nullptr},
      {"metrics", "GET", "/metrics", nullptr, nullptr},
  };
  return bodies;
}

std::string http_request(const Body& b, const std::string& extra_headers = "") {
  std::string r = std::string(b.method) + " " + b.target + " HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n";
  r += "User-Agent: curl/7.88.1\r\nAccept: */*\r\n";
  if (b.token != nullptr)
    r += std::string("Authorization: Bearer ") + b.token + "-0123456789abcdef\r\n";
  r += extra_headers;
  if (b.json != nullptr) {
    r += "Content-Type: application/x-www-form-urlencoded\r\n";
    r += "Content-Length: " + std::to_string(std::string_view(b.json).size()) + "\r\n\r\n";
    r += b.json;
  } else {
    r += "\r\n";
  }
  return r;
}

// The same body sent chunked, in two chunks.
std::string chunked(const Body& b) {
  const std::string_view json = b.json;
  const size_t half = json.size() / 2;
  std::string r = std::string(b.method) + " " + b.target + " HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n";
  r += "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", half);
  r += size + std::string(json.substr(0, half)) + "\r\n";
  std::snprintf(size, sizeof size, "%zx\r\n", json.size() - half);
  r += size + std::string(json.substr(half)) + "\r\n0\r\n\r\n";
  return r;
}

const Body& documented(std::string_view name) {
  for (const Body& b : documented()) {
    if (name == b.name) return b;
  }
  BETCORE_ASSERT_MSG(false, "no such documented request");
}

void api_seeds(Seeds& seeds) {
  for (const Body& b : documented()) {
    if (b.json != nullptr && *b.json != '\0')
      seeds.write("json_request", std::string(b.name) + ".json", b.json);
    seeds.write("http_request", std::string(b.name) + ".http", http_request(b));
  }
  seeds.write("http_request", "chunked-bet.http", chunked(documented("bet")));
  seeds.write("http_request", "expect-continue.http",
              http_request(documented("deposit"), "Expect: 100-continue\r\n"));
  seeds.write("http_request", "forwarded.http",
              http_request(documented("bet"),
                           "X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-For: 10.0.0.2\r\n"));
  seeds.write("http_request", "idempotency.http",
              http_request(documented("deposit"),
                           "Idempotency-Key: 6f1c-22\r\nGateway-Signature: t=1,v1=ab12\r\n"));
  seeds.write("http_request", "pipelined.http",
              http_request(documented("get-account")) + http_request(documented("bet")));
  std::string v10 = http_request(documented("get-account"));
  v10.replace(v10.find("HTTP/1.1"), 8, "HTTP/1.0");
  seeds.write("http_request", "http10-keep-alive.http",
              v10.insert(v10.size() - 2, "Connection: keep-alive\r\n"));
  seeds.write(
      "http_request", "percent-query.http",
      http_request({"q", "GET", "/v1/bets/bet-1?%61ccount_id=al%69ce&x=a+b", "punter", nullptr}));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR (writes OUT_DIR/<target>/)\n", argv[0]);
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);
  Seeds seeds{argv[1]};
  for (const char* t : {"http_request", "json_request", "command_codec", "batch_codec", "snapshot",
                        "log_recovery"}) {
    fs::remove_all(seeds.root / t);
    fs::create_directories(seeds.root / t);
  }
  const fs::path scratch =
      fs::temp_directory_path() / ("betcore-make-seeds-" + std::to_string(getpid()));
  const Day day = run_day(scratch);
  fs::remove_all(scratch);
  codec_seeds(seeds, day);
  snapshot_seeds(seeds, day);
  log_seeds(seeds, day);
  api_seeds(seeds);
  std::printf("make_seeds: wrote %d files under %s\n", seeds.count, argv[1]);
  return 0;
}
