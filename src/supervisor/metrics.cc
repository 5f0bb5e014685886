// supervisor/metrics.cc — see metrics.h.
#include "supervisor/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <span>
#include <vector>

#include "base/strings.h"

namespace mailsift::supervisor {
namespace {

using Totals = std::map<std::string, long long>;

void Declare(std::string& out, std::string_view name, std::string_view type,
             std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

// A label value as the text format writes it: backslash, double quote and line feed escaped.
std::string LabelValue(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

long long Value(const Totals& totals, const std::string& key) {
  auto it = totals.find(key);
  return it == totals.end() ? 0 : it->second;
}

// A family with one unlabelled sample, fed by one STATUS key.
struct Single {
  std::string_view name;
  std::string_view type;
  std::string_view key;
  std::string_view help;
};

constexpr Single kMessageCounters[] = {
    {"mailsift_messages_relayed_total", "counter", "relayed", "Messages the next hop accepted."},
    {"mailsift_messages_tempfailed_total", "counter", "tempfailed",
     "Messages answered with a 4xx reply (the MTA keeps them)."},
    {"mailsift_messages_rejected_total", "counter", "rejected",
     "Messages answered with a 5xx reply."},
    {"mailsift_messages_spam_total", "counter", "spam",
     "Messages the spam check found SPAM or SPAMMY."},
};

constexpr Single kSessionCounters[] = {
    {"mailsift_sessions_total", "counter", "sessions", "SMTP and LMTP sessions accepted."},
    {"mailsift_sessions_active", "gauge", "active", "SMTP and LMTP sessions open now."},
};

constexpr Single kTroubleCounters[] = {
    {"mailsift_relay_errors_total", "counter", "relay_errors",
     "Next-hop trouble: unreachable, timing out, connection lost or a 4xx reply."},
    {"mailsift_relay_closed_at_end_total", "counter", "relay_closed_at_end",
     "Next-hop connections closed or reset while we waited for its end-of-data reply (also "
     "counted as relay errors; the message was tempfailed)."},
    {"mailsift_slow_clients_total", "counter", "slow_clients",
     "Sessions closed with 421 for a command line or message data slower than "
     "timeouts.command_line or limits.min_data_rate allow."},
    {"mailsift_clamd_errors_total", "counter", "clamd_errors",
     "clamd unreachable, timing out or answering with an error."},
    {"mailsift_regex_limit_hits_total", "counter", "regex_limit_hits",
     "Rule regular expressions stopped by their match limit."},
    {"mailsift_scan_timeouts_total", "counter", "scan_timeouts",
     "Scans that missed the message deadline (the message was tempfailed)."},
    {"mailsift_quarantined_total", "counter", "quarantined", "Messages kept in the quarantine."},
    {"mailsift_quarantine_errors_total", "counter", "quarantine_errors",
     "Messages that could not be quarantined (they were tempfailed)."},
};

void RenderSingles(std::string& out, const Totals& totals, std::span<const Single> singles) {
  for (const Single& s : singles) {
    Declare(out, s.name, s.type, s.help);
    out += fmt::format("{} {}\n", s.name, Value(totals, std::string(s.key)));
  }
}

// "verdict.CLEAN.pass" → mailsift_messages_total{category="CLEAN",action="pass"}.
void RenderVerdicts(std::string& out, const Totals& totals) {
  constexpr std::string_view kPrefix = "verdict.";
  Declare(out, "mailsift_messages_total", "counter",
          "Scanned messages by content category and the action taken.");
  for (auto it = totals.lower_bound(std::string(kPrefix));
       it != totals.end() && it->first.starts_with(kPrefix); ++it) {
    std::string_view rest = std::string_view(it->first).substr(kPrefix.size());
    size_t dot = rest.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot + 1 == rest.size()) continue;
    out +=
        fmt::format("mailsift_messages_total{{category=\"{}\",action=\"{}\"}} {}\n",
                    LabelValue(rest.substr(0, dot)), LabelValue(rest.substr(dot + 1)), it->second);
  }
}

struct Histogram {
  std::vector<std::pair<double, std::string>> bounds;  // finite upper bounds, as written
  std::map<std::string, long long> cumulative;         // bound text → count
  long long count = -1;                                // check_count, -1 if not reported
  long long infinite = -1;                             // the +Inf bucket, -1 if not reported
  long long sum_us = 0;
};

// check_time.<check>.<le>, check_time_us.<check> and check_count.<check> →
// mailsift_check_duration_seconds{check=…}. Buckets are written in ascending order, kept
// cumulative, and end in +Inf equal to _count, whatever the input, so the text always parses.
void RenderCheckTimes(std::string& out, const Totals& totals) {
  std::map<std::string, Histogram> checks;
  for (const auto& [key, value] : totals) {
    std::string_view k = key;
    if (k.starts_with("check_time_us.")) {
      checks[std::string(k.substr(14))].sum_us = value;
    } else if (k.starts_with("check_count.")) {
      checks[std::string(k.substr(12))].count = value;
    } else if (k.starts_with("check_time.")) {
      std::string_view rest = k.substr(11);
      size_t dot = rest.find('.');
      if (dot == std::string_view::npos || dot == 0 || dot + 1 == rest.size()) continue;
      Histogram& h = checks[std::string(rest.substr(0, dot))];
      std::string bound(rest.substr(dot + 1));
      if (bound == "+Inf") {
        h.infinite = value;
        continue;
      }
      char* end = nullptr;
      double upper = std::strtod(bound.c_str(), &end);
      if (end == bound.c_str() || *end != '\0') continue;
      h.bounds.emplace_back(upper, bound);
      h.cumulative[bound] = value;
    }
  }
  Declare(out, "mailsift_check_duration_seconds", "histogram",
          "Time each content check took per message.");
  for (auto& [check, h] : checks) {
    std::sort(h.bounds.begin(), h.bounds.end());
    std::string label = LabelValue(check);
    long long running = 0;
    for (const auto& [upper, text] : h.bounds) {
      running = std::max(running, h.cumulative[text]);
      out += fmt::format("mailsift_check_duration_seconds_bucket{{check=\"{}\",le=\"{}\"}} {}\n",
                         label, LabelValue(text), running);
    }
    long long count = std::max({running, h.count, h.infinite});
    out += fmt::format("mailsift_check_duration_seconds_bucket{{check=\"{}\",le=\"+Inf\"}} {}\n",
                       label, count);
    out += fmt::format("mailsift_check_duration_seconds_sum{{check=\"{}\"}} {}\n", label,
                       static_cast<double>(h.sum_us) / 1e6);
    out += fmt::format("mailsift_check_duration_seconds_count{{check=\"{}\"}} {}\n", label, count);
  }
}

void RenderSupervisor(std::string& out, const SupervisorFacts& facts) {
  Declare(out, "mailsift_generations", "gauge", "Filter generations by state.");
  out += fmt::format("mailsift_generations{{state=\"starting\"}} {}\n", facts.generations_starting);
  out += fmt::format("mailsift_generations{{state=\"serving\"}} {}\n", facts.generations_serving);
  out += fmt::format("mailsift_generations{{state=\"draining\"}} {}\n", facts.generations_draining);
  Declare(out, "mailsift_reloads_total", "counter",
          "Reloads since the supervisor started, by result.");
  out += fmt::format("mailsift_reloads_total{{result=\"ok\"}} {}\n", facts.reloads_ok);
  out += fmt::format("mailsift_reloads_total{{result=\"failed\"}} {}\n", facts.reloads_failed);
  Declare(out, "mailsift_generation_crashes_total", "counter",
          "Serving generations that exited unasked (each was replaced).");
  out += fmt::format("mailsift_generation_crashes_total {}\n", facts.crashes);
  Declare(out, "mailsift_up", "gauge", "1 while the mailsift supervisor answers.");
  out += "mailsift_up 1\n";
}

}  // namespace

std::string RenderMetrics(const Totals& totals, const SupervisorFacts& facts) {
  std::string out;
  RenderVerdicts(out, totals);
  RenderSingles(out, totals, kMessageCounters);
  RenderSingles(out, totals, kSessionCounters);
  RenderCheckTimes(out, totals);
  RenderSingles(out, totals, kTroubleCounters);
  RenderSupervisor(out, facts);
  return out;
}

// --- HTTP -------------------------------------------------------------------------------------

namespace {

size_t HeadEnd(std::string_view received) {
  size_t crlf = received.find("\r\n\r\n");
  size_t lf = received.find("\n\n");
  return std::min(crlf == std::string_view::npos ? crlf : crlf + 4,
                  lf == std::string_view::npos ? lf : lf + 2);
}

std::string Response(std::string_view status, std::string_view content_type, std::string_view body,
                     bool send_body, std::string_view extra_fields = "") {
  return fmt::format(
      "HTTP/1.0 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n{}",
      status, content_type, body.size(), extra_fields, send_body ? body : std::string_view());
}

constexpr std::string_view kPlainText = "text/plain; charset=utf-8";

}  // namespace

bool RequestHeadComplete(std::string_view received) {
  return HeadEnd(received) != std::string_view::npos || received.size() > kMaxRequestHead;
}

std::string AnswerMetricsRequest(std::string_view received,
                                 const std::function<std::string()>& render) {
  auto bad_request = [] { return Response("400 Bad Request", kPlainText, "bad request\n", true); };
  size_t end = HeadEnd(received);
  if (end == std::string_view::npos || end > kMaxRequestHead) return bad_request();
  // RFC 9112 §3: request-line = method SP request-target SP HTTP-version.
  std::string_view line = received.substr(0, received.find('\n'));
  if (line.ends_with('\r')) line.remove_suffix(1);
  std::vector<std::string_view> words = SplitSpaces(line);
  if (words.size() != 3 || !words[2].starts_with("HTTP/1.")) return bad_request();
  std::string_view method = words[0], target = words[1];
  // The absolute form (RFC 9112 §3.2.2) names the same path after the authority.
  if (target.starts_with("http://") || target.starts_with("https://")) {
    size_t slash = target.find('/', target.find("//") + 2);
    target = slash == std::string_view::npos ? "/" : target.substr(slash);
  }
  std::string_view path = target.substr(0, target.find('?'));
  bool head = method == "HEAD";
  if (path != "/metrics") {
    return Response("404 Not Found", kPlainText, "not found; the metrics are at /metrics\n", !head);
  }
  if (method != "GET" && !head) {
    return Response("405 Method Not Allowed", kPlainText, "method not allowed\n", true,
                    "Allow: GET, HEAD\r\n");
  }
  return Response("200 OK", kMetricsContentType, render(), !head);
}

}  // namespace mailsift::supervisor
