// rules/cf/cf_parser.cc — see cf_parser.h. References are to SpamAssassin 4.0.1's Perl sources
// (Mail/SpamAssassin/Conf/Parser.pm, Conf.pm, Util.pm, Plugin/ReplaceTags.pm).
#include "rules/cf/cf_parser.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <system_error>

#include "base/strings.h"

namespace mailsift::rules {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kVersionString = "4.000001";
constexpr std::string_view kReplaceTagsPlugin = "Mail::SpamAssassin::Plugin::ReplaceTags";
constexpr std::string_view kMimeHeaderPlugin = "Mail::SpamAssassin::Plugin::MIMEHeader";
// Nested replace_tags grow a pattern at most 6 times over; SA's largest is ~224 KB.
constexpr size_t kMaxReplacedPattern = 4 << 20;

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool IsWord(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsFlagChar(char c) { return IsLower(c) && c != 'e'; }  // [a-df-z]

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Perl split(/\s+/, $s, 2): first word and the rest (with its leading whitespace removed).
std::pair<std::string_view, std::string_view> SplitFirst(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && !IsSpace(s[i])) ++i;
  std::string_view first = s.substr(0, i);
  while (i < s.size() && IsSpace(s[i])) ++i;
  return {first, s.substr(i)};
}

std::vector<std::string> Words(std::string_view s) {
  std::vector<std::string> words;
  for (;;) {
    s = Trim(s);
    if (s.empty()) return words;
    auto [first, rest] = SplitFirst(s);
    words.emplace_back(first);
    s = rest;
  }
}

// IS_RULENAME (Constants.pm): [_a-zA-Z][_a-zA-Z0-9]{0,127}; add_test refuses more than 100.
bool IsRuleName(std::string_view s) {
  if (s.empty() || s.size() > 100) return false;
  if (!(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s) {
    if (!IsWord(c)) return false;
  }
  return true;
}

// Perl's \s+\[if-unset:\s+(.+)\]$ stripped from the end of a header rule's pattern.
std::optional<std::string> StripIfUnset(std::string& pattern) {
  if (pattern.empty() || pattern.back() != ']') return std::nullopt;
  // The leftmost "\s+[if-unset:" whose remainder matches: (.+) is greedy, so the first one.
  for (size_t i = 1; i < pattern.size(); ++i) {
    if (!IsSpace(pattern[i - 1])) continue;
    if (pattern.compare(i, 10, "[if-unset:") != 0) continue;
    size_t v = i + 10;
    size_t spaces = v;
    while (spaces < pattern.size() && IsSpace(pattern[spaces])) ++spaces;
    if (spaces == v) continue;
    // (.+) takes at least one char before the final ']'; \s+ gives back one space if needed.
    size_t value_start = spaces;
    if (value_start + 1 >= pattern.size()) {
      if (spaces - v < 2) continue;
      value_start = spaces - 1;
    }
    std::string value = pattern.substr(value_start, pattern.size() - 1 - value_start);
    size_t cut = i - 1;
    while (cut > 0 && IsSpace(pattern[cut - 1])) --cut;
    pattern.resize(cut);
    return value;
  }
  return std::nullopt;
}

// Capture templates and named captures (Conf/Parser.pm parse_captures).
void ParseCaptures(Rule& rule) {
  const std::string& re = rule.regex.pattern;
  for (size_t i = 0; i + 2 < re.size(); ++i) {
    if (re[i] != '%' || re[i + 1] != '{' || (i > 0 && re[i - 1] == '\\')) continue;
    size_t j = i + 2;
    if (j >= re.size() || !(re[j] >= 'A' && re[j] <= 'Z')) continue;
    while (j < re.size() && (std::isupper(static_cast<unsigned char>(re[j])) ||
                             std::isdigit(static_cast<unsigned char>(re[j])) || re[j] == '_')) {
      ++j;
    }
    size_t name_end = j;
    if (j < re.size() && re[j] == '(') {
      while (j < re.size() && re[j] != ')' && re[j] != '}') ++j;
      if (j >= re.size() || re[j] != ')') continue;
      ++j;
    }
    if (j >= re.size() || re[j] != '}') continue;
    std::string name = re.substr(i + 2, name_end - (i + 2));
    if (std::find(rule.capture_templates.begin(), rule.capture_templates.end(), name) ==
        rule.capture_templates.end()) {
      rule.capture_templates.push_back(name);
    }
  }
  // \(\?P?[<'][A-Z]
  for (size_t i = 0; i + 3 < re.size(); ++i) {
    if (re[i] != '(' || re[i + 1] != '?') continue;
    size_t j = i + 2;
    if (re[j] == 'P') ++j;
    if (j + 1 < re.size() && (re[j] == '<' || re[j] == '\'') && re[j + 1] >= 'A' &&
        re[j + 1] <= 'Z') {
      rule.defines_captures = true;
      break;
    }
  }
}

Result<EvalCall> ParseEval(std::string_view fn) {
  // ^\w+\(.*\)$ then ^(\w+)\((.*?)\)$
  size_t i = 0;
  while (i < fn.size() && IsWord(fn[i])) ++i;
  if (i == 0 || i >= fn.size() || fn[i] != '(' || fn.back() != ')' || fn.size() < i + 2) {
    return Fail("invalid eval call '" + std::string(fn) + "'");
  }
  EvalCall call;
  call.function = std::string(fn.substr(0, i));
  auto args = ParseEvalArgs(fn.substr(i + 1, fn.size() - i - 2));
  if (!args) return Fail("syntax error in the arguments of eval " + call.function);
  call.args = std::move(*args);
  return call;
}

// Directives SpamAssassin 4.0.1 (with its standard plugins) knows that are not rule
// definitions: kept as key/value lists without a warning.
bool IsKnownSetting(std::string_view key) {
  static constexpr std::string_view kExact[] = {
      "report",
      "unsafe_report",
      "add_header",
      "remove_header",
      "clear_headers",
      "clear_report_template",
      "clear_unsafe_report_template",
      "report_charset",
      "report_safe",
      "report_contact",
      "report_hostname",
      "report_safe_copy_headers",
      "required_score",
      "required_hits",
      "ok_locales",
      "ok_languages",
      "normalize_charset",
      "redirector_pattern",
      "originating_ip_headers",
      "clear_originating_ip_headers",
      "envelope_sender_header",
      "trusted_networks",
      "internal_networks",
      "msa_networks",
      "clear_trusted_networks",
      "clear_internal_networks",
      "clear_msa_networks",
      "always_trust_envelope_sender",
      "skip_rbl_checks",
      "rbl_timeout",
      "util_rb_tld",
      "util_rb_2tld",
      "util_rb_3tld",
      "clear_util_rb",
      "freemail_domains",
      "freemail_whitelist",
      "freemail_welcomelist",
      "freemail_max_body_emails",
      "freemail_max_body_freemails",
      "freemail_skip_when_over_max",
      "freemail_skip_bulk_envfrom",
      "freemail_add_describe_email",
      "freemail_import_welcomelist_auth",
      "freemail_import_whitelist_auth",
      "freemail_import_def_welcomelist_auth",
      "freemail_import_def_whitelist_auth",
      "url_shortener",
      "url_shortener_get",
      "bayes_ignore_header",
      "bayes_auto_learn",
      "bayes_auto_learn_threshold_spam",
      "bayes_auto_learn_threshold_nonspam",
      "use_bayes",
      "use_bayes_rules",
      "use_razor2",
      "use_pyzor",
      "use_dcc",
      "use_auto_whitelist",
      "use_auto_welcomelist",
      "use_learner",
      "adsp_override",
      "uridnsbl_skip_domain",
      "uridnsbl",
      "urirhsbl",
      "urirhssub",
      "uridnssub",
      "urinsrhsbl",
      "urinsrhssub",
      "urifullnsrhsbl",
      "urifullnsrhssub",
      "uridnsbl_max_domains",
      "dns_local_ports_avoid",
      "dns_local_ports_permit",
      "dns_local_ports_none",
      "dns_block_rule",
      "dns_available",
      "dns_server",
      "dns_options",
      "dns_test_interval",
      "dns_query_restriction",
      "fns_ignore_headers",
      "fns_ignore_dkim",
      "fns_check",
      "asn_lookup",
      "asn_lookup_ipv6",
      "asn_prefix",
      "clear_asn_lookups",
      "enlist_uri_host",
      "delist_uri_host",
      "enlist_addrlist",
      "delist_addrlist",
      "blocklist_uri_host",
      "welcomelist_uri_host",
      "blacklist_uri_host",
      "whitelist_uri_host",
      "test",
      "lock_method",
      "envelope_sender_header",
      "body_part_scan_size",
      "rawbody_part_scan_size",
      "uri_block_cc",
      "uri_block_cont",
      "uri_country_db_path",
      "parse_dkim_uris",
      "hashbl_ignore",
      "hashbl_acl",
      "hashbl_email_regex",
      "hashbl_email_domain_alias",
      "hashbl_email_welcomelist",
      "hashbl_email_whitelist",
      "check_rbl_txt",
      "shortcircuit",
      "shortcircuit_spam_score",
      "shortcircuit_ham_score",
      "clear_tag",
      "tag",
      "tldp",
      "uridnsbl_skip_mailto",
      "util_rb_dkim",
      "num_check_received",
      "spamcop_from_address",
      "spamcop_to_address",
      "spamcop_max_report_size",
      "pyzor_options",
      "pyzor_path",
      "pyzor_timeout",
      "pyzor_max",
      "pyzor_count_min",
      "pyzor_welcomelist_min",
      "pyzor_whitelist_min",
      "pyzor_welcomelist_factor",
      "pyzor_whitelist_factor",
      "razor_config",
      "razor_timeout",
      "check_mx_attempts",
      "check_mx_delay",
      "allow_user_rules",
      "user_scores_dsn",
      "unwhitelist_from",
      "unwelcomelist_from",
      "unblacklist_from",
      "unblocklist_from",
      "subjprefix",
      "rewrite_header",
      "fold_headers",
      "spamd_result_log_items",
      "urirhsbl_max",
      "textcat_acceptable_prob",
      "textcat_max_languages",
      "inactive_score_threshold",
      "mimeheader_concat",
      "decode_short_urls",
  };
  static constexpr std::string_view kPrefixes[] = {
      "bayes_",
      "dns_",
      "welcomelist_",
      "whitelist_",
      "blocklist_",
      "blacklist_",
      "def_",
      "unwhitelist_",
      "unwelcomelist_",
      "unblocklist_",
      "unblacklist_",
      "util_rb_",
      "uridnsbl_",
      "urirhs",
      "hashbl_",
      "dkim_",
      "spf_",
      "dmarc_",
      "clear_",
      "report_",
      "freemail_",
      "url_shortener",
      "enlist_",
      "delist_",
      "askdns_",
      "asn_",
      "fns_",
      "razor_",
      "pyzor_",
      "dcc_",
      "txrep_",
      "auto_whitelist_",
      "auto_welcomelist_",
      "shortcircuit_",
      "textcat_",
      "ok_",
      "trusted_",
      "internal_",
      "msa_",
      "use_",
      "all_spam_to",
      "more_spam_to",
      "unsafe_report",
      "add_header",
      "remove_header",
      "body_part_",
      "rawbody_part_",
      "pdfinfo_",
      "imageinfo_",
      "olemacro_",
      "extracttext_",
      "phishing_",
      "fromname_",
      "antivirus_",
      "uri_",
      "bayes_stopword_",
      "check_",
      "ignore_",
      "spamcop_",
      "subject_",
      "header_",
      "short_url_",
      "max_",
      "timeout_",
      "tflags_",
      "uribl_",
      "adsp_",
      "arc_",
  };
  for (std::string_view k : kExact) {
    if (k == key) return true;
  }
  for (std::string_view p : kPrefixes) {
    if (StartsWith(key, p)) return true;
  }
  return false;
}

bool IsRuleDirective(std::string_view key) {
  return key == "header" || key == "body" || key == "rawbody" || key == "full" || key == "uri" ||
         key == "meta" || key == "mimeheader";
}

}  // namespace

// ---- ruleset.h helpers -----------------------------------------------------------------------

std::string Diagnostic::ToString() const {
  return where.file + ":" + std::to_string(where.line) + ": " + message;
}

std::string_view RuleTypeName(RuleType type) {
  switch (type) {
    case RuleType::kHeader:
      return "header";
    case RuleType::kBody:
      return "body";
    case RuleType::kRawBody:
      return "rawbody";
    case RuleType::kFull:
      return "full";
    case RuleType::kUri:
      return "uri";
    case RuleType::kMeta:
      return "meta";
    case RuleType::kMimeHeader:
      return "mimeheader";
    case RuleType::kEmpty:
      return "empty";
  }
  return "unknown";
}

bool HeaderSelector::HasModifier(std::string_view m) const {
  return std::find(modifiers.begin(), modifiers.end(), m) != modifiers.end();
}

bool IsPseudoHeader(std::string_view name) {
  std::string n = ToLowerAscii(name);
  return n == "all" || n == "all-trusted" || n == "all-untrusted" || n == "all-internal" ||
         n == "all-external" || n == "tocc" || n == "messageid" || n == "envelopefrom" ||
         StartsWith(n, "x-spam-relays-");
}

bool Rule::HasTflag(std::string_view flag) const {
  for (const auto& [k, v] : tflags) {
    if (k == flag) return true;
  }
  return false;
}

std::optional<std::string> Rule::TflagValue(std::string_view flag) const {
  for (const auto& [k, v] : tflags) {
    if (k == flag) return v;
  }
  return std::nullopt;
}

int Rule::MaxHits() const {
  auto v = TflagValue("maxhits");
  if (!v || v->empty()) return 0;
  char* end = nullptr;
  long n = std::strtol(v->c_str(), &end, 10);
  if (*end != '\0' || n < 0) return 0;
  return static_cast<int>(std::min<long>(n, 1 << 30));
}

const Rule* Ruleset::Find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &rules_[it->second];
}

