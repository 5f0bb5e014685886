// rules/eval/header_eval.cc — see header_eval.h. Each function names the SpamAssassin 4.0.1 routine
// whose behaviour it reproduces (Plugin/HeaderEval.pm, Plugin/FreeMail.pm, Plugin/WLBLEval.pm,
// PerMsgStatus.pm, Message/Node.pm, Util.pm, RegistryBoundaries.pm).
#include "rules/eval/header_eval.h"

#include "rules/eval/eval_input.h"
#include "rules/eval/eval_registry.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "base/strings.h"
#include "rules/message/registry_boundaries.h"
#include "rules/regex/perl_regex.h"
#include "rules/regex/perl_text.h"

namespace mailsift::rules {
namespace {

// ---------------------------------------------------------------------------------------------
// A compiled Perl-compatible regex (byte semantics, ASCII classes, as SA's byte strings).

using Regex = PerlRegex;

constexpr uint32_t kI = PCRE2_CASELESS;
// PerlRegex's default match limit, for the patterns built per message.
constexpr uint32_t kOnceMatchLimit = 1000000;
constexpr uint32_t kX = PCRE2_EXTENDED;
constexpr uint32_t kS = PCRE2_DOTALL;

std::string_view Group(std::string_view subject, const std::vector<Span>& g, size_t i) {
  if (i >= g.size() || !g[i].set()) return {};
  return subject.substr(g[i].begin, g[i].end - g[i].begin);
}
bool HasGroup(const std::vector<Span>& g, size_t i) { return i < g.size() && g[i].set(); }

// Perl's s/re/replacement/g with a literal replacement.
std::string ReplaceAll(const Regex& re, std::string_view text, std::string_view replacement) {
  std::string out;
  size_t pos = 0;
  size_t copied = 0;
  std::vector<Span> g;
  while (pos <= text.size() && re.Search(text, pos, &g)) {
    out.append(text.substr(copied, g[0].begin - copied));
    out.append(replacement);
    copied = g[0].end;
    pos = g[0].end > g[0].begin ? g[0].end : g[0].end + 1;
    if (g[0].end == g[0].begin && g[0].begin < text.size()) {
      out += text[g[0].begin];
      copied = g[0].begin + 1;
    }
  }
  if (copied < text.size()) out.append(text.substr(copied));
  return out;
}

// Perl's quotemeta for byte strings: every byte but [A-Za-z0-9_] is backslashed.
std::string QuoteMeta(std::string_view text) {
  std::string out;
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) && u < 0x80) && c != '_') out += '\\';
    out += c;
  }
  return out;
}

bool HasNonSpace(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return !IsPerlSpace(c); });
}
bool HasSpace(std::string_view s) { return std::any_of(s.begin(), s.end(), IsPerlSpace); }

// Perl numeric conversion of an eval argument ("3", "-0.5"); 0 for anything else.
double PerlNumber(std::string_view s) {
  std::string copy(TrimPerlSpace(s));
  return std::strtod(copy.c_str(), nullptr);
}

std::string_view Arg(const std::vector<std::string>& args, size_t i) {
  return i < args.size() ? std::string_view(args[i]) : std::string_view();
}

// RegistryBoundaries::split_domain; without a config, no multi-level suffixes are known.
std::pair<std::string, std::string> SplitDomain(const EvalConfig* rb, std::string_view fqdn) {
  static const RegistryBoundaries kNone;
  return (rb != nullptr ? rb->boundaries : kNone).SplitDomain(fqdn);
}

bool IsDomainValid(const EvalConfig* rb, std::string_view dom) {
  return rb != nullptr && rb->boundaries.IsDomainValid(dom);
}

// Glob where `*` matches a run of non-dots and `?` any one character (FreeMail wildcards).
bool DomainGlobMatches(std::string_view glob, std::string_view text) {
  if (glob.empty()) return text.empty();
  if (glob[0] == '*') {
    for (size_t i = 0;; ++i) {
      if (DomainGlobMatches(glob.substr(1), text.substr(i))) return true;
      if (i >= text.size() || text[i] == '.' || text[i] == '\n') return false;
    }
  }
  if (text.empty() || text[0] == '\n') return false;
  if (glob[0] != '?' && glob[0] != text[0]) return false;
  return DomainGlobMatches(glob.substr(1), text.substr(1));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// PerMsgStatus::get building blocks

namespace {

// Appends `raw` with CRLF made LF to `out`.
void AppendNormalizedLineEnds(std::string_view raw, std::string& out) {
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n') continue;
    out += raw[i];
  }
}

// `raw` with CRLF made LF, with room for the "\n" callers append (a value may be megabytes).
std::string NormalizeLineEnds(std::string_view raw) {
  std::string out;
  out.reserve(raw.size() + 1);
  AppendNormalizedLineEnds(raw, out);
  return out;
}

// Node::header's stored value for one field.
std::string DecodedValue(const mime::HeaderField& field) { return SaHeaderValue(field); }

}  // namespace

std::vector<std::string> HeaderValues(const mime::Headers& headers, std::string_view name) {
  std::vector<std::string> out;
  for (const mime::HeaderField* f : headers.GetAll(name)) out.push_back(DecodedValue(*f));
  return out;
}

std::vector<std::string> RawHeaderValues(const mime::Headers& headers, std::string_view name) {
  std::vector<std::string> out;
  for (const mime::HeaderField* f : headers.GetAll(name)) {
    out.push_back(NormalizeLineEnds(f->raw) + "\n");
  }
  return out;
}

namespace {

// Values as PerMsgStatus::_get collects them for a plain name, ToCc or MESSAGEID, before any
// :addr parsing. `raw` selects raw_header (":raw" or ":addr" on a plain header).
std::vector<std::string> CollectValues(const mime::Headers& headers, std::string_view name,
                                       bool getraw, bool needraw, Instance which) {
  std::vector<std::string> out;
  auto get_header = [&](std::string_view n) {
    // Node::get_header: raw values are unfolded (s/\r?\n\s+/ /g), decoded ones get "\n".
    for (const mime::HeaderField* f : headers.GetAll(n)) {
      if (getraw) {
        std::string raw = NormalizeLineEnds(f->raw) + "\n";
        std::string unfolded;
        for (size_t i = 0; i < raw.size(); ++i) {
          if (raw[i] == '\n' && i + 1 < raw.size() && IsPerlSpace(raw[i + 1])) {
            unfolded += ' ';
            while (i + 1 < raw.size() && IsPerlSpace(raw[i + 1])) ++i;
            continue;
          }
          unfolded += raw[i];
        }
        out.push_back(unfolded);
      } else {
        out.push_back(DecodedValue(*f) + "\n");
      }
    }
  };
  if (EqualsIgnoreCase(name, "ToCc")) {
    get_header("To");
    get_header("Cc");
  } else if (name == "MESSAGEID") {
    get_header("X-Message-Id");
    get_header("Resent-Message-Id");
    get_header("X-Original-Message-ID");
    get_header("Message-Id");
  } else {
    for (const mime::HeaderField* f : headers.GetAll(name)) {
      out.push_back((getraw || needraw) ? NormalizeLineEnds(f->raw) + "\n"
                                        : DecodedValue(*f) + "\n");
    }
  }
  if (out.empty() || which == Instance::kAll) return out;
  return {which == Instance::kFirst ? out.front() : out.back()};
}

}  // namespace

