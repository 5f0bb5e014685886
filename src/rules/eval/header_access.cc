// rules/eval/header_access.cc — see header_access.h. Each function names the SpamAssassin 4.0.1
// routine whose behaviour it reproduces (PerMsgStatus.pm, Message/Node.pm, Util.pm).
#include "rules/eval/header_access.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <set>
#include <unordered_set>
#include <utility>

#include "base/strings.h"
#include "rules/eval/eval_input.h"
#include "rules/eval/eval_util.h"
#include "rules/regex/perl_regex.h"
#include "rules/regex/perl_text.h"

namespace mailsift::rules {

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

const PerlRegex& MailReAnchored() {
  static const PerlRegex kRe("^(?:" + std::string(kMailRe) + ")$", kCaseless | kExtended);
  return kRe;
}

const PerlRegex& HeaderAddressRe() {
  static const PerlRegex kRe(
      "^ \\s* (?:"
      R"( (?: ( (?: " (?:|(?:[^"\\]++|\\.)*+) " | [^",;<]++ )+ ) \s* )?)"
      R"( < \s* ( [^>\@]* \S+ | \s* ) \s* >)"
      R"( (?: \s* < \s* (?: (?: " (?:|(?:[^"\\]++|\\.)*+) " )? \S+ | \s* ) \s* > )*)"
      " | (?: ( " +
          std::string(kMailRe) +
          R"( ) | ( (?: " (?:|(?:[^"\\]++|\\.)*+) " | [^",;<]++ )+ ) ) ))"
          R"( (?: \s* \( ( (?:|(?:[^()\\]++|\\.)*+) ) \) )?)"
          R"( \s* (?: [,;] | \z ))",
      kCaseless | kExtended | kDotAll);
  return kRe;
}

bool ValidParsedAddress(const std::optional<std::string>& a) {
  if (!a) return false;
  if (a->rfind("\"\"@", 0) == 0) return false;
  return std::count(a->begin(), a->end(), '"') != 1;
}

// s/\((?:|(?:[^()\\]++|\\.)*+)\)//gs
std::string RemoveComments(std::string_view text) {
  static const PerlRegex kRe(R"(\((?:|(?:[^()\\]++|\\.)*+)\))", kDotAll);
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
    static const PerlRegex kGroup(R"(^[^"()<>]+:\s*(.*?)\s*(?:;.*)?)", kDotAll);
    std::vector<Span> g;
    if (kGroup.Search(s, 0, &g)) {
      s = std::string(GroupText(s, g, 1)) + s.substr(g[0].end);
    }
  }
  if (!HasNonSpace(s)) return results;

  const PerlRegex& re = HeaderAddressRe();
  std::vector<Span> g;
  int guard = 0;
  while (re.Search(s, 0, &g) && ++guard < 10000) {
    std::string_view sv(s);
    ParsedAddress a;
    if (HasGroup(g, 1)) {
      a.phrase = std::string(GroupText(sv, g, 1));
    } else if (HasGroup(g, 4)) {
      a.phrase = std::string(GroupText(sv, g, 4));
    }
    if (HasGroup(g, 2)) {
      a.address = std::string(GroupText(sv, g, 2));
    } else if (HasGroup(g, 3)) {
      a.address = std::string(GroupText(sv, g, 3));
    }
    if (HasGroup(g, 5)) a.comment = std::string(GroupText(sv, g, 5));
    bool relaxed = HasGroup(g, 2);
    size_t consumed = g[0].end;

    if (relaxed) {
      *a.address = RemoveComments(*a.address);
      if (!MailReAnchored().Matches(*a.address)) a.address.reset();
    }
    if (!ValidParsedAddress(a.address)) a.address.reset();

    if (a.phrase) {
      static const PerlRegex kPart(R"re((?:"(|(?:[^"\\]++|\\.)*+)"|([^"]++)))re",
                                   kCaseless | kDotAll);
      std::string newphrase;
      bool any = false;
      std::vector<Span> pg;
      size_t pos = 0;
      const std::string& phrase = *a.phrase;
      while (pos <= phrase.size() && kPart.Search(phrase, pos, &pg)) {
        any = true;
        if (HasGroup(pg, 1)) {
          std::string qs(GroupText(phrase, pg, 1));
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
          newphrase += RemoveComments(GroupText(phrase, pg, 2));
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
    static const PerlRegex kAngle("<(" + std::string(kMailRe) + ")>",
                                  kCaseless | kExtended | kDotAll);
    size_t pos = 0;
    std::vector<Span> ag;
    while (pos <= s.size() && kAngle.Search(s, pos, &ag)) {
      pos = ag[0].end;
      std::optional<std::string> addr = std::string(GroupText(s, ag, 1));
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
    static const PerlRegex kFor(R"( for <?(\S+\@(\S+?))>?;)", 0);
    std::vector<std::string> rcvd = HeaderValues(h, "Received");
    for (size_t i = 0; i < rcvd.size() && i < 3; ++i) {
      std::string line = rcvd[i] + "\n";
      std::vector<Span> g;
      if (kFor.Search(line, 0, &g) && IsFqdnValid(GroupText(line, g, 2))) {
        addrs.emplace_back(GroupText(line, g, 1));
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
bool SubstituteFirst(const PerlRegex& re, std::string* s, std::vector<std::string>* groups) {
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
  static const PerlRegex kDate1(
      R"( (\d+) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) )", kCaseless);
  static const PerlRegex kDate2(
      R"( (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(\d+) \d+:\d+:\d+ (\d{4}) )",
      kCaseless);
  static const PerlRegex kDate3(
      R"( (\d+) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{2,3}) )", kCaseless);
  static const PerlRegex kTime(R"( (\d?\d):(\d\d)(:(\d\d))? )", 0);
  static const PerlRegex kNumTz(R"( ([-+]\d{4}) )", 0);
  static const PerlRegex kNameTz(R"(\b([A-Z]{2,4}(?:-DST)?)\b)", 0);

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

}  // namespace mailsift::rules
