#include "config/config.h"

#include <fmt/format.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "base/strings.h"

namespace mailsift::config {
namespace {

std::string MachineHostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

// Reads typed keys from one TOML table, recording a problem per bad key and flagging keys that
// nobody asked for (typos).
class TableReader {
 public:
  TableReader(const toml::table* table, std::string prefix, std::vector<std::string>& problems)
      : table_(table), prefix_(std::move(prefix)), problems_(problems) {}

  ~TableReader() {
    if (table_ == nullptr) return;
    for (const auto& [key, value] : *table_) {
      if (!known_.contains(std::string(key.str()))) {
        problems_.push_back(fmt::format("{}: unknown key", Name(key.str())));
      }
    }
  }

  std::string Name(std::string_view key) const {
    return prefix_.empty() ? std::string(key) : prefix_ + "." + std::string(key);
  }

  const toml::node* Get(std::string_view key) {
    known_.insert(std::string(key));
    return table_ ? table_->get(key) : nullptr;
  }

  void String(std::string_view key, std::string& out) {
    if (const auto* node = Get(key)) {
      if (auto v = node->value<std::string>(); v && node->is_string()) {
        out = *v;
      } else {
        problems_.push_back(fmt::format("{}: must be a string", Name(key)));
      }
    }
  }

  template <typename Int>
  void Integer(std::string_view key, Int& out, int64_t min, int64_t max) {
    if (const auto* node = Get(key)) {
      auto v = node->value<int64_t>();
      if (!node->is_integer() || !v) {
        problems_.push_back(fmt::format("{}: must be an integer", Name(key)));
      } else if (*v < min || *v > max) {
        problems_.push_back(fmt::format("{}: {} is out of range {}..{}", Name(key), *v, min, max));
      } else {
        out = static_cast<Int>(*v);
      }
    }
  }

  void Boolean(std::string_view key, bool& out) {
    if (const auto* node = Get(key)) {
      if (auto v = node->value<bool>(); v && node->is_boolean()) {
        out = *v;
      } else {
        problems_.push_back(fmt::format("{}: must be true or false", Name(key)));
      }
    }
  }

  // A number (integer or floating point), e.g. a spam score level.
  void Number(std::string_view key, double& out) {
    if (const auto* node = Get(key)) {
      if (node->is_integer()) {
        out = static_cast<double>(*node->value<int64_t>());
      } else if (node->is_floating_point() && std::isnan(*node->value<double>())) {
        // nan compares false with every score: a level of nan would silently never apply.
        problems_.push_back(fmt::format("{}: must be a number, not nan", Name(key)));
      } else if (node->is_floating_point()) {
        out = *node->value<double>();
      } else {
        problems_.push_back(fmt::format("{}: must be a number", Name(key)));
      }
    }
  }

  // A duration: a number of seconds, or a string with a unit ("45s", "8m", "1h", "250ms").
  // Returns true if the key was present and valid.
  bool Duration(std::string_view key, Seconds& out) {
    const auto* node = Get(key);
    if (!node) return false;
    double seconds = -1;
    if (node->is_integer()) {
      seconds = static_cast<double>(*node->value<int64_t>());
    } else if (node->is_floating_point()) {
      seconds = *node->value<double>();
    } else if (node->is_string()) {
      std::string text = *node->value<std::string>();
      size_t digits = 0;
      while (digits < text.size() &&
             ((text[digits] >= '0' && text[digits] <= '9') || text[digits] == '.')) {
        ++digits;
      }
      std::string unit = text.substr(digits);
      double number = digits > 0 ? std::atof(text.substr(0, digits).c_str()) : -1;
      double scale = unit == "ms"                  ? 0.001
                     : unit == "s" || unit.empty() ? 1
                     : unit == "m"                 ? 60
                     : unit == "h"                 ? 3600
                                                   : -1;
      if (digits > 0 && scale > 0) seconds = number * scale;
    }
    if (!(seconds > 0) || !std::isfinite(seconds) || seconds > 86400 * 7) {
      problems_.push_back(fmt::format(
          "{}: must be a positive duration up to 7 days: seconds, or a string such as \"45s\", "
          "\"8m\"",
          Name(key)));
      return false;
    }
    out = Seconds(seconds);
    return true;
  }

