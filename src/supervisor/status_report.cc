// supervisor/status_report.cc — see status_report.h.
#include "supervisor/status_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "base/strings.h"

namespace mailsift::supervisor {
namespace {

constexpr std::string_view kBucketPrefix = "check_time.";
constexpr std::string_view kSumPrefix = "check_time_us.";
constexpr std::string_view kCountPrefix = "check_count.";

struct Histogram {
  long long count = 0;
  long long sum_us = 0;
  std::vector<std::pair<std::string, long long>> buckets;  // bound text, cumulative count
};

// The check-time histograms found among the totals, by check name; the other totals go to
// `counters`.
std::map<std::string, Histogram> SplitHistograms(
    const std::map<std::string, long long>& totals,
    std::vector<std::pair<std::string, long long>>& counters) {
  std::map<std::string, Histogram> histograms;
  for (const auto& [key, value] : totals) {
    std::string_view k = key;
    if (k.starts_with(kSumPrefix)) {
      histograms[std::string(k.substr(kSumPrefix.size()))].sum_us = value;
    } else if (k.starts_with(kCountPrefix)) {
      histograms[std::string(k.substr(kCountPrefix.size()))].count = value;
    } else if (k.starts_with(kBucketPrefix)) {
      std::string_view rest = k.substr(kBucketPrefix.size());
      size_t dot = rest.find('.');
      if (dot == std::string_view::npos) continue;
      histograms[std::string(rest.substr(0, dot))].buckets.emplace_back(
          std::string(rest.substr(dot + 1)), value);
    } else if (k != "active") {
      counters.emplace_back(key, value);
    }
  }
  for (auto& [name, histogram] : histograms) {
    // By bound, "+Inf" last (the map ordered them as text).
    std::stable_sort(histogram.buckets.begin(), histogram.buckets.end(),
                     [](const auto& a, const auto& b) {
                       auto bound = [](const std::string& text) {
                         return text == "+Inf" ? 1e300 : std::strtod(text.c_str(), nullptr);
                       };
                       return bound(a.first) < bound(b.first);
                     });
  }
  return histograms;
}

// The smallest bucket bound that holds the q-quantile, as text in ms ("≤ 5 ms"), or "> last".
std::string QuantileBound(const Histogram& h, double q) {
  if (h.count <= 0) return "-";
  const double wanted = q * static_cast<double>(h.count);
  std::string last_bound;
  for (const auto& [bound, cumulative] : h.buckets) {
    if (bound == "+Inf") break;
    last_bound = bound;
    if (static_cast<double>(cumulative) >= wanted) {
      return fmt::format("≤ {:g} ms", std::strtod(bound.c_str(), nullptr) * 1000);
    }
  }
  if (last_bound.empty()) return "-";
  return fmt::format("> {:g} ms", std::strtod(last_bound.c_str(), nullptr) * 1000);
}

}  // namespace

std::string FormatStatusText(const StatusReport& r) {
  std::string out = fmt::format("supervisor pid {} up {} s, config {} ({})\n", r.pid,
                                r.uptime_seconds, r.config_path, r.config_digest);
  for (const auto& g : r.generations) {
    out += fmt::format("generation {} pid {} {} sessions={} config={} rules={} age={}s\n", g.number,
                       g.pid, g.state, g.sessions, g.config, g.rules, g.age_seconds);
  }
  for (const auto& l : r.listeners) out += fmt::format("listener {} {}\n", l.name, l.address);
  if (!r.metrics_url.empty()) out += fmt::format("metrics {}\n", r.metrics_url);
  std::vector<std::pair<std::string, long long>> counters;
  auto histograms = SplitHistograms(r.totals, counters);
  out += fmt::format("counters:\n  reloads={}\n  failed_reloads={}\n  crashes={}\n", r.reloads,
                     r.failed_reloads, r.crashes);
  for (const auto& [key, value] : counters) out += fmt::format("  {}={}\n", key, value);
  if (!histograms.empty()) {
    out += "check times:\n";
    for (const auto& [name, h] : histograms) {
      double mean_ms =
          h.count > 0 ? static_cast<double>(h.sum_us) / 1000.0 / static_cast<double>(h.count) : 0;
      out += fmt::format("  {}: {} run{}, mean {:.2f} ms, p50 {}, p99 {}\n", name, h.count,
                         h.count == 1 ? "" : "s", mean_ms, QuantileBound(h, 0.5),
                         QuantileBound(h, 0.99));
    }
  }
  if (out.ends_with('\n')) out.pop_back();
  return out;
}

std::string FormatStatusJson(const StatusReport& r) {
  std::string out = fmt::format(
      "{{\"supervisor\":{{\"pid\":{},\"uptime_seconds\":{},\"config\":{},\"config_digest\":{},"
      "\"reloads\":{},\"failed_reloads\":{},\"crashes\":{}}},\"generations\":[",
      r.pid, r.uptime_seconds, JsonQuote(r.config_path), JsonQuote(r.config_digest), r.reloads,
      r.failed_reloads, r.crashes);
  for (size_t i = 0; i < r.generations.size(); ++i) {
    const auto& g = r.generations[i];
    out += fmt::format(
        "{}{{\"number\":{},\"pid\":{},\"state\":{},\"sessions\":{},\"config\":{},\"rules\":{},"
        "\"age_seconds\":{}}}",
        i == 0 ? "" : ",", g.number, g.pid, JsonQuote(g.state), g.sessions, JsonQuote(g.config),
        JsonQuote(g.rules), g.age_seconds);
  }
  out += "],\"listeners\":[";
  for (size_t i = 0; i < r.listeners.size(); ++i) {
    out += fmt::format("{}{{\"name\":{},\"address\":{}}}", i == 0 ? "" : ",",
                       JsonQuote(r.listeners[i].name), JsonQuote(r.listeners[i].address));
  }
  out += fmt::format("],\"metrics\":{},\"counters\":{{",
                     r.metrics_url.empty() ? "null" : JsonQuote(r.metrics_url));
  std::vector<std::pair<std::string, long long>> counters;
  auto histograms = SplitHistograms(r.totals, counters);
  for (size_t i = 0; i < counters.size(); ++i) {
    out +=
        fmt::format("{}{}:{}", i == 0 ? "" : ",", JsonQuote(counters[i].first), counters[i].second);
  }
  out += "},\"check_times\":{";
  bool first = true;
  for (const auto& [name, h] : histograms) {
    out += fmt::format("{}{}:{{\"count\":{},\"sum_seconds\":{:g},\"buckets\":{{", first ? "" : ",",
                       JsonQuote(name), h.count, static_cast<double>(h.sum_us) / 1e6);
    first = false;
    for (size_t i = 0; i < h.buckets.size(); ++i) {
      out += fmt::format("{}{}:{}", i == 0 ? "" : ",", JsonQuote(h.buckets[i].first),
                         h.buckets[i].second);
    }
    out += "}}";
  }
  return out + "}}";
}

}  // namespace mailsift::supervisor