size_t Ruleset::CountType(RuleType type, std::optional<bool> is_eval) const {
  return static_cast<size_t>(std::count_if(rules_.begin(), rules_.end(), [&](const Rule& r) {
    return r.type == type && (!is_eval || r.is_eval == *is_eval);
  }));
}

const std::vector<std::string>& Ruleset::Setting(std::string_view key) const {
  static const std::vector<std::string> kEmpty;
  auto it = settings_.find(key);
  return it == settings_.end() ? kEmpty : it->second;
}

std::vector<std::string> Ruleset::SettingWords(std::string_view key) const {
  std::vector<std::string> out;
  for (const std::string& line : Setting(key)) {
    for (std::string& w : Words(line)) out.push_back(std::move(w));
  }
  return out;
}

// ---- free functions --------------------------------------------------------------------------

Result<DelimitedRegex> ParseDelimitedRegex(std::string_view text) {
  DelimitedRegex out;
  std::string_view rest;
  if (StartsWith(text, "/")) {
    out.open_delimiter = out.close_delimiter = '/';
    rest = text.substr(1);
  } else {
    size_t prefix = StartsWith(text, "m") ? 1 : StartsWith(text, "qr") ? 2 : 0;
    if (prefix == 0 || text.size() <= prefix || IsWord(text[prefix])) {
      return Fail("missing regexp delimiters");
    }
    char open = text[prefix];
    out.open_delimiter = open;
    switch (open) {
      case '{':
        out.close_delimiter = '}';
        break;
      case '(':
        out.close_delimiter = ')';
        break;
      case '<':
        out.close_delimiter = '>';
        break;
      case '[':
        out.close_delimiter = ']';
        break;
      case '\\':
        return Fail("backslash delimiter not allowed");
      default:
        out.close_delimiter = open;
        break;
    }
    rest = text.substr(prefix + 1);
  }
  size_t end = rest.size();
  while (end > 0 && IsFlagChar(rest[end - 1])) --end;
  if (end == 0 || rest[end - 1] != out.close_delimiter) {
    return Fail("invalid end delimiter/mods");
  }
  out.flags = std::string(rest.substr(end));
  out.pattern = std::string(rest.substr(0, end - 1));
  out.original_pattern = out.pattern;
  if (out.pattern.find("(?{") != std::string::npos ||
      out.pattern.find("(??{") != std::string::npos) {
    return Fail("eval (?{}) found");
  }
  char close = out.close_delimiter;
  if (close != '}' && close != ')' && close != ']') {
    // Unescaped delimiter inside, after dropping escaped backslashes.
    const std::string& p = out.pattern;
    std::string stripped;
    stripped.reserve(p.size());
    for (size_t i = 0; i < p.size(); ++i) {
      if (p[i] == '\\' && i + 1 < p.size() && p[i + 1] == '\\') {
        ++i;
        continue;
      }
      stripped.push_back(p[i]);
    }
    for (size_t i = 0; i < stripped.size(); ++i) {
      if (stripped[i] == close && (i == 0 || stripped[i - 1] != '\\')) {
        return Fail(std::string("unquoted delimiter '") + close + "' found");
      }
    }
  }
  return out;
}