  template <typename Enum>
  void Choice(std::string_view key, Enum& out,
              std::initializer_list<std::pair<std::string_view, Enum>> choices) {
    std::string text;
    if (!Get(key)) return;
    String(key, text);
    std::string names;
    for (const auto& [name, value] : choices) {
      if (text == name) {
        out = value;
        return;
      }
      names += names.empty() ? "" : " | ";
      names += name;
    }
    problems_.push_back(fmt::format("{}: \"{}\" is not one of {}", Name(key), text, names));
  }

  // A list of strings; present, it replaces the default list.
  void StringList(std::string_view key, std::vector<std::string>& out) {
    const auto* node = Get(key);
    if (!node) return;
    const auto* array = node->as_array();
    if (!array) {
      problems_.push_back(fmt::format("{}: must be a list of strings", Name(key)));
      return;
    }
    out.clear();
    for (const auto& item : *array) {
      if (auto text = item.value<std::string>(); text && item.is_string()) {
        out.push_back(*text);
      } else {
        problems_.push_back(fmt::format("{}: every entry must be a string", Name(key)));
        return;
      }
    }
  }

  // A list of networks ("192.0.2.0/24", "::1/128", a bare address); present, it replaces
  // `out`'s default list.
  void NetworkList(std::string_view key, std::vector<net::Network>& out) {
    if (!Get(key)) return;
    std::vector<std::string> texts;
    StringList(key, texts);
    out.clear();
    for (const std::string& text : texts) {
      if (auto network = net::Network::Parse(text)) {
        out.push_back(*network);
      } else {
        problems_.push_back(fmt::format("{}: {}", Name(key), network.error().message));
      }
    }
  }

  const toml::table* Table(std::string_view key) {
    const auto* node = Get(key);
    if (!node) return nullptr;
    if (!node->is_table()) {
      problems_.push_back(fmt::format("{}: must be a table [{}]", Name(key), Name(key)));
      return nullptr;
    }
    return node->as_table();
  }

