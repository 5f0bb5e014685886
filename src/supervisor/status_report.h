// supervisor/status_report.h — what `mailsift status` prints: the supervisor's facts, its live
// generations, listeners and the counters summed over every generation, as readable text (one
// fact a line; the check-time histograms as one summary line per check) or as one JSON object
// (`mailsift status --json`, every counter and histogram bucket as it is).
//
// Pure functions over a value; thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace mailsift::supervisor {

struct StatusReport {
  struct GenerationRow {
    int number = 0;
    long long pid = 0;
    std::string state;  // "starting", "serving", "draining"
    long long sessions = 0;
    std::string config;  // the config digest it runs
    std::string rules;   // its ruleset digest, "-" if none
    long long age_seconds = 0;
  };
  struct ListenerRow {
    std::string name;
    std::string address;
  };
  long long pid = 0;
  long long uptime_seconds = 0;
  std::string config_path;
  std::string config_digest;
  std::vector<GenerationRow> generations;  // live ones only
  std::vector<ListenerRow> listeners;
  std::string metrics_url;  // "" when there is no metrics listener
  long long reloads = 0, failed_reloads = 0, crashes = 0;
  // The generations' counters ("relayed", "verdict.CLEAN.pass", the check-time histograms as
  // "check_time.<check>.<bound>" cumulative buckets, "check_time_us.<check>",
  // "check_count.<check>"), summed over live and exited generations.
  std::map<std::string, long long> totals;
};

// Lines: "supervisor pid …", "generation N pid P STATE sessions=… config=… rules=… age=…s",
// "listener NAME ADDRESS", "metrics URL", "counters:" then "  key=value" a line, and "check
// times:" then "  CHECK: N runs, mean X ms, p50 ≤ Y ms, p99 ≤ Z ms" (bounds from the buckets).
std::string FormatStatusText(const StatusReport& report);
// {"supervisor":{…},"generations":[…],"listeners":[…],"metrics":…,"counters":{…},
//  "check_times":{"CHECK":{"count":N,"sum_seconds":S,"buckets":{"0.001":n,…,"+Inf":n}}}}
std::string FormatStatusJson(const StatusReport& report);

}  // namespace mailsift::supervisor