Result<std::vector<std::string>> ParseEvalArgs(std::string_view args) {
  std::vector<std::string> out;
  if (!args.empty() && Trim(args).empty()) return out;  // ^\s+$
  size_t i = 0;
  auto skip_space = [&] {
    while (i < args.size() && IsSpace(args[i])) ++i;
  };
  while (i < args.size()) {
    size_t start = i;
    skip_space();
    if (i >= args.size()) {
      i = start;
      break;
    }
    std::string value;
    if (args[i] == '\'' || args[i] == '"') {
      char q = args[i];
      size_t close = args.find(q, i + 1);
      // (.*?)\1 followed by \s*(,\s*|$): the first closing quote that is followed by that.
      bool found = false;
      while (close != std::string_view::npos) {
        size_t k = close + 1;
        while (k < args.size() && IsSpace(args[k])) ++k;
        if (k == args.size() || args[k] == ',') {
          found = true;
          break;
        }
        close = args.find(q, close + 1);
      }
      if (!found) {
        i = start;
        break;
      }
      value = std::string(args.substr(i + 1, close - i - 1));
      i = close + 1;
    } else {
      size_t j = i;
      while (j < args.size() && (std::isalnum(static_cast<unsigned char>(args[j])) ||
                                 args[j] == '.' || args[j] == ':' || args[j] == '-')) {
        ++j;
      }
      if (j == i) {
        i = start;
        break;
      }
      value = std::string(args.substr(i, j - i));
      i = j;
    }
    skip_space();
    if (i < args.size()) {
      if (args[i] != ',') {
        i = start;
        break;
      }
      ++i;
      skip_space();
    }
    out.push_back(std::move(value));
  }
  if (i < args.size()) return Fail("unparseable eval arguments");
  return out;
}