 private:
  const toml::table* table_;
  std::string prefix_;
  std::vector<std::string>& problems_;
  std::set<std::string> known_;
};

std::string DefaultListenerName(std::string_view address) {
  std::string name(address);
  for (char& c : name) {
    if (c == ':' || c == '[' || c == ']') c = '_';
  }
  return name;
}

void ReadListeners(TableReader& root, Config& config, std::vector<std::string>& problems) {
  const auto* node = root.Get("listen");
  if (!node) {
    Listener listener;
    listener.address = *net::ParseEndpoint(listener.address_text);
    listener.name = DefaultListenerName(listener.address_text);
    config.listeners.push_back(listener);
    return;
  }
  const auto* array = node->as_array();
  if (!array || array->empty()) {
    problems.push_back("listen: must be one or more [[listen]] tables");
    return;
  }
  for (size_t i = 0; i < array->size(); ++i) {
    std::string prefix = fmt::format("listen[{}]", i);
    const auto* table = array->get(i)->as_table();
    if (!table) {
      problems.push_back(prefix + ": must be a table");
      continue;
    }
    Listener listener;
    TableReader reader(table, prefix, problems);
    reader.String("address", listener.address_text);
    reader.Choice("protocol", listener.protocol,
                  {{"smtp", Protocol::kSmtp}, {"lmtp", Protocol::kLmtp}});
    reader.Integer("backlog", listener.backlog, 1, 1 << 20);
    reader.String("name", listener.name);
    if (auto endpoint = net::ParseEndpoint(listener.address_text)) {
      listener.address = *endpoint;
    } else {
      problems.push_back(fmt::format("{}.address: {}", prefix, endpoint.error().message));
    }
    if (listener.name.empty()) listener.name = DefaultListenerName(listener.address_text);
    if (listener.name.find(':') != std::string::npos || listener.name.size() > 255) {
      problems.push_back(
          fmt::format("{}.name: must not contain ':' (systemd's FileDescriptorName)", prefix));
    }
    config.listeners.push_back(listener);
  }
}

}  // namespace

Config DefaultConfig() {
  auto parsed = ParseConfig("", "(defaults)");
  return *parsed;
}

std::string_view ToString(Protocol protocol) {
  return protocol == Protocol::kLmtp ? "lmtp" : "smtp";
}
std::string_view ToString(Action action) {
  switch (action) {
    case Action::kPass:
      return "pass";
    case Action::kReject:
      return "reject";
    case Action::kDiscard:
      return "discard";
    case Action::kTempfail:
      return "tempfail";
  }
  return "pass";
}

std::string_view ToString(RelayMode mode) {
  return mode == RelayMode::kBeforeQueue ? "before-queue" : "after-queue";
}

namespace {

// Every section of one config table (the file's, or a policy bank's overlay of it).
Config ReadConfig(const toml::table& root_table, const std::string& source_name,
                  std::vector<std::string>& problems) {
  Config config;
  config.source_path = source_name;
  config.hostname = MachineHostname();
  {
    TableReader root(&root_table, "", problems);
    root.Get("policy_bank");  // ReadPolicyBanks reads it
    {
      TableReader server(root.Table("server"), "server", problems);
      server.String("hostname", config.hostname);
      server.Integer("io_threads", config.io_threads, 0, 64);
    }
    ReadListeners(root, config, problems);
    bool deadline_given = false;
    {
      TableReader relay(root.Table("relay"), "relay", problems);
      relay.String("next_hop", config.relay.next_hop_text);
      relay.Choice("protocol", config.relay.protocol,
                   {{"smtp", Protocol::kSmtp}, {"lmtp", Protocol::kLmtp}});
      relay.Choice(
          "mode", config.relay.mode,
          {{"after-queue", RelayMode::kAfterQueue}, {"before-queue", RelayMode::kBeforeQueue}});
      relay.Boolean("xforward", config.relay.xforward);
      relay.Integer("max_idle_connections", config.relay.max_idle_connections, 0, 10000);
      relay.Duration("idle_connection_timeout", config.relay.idle_connection_timeout);
      if (auto endpoint = net::ParseEndpoint(config.relay.next_hop_text)) {
        config.relay.next_hop = *endpoint;
      } else {
        problems.push_back("relay.next_hop: " + endpoint.error().message);
      }
    }
    {
      TableReader limits(root.Table("limits"), "limits", problems);
      limits.Integer("max_message_size", config.limits.max_message_size, 1024, int64_t{1} << 40);
      limits.Integer("max_recipients", config.limits.max_recipients, 1, 100000);
      limits.Integer("max_sessions", config.limits.max_sessions, 1, 1000000);
      limits.Integer("max_command_line", config.limits.max_command_line, 512, 65536);
      limits.Integer("max_errors", config.limits.max_errors, 1, 1000000);
      limits.Integer("max_header_size", config.limits.max_header_size, 1024, int64_t{1} << 40);
      limits.Integer("min_data_rate", config.limits.min_data_rate, 0, int64_t{1} << 40);
    }
    {
      TableReader timeouts(root.Table("timeouts"), "timeouts", problems);
      timeouts.Duration("command", config.timeouts.command);
      timeouts.Duration("command_line", config.timeouts.command_line);
      timeouts.Duration("data", config.timeouts.data);
      deadline_given = timeouts.Duration("message_deadline", config.timeouts.message_deadline);
      timeouts.Duration("relay_connect", config.timeouts.relay_connect);
      timeouts.Duration("relay_reply", config.timeouts.relay_reply);
    }
    if (!deadline_given) {
      // amavisd's advice: well inside Postfix's smtpd_proxy_timeout (100 s) before the queue;
      // $child_timeout (8 min) after it.
      config.timeouts.message_deadline =
          Seconds(config.relay.mode == RelayMode::kBeforeQueue ? 45 : 480);
    }
    {
      TableReader smtp(root.Table("smtp"), "smtp", problems);
      smtp.Choice("bare_newline", config.smtp.bare_newline,
                  {{"reject", BareNewline::kReject}, {"normalize", BareNewline::kNormalize}});
    }
    {
      TableReader access(root.Table("access"), "access", problems);
      config.client_networks = {*net::Network::Parse("127.0.0.0/8"),
                                *net::Network::Parse("::1/128")};
      access.NetworkList("client_networks", config.client_networks);
    }
    {
      TableReader control(root.Table("control"), "control", problems);
      control.String("socket", config.control.socket);
      control.String("pid_file", config.control.pid_file);
      std::string mode;
      if (control.Get("socket_mode")) {
        control.String("socket_mode", mode);
        char* end = nullptr;
        long value = std::strtol(mode.c_str(), &end, 8);
        if (mode.empty() || *end != '\0' || value < 0 || value > 0777) {
          problems.push_back("control.socket_mode: an octal mode such as \"0600\"");
        } else {
          config.control.socket_mode = static_cast<int>(value);
        }
      }
    }
    {
      TableReader metrics(root.Table("metrics"), "metrics", problems);
      metrics.String("address", config.metrics.address);
      if (!config.metrics.address.empty()) {
        auto endpoint = net::ParseEndpoint(config.metrics.address);
        if (!endpoint) {
          problems.push_back("metrics.address: " + endpoint.error().message);
        } else if (endpoint->kind != net::Endpoint::Kind::kInet) {
          problems.push_back("metrics.address: an HTTP listener needs host:port or [v6]:port");
        } else {
          config.metrics.endpoint = *endpoint;
          for (size_t i = 0; i < config.listeners.size(); ++i) {
            if (config.listeners[i].address == *endpoint) {
              problems.push_back(fmt::format("metrics.address: same address as listen[{}]", i));
            }
          }
        }
      }
    }
    {
      TableReader supervisor(root.Table("supervisor"), "supervisor", problems);
      supervisor.String("user", config.supervisor.user);
      supervisor.String("group", config.supervisor.group);
      supervisor.String("chroot", config.supervisor.chroot);
      supervisor.Duration("drain_timeout", config.supervisor.drain_timeout);
      supervisor.Duration("ready_timeout", config.supervisor.ready_timeout);
    }
    {
      TableReader spam(root.Table("spam"), "spam", problems);
      spam.Boolean("enabled", config.spam.enabled);
      spam.StringList("rule_dirs", config.spam.rule_dirs);
      spam.String("site_dir", config.spam.site_dir);
      spam.Boolean("watch_rule_dirs", config.spam.watch_rule_dirs);
      spam.Duration("watch_quiet_period", config.spam.watch_quiet_period);
      spam.Integer("scan_threads", config.spam.scan_threads, 0, 256);
      spam.Integer("max_scan_size", config.spam.max_scan_size, 0, int64_t{1} << 32);
      spam.Number("tag_level", config.spam.tag_level);
      spam.Number("tag2_level", config.spam.tag2_level);
      spam.Number("kill_level", config.spam.kill_level);
      spam.String("subject_tag", config.spam.subject_tag);
      spam.Number("dsn_cutoff_level", config.spam.dsn_cutoff_level);
      spam.StringList("allow_senders", config.spam.allow_senders);
      spam.StringList("deny_senders", config.spam.deny_senders);
      spam.StringList("local_domains", config.spam.local_domains);
      spam.Choice("prefilter", config.spam.prefilter,
                  {{"background", Prefilter::kBackground}, {"off", Prefilter::kOff}});
      spam.String("prefilter_cache_dir", config.spam.prefilter_cache_dir);
    }
    {
      TableReader bayes(root.Table("bayes"), "bayes", problems);
      bayes.Boolean("enabled", config.bayes.enabled);
      if (bayes.Get("store")) {
        std::string store;
        bayes.String("store", store);
        if (store == "lmdb") {
          config.bayes.store = BayesStoreKind::kLmdb;
        } else if (store == "redis") {
          problems.push_back("bayes.store: \"redis\" is not yet supported (only \"lmdb\")");
        } else {
          problems.push_back(fmt::format("bayes.store: \"{}\" is not one of lmdb", store));
        }
      }
      bayes.String("path", config.bayes.path);
      if (config.bayes.path.empty()) problems.push_back("bayes.path: must not be empty");
      bayes.Integer("min_spam_num", config.bayes.min_spam_num, 0, int64_t{1} << 32);
      bayes.Integer("min_ham_num", config.bayes.min_ham_num, 0, int64_t{1} << 32);
      bayes.Integer("expiry_max_db_size", config.bayes.expiry_max_db_size, 1000, int64_t{1} << 32);
    }
    {
      TableReader virus(root.Table("virus"), "virus", problems);
      virus.String("clamd", config.virus.clamd);
      virus.Duration("timeout", config.virus.timeout);
      virus.Integer("max_stream_size", config.virus.max_stream_size, 1024, int64_t{1} << 32);
      virus.String("header_line", config.virus.header_line);
      if (!config.virus.clamd.empty()) {
        if (auto endpoint = net::ParseEndpoint(config.virus.clamd)) {
          config.virus.clamd_address = *endpoint;
        } else {
          problems.push_back("virus.clamd: " + endpoint.error().message);
        }
      }
    }
    {
      TableReader banned(root.Table("banned"), "banned", problems);
      banned.Boolean("enabled", config.banned.enabled);
      banned.StringList("patterns", config.banned.patterns);
      banned.Integer("max_archive_depth", config.banned.max_archive_depth, 0, 100);
      banned.Integer("max_archive_files", config.banned.max_archive_files, 1, 1000000);
      banned.Integer("max_expanded_size", config.banned.max_expanded_size, 1024, int64_t{1} << 40);
    }
    {
      TableReader bad_header(root.Table("bad_header"), "bad_header", problems);
      bad_header.Boolean("enabled", config.bad_header.enabled);
    }
    {
      TableReader actions(root.Table("actions"), "actions", problems);
      const std::initializer_list<std::pair<std::string_view, Action>> choices = {
          {"pass", Action::kPass},
          {"reject", Action::kReject},
          {"discard", Action::kDiscard},
          {"tempfail", Action::kTempfail}};
      actions.Choice("virus", config.actions.virus, choices);
      actions.Choice("banned", config.actions.banned, choices);
      actions.Choice("unchecked", config.actions.unchecked, choices);
      actions.Choice("unchecked_encrypted", config.actions.unchecked_encrypted, choices);
      actions.Choice("spam", config.actions.spam, choices);
      actions.Choice("bad_header", config.actions.bad_header, choices);
      actions.Choice("after_queue_reject", config.actions.after_queue_reject_bounces,
                     {{"bounce", true}, {"discard", false}});
    }
    {
      TableReader log(root.Table("log"), "log", problems);
      log.Boolean("syslog", config.log.syslog);
      log.String("file", config.log.file);
      log.String("syslog_ident", config.log.syslog_ident);
      log.Choice("syslog_facility", config.log.syslog_facility,
                 {{"mail", std::string("mail")},
                  {"daemon", std::string("daemon")},
                  {"user", std::string("user")},
                  {"local0", std::string("local0")},
                  {"local1", std::string("local1")},
                  {"local2", std::string("local2")},
                  {"local3", std::string("local3")},
                  {"local4", std::string("local4")},
                  {"local5", std::string("local5")},
                  {"local6", std::string("local6")},
                  {"local7", std::string("local7")}});
      if (config.log.syslog_ident.empty() ||
          config.log.syslog_ident.find_first_of(" []:") != std::string::npos) {
        problems.push_back("log.syslog_ident: a word without spaces, brackets or colons");
      }
    }
    {
      TableReader quarantine(root.Table("quarantine"), "quarantine", problems);
      quarantine.String("directory", config.quarantine.directory);
      quarantine.StringList("categories", config.quarantine.categories);
      for (const std::string& name : config.quarantine.categories) {
        if (name != "virus" && name != "banned" && name != "unchecked" && name != "spam" &&
            name != "bad_header") {
          problems.push_back(fmt::format(
              "quarantine.categories: \"{}\" is not one of virus, banned, unchecked, spam, "
              "bad_header",
              name));
        }
      }
      if (!config.quarantine.directory.empty() && config.quarantine.directory.front() != '/') {
        problems.push_back("quarantine.directory: must be an absolute path (or \"\" for none)");
      }
    }
    {
      TableReader spool(root.Table("spool"), "spool", problems);
      spool.String("directory", config.spool.directory);
      spool.Integer("memory_limit", config.spool.memory_limit, 4096, int64_t{1} << 32);
    }
  }

  // Cross-key checks.
  if (config.hostname.empty()) problems.push_back("server.hostname: must not be empty");
  for (size_t i = 0; i < config.listeners.size(); ++i) {
    if (config.listeners[i].address == config.relay.next_hop) {
      problems.push_back(fmt::format(
          "relay.next_hop: {} is also listen[{}].address: mail would loop through mailsift",
          config.relay.next_hop_text, i));
    }
    for (size_t j = 0; j < i; ++j) {
      if (config.listeners[i].address == config.listeners[j].address) {
        problems.push_back(fmt::format("listen[{}].address: same address as listen[{}]", i, j));
      }
    }
  }
  if (config.spool.directory.empty() || config.spool.directory.front() != '/') {
    problems.push_back("spool.directory: must be an absolute path");
  }
  for (size_t i = 0; i < config.listeners.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (config.listeners[i].name == config.listeners[j].name) {
        problems.push_back(fmt::format("listen[{}].name: same name as listen[{}]", i, j));
      }
    }
  }
  if (config.control.socket.empty() || config.control.socket.front() != '/') {
    problems.push_back("control.socket: must be an absolute path");
  }
  if (!config.supervisor.chroot.empty() && config.supervisor.chroot.front() != '/') {
    problems.push_back("supervisor.chroot: must be an absolute path");
  }
  // Every path is absolute: `mailsift start` runs from "/", a generation may run in a chroot,
  // and `reload` or `upgrade` may be asked from any directory, so a relative path would name
  // a different file depending on how mailsift was started.
  auto require_absolute = [&problems](std::string_view key, const std::string& path) {
    if (!path.empty() && path.front() != '/') {
      problems.push_back(fmt::format("{}: must be an absolute path (\"{}\")", key, path));
    }
  };
  require_absolute("control.pid_file", config.control.pid_file);
  for (size_t i = 0; i < config.spam.rule_dirs.size(); ++i) {
    require_absolute(fmt::format("spam.rule_dirs[{}]", i), config.spam.rule_dirs[i]);
  }
  require_absolute("spam.site_dir", config.spam.site_dir);
  if (config.spam.prefilter_cache_dir != "none") {
    require_absolute("spam.prefilter_cache_dir", config.spam.prefilter_cache_dir);
  }
  require_absolute("log.file", config.log.file);
  require_absolute("bayes.path", config.bayes.path);
  return config;
}

// The keys a policy bank may overlay, per section ("*": every key of the section). The rest
// (listeners, relay, rule directories, clamd's address, banned patterns …) belongs to the
// generation, not to a message's policy.
const std::map<std::string_view, std::set<std::string_view>>& PolicyKeys() {
  static const std::map<std::string_view, std::set<std::string_view>> keys = {
      {"spam",
       {"tag_level", "tag2_level", "kill_level", "subject_tag", "dsn_cutoff_level", "allow_senders",
        "deny_senders", "local_domains"}},
      {"actions", {"*"}},
      {"quarantine", {"categories"}},
      {"virus", {"header_line"}},
  };
  return keys;
}

void ReadPolicyBanks(const toml::table& root_table, const std::string& source_name, Config& config,
                     std::vector<std::string>& problems) {
  const toml::node* node = root_table.get("policy_bank");
  if (node == nullptr) return;
  const toml::array* banks = node->as_array();
  if (banks == nullptr) {
    problems.push_back("policy_bank: must be [[policy_bank]] tables");
    return;
  }
  std::set<std::string> names;
  for (size_t i = 0; i < banks->size(); ++i) {
    const toml::table* bank = (*banks)[i].as_table();
    std::string prefix = fmt::format("policy_bank[{}]", i);
    if (bank == nullptr) {
      problems.push_back(prefix + ": must be a table");
      continue;
    }
    PolicyBank policy;
    TableReader reader(bank, prefix, problems);
    reader.String("name", policy.name);
    if (policy.name.empty() || policy.name.find_first_of(" ,{}[]") != std::string::npos) {
      problems.push_back(prefix + ".name: a name without spaces, commas or brackets");
    } else if (!names.insert(policy.name).second) {
      problems.push_back(fmt::format("{}.name: \"{}\" is used twice", prefix, policy.name));
    }
    reader.NetworkList("client_networks", policy.client_networks);
    reader.StringList("listeners", policy.listeners);
    for (const std::string& name : policy.listeners) {
      if (std::none_of(config.listeners.begin(), config.listeners.end(),
                       [&](const Listener& l) { return l.name == name; })) {
        problems.push_back(fmt::format("{}.listeners: no listener is named \"{}\"", prefix, name));
      }
    }
    reader.StringList("bypass", policy.bypass);
    for (const std::string& check : policy.bypass) {
      if (check != "spam" && check != "virus" && check != "banned" && check != "bad_header") {
        problems.push_back(fmt::format(
            "{}.bypass: \"{}\" is not one of spam, virus, banned, bad_header", prefix, check));
      }
    }
    if (policy.client_networks.empty() && policy.listeners.empty()) {
      problems.push_back(prefix + ": selects nothing: give client_networks or listeners");
    }
    // The bank's policy: the file's table with the bank's sections laid over it.
    toml::table merged = root_table;
    merged.erase("policy_bank");
    for (const auto& [section, allowed] : PolicyKeys()) {
      const toml::node* overlay_node = reader.Get(section);
      if (overlay_node == nullptr) continue;
      const toml::table* overlay = overlay_node->as_table();
      if (overlay == nullptr) {
        problems.push_back(fmt::format("{}.{}: must be a table", prefix, section));
        continue;
      }
      if (!merged.contains(section)) merged.insert(section, toml::table{});
      toml::table& target = *merged.get(section)->as_table();
      for (const auto& [key, value] : *overlay) {
        if (!allowed.contains("*") && !allowed.contains(key.str())) {
          problems.push_back(fmt::format(
              "{}.{}.{}: not a policy key (a bank overlays {})", prefix, section, key.str(),
              section == "spam"         ? "levels, tags, sender lists, local_domains"
              : section == "quarantine" ? "categories"
                                        : "header_line"));
          continue;
        }
        target.insert_or_assign(key.str(), value);
      }
    }
    std::vector<std::string> bank_problems;
    Config bank_config = ReadConfig(merged, source_name, bank_problems);
    for (const std::string& problem : bank_problems) {
      problems.push_back(fmt::format("{} ({}): {}", prefix, policy.name, problem));
    }
    policy.config = std::make_shared<const Config>(std::move(bank_config));
    config.policy_banks.push_back(std::move(policy));
  }
}

}  // namespace

