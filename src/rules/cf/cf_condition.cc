// rules/cf/cf_condition.cc — see cf_condition.h.
#include "rules/cf/cf_condition.h"

#include <cctype>
#include <cstdlib>
#include <string>
#include <vector>

namespace mailsift::rules {
namespace {

constexpr std::string_view kConfPrefix = "Mail::SpamAssassin::Conf::";
constexpr std::string_view kPluginPrefix = "Mail::SpamAssassin::Plugin::";

// Conf.pm (4.0.1) L5493–5518: functions that `can()` finds and that return true.
constexpr std::string_view kConfFunctions[] = {
    "feature_originating_ip_headers",
    "feature_dns_local_ports_permit_avoid",
    "feature_bayes_auto_learn_on_error",
    "feature_uri_host_listed",
    "feature_yesno_takes_args",
    "feature_bug6558_free",
    "feature_edns",
    "feature_dns_query_restriction",
    "feature_registryboundaries",
    "feature_geodb",
    "feature_dns_block_rule",
    "feature_compile_regexp",
    "feature_meta_rules_matching",
    "feature_subjprefix",
    "feature_bayes_stopwords",
    "feature_get_host",
    "feature_blocklist_welcomelist",
    "feature_welcomelist_blocklist",
    "feature_header_address_parser",
    "feature_local_tests_only",
    "feature_header_first_last",
    "feature_header_match_many",
    "feature_capture_rules",
    "has_tflags_nosubject",
    "has_tflags_nolog",
    "perl_min_version_5010000",
};

// The has_* methods of SA 4.0.1's plugins (all return 1); they exist only once the plugin is
// loaded.
struct PluginMethod {
  std::string_view plugin;
  std::string_view method;
};
constexpr PluginMethod kPluginMethods[] = {
    {"HashBL", "has_hashbl_bodyre"},
    {"HashBL", "has_hashbl_bodyre_num"},
    {"HashBL", "has_hashbl_emails"},
    {"HashBL", "has_hashbl_uris"},
    {"HashBL", "has_hashbl_ignore"},
    {"HashBL", "has_hashbl_email_regex"},
    {"HashBL", "has_hashbl_email_welcomelist"},
    {"HashBL", "has_hashbl_email_whitelist"},
    {"HashBL", "has_hashbl_tag"},
    {"HashBL", "has_hashbl_sha256"},
    {"HashBL", "has_hashbl_attachments"},
    {"HashBL", "has_hashbl_email_domain"},
    {"HashBL", "has_hashbl_email_domain_alias"},
    {"URIDetail", "has_host_key"},
    {"OLEVBMacro", "has_olemacro_redirect_uri"},
    {"OLEVBMacro", "has_olemacro_mhtml_uri"},
    {"OLEVBMacro", "has_olertfobject"},
    {"Pyzor", "has_fork"},
    {"Pyzor", "has_perl"},
    {"DNSEval", "has_tflags_domains_only"},
    {"DNSEval", "has_tflags_ips_only"},
    {"DecodeShortURLs", "has_short_url"},
    {"DecodeShortURLs", "has_autoclean"},
    {"DecodeShortURLs", "has_short_url_code"},
    {"DecodeShortURLs", "has_user_agent"},
    {"DecodeShortURLs", "has_get"},
    {"DecodeShortURLs", "has_clear"},
    {"DecodeShortURLs", "has_timeout"},
    {"DecodeShortURLs", "has_max_redirections"},
    {"DecodeShortURLs", "has_short_url_redir"},
    {"MIMEHeader", "has_all_header"},
    {"MIMEHeader", "has_tflags_range"},
    {"MIMEHeader", "has_tflags_concat"},
    {"MIMEHeader", "has_tflags_multiple"},
    {"MIMEHeader", "has_capture_rules"},
    {"URIDNSBL", "has_tflags_domains_only"},
    {"URIDNSBL", "has_subtest_for_ranges"},
    {"URIDNSBL", "has_uridnsbl_for_a"},
    {"URIDNSBL", "has_uridnsbl_a_ns"},
    {"URIDNSBL", "has_tflags_notrim"},
    {"URIDNSBL", "has_uridnsbl_skip_mailto"},
    {"AskDNS", "has_tag_header"},
    {"ASN", "has_asn_lookup_ipv6"},
    {"ASN", "has_asn_geodb"},
    {"ASN", "has_check_asn"},
    {"ASN", "has_check_asn_tag"},
    {"SPF", "has_check_for_spf_errors"},
    {"SPF", "has_check_spf_skipped_noenvfrom"},
    {"BodyEval", "has_check_body_length"},
    {"BodyEval", "has_plaintext_body_sig_ratio"},
    {"DKIM", "has_arc"},
    {"MIMEEval", "has_check_for_ascii_text_illegal"},
    {"MIMEEval", "has_check_abundant_unicode_ratio"},
    {"MIMEEval", "has_check_qp_ratio"},
    {"Razor2", "has_fork"},
};

struct Value {
  bool is_string = false;
  double number = 0;
  std::string text;