std::vector<std::string> MetaReferences(std::string_view expression) {
  std::vector<std::string> refs;
  size_t i = 0;
  while (i < expression.size()) {
    char c = expression[i];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      while (i < expression.size() && (IsWord(expression[i]) || expression[i] == '.')) ++i;
      continue;
    }
    if (!IsWord(c)) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < expression.size() && IsWord(expression[j])) ++j;
    std::string name(expression.substr(i, j - i));
    i = j;
    if (name == "local_tests_only") continue;  // a value in metas, not a rule
    if (name == "rules_matching") {
      size_t close = expression.find(')', i);
      i = close == std::string_view::npos ? expression.size() : close + 1;
      continue;
    }
    if (std::find(refs.begin(), refs.end(), name) == refs.end()) refs.push_back(name);
  }
  return refs;
}

// ---- CfParser --------------------------------------------------------------------------------

struct CfParser::ParseState {
  std::string file;
  int line = 0;
  std::vector<IfFrame> if_stack;
  bool skip = false;
};

CfParser::CfParser(ParserOptions options) : options_(std::move(options)) {
  for (const std::string& p : options_.plugins) {
    result_.ruleset.plugins_.insert(NormalizePluginName(p));
  }
}

void CfParser::Error(const SourceLocation& where, std::string message) {
  result_.errors.push_back(Diagnostic{where, std::move(message)});
}

void CfParser::Warn(const SourceLocation& where, std::string message) {
  result_.warnings.push_back(Diagnostic{where, std::move(message)});
}

void CfParser::ReadPath(const fs::path& path, std::string_view extension) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<std::string> names;
    for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (name.size() <= extension.size()) continue;
      if (ToLowerAscii(name.substr(name.size() - extension.size())) != extension) continue;
      std::error_code fec;
      if (!fs::is_regular_file(it->path(), fec)) continue;
      names.push_back(name);
    }
    // Mail::SpamAssassin::_reorder_dir: the official channel first, then by name (byte order).
    std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
      constexpr std::string_view kFirst = "updates_spamassassin_org.cf";
      if (a == kFirst || b == kFirst) return a == kFirst && b != kFirst;
      return a < b;
    });
    for (const std::string& name : names) ParseFileAt(path / name, 0);
    return;
  }
  if (fs::is_regular_file(path, ec)) ParseFileAt(path, 0);
}

void CfParser::ParseFileAt(const fs::path& path, size_t depth) {
  std::string key = path.lexically_normal().string();
  if (!files_read_.insert(key).second) return;  // SA reads a file at most once
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    Error(SourceLocation{path.string(), 0}, "cannot open file");
    return;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  ParseTextAt(buffer.str(), path.string(), depth);
}

void CfParser::ParseText(std::string_view text, const std::string& name) {
  ParseTextAt(text, name, 0);
}

void CfParser::ParseTextAt(std::string_view text, const std::string& name, size_t depth) {
  ParseState state;
  state.file = name;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++state.line;
    HandleLine(line, state, depth);
  }
  for (const IfFrame& frame : state.if_stack) {
    Error(SourceLocation{name, frame.line}, "unclosed 'if' or 'ifplugin' at end of file");
  }
}

void CfParser::HandleLine(std::string_view raw, ParseState& state, size_t depth) {
  SourceLocation where{state.file, state.line};
  std::string line(raw);
  if (line.find('#') != std::string::npos) {
    // s/(?<!\\)#.*$//; s/\\#/#/g
    for (size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '#' && (i == 0 || line[i - 1] != '\\')) {
        line.resize(i);
        break;
      }
    }
    std::string unescaped;
    for (size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '#') continue;
      unescaped.push_back(line[i]);
    }
    line = std::move(unescaped);
  }
  std::string_view text = Trim(line);
  if (text.empty()) return;

  if (StartsWith(text, "lang")) {
    // ^lang\s+(\S+)\s+
    std::string_view after = text.substr(4);
    if (!after.empty() && IsSpace(after.front())) {
      auto [lang, rest] = SplitFirst(Trim(after));
      if (!lang.empty() && !rest.empty()) {
        if (ToLowerAscii(options_.language.substr(0, lang.size())) != ToLowerAscii(lang)) return;
        text = rest;
      }
    }
  }

  auto [key_view, value] = SplitFirst(text);
  std::string key = ToLowerAscii(key_view);
  std::replace(key.begin(), key.end(), '-', '_');

  if (key == "endif") {
    if (!value.empty()) return Error(where, "'endif' must be standalone");
    if (state.if_stack.empty()) return Error(where, "'endif' without 'if'");
    state.skip = state.if_stack.back().outer_skip;
    state.if_stack.pop_back();
    return;
  }
  if (key == "if" || key == "ifplugin") {
    if (value.empty()) return Error(where, "missing '" + key + "' condition");
    ConditionContext context{&result_.ruleset.plugins_, &compat_, options_.local_tests_only};
    bool holds = false;
    if (key == "ifplugin") {
      holds = result_.ruleset.plugins_.count(NormalizePluginName(value)) > 0;
    } else {
      auto r = EvaluateCondition(value, context);
      if (!r) {
        Error(where, "invalid 'if' condition '" + std::string(value) + "': " + r.error().message);
      } else {
        holds = *r;
      }
    }
    state.if_stack.push_back(IfFrame{state.skip, state.line});
    if (!holds) state.skip = true;
    return;
  }
  if (key == "else") {
    if (!value.empty()) return Error(where, "'else' must be standalone");
    if (state.if_stack.empty()) return Error(where, "'else' without 'if'");
    bool outer = std::any_of(state.if_stack.begin(), state.if_stack.end(),
                             [](const IfFrame& f) { return f.outer_skip; });
    state.skip = outer ? true : !state.skip;
    return;
  }
  if (state.skip) return;

  if (key == "include") {
    if (value.empty()) return Error(where, "missing 'include' value");
    if (depth >= options_.max_include_depth) return Error(where, "includes nested too deeply");
    fs::path target(std::string{value});
    if (target.is_relative()) target = fs::path(state.file).parent_path() / target;
    std::error_code ec;
    if (!fs::is_regular_file(target, ec)) {
      return Error(where, "cannot read included file '" + target.string() + "'");
    }
    ParseFileAt(target, depth + 1);
    return;
  }
  if (key == "require_version") {
    if (value.empty()) return Error(where, "missing 'require_version' value");
    if (value == "@@VERSION@@" || value == kVersionString) return;
    Warn(where, "file requires SpamAssassin version " + std::string(value) + ", this is " +
                    std::string(kVersionString) + ": skipping the rest of the file");
    state.skip = true;
    return;
  }
  Directive(key, value, where);
}

