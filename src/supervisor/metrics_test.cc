// supervisor/metrics_test.cc — the Prometheus text and the minimal HTTP request parser.
#include "supervisor/metrics.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.h"
#include "net/endpoint.h"
#include "supervisor/metrics_listener.h"

namespace mailsift::supervisor {
namespace {

using Totals = std::map<std::string, long long>;

// --- a checker for the text exposition format (version 0.0.4) ---------------------------------

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  std::string value;
};

// Checks `text` as Prometheus would parse it, plus the rules for counters and histograms.
// Returns "" when it is valid, else the first problem.
std::string CheckExposition(const std::string& text, std::vector<Sample>* samples_out = nullptr) {
  static const std::regex kSample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ([-+]?(?:[0-9]+(?:\.[0-9]*)?(?:e[-+]?[0-9]+)?|Inf)|NaN)$)");
  static const std::regex kLabel(R"re(^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$))re");
  static const std::regex kComment(R"(^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$)");
  if (text.empty() || text.back() != '\n') return "the text must end with a line feed";
  std::map<std::string, std::string> types;  // family → type
  std::set<std::string> helped, finished;
  std::string current;  // the family whose samples come now
  std::vector<Sample> samples;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (line.starts_with("#")) {
      if (!std::regex_match(line, m, kComment)) return "bad comment line: " + line;
      std::string family = m[2];
      if (m[1] == "HELP") {
        if (!helped.insert(family).second) return "second HELP for " + family;
        continue;
      }
      if (types.contains(family)) return "second TYPE for " + family;
      std::string type = m[3];
      if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary" &&
          type != "untyped") {
        return "bad type " + type;
      }
      types[family] = type;
      if (!current.empty()) finished.insert(current);
      current = family;
      continue;
    }
    if (!std::regex_match(line, m, kSample)) return "bad sample line: " + line;
    Sample sample{m[1], {}, m[4]};
    std::string labels = m[3];
    while (!labels.empty()) {
      std::smatch l;
      if (!std::regex_search(labels, l, kLabel)) return "bad labels in: " + line;
      if (!sample.labels.emplace(l[1], l[2]).second) return "repeated label in: " + line;
      labels = l.suffix();
    }
    std::string family = sample.name;
    for (std::string suffix : {"_bucket", "_sum", "_count"}) {
      std::string base = family.substr(0, family.size() - std::min(family.size(), suffix.size()));
      if (family.ends_with(suffix) && types.contains(base) && types[base] == "histogram") {
        family = base;
      }
    }
    if (!types.contains(family)) return "sample before its TYPE: " + line;
    if (family != current || finished.contains(family)) return "family not contiguous: " + line;
    if (types[family] == "counter" && !family.ends_with("_total")) {
      return "a counter without _total: " + family;
    }
    samples.push_back(sample);
  }
  // Histograms: per family and label set (le aside), buckets ascending, cumulative, ending in
  // +Inf, which equals _count.
  std::map<std::string, std::vector<std::pair<std::string, double>>> buckets;
  std::map<std::string, double> counts;
  for (const auto& s : samples) {
    std::string key;
    for (const auto& [k, v] : s.labels) {
      if (k != "le") key += k + "=" + v + ",";
    }
    if (s.name.ends_with("_bucket")) {
      if (!s.labels.contains("le")) return "a bucket without le";
      key = s.name.substr(0, s.name.size() - 7) + "{" + key;
      buckets[key].emplace_back(s.labels.at("le"), std::stod(s.value));
    } else if (s.name.ends_with("_count") && types.contains(s.name.substr(0, s.name.size() - 6))) {
      counts[s.name.substr(0, s.name.size() - 6) + "{" + key] = std::stod(s.value);
    }
  }
  for (const auto& [key, list] : buckets) {
    double previous_le = -1, previous = 0;
    for (const auto& [le, value] : list) {
      double bound = le == "+Inf" ? 1e300 : std::stod(le);
      if (bound <= previous_le) return "buckets not ascending in " + key;
      if (value < previous) return "buckets not cumulative in " + key;
      previous_le = bound;
      previous = value;
    }
    if (list.empty() || list.back().first != "+Inf") return "no +Inf bucket last in " + key;
    if (!counts.contains(key) || counts[key] != list.back().second) {
      return "+Inf bucket differs from _count in " + key;
    }
  }
  if (samples_out) *samples_out = samples;
  return "";
}