  static Value Number(double n) { return Value{false, n, {}}; }
  static Value String(std::string s) { return Value{true, 0, std::move(s)}; }
  bool Truthy() const { return is_string ? !(text.empty() || text == "0") : number != 0; }
  double AsNumber() const { return is_string ? std::strtod(text.c_str(), nullptr) : number; }
};

bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Tokens as SA's ARITH_EXPRESSION_LEXER finds them; characters it cannot match are skipped,
// as Perl's //g match skips them.
std::vector<std::string> Lex(std::string_view s) {
  std::vector<std::string> tokens;
  size_t i = 0;
  auto starts = [&](std::string_view p) { return s.substr(i, p.size()) == p; };
  while (i < s.size()) {
    char c = s[i];
    if (c == '-' || c == '+' || c == '.' || std::isdigit(static_cast<unsigned char>(c))) {
      size_t j = i;
      while (j < s.size() && (s[j] == '-' || s[j] == '+' || s[j] == '.' ||
                              std::isdigit(static_cast<unsigned char>(s[j])))) {
        ++j;
      }
      tokens.emplace_back(s.substr(i, j - i));
      i = j;
    } else if (IsWordChar(c)) {
      size_t j = i + 1;
      while (j < s.size() && (IsWordChar(s[j]) || s[j] == ':')) ++j;
      tokens.emplace_back(s.substr(i, j - i));
      i = j;
    } else if (starts("||") || starts("&&") || starts(">=") || starts("<=") || starts("==") ||
               starts("!=")) {
      tokens.emplace_back(s.substr(i, 2));
      i += 2;
    } else if (std::string_view("()^!><*/?:").find(c) != std::string_view::npos) {
      tokens.emplace_back(1, c);
      ++i;
    } else {
      ++i;
    }
  }
  return tokens;
}

bool IsNumberToken(const std::string& t) {
  // [+-]?\d+(?:\.\d+)?
  size_t i = 0;
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
  size_t digits = i;
  while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) ++i;
  if (i == digits) return false;
  if (i < t.size() && t[i] == '.') {
    size_t frac = ++i;
    while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) ++i;
    if (i == frac) return false;
  }
  return i == t.size();
}

class Evaluator {
 public:
  Evaluator(std::vector<std::string> tokens, const ConditionContext& context)
      : tokens_(std::move(tokens)), context_(context) {}

  Result<bool> Run() {
    if (tokens_.empty()) return Fail("empty condition");
    Value v = Ternary();
    if (!error_.empty()) return Fail(error_);
    if (pos_ != tokens_.size()) return Fail("unexpected '" + tokens_[pos_] + "'");
    return v.Truthy();
  }

 private:
  static constexpr int kMaxDepth = 100;