void CfParser::Directive(const std::string& key, std::string_view value,
                         const SourceLocation& where) {
  Ruleset& rs = result_.ruleset;
  if (IsRuleDirective(key)) {
    if (key == "mimeheader" && !rs.plugins_.count(kMimeHeaderPlugin)) {
      if (warned_keys_.insert(key).second) {
        Warn(where, "directive 'mimeheader' needs the MIMEHeader plugin: skipped");
      }
      return;
    }
    DefineRule(key, value, where);
    return;
  }
  auto key_value = [&](std::string& name, std::string& rest) {
    auto [k, v] = SplitFirst(value);
    name = std::string(k);
    rest = std::string(v);
    if (name.empty() || rest.empty()) {
      Error(where, "missing '" + key + "' value");
      return false;
    }
    return true;
  };
  std::string name, rest;
  if (key == "describe") {
    if (key_value(name, rest)) describe_[name] = rest;
  } else if (key == "tflags") {
    if (key_value(name, rest)) tflags_[name] = rest;
  } else if (key == "score") {
    std::vector<std::string> words = Words(value);
    if (words.size() != 2 && words.size() != 5) {
      return Error(where, "score: requires a rule name and 1 or 4 scores");
    }
    std::array<double, 4> scores{};
    bool relative = false;
    for (size_t i = 1; i < words.size(); ++i) {
      std::string s = words[i];
      if (s.size() > 2 && s.front() == '(' && s.back() == ')') {
        s = s.substr(1, s.size() - 2);
        relative = true;
      }
      // -?\d+(?:\.\d+)?
      size_t k = s.size() > 0 && s[0] == '-' ? 1 : 0;
      size_t digits = k;
      while (k < s.size() && std::isdigit(static_cast<unsigned char>(s[k]))) ++k;
      bool ok = k > digits;
      if (ok && k < s.size() && s[k] == '.') {
        size_t frac = ++k;
        while (k < s.size() && std::isdigit(static_cast<unsigned char>(s[k]))) ++k;
        ok = k > frac;
      }
      if (!ok || k != s.size()) return Error(where, "score: '" + words[i] + "' is not numeric");
      scores[i - 1] = std::strtod(s.c_str(), nullptr);
    }
    if (words.size() == 2) scores = {scores[0], scores[0], scores[0], scores[0]};
    auto existing = scores_.find(words[0]);
    if (relative) {
      if (existing == scores_.end()) {
        return Error(where, "score: relative score without a previous score");
      }
      for (int i = 0; i < 4; ++i) scores[i] += existing->second[i];
    }
    scores_[words[0]] = scores;
  } else if (key == "priority") {
    std::vector<std::string> words = Words(value);
    char* end = nullptr;
    long p = words.size() == 2 ? std::strtol(words[1].c_str(), &end, 10) : 0;
    if (words.size() != 2 || *end != '\0' || words[1].empty()) {
      return Error(where, "priority: requires a rule name and an integer");
    }
    priority_[words[0]] = static_cast<int>(std::clamp<long>(p, -1000000000L, 1000000000L));
  } else if (key == "reuse" || key == "askdns") {
    std::vector<std::string> words = Words(value);
    if (words.empty() || !IsRuleName(words[0])) return Error(where, "invalid '" + key + "' value");
    if (!rs.Find(words[0])) {
      Rule rule;
      rule.name = words[0];
      rule.type = RuleType::kEmpty;
      rule.where = where;
      AddRule(std::move(rule));
    }
    rs.settings_[key].emplace_back(value);
  } else if (key == "replace_tag" || key == "replace_pre" || key == "replace_inter" ||
             key == "replace_post") {
    if (!key_value(name, rest)) return;
    if (key == "replace_tag") rs.replace_tags_[name] = rest;
    if (key == "replace_pre") replace_pre_[name] = rest;
    if (key == "replace_inter") replace_inter_[name] = rest;
    if (key == "replace_post") replace_post_[name] = rest;
  } else if (key == "replace_rules") {
    for (std::string& w : Words(value)) replace_rules_.push_back(std::move(w));
  } else if (key == "replace_start" || key == "replace_end") {
    if (value.empty()) return Error(where, "missing '" + key + "' value");
    (key == "replace_start" ? replace_start_ : replace_end_) = std::string(value);
  } else if (key == "loadplugin" || key == "tryplugin") {
    std::vector<std::string> words = Words(value);
    if (words.empty()) return Error(where, "missing '" + key + "' value");
    rs.plugins_.insert(NormalizePluginName(words[0]));
  } else if (key == "enable_compat") {
    if (value.empty()) return Error(where, "missing 'enable_compat' value");
    compat_.insert(std::string(value));
  } else if (IsKnownSetting(key)) {
    rs.settings_[key].emplace_back(value);
  } else if (warned_keys_.insert(key).second) {
    Warn(where, "unknown directive '" + key + "': skipped");
  }
}