std::string Find(const std::vector<Sample>& samples, const std::string& name,
                 const std::map<std::string, std::string>& labels = {}) {
  for (const auto& s : samples) {
    if (s.name == name && s.labels == labels) return s.value;
  }
  return "(none)";
}

TEST(CheckExposition, CatchesMistakes) {
  const std::string type = "# TYPE h histogram\n";
  EXPECT_EQ(CheckExposition("# TYPE a_total counter\na_total 1\n"), "");
  EXPECT_NE(CheckExposition("a_total 1\n# TYPE a_total counter\n"), "");         // TYPE after
  EXPECT_NE(CheckExposition("# TYPE a counter\na 1\n"), "");                     // no _total
  EXPECT_NE(CheckExposition("# TYPE a gauge\na{x=\"1} 1\n"), "");                // bad labels
  EXPECT_NE(CheckExposition("# TYPE a gauge\na 1\n# TYPE b gauge\na 2\n"), "");  // split
  EXPECT_EQ(CheckExposition(type + "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
                                   "h_sum 3\nh_count 2\n"),
            "");
  EXPECT_NE(CheckExposition(type + "h_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\n"
                                   "h_sum 3\nh_count 2\n"),
            "");  // not cumulative
  EXPECT_NE(CheckExposition(type + "h_bucket{le=\"1\"} 1\nh_sum 3\nh_count 1\n"), "");  // no +Inf
  EXPECT_NE(CheckExposition(type + "h_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 3\n"), "");
}

// --- rendering --------------------------------------------------------------------------------

