// supervisor/metrics.h — the supervisor's counters in Prometheus's text exposition format
// (version 0.0.4), and the HTTP exchange that carries them.
//
// RenderMetrics turns the counters the generations report (the keys of their STATUS lines,
// filter::Server::StatusFields, summed over live and exited generations by the supervisor) plus the
// supervisor's own facts into the text a Prometheus server scrapes:
//   mailsift_messages_total{category,action}, mailsift_messages_{relayed,tempfailed,rejected,
//   spam}_total, mailsift_sessions_total, mailsift_sessions_active,
//   mailsift_check_duration_seconds{check} (histogram), mailsift_{relay,clamd}_errors_total,
//   mailsift_regex_limit_hits_total, mailsift_scan_timeouts_total, mailsift_quarantined_total,
//   mailsift_quarantine_errors_total, mailsift_generations{state}, mailsift_reloads_total{result},
//   mailsift_generation_crashes_total, mailsift_up.
// Every family is declared (HELP, TYPE) even before it has samples; keys it does not know are
// left out. Counters are monotonic across reloads because the supervisor keeps the totals of
// generations that have exited.
//
// The HTTP side (RFC 9110, RFC 9112) is the smallest that Prometheus needs: one request per
// connection, answered HTTP/1.0-style with Connection: close. `GET /metrics` (and HEAD) → 200;
// another path → 404; another method → 405; a malformed or oversized request head → 400.
// It is the only parser of a peer's bytes in the supervisor, which runs as root: it reads the
// request line alone (header fields are skipped, a body is never read), with no allocation
// that the request's size does not bound (kMaxRequestHead), and fuzz/metrics_http_fuzz runs it
// on arbitrary input. Keep it that small.
// Thread-safety: pure functions.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace mailsift::supervisor {

// What the supervisor knows itself, apart from the generations' counters.
struct SupervisorFacts {
  int generations_starting = 0;
  int generations_serving = 0;
  int generations_draining = 0;
  long long reloads_ok = 0;
  long long reloads_failed = 0;
  long long crashes = 0;  // serving generations that exited unasked
};

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// The exposition text for `totals` (STATUS keys → values: "relayed", "verdict.CLEAN.pass",
// "check_time.spam.0.005", "check_time_us.spam", "check_count.spam", …) and `facts`.
std::string RenderMetrics(const std::map<std::string, long long>& totals,
                          const SupervisorFacts& facts);

// Longest request head (request line and header fields) read before answering 400.
inline constexpr size_t kMaxRequestHead = 8192;

// True once `received` holds a whole request head (it ends with an empty line, RFC 9112 §2.1;
// a bare LF is accepted as a line end, as §2.2 allows) or is longer than kMaxRequestHead.
bool RequestHeadComplete(std::string_view received);

// The whole HTTP response to the request head `received`. `render` gives the metrics text and
// is called only for a GET or HEAD of /metrics.
std::string AnswerMetricsRequest(std::string_view received,
                                 const std::function<std::string()>& render);

}  // namespace mailsift::supervisor