void CfParser::DefineRule(const std::string& key, std::string_view value,
                          const SourceLocation& where) {
  auto [name_view, def] = SplitFirst(value);
  if (name_view.empty() || def.empty()) {
    return Error(where, "'" + key + "' needs a rule name and a definition");
  }
  std::string name(name_view);
  if (!IsRuleName(name)) return Error(where, "invalid rule name '" + name + "'");
  Rule rule;
  rule.name = name;
  rule.definition = std::string(def);
  rule.where = where;
  auto fail = [&](const std::string& why) { Error(where, "rule " + name + ": " + why); };
  auto set_regex = [&](std::string_view text) {
    auto re = ParseDelimitedRegex(text);
    if (!re) {
      fail("invalid regexp '" + std::string(text) + "': " + re.error().message);
      return false;
    }
    rule.regex = std::move(*re);
    return true;
  };
  auto set_eval = [&](std::string_view fn) {
    auto call = ParseEval(fn);
    if (!call) {
      fail(call.error().message);
      return false;
    }
    rule.eval = std::move(*call);
    rule.is_eval = true;
    return true;
  };

  if (key == "header") {
    rule.type = RuleType::kHeader;
    std::string_view fn;
    if (StartsWith(def, "eval:")) fn = def.substr(5);
    if (StartsWith(def, "rbleval:")) fn = def.substr(8);
    if (!fn.empty() || StartsWith(def, "eval:") || StartsWith(def, "rbleval:")) {
      if (!set_eval(fn)) return;
      rule.is_rbl_eval = StartsWith(rule.eval.function, "check_rbl") ||
                         StartsWith(rule.eval.function, "check_dns");
    } else if (StartsWith(def, "exists:")) {
      std::string_view hdr = def.substr(7);
      if (!hdr.empty() && hdr.back() == ':') hdr.remove_suffix(1);
      bool ok = !hdr.empty();
      for (char c : hdr) ok = ok && (IsWord(c) || c == '.' || c == '-');
      if (!ok) return fail("invalid header name in '" + std::string(def) + "'");
      rule.header.name = std::string(hdr);
      rule.header.exists = true;
    } else {
      // ^([\w.-]+(?:\:|(?:\:[a-z]+){1,2})?)\s*([=!]~)\s*(.+)$
      size_t i = 0;
      while (i < def.size() && (IsWord(def[i]) || def[i] == '.' || def[i] == '-')) ++i;
      if (i == 0) return fail("invalid header test '" + std::string(def) + "'");
      rule.header.name = std::string(def.substr(0, i));
      size_t mods = 0;
      while (i < def.size() && def[i] == ':') {
        size_t j = i + 1;
        while (j < def.size() && IsLower(def[j])) ++j;
        if (j == i + 1) {  // a lone trailing ':'
          if (mods > 0) break;
          i = j;
          break;
        }
        rule.header.modifiers.emplace_back(def.substr(i + 1, j - i - 1));
        i = j;
        if (++mods == 2) break;
      }
      while (i < def.size() && IsSpace(def[i])) ++i;
      if (i + 1 >= def.size() || (def[i] != '=' && def[i] != '!') || def[i + 1] != '~') {
        return fail("invalid header test '" + std::string(def) + "'");
      }
      rule.header.negated = def[i] == '!';
      i += 2;
      while (i < def.size() && IsSpace(def[i])) ++i;
      if (i >= def.size()) return fail("header test without a pattern");
      static constexpr std::string_view kMods[] = {"raw", "addr",  "name",  "host", "domain",
                                                   "ip",  "revip", "first", "last"};
      for (const std::string& m : rule.header.modifiers) {
        if (std::find(std::begin(kMods), std::end(kMods), m) == std::end(kMods)) {
          return fail("invalid header modifier ':" + m + "'");
        }
      }
      std::string pattern(def.substr(i));
      rule.header.if_unset = StripIfUnset(pattern);
      if (!set_regex(pattern)) return;
      ParseCaptures(rule);
    }
  } else if (key == "mimeheader") {
    rule.type = RuleType::kMimeHeader;
    // ^([^:\s]+(?:\:(?:raw)?)?)\s*([=!]~)\s*(.+)$
    size_t i = 0;
    while (i < def.size() && def[i] != ':' && !IsSpace(def[i]) &&
           !((def[i] == '=' || def[i] == '!') && i + 1 < def.size() && def[i + 1] == '~')) {
      ++i;
    }
    if (i == 0) return fail("invalid mimeheader test '" + std::string(def) + "'");
    rule.header.name = std::string(def.substr(0, i));
    if (i < def.size() && def[i] == ':') {
      ++i;
      if (def.substr(i, 3) == "raw") {
        rule.header.modifiers.push_back("raw");
        i += 3;
      }
    }
    while (i < def.size() && IsSpace(def[i])) ++i;
    if (i + 1 >= def.size() || (def[i] != '=' && def[i] != '!') || def[i + 1] != '~') {
      return fail("invalid mimeheader test '" + std::string(def) + "'");
    }
    rule.header.negated = def[i] == '!';
    i += 2;
    while (i < def.size() && IsSpace(def[i])) ++i;
    if (i >= def.size()) return fail("mimeheader test without a pattern");
    std::string pattern(def.substr(i));
    rule.header.if_unset = StripIfUnset(pattern);
    if (!set_regex(pattern)) return;
  } else if (key == "meta") {
    rule.type = RuleType::kMeta;
    // Conf.pm refuses '**'; the rest must be an expression of names, numbers and operators.
    int depth = 0;
    for (size_t i = 0; i < def.size(); ++i) {
      char c = def[i];
      if (c == '(') ++depth;
      if (c == ')' && --depth < 0) return fail("unbalanced ')' in meta expression");
      if (c == '*') {
        size_t j = i + 1;
        while (j < def.size() && IsSpace(def[j])) ++j;
        if (j < def.size() && def[j] == '*') return fail("invalid '**' in meta expression");
      }
      if (!(IsWord(c) || IsSpace(c) ||
            std::string_view("()!&|<>=+-*/.?:^").find(c) != std::string_view::npos)) {
        return fail(std::string("invalid character '") + c + "' in meta expression");
      }
    }
    if (depth != 0) return fail("unbalanced '(' in meta expression");
    rule.meta_expression = std::string(def);
    rule.meta_refs = MetaReferences(def);
    for (size_t p = def.find("rules_matching"); p != std::string_view::npos;
         p = def.find("rules_matching", p + 1)) {
      size_t open = def.find('(', p);
      size_t close = def.find(')', p);
      if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
        return fail("invalid rules_matching() in meta expression");
      }
      rule.meta_rules_matching.emplace_back(Trim(def.substr(open + 1, close - open - 1)));
    }
  } else {
    rule.type = key == "body"      ? RuleType::kBody
                : key == "rawbody" ? RuleType::kRawBody
                : key == "full"    ? RuleType::kFull
                                   : RuleType::kUri;
    if (rule.type != RuleType::kUri && StartsWith(def, "eval:")) {
      if (!set_eval(def.substr(5))) return;
    } else {
      if (!set_regex(def)) return;
      ParseCaptures(rule);
    }
  }
  AddRule(std::move(rule));
}