TEST(RenderMetrics, ExactTextForASmallInput) {
  Totals totals = {{"active", 1},
                   {"sessions", 5},
                   {"relayed", 3},
                   {"tempfailed", 1},
                   {"rejected", 1},
                   {"spam", 1},
                   {"verdict.CLEAN.pass", 3},
                   {"verdict.SPAM.reject", 1},
                   {"check_time.spam.0.005", 3},
                   {"check_time.spam.0.001", 1},
                   {"check_time.spam.+Inf", 4},
                   {"check_time_us.spam", 7500},
                   {"check_count.spam", 4},
                   {"relay_errors", 1},
                   {"some_future_key", 9}};
  SupervisorFacts facts;
  facts.generations_serving = 1;
  facts.generations_draining = 1;
  facts.reloads_ok = 2;
  facts.reloads_failed = 1;
  EXPECT_EQ(
      RenderMetrics(totals, facts),
      R"(# HELP mailsift_messages_total Scanned messages by content category and the action taken.
# TYPE mailsift_messages_total counter
mailsift_messages_total{category="CLEAN",action="pass"} 3
mailsift_messages_total{category="SPAM",action="reject"} 1
# HELP mailsift_messages_relayed_total Messages the next hop accepted.
# TYPE mailsift_messages_relayed_total counter
mailsift_messages_relayed_total 3
# HELP mailsift_messages_tempfailed_total Messages answered with a 4xx reply (the MTA keeps them).
# TYPE mailsift_messages_tempfailed_total counter
mailsift_messages_tempfailed_total 1
# HELP mailsift_messages_rejected_total Messages answered with a 5xx reply.
# TYPE mailsift_messages_rejected_total counter
mailsift_messages_rejected_total 1
# HELP mailsift_messages_spam_total Messages the spam check found SPAM or SPAMMY.
# TYPE mailsift_messages_spam_total counter
mailsift_messages_spam_total 1
# HELP mailsift_sessions_total SMTP and LMTP sessions accepted.
# TYPE mailsift_sessions_total counter
mailsift_sessions_total 5
# HELP mailsift_sessions_active SMTP and LMTP sessions open now.
# TYPE mailsift_sessions_active gauge
mailsift_sessions_active 1
# HELP mailsift_check_duration_seconds Time each content check took per message.
# TYPE mailsift_check_duration_seconds histogram
mailsift_check_duration_seconds_bucket{check="spam",le="0.001"} 1
mailsift_check_duration_seconds_bucket{check="spam",le="0.005"} 3
mailsift_check_duration_seconds_bucket{check="spam",le="+Inf"} 4
mailsift_check_duration_seconds_sum{check="spam"} 0.0075
mailsift_check_duration_seconds_count{check="spam"} 4
# HELP mailsift_relay_errors_total Next-hop trouble: unreachable, timing out, connection lost or a 4xx reply.
# TYPE mailsift_relay_errors_total counter
mailsift_relay_errors_total 1
# HELP mailsift_relay_closed_at_end_total Next-hop connections closed or reset while we waited for its end-of-data reply (also counted as relay errors; the message was tempfailed).
# TYPE mailsift_relay_closed_at_end_total counter
mailsift_relay_closed_at_end_total 0
# HELP mailsift_slow_clients_total Sessions closed with 421 for a command line or message data slower than timeouts.command_line or limits.min_data_rate allow.
# TYPE mailsift_slow_clients_total counter
mailsift_slow_clients_total 0
# HELP mailsift_clamd_errors_total clamd unreachable, timing out or answering with an error.
# TYPE mailsift_clamd_errors_total counter
mailsift_clamd_errors_total 0
# HELP mailsift_regex_limit_hits_total Rule regular expressions stopped by their match limit.
# TYPE mailsift_regex_limit_hits_total counter
mailsift_regex_limit_hits_total 0
# HELP mailsift_scan_timeouts_total Scans that missed the message deadline (the message was tempfailed).
# TYPE mailsift_scan_timeouts_total counter
mailsift_scan_timeouts_total 0
# HELP mailsift_quarantined_total Messages kept in the quarantine.
# TYPE mailsift_quarantined_total counter
mailsift_quarantined_total 0
# HELP mailsift_quarantine_errors_total Messages that could not be quarantined (they were tempfailed).
# TYPE mailsift_quarantine_errors_total counter
mailsift_quarantine_errors_total 0
# HELP mailsift_generations Filter generations by state.
# TYPE mailsift_generations gauge
mailsift_generations{state="starting"} 0
mailsift_generations{state="serving"} 1
mailsift_generations{state="draining"} 1
# HELP mailsift_reloads_total Reloads since the supervisor started, by result.
# TYPE mailsift_reloads_total counter
mailsift_reloads_total{result="ok"} 2
mailsift_reloads_total{result="failed"} 1
# HELP mailsift_generation_crashes_total Serving generations that exited unasked (each was replaced).
# TYPE mailsift_generation_crashes_total counter
mailsift_generation_crashes_total 0
# HELP mailsift_up 1 while the mailsift supervisor answers.
# TYPE mailsift_up gauge
mailsift_up 1
)");
}

TEST(RenderMetrics, NothingYetIsStillValidText) {
  std::vector<Sample> samples;
  EXPECT_EQ(CheckExposition(RenderMetrics({}, {}), &samples), "");
  EXPECT_EQ(Find(samples, "mailsift_up"), "1");
  EXPECT_EQ(Find(samples, "mailsift_messages_relayed_total"), "0");
  EXPECT_EQ(Find(samples, "mailsift_generations", {{"state", "serving"}}), "0");
}