  bool Peek(std::string_view t) const { return pos_ < tokens_.size() && tokens_[pos_] == t; }
  bool Accept(std::string_view t) {
    if (!Peek(t)) return false;
    ++pos_;
    return true;
  }
  Value Error(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    pos_ = tokens_.size();
    return Value::Number(0);
  }

  Value Ternary() {
    if (++depth_ > kMaxDepth) return Error("condition nested too deeply");
    Value c = Or();
    if (Accept("?")) {
      Value a = Ternary();
      if (!Accept(":")) return Error("'?' without ':'");
      Value b = Ternary();
      c = c.Truthy() ? a : b;
    }
    --depth_;
    return c;
  }
  Value Or() {
    Value v = And();
    while (Accept("||")) {
      Value r = And();
      v = v.Truthy() ? v : r;
    }
    return v;
  }
  Value And() {
    Value v = Xor();
    while (Accept("&&")) {
      Value r = Xor();
      v = v.Truthy() ? r : v;
    }
    return v;
  }
  Value Xor() {
    Value v = Equality();
    while (Accept("^")) {
      Value r = Equality();
      v = Value::Number(static_cast<double>(static_cast<long long>(v.AsNumber()) ^
                                            static_cast<long long>(r.AsNumber())));
    }
    return v;
  }
  Value Equality() {
    Value v = Relational();
    for (;;) {
      if (Accept("==")) {
        v = Value::Number(v.AsNumber() == Relational().AsNumber());
      } else if (Accept("!=")) {
        v = Value::Number(v.AsNumber() != Relational().AsNumber());
      } else {
        return v;
      }
    }
  }
  Value Relational() {
    Value v = Additive();
    for (;;) {
      if (Accept(">=")) {
        v = Value::Number(v.AsNumber() >= Additive().AsNumber());
      } else if (Accept("<=")) {
        v = Value::Number(v.AsNumber() <= Additive().AsNumber());
      } else if (Accept(">")) {
        v = Value::Number(v.AsNumber() > Additive().AsNumber());
      } else if (Accept("<")) {
        v = Value::Number(v.AsNumber() < Additive().AsNumber());
      } else {
        return v;
      }
    }
  }
  Value Additive() {
    Value v = Multiplicative();
    for (;;) {
      if (Accept("+")) {
        v = Value::Number(v.AsNumber() + Multiplicative().AsNumber());
      } else if (Accept("-")) {
        v = Value::Number(v.AsNumber() - Multiplicative().AsNumber());
      } else {
        return v;
      }
    }
  }
  Value Multiplicative() {
    Value v = Unary();
    for (;;) {
      if (Accept("*")) {
        v = Value::Number(v.AsNumber() * Unary().AsNumber());
      } else if (Accept("/")) {
        double d = Unary().AsNumber();
        if (d == 0) return Error("division by zero");
        v = Value::Number(v.AsNumber() / d);
      } else {
        return v;
      }
    }
  }
  Value Unary() {
    if (Accept("!")) {
      if (++depth_ > kMaxDepth) return Error("condition nested too deeply");
      Value v = Unary();
      --depth_;
      return Value::Number(v.Truthy() ? 0 : 1);
    }
    return Primary();
  }
  Value Primary() {
    if (pos_ >= tokens_.size()) return Error("condition ends early");
    const std::string t = tokens_[pos_++];
    if (t == "(") {
      Value v = Ternary();
      if (!Accept(")")) return Error("missing ')'");
      return v;
    }
    if (t == "version") return Value::Number(kSaVersion);
    if (t == "perl_version") return Value::Number(kPerlVersion);
    if (t == "local_tests_only") return Value::Number(context_.local_tests_only ? 1 : 0);
    if (t == "plugin" || t == "can" || t == "has") {
      if (!Accept("(")) return Error("'" + t + "' without '('");
      if (pos_ >= tokens_.size()) return Error("'" + t + "(' without argument");
      std::string arg = tokens_[pos_++];
      if (!Accept(")")) return Error("'" + t + "(' without ')'");
      if (t == "plugin") {
        std::string name = NormalizePluginName(arg);
        if (name == "Mail::SpamAssassin::Plugin::RaciallyCharged") return Value::Number(1);
        return Value::Number(context_.plugins && context_.plugins->count(name) ? 1 : 0);
      }
      if (arg.find("::") == std::string::npos) return Error("cannot find '::' in " + t + "()");
      return Value::Number(CanCall(arg, context_) ? 1 : 0);
    }
    if (IsNumberToken(t)) return Value::Number(std::strtod(t.c_str(), nullptr));
    if (t.size() >= 2 && IsWordChar(t[0])) return Value::String(NormalizePluginName(t));
    return Error("unparseable value '" + t + "'");
  }