void CfParser::AddRule(Rule rule) {
  Ruleset& rs = result_.ruleset;
  auto it = rs.index_.find(rule.name);
  if (it != rs.index_.end()) {
    rs.rules_[it->second] = std::move(rule);  // redefinition: the later one wins
    return;
  }
  rs.index_.emplace(rule.name, rs.rules_.size());
  rs.rules_.push_back(std::move(rule));
}

void CfParser::FixTflagsAndPriorities() {
  Ruleset& rs = result_.ruleset;
  for (Rule& rule : rs.rules_) {
    if (auto d = describe_.find(rule.name); d != describe_.end()) rule.describe = d->second;
    if (auto t = tflags_.find(rule.name); t != tflags_.end()) {
      for (const std::string& w : Words(t->second)) {
        size_t eq = w.find('=');
        if (eq == std::string::npos) {
          rule.tflags.emplace_back(w, "");
        } else {
          rule.tflags.emplace_back(w.substr(0, eq), w.substr(eq + 1));
        }
      }
    }
    if (rule.defines_captures) rule.priority = -10000;
    if (auto p = priority_.find(rule.name); p != priority_.end()) rule.priority = p->second;
  }
  // Razor2/Pyzor finish_parsing_start: with razor_fork / pyzor_fork (default on) their eval
  // rules run early, at priority -100.
  auto fork_on = [&](const char* plugin, const char* setting) {
    if (!rs.plugins_.count(plugin)) return false;
    const std::vector<std::string>& v = rs.Setting(setting);
    if (v.empty()) return true;
    std::string last = ToLowerAscii(Trim(v.back()));
    return !(last == "0" || last == "no" || last == "false");
  };
  bool razor_fork = fork_on("Mail::SpamAssassin::Plugin::Razor2", "razor_fork");
  bool pyzor_fork = fork_on("Mail::SpamAssassin::Plugin::Pyzor", "pyzor_fork");
  for (Rule& rule : rs.rules_) {
    if (!rule.is_eval) continue;
    const std::string& fn = rule.eval.function;
    if ((razor_fork && (fn == "check_razor2" || fn == "check_razor2_range")) ||
        (pyzor_fork && fn == "check_pyzor")) {
      rule.priority = -100;
    }
  }
  // Parser.pm fix_priorities: a meta pulls the rules it depends on to its own (lower) priority.
  std::vector<size_t> order(rs.rules_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (rs.rules_[a].priority != rs.rules_[b].priority) {
      return rs.rules_[a].priority < rs.rules_[b].priority;
    }
    return rs.rules_[a].name < rs.rules_[b].name;
  });
  for (size_t i : order) {
    const Rule& meta = rs.rules_[i];
    if (meta.type != RuleType::kMeta) continue;
    for (const std::string& dep : meta.meta_refs) {
      auto d = rs.index_.find(dep);
      if (d == rs.index_.end()) continue;
      Rule& dep_rule = rs.rules_[d->second];
      if (dep_rule.priority > meta.priority) {
        dep_rule.priority = meta.priority < -100 && dep_rule.HasTflag("net") ? -100 : meta.priority;
      }
    }
  }
  // Parser.pm fix_tflags: a meta inherits `net` from a dependency that has it. SA walks a hash
  // once, so whether `net` travels along a chain of metas depends on hash order; following
  // chains to the end gives what SA's own parse shows for the Debian rules.
  for (bool changed = true; changed;) {
    changed = false;
    for (Rule& meta : rs.rules_) {
      if (meta.type != RuleType::kMeta || meta.HasTflag("net")) continue;
      for (const std::string& dep : meta.meta_refs) {
        const Rule* d = rs.Find(dep);
        if (d && d->HasTflag("net")) {
          meta.tflags.emplace_back("net", "");
          changed = true;
          break;
        }
      }
    }
  }
  // Parser.pm fix_tests: default scores.
  for (Rule& rule : rs.rules_) {
    if (auto s = scores_.find(rule.name); s != scores_.end()) {
      rule.scores = s->second;
      rule.has_explicit_score = true;
    } else {
      double v = StartsWith(rule.name, "T_") ? 0.01 : 1.0;
      if (rule.HasTflag("nice")) v = -v;
      rule.scores = {v, v, v, v};
    }
  }
}