// What a generation reports after real traffic (filter::Server::StatusFields), every bucket bound.
Totals Realistic() {
  Totals totals = {{"active", 2},
                   {"sessions", 120},
                   {"relayed", 100},
                   {"tempfailed", 3},
                   {"rejected", 2},
                   {"spam", 7},
                   {"scan_timeouts", 1},
                   {"regex_limit_hits", 4},
                   {"relay_errors", 3},
                   {"clamd_errors", 2},
                   {"quarantined", 5},
                   {"quarantine_errors", 0},
                   {"verdict.CLEAN.pass", 90},
                   {"verdict.BAD-HEADER.pass", 3},
                   {"verdict.VIRUS.discard", 2},
                   {"verdict.SPAMMY.pass", 5}};
  const char* bounds[] = {"0.001", "0.002", "0.005", "0.01", "0.02", "0.05", "0.1",
                          "0.2",   "0.5",   "1",     "2",    "5",    "+Inf"};
  for (std::string check : {"spam", "virus", "banned", "bad_header"}) {
    long long cumulative = 0;
    for (const char* bound : bounds) {
      cumulative += 7;
      totals["check_time." + check + "." + bound] = cumulative;
    }
    totals["check_time_us." + check] = 1234567;
    totals["check_count." + check] = cumulative;
  }
  return totals;
}

TEST(RenderMetrics, ParsesAsPrometheusText) {
  SupervisorFacts facts{0, 1, 0, 3, 1, 1};
  std::vector<Sample> samples;
  ASSERT_EQ(CheckExposition(RenderMetrics(Realistic(), facts), &samples), "");
  EXPECT_EQ(
      Find(samples, "mailsift_messages_total", {{"category", "BAD-HEADER"}, {"action", "pass"}}),
      "3");
  EXPECT_EQ(
      Find(samples, "mailsift_check_duration_seconds_bucket", {{"check", "virus"}, {"le", "1"}}),
      "70");
  EXPECT_EQ(Find(samples, "mailsift_check_duration_seconds_count", {{"check", "virus"}}), "91");
  EXPECT_EQ(Find(samples, "mailsift_check_duration_seconds_sum", {{"check", "banned"}}),
            "1.234567");
  EXPECT_EQ(Find(samples, "mailsift_reloads_total", {{"result", "ok"}}), "3");
  EXPECT_EQ(Find(samples, "mailsift_generation_crashes_total"), "1");
  EXPECT_EQ(Find(samples, "mailsift_sessions_active"), "2");
  EXPECT_EQ(Find(samples, "mailsift_clamd_errors_total"), "2");
}