std::string GetHeader(const mime::Headers& headers, std::string_view request) {
  bool getraw = false;
  std::string_view name = request;
  if (size_t colon = request.find(':'); colon != std::string_view::npos) {
    name = request.substr(0, colon);
    getraw = request.substr(colon) == ":raw";
  }
  std::string out;
  if (name == "ALL") {
    if (getraw) {  // one allocation for what may be a long header section
      size_t size = 0;
      for (const mime::HeaderField& f : headers.fields()) size += f.name.size() + f.raw.size() + 2;
      out.reserve(size);
    }
    for (const mime::HeaderField& f : headers.fields()) {
      // Appended piece by piece: no temporaries the size of a long field.
      out += f.name;
      if (getraw) {
        out += ':';
        AppendNormalizedLineEnds(f.raw, out);
      } else {
        out += ": ";
        out += DecodedValue(f);
      }
      out += '\n';
    }
    return out;
  }
  for (const std::string& v : CollectValues(headers, name, getraw, false, Instance::kAll)) {
    out += v;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Util::parse_header_addresses (internal parser)

namespace {

constexpr std::string_view kMailRe =
    R"((?: " (?:|(?:[^"\\]++|\\.)*+) " | [^\@\s\<\>\(\)\[\]\,\:\;]+ ))"
    R"( \@ (?: [^\"\s\<\>\(\)\[\]\,\:\;]+ | \[ [\d:.]+ \] ))";

const Regex& MailReAnchored() {
  static const Regex kRe("^(?:" + std::string(kMailRe) + ")$", kI | kX);
  return kRe;
}

const Regex& HeaderAddressRe() {
  static const Regex kRe(
      "^ \\s* (?:"
      R"( (?: ( (?: " (?:|(?:[^"\\]++|\\.)*+) " | [^",;<]++ )+ ) \s* )?)"
      R"( < \s* ( [^>\@]* \S+ | \s* ) \s* >)"
      R"( (?: \s* < \s* (?: (?: " (?:|(?:[^"\\]++|\\.)*+) " )? \S+ | \s* ) \s* > )*)"
      " | (?: ( " +
          std::string(kMailRe) +
          R"( ) | ( (?: " (?:|(?:[^"\\]++|\\.)*+) " | [^",;<]++ )+ ) ) ))"
          R"( (?: \s* \( ( (?:|(?:[^()\\]++|\\.)*+) ) \) )?)"
          R"( \s* (?: [,;] | \z ))",
      kI | kX | kS);
  return kRe;
}

bool ValidParsedAddress(const std::optional<std::string>& a) {
  if (!a) return false;
  if (a->rfind("\"\"@", 0) == 0) return false;
  return std::count(a->begin(), a->end(), '"') != 1;
}

// s/\((?:|(?:[^()\\]++|\\.)*+)\)//gs
std::string RemoveComments(std::string_view text) {
  static const Regex kRe(R"(\((?:|(?:[^()\\]++|\\.)*+)\))", kS);
  return ReplaceAll(kRe, text, "");
}

// $address =~ s/^(([^\@]*)\@([^\@]*)).*/$1/ and the user/host it captures.
void SplitUserHost(std::string* address, std::optional<std::string>* user,
                   std::optional<std::string>* host) {
  size_t at = address->find('@');
  if (at == std::string::npos) return;
  size_t end = address->find('@', at + 1);
  if (end == std::string::npos) end = address->size();
  *user = address->substr(0, at);
  *host = address->substr(at + 1, end - at - 1);
  // `.*` does not cross a line end: text after a newline following the match survives.
  std::string rest;
  size_t nl = address->find('\n', end);
  if (nl != std::string::npos) rest = address->substr(nl);
  *address = address->substr(0, end) + rest;
}

}  // namespace

bool IsFqdnValid(std::string_view host_in) {
  std::string host = ToLowerAscii(host_in);
  while (!host.empty() && host.back() == '.') host.pop_back();
  if (host.size() > 253) return false;
  std::vector<std::string> labels;
  size_t pos = 0;
  while (pos <= host.size()) {
    size_t dot = host.find('.', pos);
    if (dot == std::string::npos) dot = host.size();
    labels.push_back(host.substr(pos, dot - pos));
    pos = dot + 1;
  }
  while (!labels.empty() && labels.back().empty()) labels.pop_back();
  size_t cnt = labels.size();
  if (cnt <= 1) return false;
  for (const std::string& label : labels) {
    if (label.empty() || label.size() > 63) return false;
    auto alnum_ = [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    };
    if (!alnum_(label.front()) || !alnum_(label.back())) return false;
    for (char c : label) {
      if (!alnum_(c) && c != '-') return false;
    }
    if ((cnt == 2 || cnt == 1) && label.find('_') != std::string::npos) return false;
    --cnt;
  }
  return true;
}

std::vector<ParsedAddress> ParseHeaderAddresses(std::string_view value) {
  std::vector<ParsedAddress> results;
  if (!HasNonSpace(value)) return results;
  std::string s(value);
  while (!s.empty() && IsPerlSpace(s.back())) s.pop_back();
  // s/\\\\//g
  {
    std::string t;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == '\\') {
        ++i;
        continue;
      }
      t += s[i];
    }
    s = std::move(t);
  }
  // Group reduction: s/^[^"()<>]+:\s*(.*?)\s*(?:;.*)?/$1/gs
  {
    static const Regex kGroup(R"(^[^"()<>]+:\s*(.*?)\s*(?:;.*)?)", kS);
    std::vector<Span> g;
    if (kGroup.Search(s, 0, &g)) {
      s = std::string(Group(s, g, 1)) + s.substr(g[0].end);
    }
  }
  if (!HasNonSpace(s)) return results;

  const Regex& re = HeaderAddressRe();
  std::vector<Span> g;
  int guard = 0;
  while (re.Search(s, 0, &g) && ++guard < 10000) {
    std::string_view sv(s);
    ParsedAddress a;
    if (HasGroup(g, 1)) {
      a.phrase = std::string(Group(sv, g, 1));
    } else if (HasGroup(g, 4)) {
      a.phrase = std::string(Group(sv, g, 4));
    }
    if (HasGroup(g, 2)) {
      a.address = std::string(Group(sv, g, 2));
    } else if (HasGroup(g, 3)) {
      a.address = std::string(Group(sv, g, 3));
    }
    if (HasGroup(g, 5)) a.comment = std::string(Group(sv, g, 5));
    bool relaxed = HasGroup(g, 2);
    size_t consumed = g[0].end;

    if (relaxed) {
      *a.address = RemoveComments(*a.address);
      if (!MailReAnchored().Matches(*a.address)) a.address.reset();
    }
    if (!ValidParsedAddress(a.address)) a.address.reset();

    if (a.phrase) {
      static const Regex kPart(R"re((?:"(|(?:[^"\\]++|\\.)*+)"|([^"]++)))re", kI | kS);
      std::string newphrase;
      bool any = false;
      std::vector<Span> pg;
      size_t pos = 0;
      const std::string& phrase = *a.phrase;
      while (pos <= phrase.size() && kPart.Search(phrase, pos, &pg)) {
        any = true;
        if (HasGroup(pg, 1)) {
          std::string qs(Group(phrase, pg, 1));
          // s/\\(?!\\)//g; s/\\\\/\\/g
          std::string t;
          for (size_t i = 0; i < qs.size(); ++i) {
            if (qs[i] == '\\' && !(i + 1 < qs.size() && qs[i + 1] == '\\')) continue;
            t += qs[i];
          }
          std::string u;
          for (size_t i = 0; i < t.size(); ++i) {
            if (t[i] == '\\' && i + 1 < t.size() && t[i + 1] == '\\') {
              u += '\\';
              ++i;
              continue;
            }
            u += t[i];
          }
          newphrase += u;
        } else {
          newphrase += RemoveComments(Group(phrase, pg, 2));
        }
        pos = pg[0].end > pg[0].begin ? pg[0].end : pg[0].end + 1;
      }
      std::string ph = any ? newphrase : std::string();
      a.phrase = ph;
      bool swapped = false;
      if (!a.address && MailReAnchored().Matches(ph) && ValidParsedAddress(ph)) {
        size_t at = ph.find('@');
        std::string dom = ph.substr(at + 1);
        size_t at2 = dom.find('@');
        if (at2 != std::string::npos) dom = dom.substr(0, at2);
        if (IsFqdnValid(dom)) {
          a.address = ph;
          a.phrase.reset();
          swapped = true;
        }
      }
      if (!swapped) {
        if (a.address && ph == *a.address) {
          a.phrase.reset();
        } else if (ph.empty()) {
          a.phrase.reset();
        }
      }
    }
    if (!a.phrase && a.comment) a.phrase = a.comment;
    if (a.address) SplitUserHost(&*a.address, &a.user, &a.host);
    a.invalid = !a.host || !IsFqdnValid(*a.host);
    results.push_back(std::move(a));
    s.erase(0, consumed);
    if (consumed == 0) break;  // an empty match at the end: nothing more to take
  }
  // Last ditch for anything left with an '@': every <mailre> in it.
  if (s.find('@') != std::string::npos) {
    static const Regex kAngle("<(" + std::string(kMailRe) + ")>", kI | kX | kS);
    size_t pos = 0;
    std::vector<Span> ag;
    while (pos <= s.size() && kAngle.Search(s, pos, &ag)) {
      pos = ag[0].end;
      std::optional<std::string> addr = std::string(Group(s, ag, 1));
      if (!ValidParsedAddress(addr)) continue;
      ParsedAddress a;
      a.address = addr;
      SplitUserHost(&*a.address, &a.user, &a.host);
      a.invalid = !a.host || !IsFqdnValid(*a.host);
      results.push_back(std::move(a));
    }
  }
  return results;
}

std::vector<std::string> HeaderAddresses(const mime::Headers& headers, std::string_view name,
                                         Instance which) {
  std::vector<std::string> out;
  for (const std::string& line : CollectValues(headers, name, false, true, which)) {
    for (ParsedAddress& a : ParseHeaderAddresses(line)) {
      if (a.address) out.push_back(std::move(*a.address));
    }
  }
  return out;
}

std::vector<std::string> EnvelopeFromAddresses(EvalInput& input) {
  std::vector<std::string> out;
  const std::optional<std::string>& envelope_from = input.envelope_from();
  if (!envelope_from) return out;
  for (ParsedAddress& a : ParseHeaderAddresses(*envelope_from)) {
    if (a.address) out.push_back(std::move(*a.address));
  }
  return out;
}

namespace {

std::string First(const std::vector<std::string>& v) { return v.empty() ? "" : v.front(); }

// /^Received:.*?^Name:/smi over get("ALL"): a Received field precedes a `name` field.
bool ReceivedBefore(const mime::Headers& headers, std::string_view name) {
  bool seen_received = false;
  for (const mime::HeaderField& f : headers.fields()) {
    if (seen_received && StartsWithIgnoreCase(f.name, name) && f.name.size() == name.size()) {
      return true;
    }
    if (StartsWithIgnoreCase(f.name, "Received") && f.name.size() == 8) seen_received = true;
  }
  return false;
}

}  // namespace

std::optional<std::string> GuessEnvelopeFrom(const mime::Headers& headers,
                                             const RelayPath* relays) {
  const Relay* lasthop = nullptr;
  if (relays != nullptr && !relays->untrusted.empty()) {
    lasthop = &relays->untrusted.front();
  } else if (relays != nullptr && !relays->trusted.empty()) {
    lasthop = &relays->trusted.back();
  }
  if (lasthop != nullptr && lasthop->envfrom_defined) {
    const std::string& envf = lasthop->envfrom;
    size_t at = envf.find('@');
    if ((at != std::string::npos && at > 0) || envf.empty()) return envf;
  }
  std::vector<std::string> x_sender = HeaderAddresses(headers, "X-Sender", Instance::kFirst);
  if (!x_sender.empty() && x_sender.front().find('@') != std::string::npos) {
    for (const std::string& r : HeaderValues(headers, "Received")) {
      if (r.find("(fetchmail") != std::string::npos) return std::nullopt;
    }
  }
  std::vector<std::string> v = HeaderAddresses(headers, "X-Envelope-From", Instance::kFirst);
  if (!v.empty()) {
    if (ReceivedBefore(headers, "X-Envelope-From")) return std::nullopt;
    return v.front();
  }
  v = HeaderAddresses(headers, "Envelope-Sender", Instance::kFirst);
  if (!v.empty() && !ReceivedBefore(headers, "Envelope-Sender")) return v.front();
  v = HeaderAddresses(headers, "Return-Path", Instance::kFirst);
  if (!v.empty() && !ReceivedBefore(headers, "Return-Path")) return v.front();
  return std::nullopt;
}

std::vector<std::string> AllFromAddresses(EvalInput& input) {
  const mime::Headers& h = input.headers();
  std::vector<std::string> addrs = HeaderAddresses(h, "Resent-From", Instance::kFirst);
  if (addrs.empty()) {
    for (std::string_view name : {"From", "Envelope-Sender", "Resent-Sender", "X-Envelope-From"}) {
      for (std::string& a : HeaderAddresses(h, name)) addrs.push_back(std::move(a));
    }
    for (std::string& a : EnvelopeFromAddresses(input)) addrs.push_back(std::move(a));
    std::vector<std::string> squeezed;
    for (const std::string& a : addrs) {
      if (a.empty()) continue;
      std::string t;
      for (char c : a) {
        if (c == '.' && !t.empty() && t.back() == '.') continue;
        t += c;
      }
      squeezed.push_back(std::move(t));
    }
    addrs = std::move(squeezed);
  }
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (std::string& a : addrs) {
    if (seen.insert(a).second) out.push_back(std::move(a));
  }
  return out;
}

std::vector<std::string> AllToAddresses(EvalInput& input) {
  const mime::Headers& h = input.headers();
  std::vector<std::string> addrs = HeaderAddresses(h, "Resent-To", Instance::kFirst);
  for (std::string& a : HeaderAddresses(h, "Resent-Cc", Instance::kFirst)) {
    addrs.push_back(std::move(a));
  }
  if (addrs.empty()) {
    static const Regex kFor(R"( for <?(\S+\@(\S+?))>?;)", 0);
    std::vector<std::string> rcvd = HeaderValues(h, "Received");
    for (size_t i = 0; i < rcvd.size() && i < 3; ++i) {
      std::string line = rcvd[i] + "\n";
      std::vector<Span> g;
      if (kFor.Search(line, 0, &g) && IsFqdnValid(Group(line, g, 2))) {
        addrs.emplace_back(Group(line, g, 1));
      }
    }
    for (std::string_view name :
         {"To", "Apparently-To", "Delivered-To", "Envelope-Recipients", "Apparently-Resent-To",
          "X-Envelope-To", "Envelope-To", "X-Delivered-To", "X-Original-To", "X-Rcpt-To",
          "X-Real-To", "Cc"}) {
      for (std::string& a : HeaderAddresses(h, name)) addrs.push_back(std::move(a));
    }
  }
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (std::string& a : addrs) {
    if (seen.insert(a).second) out.push_back(std::move(a));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Util::parse_rfc822_date

namespace {

int MonthNumber(std::string_view mon) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  std::string lc = ToLowerAscii(mon);
  for (size_t i = 0; i < kMonths.size(); ++i) {
    if (kMonths[i] == lc) return static_cast<int>(i) + 1;
  }
  return 0;
}

std::optional<int> TimezoneOffset(std::string_view tz) {
  static const std::unordered_map<std::string_view, std::string_view> kTz = {
      {"UT", "+0000"},   {"UTC", "+0000"},  {"NDT", "-0230"},  {"AST", "-0400"},  {"ADT", "-0300"},
      {"NST", "-0330"},  {"EST", "-0500"},  {"EDT", "-0400"},  {"CST", "-0600"},  {"CDT", "-0500"},
      {"MST", "-0700"},  {"MDT", "-0600"},  {"PST", "-0800"},  {"PDT", "-0700"},  {"HST", "-1000"},
      {"AKST", "-0900"}, {"AKDT", "-0800"}, {"HADT", "-0900"}, {"HAST", "-1000"}, {"GMT", "+0000"},
      {"BST", "+0100"},  {"IST", "+0100"},  {"WET", "+0000"},  {"WEST", "+0100"}, {"CET", "+0100"},
      {"CEST", "+0200"}, {"EET", "+0200"},  {"EEST", "+0300"}, {"MSK", "+0300"},  {"MSD", "+0400"},
      {"MET", "+0100"},  {"MEZ", "+0100"},  {"MEST", "+0200"}, {"MESZ", "+0200"}, {"BRST", "-0200"},
      {"BRT", "-0300"},  {"AEST", "+1000"}, {"AEDT", "+1100"}, {"ACST", "+0930"}, {"ACDT", "+1030"},
      {"AWST", "+0800"}, {"NZST", "+1200"}, {"NZDT", "+1300"}, {"JST", "+0900"},  {"KST", "+0900"},
      {"HKT", "+0800"},  {"SGT", "+0800"},  {"PHT", "+0800"},  {"IDT", "+0300"}};
  auto it = kTz.find(tz);
  if (it == kTz.end()) return std::nullopt;
  std::string_view v = it->second;
  int minutes = ((v[1] - '0') * 10 + (v[2] - '0')) * 60 + (v[3] - '0') * 10 + (v[4] - '0');
  return v[0] == '-' ? -minutes : minutes;
}

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// Replaces the first match of `re` in `s` by a single space, returning the groups.
bool SubstituteFirst(const Regex& re, std::string* s, std::vector<std::string>* groups) {
  std::vector<Span> g;
  if (!re.Search(*s, 0, &g)) return false;
  groups->clear();
  for (size_t i = 0; i < g.size(); ++i) {
    groups->push_back(g[i].set() ? s->substr(g[i].begin, g[i].end - g[i].begin) : "");
  }
  s->replace(g[0].begin, g[0].end - g[0].begin, " ");
  return true;
}

int64_t ToInt(std::string_view digits) {
  int64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') break;
    v = v * 10 + (c - '0');
    if (v > 1000000000) break;
  }
  return v;
}

}  // namespace

std::optional<int64_t> ParseRfc822Date(std::string_view date) {
  // $_ = " $date "; s/, */ /gs; s/\s+/ /gs;
  std::string s = " ";
  s.append(date);
  s += ' ';
  {
    std::string t;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == ',') {
        t += ' ';
        while (i + 1 < s.size() && s[i + 1] == ' ') ++i;
      } else {
        t += s[i];
      }
    }
    std::string u;
    for (char c : t) {
      if (IsPerlSpace(c)) {
        if (!u.empty() && u.back() == ' ') continue;  // a run of blanks becomes one space
        u += ' ';
      } else {
        u += c;
      }
    }
    s = std::move(u);
  }
  static const Regex kDate1(R"( (\d+) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) )",
                            kI);
  static const Regex kDate2(
      R"( (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(\d+) \d+:\d+:\d+ (\d{4}) )", kI);
  static const Regex kDate3(
      R"( (\d+) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{2,3}) )", kI);
  static const Regex kTime(R"( (\d?\d):(\d\d)(:(\d\d))? )", 0);
  static const Regex kNumTz(R"( ([-+]\d{4}) )", 0);
  static const Regex kNameTz(R"(\b([A-Z]{2,4}(?:-DST)?)\b)", 0);

  std::vector<std::string> g;
  int64_t dd = 0, mon = 0, yyyy = 0, hh = 0, mm = 0, ss = 0;
  std::string yyyy_text;
  if (SubstituteFirst(kDate1, &s, &g)) {
    dd = ToInt(g[1]);
    mon = MonthNumber(g[2]);
    yyyy_text = g[3];
  } else if (SubstituteFirst(kDate2, &s, &g)) {
    dd = ToInt(g[2]);
    mon = MonthNumber(g[1]);
    yyyy_text = g[3];
  } else if (SubstituteFirst(kDate3, &s, &g)) {
    dd = ToInt(g[1]);
    mon = MonthNumber(g[2]);
    yyyy_text = g[3];
  } else {
    return std::nullopt;
  }
  yyyy = ToInt(yyyy_text);
  if (yyyy_text.size() == 2 && yyyy < 50) {
    yyyy += 2000;
  } else if (yyyy_text.size() != 4) {
    yyyy += 1900;
  }
  if (SubstituteFirst(kTime, &s, &g)) {
    hh = ToInt(g[1]);
    mm = ToInt(g[2]);
    ss = g.size() > 4 ? ToInt(g[4]) : 0;
  }
  int tz_minutes = 0;
  if (SubstituteFirst(kNumTz, &s, &g)) {
    std::string_view v = g[1];
    int minutes = static_cast<int>(ToInt(v.substr(1, 2)) * 60 + ToInt(v.substr(3, 2)));
    tz_minutes = v[0] == '-' ? -minutes : minutes;
  } else {
    // s/\b([A-Z]{2,4}(?:-DST)?)\b/ / happens whether or not the zone is known.
    if (SubstituteFirst(kNameTz, &s, &g)) {
      if (std::optional<int> off = TimezoneOffset(g[1])) tz_minutes = *off;
    }
  }
  if (ss > 59) ss = 59;
  if (mm > 59) mm = 59;
  if (hh > 23) hh = 23;
  int64_t max_dd = 31;
  if (mon == 4 || mon == 6 || mon == 9 || mon == 11) {
    max_dd = 30;
  } else if (mon == 2) {
    max_dd = (yyyy % 4 == 0 && (yyyy % 100 != 0 || yyyy % 400 == 0)) ? 29 : 28;
  }
  if (dd > max_dd) {
    dd = 1;
    ++mon;
    if (mon > 12) {
      mon = 1;
      ++yyyy;
    }
  }
  if (yyyy > 2037) {
    yyyy = 2037;
  } else if (yyyy < 1970) {
    yyyy = 1970;
  }
  // Time::Local::timegm croaks on day 0 or an unknown month.
  if (dd < 1 || mon < 1 || mon > 12) return std::nullopt;
  int64_t time =
      DaysFromCivil(yyyy, static_cast<unsigned>(mon), static_cast<unsigned>(dd)) * 86400 +
      hh * 3600 + mm * 60 + ss;
  int64_t off = static_cast<int64_t>(std::abs(tz_minutes)) * 60;
  if (tz_minutes < 0) {
    time += off;
  } else if (time < off) {
    time = 0;
  } else {
    time -= off;
  }
  return time;
}

// ---------------------------------------------------------------------------------------------
// Globs

bool AddressGlobMatches(std::string_view glob, std::string_view address) {
  // Conf::Parser::add_to_addrlist: \0, \ and ( become a literal '_'; `?` is Perl's `.`, which
  // does not match a newline, nor does `.*`; `$` also matches before a final newline.
  // Compared without copies: the welcomelist/blocklist checks call this for every entry.
  struct Lowered {
    std::string_view s;
    bool glob;
    size_t size() const { return s.size(); }
    char operator[](size_t i) const {
      const char c = s[i] >= 'A' && s[i] <= 'Z' ? static_cast<char>(s[i] + ('a' - 'A')) : s[i];
      return glob && (c == '\0' || c == '\\' || c == '(') ? '_' : c;
    }
  };
  if (!address.empty() && address.back() == '\n') address.remove_suffix(1);
  return WildcardMatches(Lowered{glob, true}, Lowered{address, false});
}

// ---------------------------------------------------------------------------------------------
// The evals

namespace {

const EvalConfig* Cfg(EvalInput& in) { return &in.config(); }

// ---- HeaderEval: dates

// _get_date_header_time
std::optional<int64_t> DateHeaderTime(const mime::Headers& h) {
  for (std::string_view name : {"Resent-Date", "Date"}) {
    for (const std::string& date : HeaderValues(h, name)) {
      if (date.empty()) continue;
      if (std::optional<int64_t> t = ParseRfc822Date(date)) return t;
    }
  }
  return std::nullopt;
}

// _get_received_header_times (the fetchmail time is not needed by date_diff).
std::vector<int64_t> ReceivedHeaderTimes(const mime::Headers& h) {
  std::vector<std::string> received;
  for (const std::string& v : HeaderValues(h, "Received")) {
    if (HasNonSpace(v)) received.push_back(v);
  }
  if (received.empty()) return {};
  static const Regex kLocal(R"(\bfrom (?:localhost\s|(?:\S+ ){1,2}\S*\b127\.0\.0\.1\b))", 0);
  static const Regex kQmail(R"(qmail \d+ invoked by uid \d+)", 0);
  static const Regex kFetchmail(R"(\bby localhost with \w+ \(fetchmail-[\d.]+)", 0);
  size_t start = 0;
  bool first_local = kLocal.Matches(received[0]) || kQmail.Matches(received[0]);
  if (first_local) {
    if (received.size() > 1 && kFetchmail.Matches(received[1])) start = 2;
  } else if (kFetchmail.Matches(received[0])) {
    start = 1;
  }
  static const Regex kDate(R"((\s.?\d+ \S\S\S \d+ \d+:\d+:\d+ \S+))", 0);
  std::vector<int64_t> times;
  for (size_t i = start; i < received.size(); ++i) {
    std::vector<Span> g;
    if (kDate.Search(received[i], 0, &g)) {
      if (std::optional<int64_t> t = ParseRfc822Date(Group(received[i], g, 1))) {
        times.push_back(*t);
      }
    }
  }
  return times;
}

// _check_date_diff
int64_t DateDiff(const mime::Headers& h) {
  std::optional<int64_t> date = DateHeaderTime(h);
  if (!date) return 0;
  std::vector<int64_t> times = ReceivedHeaderTimes(h);
  if (times.empty()) return 0;
  std::vector<int64_t> diffs;
  for (int64_t t : times) diffs.push_back(*date - t);
  if (diffs.size() > 1 && diffs.back() == 0) diffs.pop_back();
  std::stable_sort(diffs.begin(), diffs.end(),
                   [](int64_t a, int64_t b) { return std::llabs(a) < std::llabs(b); });
  return diffs.front();
}

bool CheckForShiftedDate(EvalInput& in, const std::vector<std::string>& args) {
  if (!in.memo().date_diff) in.memo().date_diff = DateDiff(in.headers());
  double diff = static_cast<double>(*in.memo().date_diff);
  std::string_view min = Arg(args, 0), max = Arg(args, 1);
  return (min == "undef" || diff >= 3600 * PerlNumber(min)) &&
         (max == "undef" || diff < 3600 * PerlNumber(max));
}

bool CheckOutlookMessageId(EvalInput& in, const std::vector<std::string>&) {
  std::string id = GetHeader(in.headers(), "MESSAGEID");
  static const Regex kId(R"(^<[0-9a-f]{4}([0-9a-f]{8})\$[0-9a-f]{8}\$[0-9a-f]{8}\@)", 0);
  std::vector<Span> g;
  if (!kId.Search(id, 0, &g)) return false;
  double timetoken =
      static_cast<double>(std::strtoull(std::string(Group(id, g, 1)).c_str(), nullptr, 16));
  constexpr double kX = 0.0023283064365387;
  constexpr double kY = 27111902.8329849;
  constexpr double kFudge = 250;
  auto expected_for = [&](std::string_view text) {
    double t = static_cast<double>(ParseRfc822Date(text).value_or(0));
    return std::trunc(t * kX + kY);
  };
  if (std::fabs(timetoken - expected_for(GetHeader(in.headers(), "Date"))) < kFudge) {
    return false;
  }
  // SA matches a date in the last Received line but then parses all Received text.
  return std::fabs(timetoken - expected_for(GetHeader(in.headers(), "Received"))) >= kFudge;
}

// ---- HeaderEval: addresses and recipients

bool CheckEqualFromDomains(EvalInput& in, const std::vector<std::string>&) {
  auto second_level = [](const std::string& addr) {
    static const Regex kAt(R"(\@([^@]*)\z)", 0);
    static const Regex kTrim(R"(^.+\.([^\.]+\.[^\.]+)$)", 0);
    std::vector<Span> g;
    std::string dom;
    if (kAt.Search(addr, 0, &g)) dom = std::string(Group(addr, g, 1));
    if (kTrim.Search(dom, 0, &g)) {
      dom = std::string(Group(dom, g, 1)) + dom.substr(g[0].end);
    }
    return dom;
  };
  std::string from = second_level(First(HeaderAddresses(in.headers(), "From")));
  if (from.empty()) return false;
  std::string env = second_level(First(EnvelopeFromAddresses(in)));
  if (env.empty()) return false;
  return ToLowerAscii(from) != ToLowerAscii(env);
}

bool CheckForMatchingEnvAndHdrFrom(EvalInput& in, const std::vector<std::string>&) {
  return ToLowerAscii(First(EnvelopeFromAddresses(in))) ==
         ToLowerAscii(First(HeaderAddresses(in.headers(), "From")));
}

struct RecipientStats {
  bool sorted = false;
  double similar = 0;
};

// _check_recipients
RecipientStats CheckRecipients(const mime::Headers& h) {
  constexpr size_t kSortedCount = 7;
  constexpr size_t kSimilarCount = 5;
  constexpr size_t kSimilarLength = 2;
  std::vector<std::string> inputs = HeaderAddresses(h, "ToCc");
  if (inputs.size() < kSimilarCount) {
    for (std::string& a : HeaderAddresses(h, "Bcc")) inputs.push_back(std::move(a));
  }
  std::vector<std::string> address;
  std::string previous;
  for (const std::string& current : inputs) {
    if (current.empty() || current == "0") break;  // `while (my $current = shift @inputs)`
    if (ToLowerAscii(current) != ToLowerAscii(previous)) {
      address.push_back(current);
      previous = current;
    }
    if (address.size() == 256) break;
  }
  RecipientStats out;
  if (address.size() >= kSortedCount) {
    std::vector<std::string> sorted = address;
    std::sort(sorted.begin(), sorted.end());
    out.sorted = sorted == address;
  }
  if (address.size() >= kSimilarCount) {
    std::vector<std::string> user, fqhn, host;
    for (const std::string& a : address) {
      user.push_back(a.substr(0, kSimilarLength));
      size_t at = a.find('@');
      if (at != std::string::npos) {
        std::string f = a.substr(at + 1);
        size_t nl = f.find('\n');
        if (nl != std::string::npos) f.resize(nl);
        fqhn.push_back(f);
      }
    }
    for (const std::string& f : fqhn) host.push_back(f.substr(0, kSimilarLength));
    double hits = 0, combinations = 0;
    for (size_t i = 0; i < address.size(); ++i) {
      for (size_t j = i + 1; j < address.size(); ++j) {
        if (user[i] == user[j]) ++hits;
        // Perl indexes past the end of @fqhn/@host as undef ('' when compared).
        std::string hi = i < host.size() ? host[i] : "", hj = j < host.size() ? host[j] : "";
        std::string fi = i < fqhn.size() ? fqhn[i] : "", fj = j < fqhn.size() ? fqhn[j] : "";
        if (hi == hj && fi != fj) ++hits;
        ++combinations;
      }
    }
    out.similar = combinations > 0 ? hits / combinations : 0;
  }
  return out;
}

bool SortedRecipients(EvalInput& in, const std::vector<std::string>&) {
  return CheckRecipients(in.headers()).sorted;
}

bool SimilarRecipients(EvalInput& in, const std::vector<std::string>& args) {
  double similar = CheckRecipients(in.headers()).similar;
  std::string_view min = Arg(args, 0), max = Arg(args, 1);
  return (min == "undef" || similar >= PerlNumber(min)) &&
         (max == "undef" || similar < PerlNumber(max));
}

bool CheckForMissingToHeader(EvalInput& in, const std::vector<std::string>&) {
  if (!GetHeader(in.headers(), "To").empty()) return false;
  return GetHeader(in.headers(), "Apparently-To").empty();
}

bool CheckForToInSubject(EvalInput& in, const std::vector<std::string>& args) {
  std::string full_to = First(HeaderAddresses(in.headers(), "To"));
  if (full_to.empty()) return false;
  std::string subject = GetHeader(in.headers(), "Subject");
  std::string_view test = Arg(args, 0);
  // The patterns below are built per message and used once (the interpreter: JIT compiling
  // would cost more); each of their branches holds the address (or user) literally, so a
  // Subject without it is answered before building them.
  if (test == "address") {
    if (!ContainsIgnoreCase(subject, full_to)) return false;
    Regex re("\\b" + QuoteMeta(full_to) + "\\b", kI, kOnceMatchLimit, /*jit=*/false);
    return re.Matches(subject);
  }
  if (test == "user") {
    std::string to = full_to;
    // s/\@.*// (`.` stops at a newline)
    size_t at = to.find('@');
    if (at != std::string::npos) {
      size_t nl = to.find('\n', at);
      to = to.substr(0, at) + (nl == std::string::npos ? "" : to.substr(nl));
    }
    if (!to.empty() && !ContainsIgnoreCase(subject, to)) return false;
    std::string q = QuoteMeta(to);
    Regex re(
        "^(?:"
        "(?:re|fw):\\s*(?:\\w+\\s+)?" +
            q +
            "$"
            "|(?-i:" +
            q +
            ")\\s*[,:;!?-](?:$|\\s)"
            "|" +
            q +
            "$"
            "|,\\s*" +
            q +
            "[,:;!?-]$"
            ")",
        kI, kOnceMatchLimit, /*jit=*/false);
    return re.Matches(subject);
  }
  return false;
}

bool SubjectIsAllCaps(EvalInput& in, const std::vector<std::string>&) {
  std::string subject(TrimPerlSpace(GetHeader(in.headers(), "Subject")));
  static const Regex kPrefix(R"(^(?:(?:Re|Fwd|Fw|Aw|Antwort|WG|SV|VB|VS|VL):\s*)+)", kI);
  std::vector<Span> g;
  if (kPrefix.Search(subject, 0, &g)) subject.erase(0, g[0].end);
  if (!HasSpace(subject)) return false;
  if (subject.size() < 10) return false;
  std::string letters;
  for (char c : subject) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) letters += c;
  }
  static const Regex kCharset(
      R"(=\?[-_a-z0-9]*(?:koi|jp|jis|euc|gb|big5|isoir|cp1251|windows-1251|georgianps|pt154|tis)[-_a-z0-9]*\?)",
      kI);
  if (kCharset.Matches(GetHeader(in.headers(), "Subject:raw"))) return false;
  return !letters.empty() && letters == ToUpperAscii(letters);
}

// ---- HeaderEval: character checks

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  auto tail = [&](size_t k) {
    return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
  };
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
    } else if (c >= 0xC2 && c <= 0xDF) {
      if (!tail(1)) return false;
      i += 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      if (!tail(1) || !tail(2)) return false;
      unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
      if (c == 0xE0 && c1 < 0xA0) return false;
      if (c == 0xED && c1 > 0x9F) return false;
      i += 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
      if (!tail(1) || !tail(2) || !tail(3)) return false;
      unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
      if (c == 0xF0 && c1 < 0x90) return false;
      if (c == 0xF4 && c1 > 0x8F) return false;
      i += 4;
    } else {
      return false;
    }
  }
  return true;
}

bool CheckIllegalChars(EvalInput& in, const std::vector<std::string>& args) {
  std::string header(Arg(args, 0));
  if (header.size() < 4 || header.compare(header.size() - 4, 4, ":raw") != 0) header += ":raw";
  double ratio = PerlNumber(Arg(args, 1));
  double count = PerlNumber(Arg(args, 2));
  std::string str = GetHeader(in.headers(), header);
  if (!HasNonSpace(str)) return false;
  auto is_control = [](unsigned char c) {
    return c <= 0x08 || c == 0x0B || c == 0x0C || (c >= 0x0E && c <= 0x1F);
  };
  bool non_ascii = std::any_of(str.begin(), str.end(),
                               [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
  if (non_ascii && IsValidUtf8(str)) {
    bool controls = std::any_of(str.begin(), str.end(),
                                [&](char c) { return is_control(static_cast<unsigned char>(c)); });
    if (!controls) return false;
  }
  double illegal = 0;
  int exempt = 0;
  for (char ch : str) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (is_control(c) || c >= 0x7F) ++illegal;
    if (c == 0xA2 || c == 0xA3 || c == 0xAE) ++exempt;
  }
  if (illegal > 0 && ToLowerAscii(header) == "subject:raw" && exempt == 1) --illegal;
  return illegal / static_cast<double>(str.size()) >= ratio && illegal >= count;
}

bool CheckForFarawayCharsetInHeaders(EvalInput& in, const std::vector<std::string>&) {
  const EvalConfig* cfg = Cfg(in);
  std::vector<std::string> locales;
  if (cfg != nullptr) {
    for (const std::string& l : cfg->ok_locales) {
      for (std::string_view w : SplitSpaces(l)) locales.emplace_back(w);
    }
  } else {
    locales.push_back("all");
  }
  if (std::find(locales.begin(), locales.end(), "all") != locales.end()) return false;
  static const std::unordered_map<std::string_view, std::string_view> kCharsets = {
      {"ja",
       "EUCJP JISX020119760 JISX020819830 JISX020819900 JISX020819970 JISX021219900 "
       "JISX021320001 JISX021320002 SHIFT_JIS SHIFTJIS ISO2022JP SJIS JIS7 JISX0201 JISX0208 "
       "JISX0212"},
      {"ko", "EUCKR KSC56011987"},
      {"ru", "KOI8R KOI8U KOI8T ISOIR111 CP1251 GEORGIANPS CP1251 PT154 CP866"},
      {"ka", "KOI8R KOI8U KOI8T ISOIR111 CP1251 GEORGIANPS CP1251 PT154 CP866"},
      {"tg", "KOI8R KOI8U KOI8T ISOIR111 CP1251 GEORGIANPS CP1251 PT154 CP866"},
      {"be", "KOI8R KOI8U KOI8T ISOIR111 CP1251 GEORGIANPS CP1251 PT154 CP866"},
      {"uk", "KOI8R KOI8U KOI8T ISOIR111 CP1251 GEORGIANPS CP1251 PT154 CP866"},
      {"bg", "KOI8R KOI8U KOI8T ISOIR111 CP1251 GEORGIANPS CP1251 PT154 CP866"},
      {"th", "TIS620"},
      {"zh", "GB1988 GB2312 GB231219800 GB18030 GBK BIG5HKSCS BIG5 EUCTW ISO2022CN"},
      {"zh.big5", "BIG5HKSCS BIG5 EUCTW"},
      {"zh.gb2312", "GB1988 GB2312 GB231219800 GB18030 GBK ISO2022CN"}};
  auto charset_ok = [&](std::string cs) {
    // Locales::is_charset_ok_for_locales
    std::string t;
    for (char c : ToUpperAscii(cs)) {
      if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) t += c;
    }
    while (t.rfind("3D", 0) == 0) t.erase(0, 2);
    cs = t;
    if (cs == "USASCII" || cs == "ASCII" || cs == "IBM852" || cs == "XUNKNOWN" || cs == "ISO") {
      return true;
    }
    for (std::string_view p : {"ISO8859", "ISO10646", "UTF", "UCS", "CP125", "WINDOWS",
                               "UNICODE11UTF7", "UNICODE11UTF8"}) {
      if (cs.rfind(p, 0) == 0) return true;
    }
    for (std::string locale : locales) {
      if (locale == "C") locale = "en";
      if (locale.size() >= 2 && locale[0] >= 'a' && locale[0] <= 'z' && locale[1] >= 'a' &&
          locale[1] <= 'z') {
        locale = locale.substr(0, 2);
      }
      auto it = kCharsets.find(locale);
      if (it == kCharsets.end()) continue;
      for (std::string_view w : SplitSpaces(it->second)) {
        if (w == cs) return true;
      }
    }
    return false;
  };
  static const Regex kWord(R"(=\?(.+?)\?.\?.*?\?=)", 0);
  for (std::string_view h : {"From", "Subject"}) {
    for (const std::string& raw : RawHeaderValues(in.headers(), h)) {
      size_t pos = 0;
      std::vector<Span> g;
      while (pos <= raw.size() && kWord.Search(raw, pos, &g)) {
        if (!charset_ok(std::string(Group(raw, g, 1)))) return true;
        pos = g[0].end;
      }
    }
  }
  return false;
}

// ---- HeaderEval: counts, templates, ratware

bool CheckHeaderCountRange(EvalInput& in, const std::vector<std::string>& args) {
  std::set<std::string> uniq;
  for (std::string& v : HeaderValues(in.headers(), Arg(args, 0))) uniq.insert(std::move(v));
  double n = static_cast<double>(uniq.size());
  return n >= PerlNumber(Arg(args, 1)) && n <= PerlNumber(Arg(args, 2));
}

bool CheckUnresolvedTemplate(EvalInput& in, const std::vector<std::string>&) {
  static const Regex kTemplate(R"(%[A-Z][A-Z_-])", 0);
  static const Regex kExempt(
      R"(^(?:X-VMS-To|X-UIDL|X-Face|To|Cc|From|Subject|References|In-Reply-To|(?:X-|Resent-|X-Original-)?Message-Id):)",
      kI);
  std::string all = GetHeader(in.headers(), "ALL");
  size_t pos = 0;
  while (pos < all.size()) {
    size_t nl = all.find('\n', pos);
    if (nl == std::string::npos) nl = all.size();
    std::string_view line(all.data() + pos, nl - pos);
    if (!line.empty() && kTemplate.Matches(line) && !kExempt.Matches(line)) return true;
    pos = nl + 1;
  }
  return false;
}

bool CheckRatwareNameId(EvalInput& in, const std::vector<std::string>&) {
  std::string mid = GetHeader(in.headers(), "MESSAGEID");
  static const Regex kMid(R"(<[A-Z]{28}\.([^>]+?)>)", 0);
  std::vector<Span> g;
  if (!kMid.Search(mid, 0, &g)) return false;
  Regex from_re("\"[^\"]+\"\\s*<" + QuoteMeta(Group(mid, g, 1)) + ">", 0, kOnceMatchLimit,
                /*jit=*/false);
  return from_re.Matches(GetHeader(in.headers(), "From"));
}

bool CheckRatwareEnvelopeFrom(EvalInput& in, const std::vector<std::string>&) {
  std::string to = First(HeaderAddresses(in.headers(), "To"));
  std::string from = First(EnvelopeFromAddresses(in));
  if (from.empty() || to.empty()) return false;
  static const Regex kSrs(R"(^SRS\d[=+-])", kI);
  if (kSrs.Matches(from)) return false;
  static const Regex kTo(R"(^([^@]+)\@(.+)$)", 0);
  std::vector<Span> g;
  if (!kTo.Search(to, 0, &g)) return false;
  std::string user(Group(to, g, 1));
  std::string dom = SplitDomain(Cfg(in), Group(to, g, 2)).second;
  if (!IsDomainValid(Cfg(in), dom)) return false;
  Regex re("\\b" + QuoteMeta(dom) + "." + QuoteMeta(user) + "@", kI, kOnceMatchLimit,
           /*jit=*/false);
  return re.Matches(from);
}

// ---- FreeMail

bool IsFreemail(const EvalConfig& cfg, const std::string& email) {
  if (email.empty()) return false;
  if (cfg.freemail_welcomelist.count(email)) return false;
  std::string domain = email;
  {
    // s/.*\@// — the greedy `.*` stops at a newline.
    size_t line_start = 0;
    size_t at = std::string::npos;
    for (size_t i = 0; i < domain.size(); ++i) {
      if (domain[i] == '\n') {
        if (at != std::string::npos) break;
        line_start = i + 1;
      } else if (domain[i] == '@') {
        at = i;
      }
    }
    if (at != std::string::npos) domain = domain.substr(0, line_start) + domain.substr(at + 1);
  }
  if (cfg.freemail_welcomelist.count(domain)) return false;
  static const Regex kEmailWelcome(
      R"(^(?:abuse|support|sales|info|helpdesk|contact|kontakt|(?:post|host|domain)master)"
      R"(|undisclosed.*|request-[a-f0-9]{16}|bounced?-)"
      R"(|[a-f0-9]{8}(?:\.[a-f0-9]{8}|-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}))"
      R"(|.+=.+=.+)\@)",
      kI);
  if (kEmailWelcome.Matches(email)) return false;
  if (cfg.freemail_domains.count(domain)) return true;
  // /\@(?:wildcards)$/ against the whole address.
  for (size_t at = email.find('@'); at != std::string::npos; at = email.find('@', at + 1)) {
    std::string_view rest(email);
    rest = rest.substr(at + 1);
    std::string_view rest_nl = rest;
    if (!rest_nl.empty() && rest_nl.back() == '\n') rest_nl.remove_suffix(1);
    for (const std::string& w : cfg.freemail_wildcards) {
      if (DomainGlobMatches(w, rest) || DomainGlobMatches(w, rest_nl)) return true;
    }
  }
  return false;
}

std::vector<std::string> LowerAll(std::vector<std::string> v) {
  for (std::string& s : v) s = ToLowerAscii(s);
  return v;
}

// FreeMail::_parse_body: the freemail addresses found in the body, or nullopt when the body
// had too many addresses (freemail_skip_when_over_max).
std::optional<std::vector<std::string>> FreemailBodyAddresses(EvalInput& in,
                                                              const EvalConfig& cfg) {
  std::vector<std::string> body_emails;
  std::set<std::string> seen;
  const Regex& email_re = *cfg.email_regex;
  static const Regex kMailto(R"(^(?i:mailto):)", 0);
  for (const std::string& uri : in.anchor_uris()) {
    std::vector<Span> g;
    if (!kMailto.Search(uri, 0, &g)) continue;
    std::vector<Span> e;
    // /^mailto:$email_regex/: the address must start right after the scheme.
    if (email_re.Search(uri, g[0].end, &e) && e[0].begin == g[0].end) {
      std::string email = ToLowerAscii(Group(uri, e, 1));
      if (seen.insert(email).second) body_emails.push_back(email);
      if (body_emails.size() >= 20) break;
    }
  }
  static const Regex kUrlWithAt(R"(<?https?://\S{0,255}(?:\@|%40)\S{0,255})", kI);
  bool done = false;
  for (const std::string& line : in.body_lines()) {
    if (done) break;
    // Every address holds an "@", and the replacements below only take text out.
    if (line.find('@') == std::string::npos) continue;
    std::string text = ReplaceAll(kUrlWithAt, line, " ");
    // s{<?(?<!mailto:)$email_regex(?:>|\s{1,10}(?!(?:fa(?:x|csi)|tel|phone|e?-?mail))[a-z]{2,11}:)}{
    // }gi
    text = ReplaceAll(*cfg.strip_regex, text, " ");
    size_t pos = 0;
    std::vector<Span> e;
    while (pos < text.size() && email_re.Search(text, pos, &e)) {
      std::string email = ToLowerAscii(Group(text, e, 1));
      if (seen.insert(email).second) body_emails.push_back(email);
      pos = e[0].end > pos ? e[0].end : pos + 1;
      if (body_emails.size() >= 40) {
        done = true;
        break;
      }
    }
  }
  std::vector<std::string> found;
  int count_all = 0, count_fm = 0;
  for (const std::string& email : body_emails) {
    if (++count_all == cfg.freemail_max_body_emails && cfg.freemail_skip_when_over_max) {
      return std::nullopt;
    }
    if (!IsFreemail(cfg, email)) continue;
    if (++count_fm == cfg.freemail_max_body_freemails && cfg.freemail_skip_when_over_max) {
      return std::nullopt;
    }
    if (std::find(found.begin(), found.end(), email) == found.end()) found.push_back(email);
  }
  return found;
}

bool CheckFreemailHeader(EvalInput& in, const std::vector<std::string>& args) {
  const EvalConfig* cfg = Cfg(in);
  if (cfg == nullptr || !cfg->freemail_available || args.empty()) return false;
  std::optional<Regex> re;
  if (args.size() > 1) {
    re.emplace(args[1], 0, kOnceMatchLimit, /*jit=*/false);
    if (!re->ok()) return false;
  }
  std::string header = args[0];
  // "$header:addr": modifiers already on the name (Reply-To:addr) are the same request.
  std::string_view name = header;
  if (size_t colon = name.find(':'); colon != std::string_view::npos) {
    name = name.substr(0, colon);
  }
  std::vector<std::string> emails = EqualsIgnoreCase(name, "EnvelopeFrom")
                                        ? EnvelopeFromAddresses(in)
                                        : HeaderAddresses(in.headers(), name);
  for (const std::string& email : LowerAll(emails)) {
    if (!IsFreemail(*cfg, email)) continue;
    if (re && !re->Matches(email)) continue;
    return true;
  }
  return false;
}

bool CheckFreemailFrom(EvalInput& in, const std::vector<std::string>& args) {
  const EvalConfig* cfg = Cfg(in);
  if (cfg == nullptr || !cfg->freemail_available) return false;
  std::optional<Regex> re;
  if (!args.empty()) {
    re.emplace(args[0], 0, kOnceMatchLimit, /*jit=*/false);
    if (!re->ok()) return false;
  }
  for (const std::string& email : LowerAll(AllFromAddresses(in))) {
    if (email.empty() || !IsFreemail(*cfg, email)) continue;
    if (re && !re->Matches(email)) continue;
    return true;
  }
  return false;
}

bool CheckFreemailReplyto(EvalInput& in, const std::vector<std::string>& args) {
  const EvalConfig* cfg = Cfg(in);
  if (cfg == nullptr || !cfg->freemail_available) return false;
  std::string what = args.empty() ? "replyto" : args[0];
  if (what != "replyto" && what != "reply") return false;
  if (cfg->freemail_skip_bulk_envfrom && in.envelope_from()) {
    static const Regex kSkip(
        R"((?:^(?:post|host|domain)master|^double-bounce|^(?:sentto|owner|return|(?:gr)?bounced?)-.+)"
        R"(|-(?:request|bounces?|admin|owner)|\b(?:do[._-t]?)?no[._-t]?repl(?:y|ies)|.+=.+)\@)",
        kI);
    if (kSkip.Matches(*in.envelope_from())) return false;
  }
  std::vector<std::string> from = LowerAll(HeaderAddresses(in.headers(), "From"));
  std::vector<std::string> replyto = LowerAll(HeaderAddresses(in.headers(), "Reply-To"));
  bool from_is_fm = std::any_of(from.begin(), from.end(),
                                [&](const std::string& e) { return IsFreemail(*cfg, e); });
  bool replyto_is_fm = std::any_of(replyto.begin(), replyto.end(),
                                   [&](const std::string& e) { return IsFreemail(*cfg, e); });
  bool from_not_in_replyto = true;
  for (const std::string& f : from) {
    if (std::find(replyto.begin(), replyto.end(), f) != replyto.end()) from_not_in_replyto = false;
  }
  if (from_is_fm && replyto_is_fm && from_not_in_replyto) return true;
  if (what == "replyto") {
    if (!replyto_is_fm) return false;
  } else {
    if (!replyto.empty() && !replyto_is_fm) return false;
    if (!from_is_fm) return false;
  }
  if (!in.memo().freemail_body) in.memo().freemail_body = FreemailBodyAddresses(in, *cfg);
  const std::optional<std::vector<std::string>>& body = *in.memo().freemail_body;
  if (!body || body->empty()) return false;
  const std::vector<std::string>& reply_addrs =
      what == "replyto" ? replyto : (replyto_is_fm ? replyto : from);
  for (const std::string& b : *body) {
    for (const std::string& r : reply_addrs) {
      if (b != r) return true;
    }
  }
  return false;
}

// ---- WLBLEval

bool InList(const std::vector<std::string>& list, const std::string& addr) {
  std::string lc = ToLowerAscii(addr);
  for (const std::string& g : list) {
    if (g == lc || AddressGlobMatches(g, lc)) return true;
  }
  return false;
}

const std::vector<std::string>& CachedAllFromAddresses(EvalInput& in) {
  if (!in.memo().all_from) in.memo().all_from = AllFromAddresses(in);
  return *in.memo().all_from;
}

const std::vector<std::string>& CachedAllToAddresses(EvalInput& in) {
  if (!in.memo().all_to) in.memo().all_to = AllToAddresses(in);
  return *in.memo().all_to;
}

bool FromInNamedList(EvalInput& in, std::string_view list_name) {
  const EvalConfig* cfg = Cfg(in);
  if (cfg == nullptr) return false;
  const std::vector<std::string>* list = cfg->AddressList(list_name);
  if (list == nullptr) return false;
  for (const std::string& a : CachedAllFromAddresses(in)) {
    if (InList(*list, a)) return true;
  }
  return false;
}

bool ToInNamedList(EvalInput& in, std::string_view list_name) {
  const EvalConfig* cfg = Cfg(in);
  if (cfg == nullptr) return false;
  const std::vector<std::string>* list = cfg->AddressList(list_name);
  if (list == nullptr) return false;
  for (const std::string& a : CachedAllToAddresses(in)) {
    if (InList(*list, a)) return true;
  }
  return false;
}

bool CheckFromInList(EvalInput& in, const std::vector<std::string>& args) {
  return FromInNamedList(in, Arg(args, 0));
}
bool CheckToInList(EvalInput& in, const std::vector<std::string>& args) {
  return ToInNamedList(in, Arg(args, 0));
}
bool CheckReplytoInList(EvalInput& in, const std::vector<std::string>& args) {
  const EvalConfig* cfg = Cfg(in);
  if (cfg == nullptr) return false;
  const std::vector<std::string>* list = cfg->AddressList(Arg(args, 0));
  if (list == nullptr) return false;
  std::string replyto = First(HeaderAddresses(in.headers(), "Reply-To"));
  return !replyto.empty() && InList(*list, replyto);
}
bool CheckFromInBlocklist(EvalInput& in, const std::vector<std::string>&) {
  return FromInNamedList(in, "blocklist_from");
}
bool CheckToInBlocklist(EvalInput& in, const std::vector<std::string>&) {
  return ToInNamedList(in, "blocklist_to");
}
bool CheckToInWelcomelist(EvalInput& in, const std::vector<std::string>&) {
  return ToInNamedList(in, "welcomelist_to");
}
bool CheckToInMoreSpam(EvalInput& in, const std::vector<std::string>&) {
  return ToInNamedList(in, "more_spam_to");
}
bool CheckToInAllSpam(EvalInput& in, const std::vector<std::string>&) {
  return ToInNamedList(in, "all_spam_to");
}

// Dotted-quad text to a 32-bit number.
std::optional<uint32_t> ParseIpv4(std::string_view s) {
  uint32_t v = 0;
  int parts = 0;
  size_t pos = 0;
  while (parts < 4) {
    size_t dot = s.find('.', pos);
    std::string_view p = s.substr(pos, dot == std::string_view::npos ? s.npos : dot - pos);
    std::optional<uint64_t> n = ParseUnsigned(p);
    if (!n || *n > 255 || p.empty() || p.size() > 3) return std::nullopt;
    v = (v << 8) | static_cast<uint32_t>(*n);
    ++parts;
    if (dot == std::string_view::npos) break;
    pos = dot + 1;
  }
  if (parts != 4) return std::nullopt;
  return v;
}

// The relays SA's WLBLEval consults: the last untrusted one, or else all trusted ones.
std::vector<const Relay*> WlblRelays(EvalInput& in) {
  std::vector<const Relay*> relays;
  if (!in.relays().untrusted.empty()) {
    relays.push_back(&in.relays().untrusted.front());
  } else {
    for (const Relay& r : in.relays().trusted) relays.push_back(&r);
  }
  return relays;
}

// _check_welcomelist_rcvd: 1 match, -1 address matched but relay did not, 0 no address match.
int CheckWelcomelistRcvd(EvalInput& in, const std::vector<AddressWithRelay>& list,
                         const std::string& addr_in) {
  std::vector<const Relay*> relays = WlblRelays(in);
  if (relays.empty()) return 0;
  std::string addr = ToLowerAscii(addr_in);
  int found_forged = 0;
  static const Regex kBracket(R"(^\[(.*)\](/\d{1,3})?\z)", kS);
  for (const AddressWithRelay& entry : list) {
    if (!AddressGlobMatches(entry.address, addr)) continue;
    bool match = false;
    for (const Relay* r : relays) {
      std::vector<Span> g;
      if (kBracket.Search(entry.domain, 0, &g)) {
        std::string wl_ip(Group(entry.domain, g, 1));
        if (HasGroup(g, 2)) wl_ip += std::string(Group(entry.domain, g, 2));
        const std::string& rly_ip = r->ip;
        if (rly_ip.empty()) continue;
        static const Regex kQuad(R"(^\d+\.\d+\.\d+\.\d+\z)", kS);
        static const Regex kClassful(R"(^[\d\.]+\z)", kS);
        if (kQuad.Matches(wl_ip)) {
          if (wl_ip == rly_ip) match = true;
        } else if (kClassful.Matches(wl_ip)) {
          while (!wl_ip.empty() && wl_ip.back() == '.') wl_ip.pop_back();
          wl_ip += '.';
          if (rly_ip.rfind(wl_ip, 0) == 0) match = true;
        } else {
          // IPv4 prefix length (IPv6 welcomelist entries are not matched here).
          size_t slash = wl_ip.find('/');
          std::optional<uint32_t> net = ParseIpv4(wl_ip.substr(0, slash));
          std::optional<uint32_t> ip = ParseIpv4(rly_ip);
          if (net && ip && slash != std::string::npos) {
            uint64_t len = ParseUnsigned(wl_ip.substr(slash + 1)).value_or(33);
            if (len <= 32) {
              uint32_t mask = len == 0 ? 0 : ~uint32_t{0} << (32 - len);
              if ((*net & mask) == (*ip & mask)) match = true;
            }
          }
        }
      } else {
        const std::string& rdns = r->lc_rdns;
        const std::string& d = entry.domain;
        if (rdns.size() >= d.size() && rdns.compare(rdns.size() - d.size(), d.size(), d) == 0 &&
            (rdns.size() == d.size() || rdns[rdns.size() - d.size() - 1] == '.')) {
          match = true;
        }
      }
      if (match) break;
    }
    if (match) return 1;
    found_forged = -1;
  }
  if (found_forged != 0 && Cfg(in) != nullptr) {
    for (const std::string& g : Cfg(in)->welcomelist_allows_relays) {
      if (AddressGlobMatches(g, addr)) return 0;
    }
  }
  return found_forged;
}

bool CheckFromInWelcomelist(EvalInput& in, const std::vector<std::string>&) {
  const EvalConfig* cfg = Cfg(in);
  if (cfg == nullptr) return false;
  const std::vector<std::string>* list = cfg->AddressList("welcomelist_from");
  for (const std::string& a : CachedAllFromAddresses(in)) {
    if (list != nullptr && InList(*list, a)) return true;
    if (CheckWelcomelistRcvd(in, cfg->welcomelist_from_rcvd, a) == 1) return true;
  }
  return false;
}

bool CheckFromInDefaultWelcomelist(EvalInput& in, const std::vector<std::string>&) {
  const EvalConfig* cfg = Cfg(in);
  if (cfg == nullptr) return false;
  for (const std::string& a : CachedAllFromAddresses(in)) {
    if (CheckWelcomelistRcvd(in, cfg->def_welcomelist_from_rcvd, a) == 1) return true;
  }
  return false;
}

bool CheckMailfromMatchesRcvd(EvalInput& in, const std::vector<std::string>&) {
  std::string sender = First(EnvelopeFromAddresses(in));
  if (sender.empty()) return false;
  static const Regex kDomain(R"( \@ ( [^\@]+ \. [^\@]+ ) \z)", kX);
  std::vector<Span> g;
  if (!kDomain.Search(sender, 0, &g)) return false;
  std::string addr_domain = ToLowerAscii(Group(sender, g, 1));
  std::vector<const Relay*> relays = WlblRelays(in);
  if (relays.empty()) return false;
  std::string adrd = SplitDomain(Cfg(in), addr_domain).second;
  for (const Relay* r : relays) {
    const std::string& rdns = r->lc_rdns;
    if (rdns.empty()) continue;
    if (adrd == SplitDomain(Cfg(in), rdns).second) return true;
  }
  return false;
}

constexpr EvalEntry kEvals[] = {
    {"check_for_shifted_date", &CheckForShiftedDate},
    {"check_outlook_message_id", &CheckOutlookMessageId},
    {"check_equal_from_domains", &CheckEqualFromDomains},
    {"similar_recipients", &SimilarRecipients},
    {"sorted_recipients", &SortedRecipients},
    {"subject_is_all_caps", &SubjectIsAllCaps},
    {"check_for_missing_to_header", &CheckForMissingToHeader},
    {"check_illegal_chars", &CheckIllegalChars},
    {"check_for_to_in_subject", &CheckForToInSubject},
    {"check_for_matching_env_and_hdr_from", &CheckForMatchingEnvAndHdrFrom},
    {"check_header_count_range", &CheckHeaderCountRange},
    {"check_ratware_name_id", &CheckRatwareNameId},
    {"check_ratware_envelope_from", &CheckRatwareEnvelopeFrom},
    {"check_unresolved_template", &CheckUnresolvedTemplate},
    {"check_for_faraway_charset_in_headers", &CheckForFarawayCharsetInHeaders},
    {"check_freemail_from", &CheckFreemailFrom},
    {"check_freemail_replyto", &CheckFreemailReplyto},
    {"check_freemail_header", &CheckFreemailHeader},
    {"check_from_in_list", &CheckFromInList},
    {"check_to_in_list", &CheckToInList},
    {"check_replyto_in_list", &CheckReplytoInList},
    {"check_mailfrom_matches_rcvd", &CheckMailfromMatchesRcvd},
    {"check_from_in_welcomelist", &CheckFromInWelcomelist},
    {"check_from_in_whitelist", &CheckFromInWelcomelist},
    {"check_from_in_default_welcomelist", &CheckFromInDefaultWelcomelist},
    {"check_from_in_default_whitelist", &CheckFromInDefaultWelcomelist},
    {"check_from_in_blocklist", &CheckFromInBlocklist},
    {"check_from_in_blacklist", &CheckFromInBlocklist},
    {"check_to_in_welcomelist", &CheckToInWelcomelist},
    {"check_to_in_whitelist", &CheckToInWelcomelist},
    {"check_to_in_blocklist", &CheckToInBlocklist},
    {"check_to_in_blacklist", &CheckToInBlocklist},
    {"check_to_in_more_spam", &CheckToInMoreSpam},
    {"check_to_in_all_spam", &CheckToInAllSpam},
};

}  // namespace

EvalTable HeaderEvals() { return kEvals; }

}  // namespace mailsift::rules