void CfParser::ApplyReplaceTags() {
  Ruleset& rs = result_.ruleset;
  if (!rs.plugins_.count(kReplaceTagsPlugin)) return;
  const std::string& start = replace_start_;
  const std::string& end = replace_end_;
  // $start(.+?)$end with a keyword prefix: removes the first "<pre NAME>" etc. and returns NAME.
  auto take = [&](std::string& re, const std::string& keyword) -> std::string {
    std::string open = start + keyword + " ";
    size_t p = re.find(open);
    while (p != std::string::npos) {
      size_t name_start = p + open.size();
      size_t close = re.find(end, name_start + 1);
      if (close != std::string::npos && close > name_start) {
        std::string name = re.substr(name_start, close - name_start);
        re.erase(p, close + end.size() - p);
        return name;
      }
      p = re.find(open, p + 1);
    }
    return {};
  };
  // Tag segments as split(/(<[^<>]+>)/) produces them.
  auto split = [](const std::string& re) {
    std::vector<std::string> parts;
    std::string current;
    size_t i = 0;
    while (i < re.size()) {
      if (re[i] == '<') {
        size_t j = i + 1;
        while (j < re.size() && re[j] != '<' && re[j] != '>') ++j;
        if (j < re.size() && re[j] == '>' && j > i + 1) {
          parts.push_back(std::move(current));
          current.clear();
          parts.push_back(re.substr(i, j + 1 - i));
          i = j + 1;
          continue;
        }
      }
      current.push_back(re[i++]);
    }
    parts.push_back(std::move(current));
    while (parts.size() > 1 && parts.back().empty()) parts.pop_back();  // Perl drops trailing
    return parts;
  };
  // The first "$start(.+?)$end" in a segment: its tag name.
  auto tag_in = [&](const std::string& s, size_t& at, size_t& len) -> std::optional<std::string> {
    for (size_t p = s.find(start); p != std::string::npos; p = s.find(start, p + 1)) {
      size_t close = s.find(end, p + start.size() + 1);
      if (close == std::string::npos) return std::nullopt;
      at = p;
      len = close + end.size() - p;
      return s.substr(p + start.size(), close - p - start.size());
    }
    return std::nullopt;
  };
  std::unordered_set<std::string> done;
  for (const std::string& name : replace_rules_) {
    if (!done.insert(name).second) continue;
    auto it = rs.index_.find(name);
    if (it == rs.index_.end()) continue;
    Rule& rule = rs.rules_[it->second];
    bool has_regex = !rule.is_eval && rule.type != RuleType::kMeta &&
                     rule.type != RuleType::kEmpty && rule.type != RuleType::kMimeHeader &&
                     !rule.header.exists;
    if (!has_regex) continue;
    std::string re = rule.regex.pattern;
    int passes = 0;
    bool again = false;
    do {
      again = false;
      std::string pre_name = take(re, "pre");
      std::string post_name = take(re, "post");
      std::string inter_name = take(re, "inter");
      std::vector<std::string> parts = split(re);
      auto lookup = [](const auto& map, const std::string& key) -> std::string {
        auto f = map.find(key);
        return f == map.end() ? std::string() : f->second;
      };
      std::string pre = pre_name.empty() ? "" : lookup(replace_pre_, pre_name);
      std::string post = post_name.empty() ? "" : lookup(replace_post_, post_name);
      std::string inter = inter_name.empty() ? "" : lookup(replace_inter_, inter_name);
      size_t total = 0;
      for (size_t i = 0; i < parts.size() && total <= kMaxReplacedPattern; ++i) {
        std::string& part = parts[i];
        size_t at = 0, len = 0;
        if (!pre.empty() && tag_in(part, at, len)) part.insert(at, pre);
        if (!post.empty() && tag_in(part, at, len)) part.insert(at + len, post);
        // s{^$}{$inter}: empty segments between adjacent tags. SA's string starts with the
        // "(?aa)" flags group, so a leading empty segment never occurs there.
        if (!inter.empty() && part.empty() && i > 0) part = inter;
        if (auto tag = tag_in(part, at, len)) {
          auto r = rs.replace_tags_.find(*tag);
          if (r != rs.replace_tags_.end() && !r->second.empty() && r->second != "0") {
            std::string needle = start + *tag + end;
            std::string out;
            for (size_t p = 0;;) {
              size_t q = part.find(needle, p);
              if (q == std::string::npos) {
                out.append(part, p, std::string::npos);
                break;
              }
              out.append(part, p, q - p);
              out.append(r->second);
              p = q + needle.size();
            }
            part = std::move(out);
            if (!again) {
              // $replacement =~ /<[^>]+>/
              const std::string& v = r->second;
              for (size_t lt = v.find('<'); lt != std::string::npos && !again;
                   lt = v.find('<', lt + 1)) {
                again = lt + 1 < v.size() && v[lt + 1] != '>' &&
                        v.find('>', lt + 2) != std::string::npos;
              }
            }
          }
        }
        total += part.size();
      }
      re.clear();
      if (total > kMaxReplacedPattern) {
        re.resize(kMaxReplacedPattern + 1);  // reported below
        break;
      }
      for (const std::string& p : parts) re += p;
      ++passes;
    } while (again && passes <= 5 && re.size() <= kMaxReplacedPattern);
    if (re.size() > kMaxReplacedPattern) {
      Error(rule.where, "rule " + rule.name + ": replace_tags make the pattern longer than " +
                            std::to_string(kMaxReplacedPattern) + " bytes");
      continue;
    }
    if (re != rule.regex.pattern) {
      rule.regex.pattern = std::move(re);
      rule.replaced = true;
    }
  }
}

LoadResult CfParser::Finish() {
  FixTflagsAndPriorities();
  ApplyReplaceTags();
  return std::move(result_);
}

// ---- loading ---------------------------------------------------------------------------------

RulePaths StandardRulePaths(const std::vector<fs::path>& default_rule_dirs,
                            const fs::path& site_dir) {
  RulePaths paths;
  std::optional<fs::path> chosen;
  for (const fs::path& dir : default_rule_dirs) {
    std::error_code ec;
    if (fs::is_directory(dir, ec)) {
      chosen = dir;
      break;
    }
  }
  paths.pre_paths.push_back(site_dir);
  if (chosen) {
    paths.pre_paths.push_back(*chosen);
    paths.rule_paths.push_back(*chosen);
  }
  paths.rule_paths.push_back(site_dir);
  return paths;
}

LoadResult LoadRules(const RulePaths& paths, ParserOptions options) {
  CfParser parser(std::move(options));
  for (const fs::path& p : paths.pre_paths) parser.ReadPath(p, ".pre");
  for (const fs::path& p : paths.rule_paths) parser.ReadPath(p, ".cf");
  return parser.Finish();
}

Result<Ruleset> LoadRuleset(const RulePaths& paths, ParserOptions options) {
  LoadResult result = LoadRules(paths, std::move(options));
  if (!result.errors.empty()) {
    std::string message = std::to_string(result.errors.size()) + " error(s) in the rules:";
    for (const Diagnostic& d : result.errors) message += "\n" + d.ToString();
    return Fail(std::move(message));
  }
  return std::move(result.ruleset);
}

}  // namespace mailsift::rules