  std::vector<std::string> tokens_;
  const ConditionContext& context_;
  size_t pos_ = 0;
  int depth_ = 0;
  std::string error_;
};

}  // namespace

std::string NormalizePluginName(std::string_view name) {
  if (name == "Mail::SpamAssassin::Plugin::Dmarc") return "Mail::SpamAssassin::Plugin::DMARC";
  if (name == "Mail::SpamAssassin::Plugin::WhiteListSubject") {
    return "Mail::SpamAssassin::Plugin::WelcomeListSubject";
  }
  return std::string(name);
}

bool CanCall(std::string_view name, const ConditionContext& context) {
  if (name.substr(0, kConfPrefix.size()) == kConfPrefix) {
    std::string_view fn = name.substr(kConfPrefix.size());
    for (std::string_view f : kConfFunctions) {
      if (f == fn) return true;
    }
    constexpr std::string_view kCompat = "compat_";
    if (fn.substr(0, kCompat.size()) == kCompat && context.compat) {
      return context.compat->count(fn.substr(kCompat.size())) > 0;
    }
    return false;
  }
  if (name.substr(0, kPluginPrefix.size()) == kPluginPrefix) {
    std::string_view rest = name.substr(kPluginPrefix.size());
    size_t sep = rest.rfind("::");
    if (sep == std::string_view::npos) return false;
    std::string_view plugin = rest.substr(0, sep);
    std::string_view method = rest.substr(sep + 2);
    std::string full = NormalizePluginName(std::string(kPluginPrefix) + std::string(plugin));
    if (!context.plugins || !context.plugins->count(full)) return false;
    plugin = std::string_view(full).substr(kPluginPrefix.size());
    for (const PluginMethod& m : kPluginMethods) {
      if (m.plugin == plugin && m.method == method) return true;
    }
  }
  return false;
}

Result<bool> EvaluateCondition(std::string_view expression, const ConditionContext& context) {
  std::vector<std::string> tokens = Lex(expression);
  for (const std::string& t : tokens) {
    bool ok = t == "(" || t == ")" || t == "!" || t == "plugin" || t == "can" || t == "has" ||
              t == "version" || t == "perl_version" || t == "local_tests_only" || IsNumberToken(t);
    if (!ok && t.size() <= 5) {
      ok = true;  // \W{1,5}: operators
      for (char c : t) ok = ok && !IsWordChar(c);
    }
    if (!ok && t.size() >= 2 && IsWordChar(t[0])) {
      // A class name: (?:\w+::){0,10}\w+
      ok = t.back() != ':' && t.find(":::") == std::string::npos;
      size_t parts = 1;
      for (size_t i = 0; i + 1 < t.size(); ++i) {
        if (t[i] == ':' && t[i + 1] == ':')
          ++parts, ++i;
        else if (t[i] == ':')
          ok = false;
      }
      ok = ok && parts <= 11;
    }
    if (!ok) return Fail("not allowed value '" + t + "' in condition");
  }
  return Evaluator(std::move(tokens), context).Run();
}

}  // namespace mailsift::rules
