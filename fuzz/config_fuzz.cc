// libFuzzer target: the TOML config reader (config/config.h, ParseConfig). For any text:
//   - ParseConfig returns a config or at least one problem, each a non-empty text, and never
//     crashes or throws;
//   - reading the same text again gives the same answer: the same problems, or a config with
//     the same values and the same digest;
//   - an accepted config keeps the promises of config.h: at least one listener, listener names
//     unique and without ':', a host name, absolute paths, a config for every policy bank;
//   - an accepted config written out again by toml++ (other bytes, the same TOML) is accepted
//     with the same values.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace config = mailsift::config;

namespace {

void Require(bool condition) {
  if (!condition) std::abort();
}

std::string Networks(const std::vector<mailsift::net::Network>& networks) {
  std::string out;
  for (const auto& network : networks) out += network.ToString() + ",";
  return out;
}

// Every value of `c` except its digest and source, as text, to compare two configs.
std::string Values(const config::Config& c) {
  std::string out = fmt::format("host={} io={}\n", c.hostname, c.io_threads);
  for (const config::Listener& l : c.listeners) {
    out += fmt::format("listen {} {} {} {}\n", l.name, l.address.ToString(),
                       config::ToString(l.protocol), l.backlog);
  }
  out += fmt::format("relay {} {} {} {} {} {}\n", c.relay.next_hop.ToString(),
                     config::ToString(c.relay.protocol), config::ToString(c.relay.mode),
                     c.relay.xforward, c.relay.max_idle_connections,
                     c.relay.idle_connection_timeout.count());
  out += fmt::format("limits {} {} {} {} {} {} {}\n", c.limits.max_message_size,
                     c.limits.max_recipients, c.limits.max_sessions, c.limits.max_command_line,
                     c.limits.max_errors, c.limits.max_header_size, c.limits.min_data_rate);
  out += fmt::format("timeouts {} {} {} {} {} {}\n", c.timeouts.command.count(),
                     c.timeouts.command_line.count(), c.timeouts.data.count(),
                     c.timeouts.message_deadline.count(), c.timeouts.relay_connect.count(),
                     c.timeouts.relay_reply.count());
  out += fmt::format("smtp {} access {}\n", static_cast<int>(c.smtp.bare_newline),
                     Networks(c.client_networks));
  out += fmt::format("spool {} {}\n", c.spool.directory, c.spool.memory_limit);
  const config::Spam& s = c.spam;
  out += fmt::format(
      "spam {} [{}] {} {} {} {} {} {} {} {} [{}] {} [{}] [{}] [{}] {} {}\n", s.enabled,
      fmt::join(s.rule_dirs, "|"), s.site_dir, s.watch_rule_dirs, s.watch_quiet_period.count(),
      s.scan_threads, s.max_scan_size, s.tag_level, s.tag2_level, s.kill_level, s.subject_tag,
      s.dsn_cutoff_level, fmt::join(s.allow_senders, "|"), fmt::join(s.deny_senders, "|"),
      fmt::join(s.local_domains, "|"), static_cast<int>(s.prefilter), s.prefilter_cache_dir);
  out += fmt::format("virus {} {} {} {} {}\n", c.virus.clamd, c.virus.clamd_address.ToString(),
                     c.virus.timeout.count(), c.virus.max_stream_size, c.virus.header_line);
  out += fmt::format("banned {} [{}] {} {} {} bad_header {}\n", c.banned.enabled,
                     fmt::join(c.banned.patterns, "|"), c.banned.max_archive_depth,
                     c.banned.max_archive_files, c.banned.max_expanded_size, c.bad_header.enabled);
  const config::Actions& a = c.actions;
  out += fmt::format("actions {} {} {} {} {} {} {}\n", config::ToString(a.virus),
                     config::ToString(a.banned), config::ToString(a.unchecked),
                     config::ToString(a.unchecked_encrypted), config::ToString(a.spam),
                     config::ToString(a.bad_header), a.after_queue_reject_bounces);
  out += fmt::format("quarantine {} [{}]\n", c.quarantine.directory,
                     fmt::join(c.quarantine.categories, "|"));
  out += fmt::format("log {} {} {} {}\n", c.log.syslog, c.log.file, c.log.syslog_ident,
                     c.log.syslog_facility);
  out += fmt::format("control {} {} {}\n", c.control.socket, c.control.socket_mode,
                     c.control.pid_file);
  out += fmt::format("metrics {} {}\n", c.metrics.address, c.metrics.endpoint.ToString());
  out += fmt::format("supervisor {} {} {} {} {}\n", c.supervisor.user, c.supervisor.group,
                     c.supervisor.chroot, c.supervisor.drain_timeout.count(),
                     c.supervisor.ready_timeout.count());
  for (const config::PolicyBank& bank : c.policy_banks) {
    Require(bank.config != nullptr);
    out += fmt::format("bank {} {} [{}] [{}] {{\n{}}}\n", bank.name, Networks(bank.client_networks),
                       fmt::join(bank.listeners, "|"), fmt::join(bank.bypass, "|"),
                       Values(*bank.config));
  }
  return out;
}

bool Absolute(const std::string& path) { return !path.empty() && path.front() == '/'; }

void CheckAccepted(const config::Config& c) {
  Require(!c.listeners.empty() && !c.hostname.empty());
  for (size_t i = 0; i < c.listeners.size(); ++i) {
    Require(!c.listeners[i].name.empty() && c.listeners[i].name.find(':') == std::string::npos);
    for (size_t j = 0; j < i; ++j) Require(c.listeners[i].name != c.listeners[j].name);
  }
  Require(Absolute(c.spool.directory) && Absolute(c.control.socket));
  Require(c.quarantine.directory.empty() || Absolute(c.quarantine.directory));
  Require(c.log.file.empty() || Absolute(c.log.file));
  for (const std::string& dir : c.spam.rule_dirs) Require(dir.empty() || Absolute(dir));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto first = config::ParseConfig(text, "fuzz.toml");
  auto second = config::ParseConfig(text, "fuzz.toml");
  Require(first.has_value() == second.has_value());
  if (!first) {
    Require(!first.error().items.empty());
    for (const std::string& problem : first.error().items) Require(!problem.empty());
    Require(first.error().items == second.error().items);
    return 0;
  }
  CheckAccepted(*first);
  const std::string values = Values(*first);
  Require(values == Values(*second) && first->digest == second->digest);

  // The same TOML in toml++'s own layout.
  std::ostringstream rewritten;
  rewritten << toml::toml_formatter(toml::parse(text, std::string_view("fuzz.toml")));
  auto again = config::ParseConfig(rewritten.str(), "fuzz.toml");
  Require(again.has_value());
  Require(Values(*again) == values);
  return 0;
}