const PolicyBank* SelectPolicyBank(const Config& config, std::string_view listener,
                                   std::string_view client_address) {
  for (const PolicyBank& bank : config.policy_banks) {
    if (std::find(bank.listeners.begin(), bank.listeners.end(), listener) != bank.listeners.end()) {
      return &bank;
    }
    if (!client_address.empty()) {
      for (const net::Network& network : bank.client_networks) {
        if (network.Contains(client_address)) return &bank;
      }
    }
  }
  return nullptr;
}

tl::expected<Config, Problems> ParseConfig(std::string_view toml_text,
                                           const std::string& source_name) {
  std::vector<std::string> problems;
  toml::table root_table;
  try {
    root_table = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& error) {
    const auto& where = error.source().begin;
    problems.push_back(fmt::format("{}:{}:{}: TOML syntax: {}", source_name, where.line,
                                   where.column, error.description()));
    return tl::unexpected(Problems{problems});
  }

  Config config = ReadConfig(root_table, source_name, problems);
  if (problems.empty()) ReadPolicyBanks(root_table, source_name, config, problems);
  config.digest = fmt::format("{:016x}", Fnv1a(toml_text));

  if (!problems.empty()) return tl::unexpected(Problems{problems});
  return config;
}

std::string ControlSocketOf(const std::string& path) {
  std::string socket = Control{}.socket;
  try {
    toml::table table = toml::parse_file(path);
    if (auto value = table["control"]["socket"].value<std::string>()) socket = *value;
    return socket;
  } catch (const std::exception&) {
    // A broken file (e.g. the one a reload is about to refuse): find the key line by line.
  }
  std::ifstream in(path);
  bool in_control = false;
  for (std::string line; std::getline(in, line);) {
    std::string_view text = TrimSpaces(line);
    if (text.starts_with("[")) {
      in_control = text.starts_with("[control]");
      continue;
    }
    if (!in_control || !text.starts_with("socket")) continue;
    size_t first = text.find('"'), last = text.rfind('"');
    std::string_view key = TrimSpaces(text.substr(0, text.find('=')));
    if (key == "socket" && first != std::string_view::npos && last > first) {
      socket = std::string(text.substr(first + 1, last - first - 1));
    }
  }
  return socket;
}

tl::expected<Config, Problems> LoadConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return tl::unexpected(Problems{{fmt::format("{}: cannot read the config file", path)}});
  }
  std::stringstream text;
  text << in.rdbuf();
  auto config = ParseConfig(text.str(), path);
  if (!config) return config;
  // Checked outside a chroot; with supervisor.chroot the generation checks inside it.
  if (config->supervisor.chroot.empty() &&
      ::access(config->spool.directory.c_str(), W_OK | X_OK) != 0) {
    return tl::unexpected(Problems{{fmt::format(
        "spool.directory: \"{}\" is not a writable directory", config->spool.directory)}});
  }
  return config;
}

}  // namespace mailsift::config