TEST(RenderMetrics, InconsistentInputStillGivesAValidHistogram) {
  // Buckets out of order and not cumulative, no +Inf, a count below the buckets, a bound that
  // is not a number, a label value that needs escaping.
  Totals totals = {{"check_time.spam.0.5", 2},  {"check_time.spam.0.1", 5},
                   {"check_time.spam.x", 9},    {"check_count.spam", 1},
                   {"check_time.we\"ird.1", 1}, {"verdict.A\\B.pass", 1},
                   {"verdict.bad", 1}};
  std::vector<Sample> samples;
  std::string text = RenderMetrics(totals, {});
  ASSERT_EQ(CheckExposition(text, &samples), "") << text;
  EXPECT_EQ(
      Find(samples, "mailsift_check_duration_seconds_bucket", {{"check", "spam"}, {"le", "0.5"}}),
      "5");
  EXPECT_EQ(Find(samples, "mailsift_check_duration_seconds_count", {{"check", "spam"}}), "5");
  EXPECT_NE(text.find(R"(check="we\"ird")"), std::string::npos);
  EXPECT_NE(text.find(R"(category="A\\B")"), std::string::npos);
}

// --- HTTP -------------------------------------------------------------------------------------

TEST(MetricsHttp, RequestHeadEndsAtAnEmptyLine) {
  EXPECT_FALSE(RequestHeadComplete(""));
  EXPECT_FALSE(RequestHeadComplete("GET /metrics HTTP/1.1\r\nHost: x\r\n"));
  EXPECT_TRUE(RequestHeadComplete("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(RequestHeadComplete("GET /metrics HTTP/1.0\n\n"));
  EXPECT_TRUE(RequestHeadComplete(std::string(kMaxRequestHead + 1, 'x')));
}

TEST(MetricsHttp, Answers) {
  int renders = 0;
  auto render = [&] {
    ++renders;
    return std::string("mailsift_up 1\n");
  };
  std::string ok = AnswerMetricsRequest(
      "GET /metrics HTTP/1.1\r\nHost: localhost:9985\r\nAccept: */*\r\n\r\n", render);
  EXPECT_EQ(ok,
            "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            "Content-Length: 14\r\nConnection: close\r\n\r\nmailsift_up 1\n");
  EXPECT_TRUE(AnswerMetricsRequest("GET /metrics?x=1 HTTP/1.0\n\n", render)
                  .starts_with("HTTP/1.0 200 OK\r\n"));
  EXPECT_TRUE(AnswerMetricsRequest("GET http://h:1/metrics HTTP/1.1\r\n\r\n", render)
                  .starts_with("HTTP/1.0 200 OK\r\n"));
  std::string head = AnswerMetricsRequest("HEAD /metrics HTTP/1.1\r\n\r\n", render);
  EXPECT_TRUE(head.starts_with("HTTP/1.0 200 OK\r\n"));
  EXPECT_TRUE(head.ends_with("Content-Length: 14\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(renders, 4);

  EXPECT_TRUE(AnswerMetricsRequest("GET / HTTP/1.1\r\n\r\n", render)
                  .starts_with("HTTP/1.0 404 Not Found\r\n"));
  EXPECT_TRUE(AnswerMetricsRequest("GET /metricsx HTTP/1.1\r\n\r\n", render)
                  .starts_with("HTTP/1.0 404 Not Found\r\n"));
  std::string post = AnswerMetricsRequest("POST /metrics HTTP/1.1\r\n\r\n", render);
  EXPECT_TRUE(post.starts_with("HTTP/1.0 405 Method Not Allowed\r\n"));
  EXPECT_NE(post.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos);
  for (std::string bad :
       std::vector<std::string>{"GET /metrics\r\n\r\n", "\r\n\r\n", "GET /metrics SMTP/1.0\r\n\r\n",
                                "GET  /metrics HTTP/1.1 extra\r\n\r\n",
                                "GET /metrics HTTP/1.1\r\n" + std::string(kMaxRequestHead, 'x')}) {
    EXPECT_TRUE(AnswerMetricsRequest(bad, render).starts_with("HTTP/1.0 400 Bad Request\r\n"))
        << bad;
  }
  EXPECT_EQ(renders, 4) << "render runs only for GET or HEAD of /metrics";
}

// --- the listener -----------------------------------------------------------------------------

class MetricsListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    net::Endpoint any{net::Endpoint::Kind::kInet, "127.0.0.1", 0, ""};
    auto fd = net::OpenListener(any, 16);
    ASSERT_TRUE(fd) << fd.error().message;
    sockaddr_in bound{};
    socklen_t size = sizeof bound;
    ::getsockname(*fd, reinterpret_cast<sockaddr*>(&bound), &size);
    port_ = ntohs(bound.sin_port);
    listener_.Listen(*fd, any);
  }
  void TearDown() override {
    for (int fd : clients_) ::close(fd);
  }

  int Connect() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port_);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
    clients_.push_back(fd);
    return fd;
  }

  // One round of the supervisor's loop.
  void Round(int timeout_ms = 20) {
    std::vector<pollfd> fds;
    listener_.AddPollFds(fds);
    ::poll(fds.data(), fds.size(), timeout_ms);
    listener_.OnPoll(fds);
  }

  // Reads until the peer closes, running the loop meanwhile; "" if it did not within `rounds`.
  std::string ReadAll(int fd, int rounds = 100) {
    std::string got;
    for (int i = 0; i < rounds; ++i) {
      Round();
      char chunk[4096];
      ssize_t n;
      while ((n = ::recv(fd, chunk, sizeof chunk, MSG_DONTWAIT)) > 0) {
        got.append(chunk, static_cast<size_t>(n));
      }
      if (n == 0) return got;
    }
    return "";
  }

  int renders_ = 0;
  MetricsListener listener_{[this] {
    ++renders_;
    return std::string("mailsift_up 1\n");
  }};
  uint16_t port_ = 0;
  std::vector<int> clients_;
};

TEST_F(MetricsListenerTest, ASilentClientDoesNotHoldUpAScrape) {
  int silent = Connect();
  int partial = Connect();
  ASSERT_EQ(::send(partial, "GET /metr", 9, 0), 9);
  Round();
  Round();
  auto start = std::chrono::steady_clock::now();
  int scraper = Connect();
  const char request[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(scraper, request, sizeof request - 1, 0),
            static_cast<ssize_t>(sizeof request - 1));
  std::string answer = ReadAll(scraper);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
  EXPECT_TRUE(answer.starts_with("HTTP/1.0 200 OK\r\n")) << answer;
  EXPECT_TRUE(answer.ends_with("\r\n\r\nmailsift_up 1\n")) << answer;
  EXPECT_EQ(renders_, 1);
  // The silent and the partial one are closed at their deadline, unanswered.
  EXPECT_EQ(listener_.connections(), 2u);
  EXPECT_LE(listener_.NextDeadline(),
            std::chrono::steady_clock::now() + MetricsListener::kRequestTimeout);
  EXPECT_EQ(ReadAll(silent, 200), "");
  EXPECT_EQ(ReadAll(partial, 10), "");
  EXPECT_EQ(listener_.connections(), 0u);
}

TEST_F(MetricsListenerTest, ScrapesThatArriveTogetherRenderOnce) {
  std::vector<int> scrapers;
  const char request[] = "GET /metrics HTTP/1.0\r\n\r\n";
  for (int i = 0; i < 3; ++i) scrapers.push_back(Connect());
  Round();  // accept all three
  for (int fd : scrapers) ::send(fd, request, sizeof request - 1, 0);
  for (int fd : scrapers) EXPECT_TRUE(ReadAll(fd).starts_with("HTTP/1.0 200 OK\r\n"));
  EXPECT_EQ(renders_, 1);
}

TEST_F(MetricsListenerTest, TooManyConnectionsCloseTheOldest) {
  int oldest = Connect();
  Round();
  for (size_t i = 0; i < MetricsListener::kMaxConnections; ++i) Connect();
  for (int i = 0; i < 5; ++i) Round();
  EXPECT_EQ(listener_.connections(), MetricsListener::kMaxConnections);
  char c;
  EXPECT_EQ(::recv(oldest, &c, 1, MSG_DONTWAIT), 0) << "closed";
}

TEST_F(MetricsListenerTest, CloseEndsEverything) {
  Connect();
  Round();
  EXPECT_EQ(listener_.connections(), 1u);
  listener_.Close();
  EXPECT_EQ(listener_.fd(), -1);
  EXPECT_EQ(listener_.connections(), 0u);
}

// --- [metrics] in the config ------------------------------------------------------------------

TEST(MetricsConfig, OffByDefault) {
  auto config = config::ParseConfig("", "t.toml");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->metrics.address, "");
}

TEST(MetricsConfig, ReadsTheAddress) {
  auto config = config::ParseConfig("[metrics]\naddress = \"[::1]:9985\"\n", "t.toml");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->metrics.endpoint.ToString(), "[::1]:9985");
}

TEST(MetricsConfig, ProblemsNameTheKey) {
  for (std::string text :
       {"[metrics]\naddress = \"unix:/run/m.sock\"\n", "[metrics]\naddress = \"9985\"\n",
        "[metrics]\naddress = 9985\n", "[metrics]\nadress = \"127.0.0.1:9985\"\n",
        "[[listen]]\naddress = \"127.0.0.1:9985\"\n[metrics]\naddress = \"127.0.0.1:9985\"\n"}) {
    auto config = config::ParseConfig(text, "t.toml");
    ASSERT_FALSE(config) << text;
    ASSERT_FALSE(config.error().items.empty());
    EXPECT_TRUE(config.error().items[0].starts_with("metrics.")) << config.error().items[0];
  }
}

}  // namespace
}  // namespace mailsift::supervisor
