// rules/message/received.cc — see received.h. The per-MTA formats follow SpamAssassin 4.0.1's
// Message/Metadata/Received.pm in the same order, since the first format that matches wins and
// a partial match may leave fields set for later ones (as in SA).
#include "rules/message/received.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/strings.h"
#include "rules/regex/perl_regex.h"
#include "rules/regex/perl_text.h"

namespace mailsift::rules {
namespace {

// ---------------------------------------------------------------------------------------------
// Shared address patterns (SA's Constants.pm IP_ADDRESS, LOCALHOST, IP_PRIVATE), all
// case-insensitive as SA's qr//xi are.

#define OCT "(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)"
#define H4 "[a-f0-9]{1,4}"

constexpr const char kIpAddress[] =
    "(?i:\\b(?<!:)" OCT "\\." OCT "\\." OCT "\\." OCT
    "\\b"
    "|(?:IPv6:|(?<![a-f0-9:]))(?:"
    "(?:(?:" H4 ":){6}|::(?:" H4 ":){0,5}|(?:" H4 ":){1,5}:|" H4 "::(?:" H4
    ":){1,4}"
    "|(?:" H4 ":){2}:(?:" H4 ":){1,3}|(?:" H4 ":){3}:(?:" H4 ":){1,2}|(?:" H4 ":){4}:" H4 ":)" OCT
    "\\." OCT "\\." OCT "\\." OCT "|(?:" H4 ":){7}" H4 "|:(?::" H4 "){1,7}|(?:" H4 ":){1,7}:|" H4
    ":(?::" H4
    "){1,6}"
    "|(?:" H4 ":){2}(?::" H4 "){1,5}|(?:" H4 ":){3}(?::" H4
    "){1,4}"
    "|(?:" H4 ":){4}(?::" H4 "){1,3}|(?:" H4 ":){5}(?::" H4
    "){1,2}"
    "|(?:" H4 ":){6}:" H4 "|::)(?![a-f0-9:]))";

#define MAPPED_PREFIX                                                                 \
  "(?:(?:0{1,4}:){5}ffff:|::(?:0{1,4}:){0,4}ffff:|(?:0{1,4}:){1,4}:ffff:"             \
  "|0{1,4}::(?:0{1,4}:){1,3}ffff:|(?:0{1,4}:){2}:0{1,2}:ffff:|(?:0{1,4}:){3}:0:ffff:" \
  "|(?:0{1,4}:){4}:ffff:)"
#define LOOPBACK6                                                                   \
  "(?:0{1,4}:){7}0{0,3}1|:(?::0{1,4}){0,6}:0{0,3}1|0{1,4}:(?::0{1,4}){0,5}:0{0,3}1" \
  "|(?:0{1,4}:){2}(?::0{1,4}){0,4}:0{0,3}1|(?:0{1,4}:){3}(?::0{1,4}){0,3}:0{0,3}1"  \
  "|(?:0{1,4}:){4}(?::0{1,4}){0,2}:0{0,3}1|(?:0{1,4}:){5}(?::0{1,4}){0,1}:0{0,3}1"  \
  "|(?:0{1,4}:){6}:0{0,3}1"
#define PRIVATE4                                                                                  \
  "(?:10|127|169\\.254|172\\.(?:1[6-9]|2[0-9]|3[01])|192\\.168|100\\.(?:6[4-9]|[7-9][0-9]|1[01][" \
  "0-9]|12[0-7]))"

constexpr const char kLocalhost[] =
    "(?i:localhost(?:\\.localdomain)?|\\b(?<!:)127\\.0\\.0\\.1\\b"
    "|(?:IPv6:|(?<![a-f0-9:]))(?:" MAPPED_PREFIX "127\\.0\\.0\\.1|" LOOPBACK6 ")(?![a-f0-9:]))";

constexpr const char kIpPrivate[] = "(?i:^(?:" PRIVATE4
                                    "\\..*"
                                    "|(?:IPv6:|(?<![a-f0-9:]))(?:" MAPPED_PREFIX PRIVATE4
                                    "\\..*|fe[89ab][0-9a-f]:.*|" LOOPBACK6 ")(?![a-f0-9:])))";

#undef OCT
#undef H4
#undef MAPPED_PREFIX
#undef LOOPBACK6
#undef PRIVATE4

// ---------------------------------------------------------------------------------------------
// A compiled PCRE2 pattern with Perl-like capture access. "{IP}" and "{LH}" in the pattern
// stand for kIpAddress and kLocalhost.

struct Caps {
  std::vector<std::string> group;
  std::vector<bool> set;
  size_t start = 0, end = 0;  // of the whole match
  const std::string& operator[](size_t i) const {
    static const std::string kEmpty;
    return i < group.size() ? group[i] : kEmpty;
  }
  bool Defined(size_t i) const { return i < set.size() && set[i]; }
};

std::string ExpandPattern(std::string_view pattern) {
  std::string out;
  for (size_t i = 0; i < pattern.size();) {
    if (pattern.substr(i, 4) == "{IP}") {
      out += kIpAddress;
      i += 4;
    } else if (pattern.substr(i, 4) == "{LH}") {
      out += kLocalhost;
      i += 4;
    } else {
      out += pattern[i++];
    }
  }
  return out;
}

class Re {
 public:
  explicit Re(std::string_view pattern) : re_(ExpandPattern(pattern), 0, 2000000) {}

  bool ok() const { return re_.ok(); }

  // Searches `text` from `start`. A pattern that failed to compile, or a match that hits the
  // resource limits, counts as no match.
  bool Find(std::string_view text, Caps* caps = nullptr, size_t start = 0) const {
    std::vector<Span> spans;
    if (!re_.Search(text, start, caps != nullptr ? &spans : nullptr)) return false;
    if (caps != nullptr) {
      caps->group.assign(spans.size(), std::string());
      caps->set.assign(spans.size(), false);
      for (size_t i = 0; i < spans.size(); ++i) {
        if (!spans[i].set()) continue;
        caps->group[i] = std::string(text.substr(spans[i].begin, spans[i].end - spans[i].begin));
        caps->set[i] = true;
      }
      caps->start = spans[0].begin;
      caps->end = spans[0].end;
    }
    return true;
  }

  // Perl's `s/re/replacement/` (first match, literal replacement). Returns whether it matched;
  // `caps` gets the captures of the match.
  bool SubFirst(std::string* text, std::string_view replacement, Caps* caps = nullptr) const {
    Caps local;
    Caps* c = caps != nullptr ? caps : &local;
    if (!Find(*text, c)) return false;
    text->replace(c->start, c->end - c->start, replacement);
    return true;
  }

 private:
  PerlRegex re_;
};

// One compiled pattern per use site, initialised once (thread-safe function-local static).
#define RCVD_RE(pattern)          \
  ([]() -> const Re& {            \
    static const Re kRe(pattern); \
    return kRe;                   \
  }())

// Perl truthiness of a string: "" and "0" are false.
bool PerlTrue(std::string_view s) { return !s.empty() && s != "0"; }

// s/\s+/ /g; s/^ //; s/ $//
std::string CollapseSpaces(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  bool in_space = false;
  for (char c : in) {
    if (IsPerlSpace(c)) {
      in_space = true;
      continue;
    }
    if (in_space && !out.empty()) out += ' ';
    in_space = false;
    out += c;
  }
  return out;
}

// s/[\s\000\#\[\]\(\)\<\>\|]/!/gs
void StripChars(std::string* s) {
  for (char& c : *s) {
    if (IsPerlSpace(c) || c == '\0' || c == '#' || c == '[' || c == ']' || c == '(' || c == ')' ||
        c == '<' || c == '>' || c == '|') {
      c = '!';
    }
  }
}

// $envfrom =~ s/^\s*<*//gs; s/>*\s*$//gs; then strip_chars.
void CleanEnvfrom(std::string* s) {
  size_t b = 0;
  while (b < s->size() && IsPerlSpace((*s)[b])) ++b;
  while (b < s->size() && (*s)[b] == '<') ++b;
  s->erase(0, b);
  size_t e = s->size();
  while (e > 0 && IsPerlSpace((*s)[e - 1])) --e;
  while (e > 0 && (*s)[e - 1] == '>') --e;
  s->erase(e);
  StripChars(s);
}

// True when `s` is strict UTF-8 (no overlongs, surrogates or code points above U+10FFFF).
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    int len = 0;
    uint32_t cp = 0;
    if (b >= 0xc2 && b <= 0xdf) {
      len = 2, cp = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
      len = 3, cp = b & 0x0f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      len = 4, cp = b & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (int k = 1; k < len; ++k) {
      auto cb = static_cast<unsigned char>(s[i + k]);
      if ((cb & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cb & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += len;
  }
  return true;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    *out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out += static_cast<char>(0xc0 | (cp >> 6));
    *out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    *out += static_cast<char>(0xe0 | (cp >> 12));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    *out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// SA's header normalisation (Node::_decode_header -> _normalize(…, 'UTF-8')) without
// Encode::Detect: text that is not valid UTF-8 is read as Windows-1252 (undefined bytes become
// U+FFFD) and returned as UTF-8.
std::string SaHeaderText(std::string_view text) {
  if (IsValidUtf8(text)) return std::string(text);
  static constexpr std::array<uint16_t, 32> kC1 = {
      0x20ac, 0xfffd, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
      0x2039, 0x0152, 0xfffd, 0x017d, 0xfffd, 0xfffd, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
      0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0xfffd, 0x017e, 0x0178};
  std::string out;
  out.reserve(text.size() + text.size() / 2);
  for (char ch : text) {
    auto b = static_cast<unsigned char>(ch);
    if (b >= 0x80 && b < 0xa0) {
      AppendUtf8(kC1[b - 0x80], &out);
    } else {
      AppendUtf8(b, &out);
    }
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

bool IsPrivateIp(std::string_view ip) {
  static const Re kPrivate(kIpPrivate);
  return kPrivate.Find(ip);
}

std::string RelayAsString(const Relay& r) {
  std::string envfrom = PerlTrue(r.envfrom) ? r.envfrom : "";
  std::string out = "[ ip=";
  out += r.ip;
  out += " rdns=";
  out += r.rdns;
  out += " helo=";
  out += r.helo;
  out += " by=";
  out += r.by;
  out += " ident=";
  out += r.ident;
  out += " envfrom=";
  out += envfrom;
  out += r.internal ? " intl=1 id=" : " intl=0 id=";
  out += r.id;
  out += " auth=";
  out += r.auth;
  out += r.msa ? " msa=1 ]" : " msa=0 ]";
  return out;
}

ParsedReceived ParseReceivedLine(std::string_view value) {
  ParsedReceived result;
  std::string s = CollapseSpaces(value);
  // 1 while s/\s?;$//
  while (!s.empty() && s.back() == ';') {
    s.pop_back();
    if (!s.empty() && IsPerlSpace(s.back())) s.pop_back();
  }

  std::string ip, helo, rdns, by, id, ident, auth;
  std::optional<std::string> envfrom;
  bool mta_looked_up_dns = false;
  Caps c;
  auto m = [&](const Re& re) { return re.Find(s, &c); };
  auto skipped = [&]() {
    result.kind = ReceivedParse::kSkipped;
    return result;
  };

  if (!m(RCVD_RE(R"((?i)^\(?from )"))) return skipped();
  if (m(RCVD_RE(R"(\bwith local for\b)"))) return skipped();
  if (m(RCVD_RE(R"((?i)^from (\S+) by [^\s;]+ ?;)"))) {
    static const Re kBracketIp(R"(^\[[\d.]+\]$)");
    if (!kBracketIp.Find(c[1])) return skipped();
  }

  RCVD_RE(
      R"([\s;]+(?:(?:Mon|T(?:ue|hu)|Wed|Fri|S(?:at|un)), )?\d+ (?:J(?:an|u[nl])|Feb|Ma[ry]|A(?:pr|)"
      R"(ug)|Sep|Oct|Nov|Dec) \d+ \d+:\d+(?::\d+)? \S+$)")
      .SubFirst(&s, "");
  RCVD_RE(R"(\)by )").SubFirst(&s, ") by ");

  if (m(RCVD_RE(R"( id <?([^\s<>;]{3,}))"))) id = c[1];

  if (m(RCVD_RE(R"(\bhelo=([-A-Za-z0-9\.\^+_&:=?!@%*\$\\\/]+)(?:[^-A-Za-z0-9\.\^+_&:=?!@%*\$\\\/]|)"
                R"($))"))) {
    helo = c[1];
  } else if (
      m(RCVD_RE(
          R"(\b(?:HELO|EHLO) ([-A-Za-z0-9\.\^+_&:=?!@%*\$\\\/]+)(?:[^-A-Za-z0-9\.\^+_&:=?!@%*\$\\\)"
          R"(/]|$))"))) {
    helo = c[1];
  }
  if (m(RCVD_RE(R"( by (\S+)(?:[^-A-Za-z0-9\;\.]|$))"))) by = c[1];

  // Authentication tokens.
  if (m(RCVD_RE(R"( by )")) &&
      m(RCVD_RE(R"((?i) with ((?:ES|L|UTF8S|UTF8L)MTPS?A|ASMTP|HTTP[SU]?)(?: |;|$))"))) {
    auth = c[1];
  } else if (
      m(RCVD_RE(
          R"( by mx\.google\.com with ESMTPS id [a-z0-9]{1,4}sm[0-9]{2,9}[a-z]{3}\.[0-9]{1,3}\.[0-)"
          R"(9]{4}\.(?:[0-6][0-9]\.){4}[0-6][0-9])")) &&
      m(RCVD_RE(R"(\(version=([^ ]+) cipher=([^\)]+)\))"))) {
    auth = "GMail - transport=" + c[1] + " cipher=" + c[2];
  } else if (
      m(RCVD_RE(R"(^from .*?(?:\]\)|\)\]) \(AUTH: (LOGIN|PLAIN|DIGEST-MD5|CRAM-MD5) \S+(?:, .*?)?\)"
                R"() by )"))) {
    auth = c[1];
  } else if (m(RCVD_RE(R"(authenticated)")) &&
             m(RCVD_RE(
                 R"(^from .*?(?:\](?: \([^)]*\))?\)|\)\]) .*?\(.*?authenticated.*?\).*? by)"))) {
    auth = "Sendmail";
  } else if (
      m(RCVD_RE(
          R"(from \S* \((?:HELO|EHLO) (\S*)\) \[({IP})\] by (mail\.gmx\.(?:net|com)) \([^\)]+\) )"
          R"(with ((?:ESMTP|SMTP)))"))) {
    auth = "GMX (" + c[4] + " / " + c[3] + ")";
  } else if (m(RCVD_RE(R"( \(authenticated as )")) &&
             m(RCVD_RE(
                 R"(\) by .+ \(\d{1,2}\.\d\.\d{3}(?:\.\d{1,3})?\) \(authenticated as .+\) id )"))) {
    auth = "CriticalPath";
  } else if (m(RCVD_RE(R"(\) \(Authenticated sender: \S+\) by \S+ \(([^\)]+)\) with )"))) {
    auth = c[1] == "Postfix" ? c[1] : "Postfix (" + c[1] + ")";
  } else if (m(RCVD_RE(R"(CommuniGate Pro (HTTP|SMTP|XIMSS|IMAP))")) &&
             m(RCVD_RE(R"( \(account )"))) {
    auth = "Communigate";
  } else if (m(RCVD_RE(R"( with Microsoft Exchange Server HTTP-DAV\b)"))) {
    auth = "HTTP-DAV";
  } else if (m(RCVD_RE(R"( by )")) && m(RCVD_RE(R"((?i) \(via (HTTP.?)\)(?: |;|$))"))) {
    auth = c[1];
  }

  bool enough = false;

  if (s.rfind("from ", 0) == 0) {
    s.erase(0, 5);
    do {  // `break` is SA's `goto enough` (after setting enough = true)
      if (m(RCVD_RE(R"((?i)(?:return-path:? |envelope-(?:sender|from)[ =])(\S+)\b)"))) {
        envfrom = c[1];
      }

      if (m(RCVD_RE(R"( \((?:SquirrelMail|NaSMail) authenticated user )"))) {
        if (m(RCVD_RE(R"(({IP})\b(?![.-]).{10,80}by (\S+) with HTTP)"))) {
          ip = c[1], by = c[2], enough = true;
          break;
        }
      }

      if (m(RCVD_RE(R"(aol\.com)")) && m(RCVD_RE(R"(with HTTP \(WebMailUI\))"))) {
        if (m(RCVD_RE(R"(({IP}) by (\S+) \({IP}\) with HTTP \(WebMailUI\))"))) {
          ip = c[1], by = c[2], enough = true;
          break;
        }
      }

      if (m(RCVD_RE(R"( SMTPSVC)"))) {
        if (m(RCVD_RE(R"(^(\S*) \(\[({IP})\][^\)]{0,40}\) by (\S+) with Microsoft SMTPSVC)"))) {
          helo = c[1], ip = c[2], by = c[3], enough = true;
          break;
        }
        if (m(RCVD_RE(R"(^mail pickup service by (\S+) with Microsoft SMTPSVC$)"))) {
          return skipped();
        }
      } else if (
          m(RCVD_RE(R"( with (?:Microsoft SMTP Server|mapi id) (?:\([^\)]+\) )?\d+\.\d+\.\d+\.\d+()"
                    R"(?:$| ))"))) {
        if (m(RCVD_RE(R"(^(\S+) \(\[?({IP})(?:%[A-Z0-9._~-]*)?\]?\) by (\S+) )"))) {
          helo = c[1], ip = c[2], by = c[3], id.clear(), enough = true;
          break;
        }
      } else if (m(RCVD_RE(R"(\[XMail )"))) {
        if (m(RCVD_RE(R"(^(\S+) \((\[?{IP}\]?)(?::\d+)\) by (\S+)(?: \(\S+\))? with \[XMail)"))) {
          helo = c[1], ip = c[2], by = c[3];
          if (m(RCVD_RE(R"( id <(\S+)>)"))) id = c[1];
          if (m(RCVD_RE(R"( from <(\S+)>)"))) envfrom = c[1];
          enough = true;
          break;
        }
      } else if (m(RCVD_RE(R"(\(ecelerity\b)"))) {
        if (m(RCVD_RE(R"(^\(\[({IP}):\d+\] helo=(\S+)\) by (\S+) )"))) {
          ip = c[1], helo = c[2], by = c[3], enough = true;
          break;
        }
        if (m(RCVD_RE(R"(^\S+ \(\[({IP}):\d+\]\) by (\S+) )"))) {
          ip = c[1], by = c[2], enough = true;
          break;
        }
      } else if (m(RCVD_RE(R"(Exim)"))) {
        if (m(RCVD_RE(R"(\bwith local(?:-\S+)? )"))) return skipped();
        static const Re kHeloSub(R"(helo=(\S+))");
        static const Re kIdentSub(R"(ident=(\S*))");
        if (m(RCVD_RE(R"(^\[({IP})\] \((.*?)\) by (\S+) )"))) {
          ip = c[1], by = c[3];
          std::string sub = c[2];
          Caps sc;
          if (kHeloSub.SubFirst(&sub, "", &sc)) helo = sc[1];
          if (kIdentSub.SubFirst(&sub, "", &sc)) ident = sc[1];
          enough = true;
          break;
        }
        if (m(RCVD_RE(R"(^(\S+) \(\[({IP})\](.*?)\) by (\S+) )"))) {
          rdns = c[1], ip = c[2], by = c[4];
          std::string sub = c[3];
          helo = rdns;
          Caps sc;
          if (kHeloSub.SubFirst(&sub, "", &sc)) helo = sc[1];
          if (kIdentSub.SubFirst(&sub, "", &sc)) ident = sc[1];
          enough = true;
          break;
        }
        if (m(RCVD_RE(R"(^(\S+) \[({IP})\](:\d+)? by (\S+) )"))) {
          rdns = c[1], ip = c[2], helo = c[1], by = c[4], enough = true;
          break;
        }
        if (m(RCVD_RE(R"(^(\S+) )"))) rdns = c[1];
        if (m(RCVD_RE(R"( \((\S+)\) )"))) helo = c[1];
        if (m(RCVD_RE(R"( \[({IP})(?:\.\d+)?\] )"))) ip = c[1];
        if (m(RCVD_RE(R"(by (\S+) )"))) {
          by = c[1];
          if (PerlTrue(ip)) {
            enough = true;
            break;
          }
        }
      } else if (m(RCVD_RE(R"( \(Postfix\) with)"))) {
        if (m(RCVD_RE(R"(^(\S+) \((\S+) \[({IP})\]\) by (\S+) )")) ||
            m(RCVD_RE(R"(^(\S+) \((\S+)\[({IP})\]\) by (\S+) )"))) {
          mta_looked_up_dns = true;
          helo = c[1], rdns = c[2], ip = c[3], by = c[4];
          if (rdns == "unknown") rdns.clear();
          enough = true;
          break;
        }
      } else if (m(RCVD_RE(R"(\(Scalix SMTP Relay)"))) {
        if (m(RCVD_RE(R"(^(\S+) \( ?({IP})\) by (\S+))"))) {
          helo = c[1], ip = c[2], by = c[3], enough = true;
          break;
        }
      } else if (m(RCVD_RE(R"( \(Lotus Domino )"))) {
        if (m(RCVD_RE(R"(^(\S+) \(\[({IP})\]\) by (\S+) \(Lotus)"))) {
          mta_looked_up_dns = false;
          helo = c[1], ip = c[2], by = c[3], enough = true;
          break;
        }
      }

      if (m(RCVD_RE(R"(\bwith HTTP\b)")) && m(RCVD_RE(R"(^({IP}) \(\[{IP}\]\) by (\S+))"))) {
        ip = c[1], by = c[2], enough = true;
        break;
      }

      if (!m(RCVD_RE(R"( by \S+ \(qmail-\S+\) with )"))) {
        if (m(RCVD_RE(R"(^(\S+) \((\S+) \[({IP})\].*\) by (\S+) \()"))) {
          mta_looked_up_dns = true;
          helo = c[1], rdns = c[2], ip = c[3], by = c[4];
          static const Re kIdent1(R"(^IDENT:([^\@]*)\@)");
          static const Re kIdent2(R"(^([^\@]*)\@)");
          Caps ic;
          if (kIdent1.SubFirst(&rdns, "", &ic)) ident = ic[1];
          if (kIdent2.SubFirst(&rdns, "", &ic)) ident = ic[1];
          enough = true;
          break;
        }
      }

      if (m(RCVD_RE(R"(^(\S+) \((\S+) \[({IP})\]\) by (\S+) with \S+ \()"))) {
        mta_looked_up_dns = true;
        rdns = c[2], ip = c[3], helo = c[1], by = c[4], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^(\S+) \(\[({IP})\] helo=(\S+)\) by (\S+) with )"))) {
        rdns = c[1], ip = c[2], helo = c[3], by = c[4], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^(\S+) \(<unknown\S*>\[({IP})\]\) by (\S+) )"))) {
        helo = c[1], ip = c[2], by = c[3], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^(\S+) \((\S+\.\S+)\[({IP})\]\) by (\S+) )"))) {
        mta_looked_up_dns = true;
        helo = c[1], rdns = c[2], ip = c[3], by = c[4], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^(\S+) \((\S*)\@\[({IP})\].*\) by (\S+) \()"))) {
        mta_looked_up_dns = true;
        helo = c[1], ip = c[3], by = c[4], ident = c[2], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(by (\S+\.hotmail\.msn\.com) )"))) {
        by = c[1];
        if (m(RCVD_RE(R"(^({IP}) )"))) ip = c[1];
        enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^(\S+) \((?:HELO|EHLO) (\S*)\) \(({IP})\) by (\S+) \(qpsmtpd\/\S+\) with )"
                    R"((?:ESMTP|SMTP))"))) {
        rdns = c[1], helo = c[2], ip = c[3], by = c[4], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^(\S+) \(LHLO (\S*)\) \(({IP})\) by (\S+) with LMTP)"))) {
        rdns = c[1], helo = c[2], ip = c[3], by = c[4], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^(\S+) \((?:HELO|EHLO) (\S*)\) \[({IP})\] by (\S+) \([^\)]+\) with (?:ESMTP)"
                    R"(|SMTP))"))) {
        rdns = c[1], helo = c[2], ip = c[3], by = c[4], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^(\S+) \(\[({IP})\]\) by (\S+) via smtpd \(for \S+\) with SMTP\()"))) {
        helo = c[1], ip = c[2], by = c[3], enough = true;
        break;
      }

      // qmail and friends.
      if (m(RCVD_RE(
              R"(^\S+( \((?:HELO|EHLO) \S*\))? \((\S+\@)?\[?{IP}\]?\)( \(envelope-sender <\S+>\)))"
              R"(? by \S+( \(.+\))* with (.* )?(SMTP|QMQP)(?! id ))"))) {
        if (m(RCVD_RE(R"(^(\S+) \((?:HELO|EHLO) ([^ \(\)]*)\) \((\S*)\@\[?({IP})\]?\)( )"
                      R"(\(envelope-sender <\S+>\))? by (\S+))"))) {
          rdns = c[1], helo = c[2], ident = c[3], ip = c[4], by = c[6];
        } else if (
            m(RCVD_RE(R"(^(\S+) \((?:HELO|EHLO) ([^ \(\)]*)\) \(\[?({IP})\]?\)( \(envelope-sender )"
                      R"(<\S+>\))? by (\S+))"))) {
          rdns = c[1], helo = c[2], ip = c[3], by = c[5];
        } else if (
            m(RCVD_RE(R"(^(\S+) \((\S*)\@\[?({IP})\]?\)( \(envelope-sender <\S+>\))? by (\S+))"))) {
          helo = rdns = c[1];
          ident = c[2], ip = c[3], by = c[5];
        } else if (m(RCVD_RE(R"(^(\S+) \(\[?({IP})\]?\)( \(envelope-sender <\S+>\))? by (\S+))"))) {
          helo = rdns = c[1];
          ip = c[2], by = c[4];
        }
        if (rdns != "unknown") {
          mta_looked_up_dns = true;
        } else {
          rdns.clear();
        }
        enough = true;
        break;
      }

      if (m(RCVD_RE(R"( via HTTP$)")) && m(RCVD_RE(R"(^\[({IP})\] by (\S+) via HTTP$)"))) {
        ip = c[1], by = c[2], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^(\S+) \( \[({IP})\]\).*? by (\S+) )"))) {
        ip = c[2], by = c[3], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^\((\S+) \[({IP})\]\) by (\S+) )"))) {
        helo = c[1], ip = c[2], by = c[3], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^\[({IP})\] by (\S+) )"))) {
        ip = c[1], by = c[2], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^\(\[?({IP})\]?\) by (\S+) )"))) {
        ip = c[1], by = c[2], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^(\S+) \[({IP})\] by (\S+) \[{IP}\] with )"))) {
        mta_looked_up_dns = true;
        helo = c[1], ip = c[2], by = c[3], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^(\S+) \[\(({IP})\)\] by (\S+) \({IP}\) )"))) {
        helo = c[1], ip = c[2], by = c[3], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^(\S+) \(\[({IP})\]\) by (\S+) \()"))) {
        mta_looked_up_dns = true;
        helo = c[1], ip = c[2], by = c[3], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^(\S+) \((\S+) \[({IP})\]\).*? by (\S+)\b)"))) {
        if (c[2] == "softdnserr") {
          mta_looked_up_dns = false;
        } else {
          mta_looked_up_dns = true;
          rdns = c[2];
        }
        helo = c[1], ip = c[3], by = c[4], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^(\S+) \(\[({IP})(?:[.:]\d+)?\]\).*? by (\S+) )"))) {
        mta_looked_up_dns = true;
        helo = c[1], ip = c[2], by = c[3], enough = true;
        break;
      }
      if (m(RCVD_RE(
              R"(^(\S+) \((\S+) \[({IP})\]\)(?: \(authenticated bits=\d+\))? by (\S+) \()"))) {
        mta_looked_up_dns = true;
        helo = c[1], rdns = c[2], ip = c[3], by = c[4], enough = true;
        break;
      }

      if (m(RCVD_RE(R"(with (?:POP3|IMAP))"))) {
        result.pop_fetcher = true;
        return skipped();
      }

      if (m(RCVD_RE(R"(^(\S+) \((?:HELO|EHLO) ([^\)]*)\) \((\S*@)?\[?({IP})\]?\).* by (\S+) )"))) {
        mta_looked_up_dns = true;
        rdns = c[1], helo = c[2], ident = c.Defined(3) ? c[3] : "", ip = c[4], by = c[5];
        if (PerlTrue(ident) && ident.back() == '@') ident.pop_back();
        enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^(\S+) \((\S*@)?\[?({IP})\]?\).* by (\S+) )"))) {
        mta_looked_up_dns = true;
        rdns = c[1], helo = rdns, ident = c.Defined(2) ? c[2] : "", ip = c[3], by = c[4];
        if (PerlTrue(ident) && ident.back() == '@') ident.pop_back();
        enough = true;
        break;
      }
      if (m(RCVD_RE(R"( with http for )")) &&
          m(RCVD_RE(R"(^\[({IP})\] by (\S+) with http for )"))) {
        ip = c[1], by = c[2], enough = true;
        break;
      }
      if (m(RCVD_RE(R"( via smap )")) && m(RCVD_RE(R"(^(\S+)\(({IP})\) by (\S+) via smap )"))) {
        mta_looked_up_dns = true;
        rdns = c[1], ip = c[2], by = c[3], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^(\S+)\(({IP}), (?:HELO|EHLO) (\S*)\) by (\S+) via smap )"))) {
        mta_looked_up_dns = true;
        rdns = c[1], ip = c[2], helo = c[3], by = c[4], enough = true;
        break;
      }
      if (m(RCVD_RE(R"( \(Post)")) && m(RCVD_RE(R"(^\[({IP})\] by (\S+) \(Post)"))) {
        ip = c[1], by = c[2], enough = true;
        break;
      }
      if (m(RCVD_RE(R"( \(ArGoSoft)")) && m(RCVD_RE(R"(^\[({IP})\] by (\S+) \(ArGoSoft)"))) {
        ip = c[1], by = c[2], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^({IP}) by (\S+) \((?:SMTPL|InterScan)\b)"))) {
        ip = c[1], by = c[2], enough = true;
        break;
      }
      if (m(RCVD_RE(R"( with BSMTP)")) && m(RCVD_RE(R"(^\S+ by \S+ with BSMTP)"))) {
        return skipped();
      }
      if (m(RCVD_RE(R"(^(\S+) \((\S+) \[({IP})\]\) by (\S+) with )"))) {
        mta_looked_up_dns = true;
        helo = c[1], rdns = c[2], ip = c[3], by = c[4], enough = true;
        break;
      }
      if (m(RCVD_RE(
              R"(^(\S+) \((?:HELO|EHLO) (\S*)\) \((?:(\S+)\@)?({IP}).*?\) by (\S+) with )"))) {
        mta_looked_up_dns = true;
        rdns = c[1], helo = c[2], ip = c[4], by = c[5];
        if (c.Defined(3)) ident = c[3];
        enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^\[({IP})\] \((?:account \S+ )?(?:HELO|EHLO) (\S*)\) by (\S+) \()"))) {
        ip = c[1], helo = c[2], by = c[3], enough = true;
        break;
      }
      if (m(RCVD_RE(R"( \(CommuniGate Pro)")) &&
          m(RCVD_RE(R"(^(\S+) \(\[({IP})\] verified\) by (\S+) \()"))) {
        mta_looked_up_dns = true;
        rdns = c[1], helo = c[1], ip = c[2], by = c[3], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^\(\[({IP})\]\) by (\S+) with )"))) {
        ip = c[1], by = c[2], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^([^\d]\S+) \(({IP})\) by (\S+) )"))) {
        helo = c[1], ip = c[2], by = c[3], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^\S+ \(\S+\) by \S+ \(Content Technologies )"))) return skipped();
      if (m(RCVD_RE(R"(^(\S+) \(\[({IP})\] \[(\S+)\]\) by (\S+) with )"))) {
        helo = c[1], ip = c[2], by = c[4], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^({IP}) by (\S+) with )"))) {
        ip = c[1], by = c[2], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^(\S+) \((\S+)\[({IP})\]\) by (\S+) )"))) {
        mta_looked_up_dns = true;
        helo = c[1], rdns = c[2], ip = c[3], by = c[4], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^\[({IP})\]\S+ \((?:HELO|EHLO) (\S*)\) by (\S+) )"))) {
        ip = c[1], helo = c[2], by = c[3], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^({IP}) \((?:HELO|EHLO) (\S*)\) by (\S+) )"))) {
        ip = c[1], helo = c[2], by = c[3], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^(\S+) \[({IP})\] by (\S+) )"))) {
        helo = c[1], ip = c[2], by = c[3], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^(\S+)\(({IP})\) by (\S+) )"))) {
        rdns = c[1], ip = c[2], by = c[3], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^\[({IP})\] by (\S+) \(MailGate )"))) {
        ip = c[1], by = c[2], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^(\S+) \(unverified \[({IP})\]\) by (\S+) )"))) {
        helo = c[1], ip = c[2], by = c[3], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^({IP}) \([A-Za-z][^\)]+\) by (\S+) with )"))) {
        ip = c[1], by = c[2], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^\[({IP})\] \(([^\)]+)\) by (\S+) )"))) {
        ip = c[1], by = c[3];
        std::string sub = c[2];
        static const Re kHeloSub(R"(helo=(\S+))");
        static const Re kIdentSub(R"(ident=(\S*))");
        Caps sc;
        if (kHeloSub.SubFirst(&sub, "", &sc)) helo = sc[1];
        if (kIdentSub.SubFirst(&sub, "", &sc)) ident = sc[1];
        enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^(\S+) \((?:\S+\@)?({IP})\) by (\S+) with )"))) {
        rdns = c[1], ip = c[2], by = c[3], enough = true;
        break;
      }
      if (m(RCVD_RE(R"re(^(\S+)\(({IP})\)(?:, claiming to be "(\S+)")? via \S+ by (\S+),)re"))) {
        rdns = c[1], ip = c[2], helo = c.Defined(3) ? c[3] : "", by = c[4];
        if (c[1] != "UNKNOWN") {
          mta_looked_up_dns = true;
          rdns = c[1];
        }
        enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^(\S+) \((\S+)@({IP}) with login\) by (\S+\.yahoo\.com) with SMTP)"))) {
        helo = c[1], ip = c[3], by = c[4], enough = true;
        break;
      }
      if (m(RCVD_RE(R"(^X-Originating-IP: ({IP})$)"))) {
        ip = c[1], by.clear(), enough = true;
        break;
      }

      // Handovers to ignore.
      if (m(RCVD_RE(R"(^\S+ \([^\s\@]+\@{LH}\) by \S+ \()"))) return skipped();
      if (m(RCVD_RE(R"(^\S+ \S+ by \S+ with local-e?smtp )"))) return skipped();
      if (m(RCVD_RE(R"(^127\.0\.0\.1 \(AVG SMTP \S+ \[\S+\]\))"))) return skipped();
      if (m(RCVD_RE(R"(^\S+\@\S+ by \S+ by uid \S+ )"))) return skipped();
      if (m(RCVD_RE(R"(^\S+\@\S+ by \S+ )"))) return skipped();
      if (m(RCVD_RE(R"(^Unknown\/Local \()"))) return skipped();
      if (m(RCVD_RE(R"(^{LH} \((?:\S+\@)?{LH}[\)\[])"))) return skipped();
      if (m(RCVD_RE(R"(^\S+ \((?:\S+\@)?{LH}\) )"))) return skipped();
      if (m(RCVD_RE(R"(^\S+ \(\S+\@\S+ \[{LH}\]\) )"))) return skipped();
      if (m(RCVD_RE(R"(^\(AUTH: \S+\) by \S+ with )"))) return skipped();
      if (m(RCVD_RE(R"(^localhost \(localhost \[\[UNIX: localhost\]\]\) by )"))) return skipped();
      if (m(RCVD_RE(R"(^\S+\.amazon\.com by \S+\.amazon\.com with ESMTP \(peer crosscheck: )"))) {
        return skipped();
      }
      if (m(RCVD_RE(R"(^[^\.]+ by \S+ with Novell_GroupWise)"))) return skipped();
      if (m(RCVD_RE(R"(^no\.name\.available by \S+ via smtpd \(for )"))) return skipped();
      if (m(RCVD_RE(R"(^\S+ by \S+ \(.{0,100}\) with qmail-scanner)"))) {
        result.qmail_scanner = true;
        if (envfrom.has_value()) {
          std::string e = *envfrom;
          CleanEnvfrom(&e);
          result.qmail_scanner_envfrom = e;
        }
        return skipped();
      }
      if (m(RCVD_RE(R"(^\S+ by \S+ with local)"))) return skipped();
      if (m(RCVD_RE(R"(^\S+ \(\[unix socket\]\) by \S+ \(Cyrus v[0-9]*?\.[0-9]*?\.[0-9]*?\) with L)"
                    R"(MTPA)"))) {
        return skipped();
      }
      if (m(RCVD_RE(R"(^\S+ by \S+ (?:with|via|for|\())"))) return skipped();
      if (m(RCVD_RE(R"(^\S+ (?:(?:with|via|for) \S+|\(unverified\)) by\b)"))) return skipped();
      if (m(RCVD_RE(R"(^\S+ \(unknown\) by \S+ \(SG\) with \b)"))) return skipped();
      if (m(RCVD_RE(R"(^\S+ \(\S+ \[local\]\) by \S+ \(OpenSMTPD\) with \b)"))) return skipped();
      if (m(RCVD_RE(R"(\(LSMTP for)"))) return skipped();
      if (m(RCVD_RE(R"(^\(\[{LH}\]\) with MailEnable )"))) return skipped();
      if (m(RCVD_RE(R"(^facebook\.com \([^\)]+\) by facebook\.com with Thrift id \S+$)"))) {
        return skipped();
      }
      if (m(RCVD_RE(R"(^\S+ named \S+ by gmailapi\.google\.com with HTTPREST$)"))) {
        return skipped();
      }
      if (m(RCVD_RE(R"(^\S+ id \S+$)"))) return skipped();
      if (m(RCVD_RE(R"(^\[<.*? \(Jetsend)"))) return skipped();

      if (!PerlTrue(helo) && m(RCVD_RE(R"(^(\S+)[^-A-Za-z0-9\.])"))) helo = c[1];
    } while (false);
  } else if (s.rfind("FROM ", 0) == 0) {
    s.erase(0, 5);
    if (m(RCVD_RE(
            R"(^(\S+) \((\S+) \[({IP})\]\) BY (\S+) (?:\([^\)]+\) WITH SMTP )?ID <?(\S+?)>?(?: )"
            R"(FOR <[^>]+>)?$)"))) {
      mta_looked_up_dns = true;
      helo = c[1], rdns = c[2], ip = c[3], by = c[4], id = c[5];
      if (rdns == "unverified") rdns.clear();
      enough = true;
    }
  } else if (s.rfind("(from ", 0) == 0) {
    s.erase(0, 6);
    if (m(RCVD_RE(R"(^(\S*) \[({IP})\]\) by (\S+) \(NAVGW .*?\) with )"))) {
      helo = c[1], ip = c[2], by = c[3], enough = true;
    } else if (m(RCVD_RE(R"(^\S+\@localhost\) by \S+ )"))) {
      return skipped();
    } else if (m(RCVD_RE(R"(^[^\s\@]+\@[^)]+\) by \S+\(jqueuemail\) id [^\s;]+)"))) {
      return skipped();
    }
  }

  if (!enough) {
    if (!PerlTrue(ip) && m(RCVD_RE(R"(\[({IP})\])"))) ip = c[1];
    if (!(PerlTrue(ip) && PerlTrue(by))) {
      result.kind = ReceivedParse::kUnparseable;
      return result;
    }
  }

  // enough:
  while (!rdns.empty() && rdns.back() == '.') rdns.pop_back();
  if (EqualsIgnoreCase(rdns, "unknown") || (!rdns.empty() && rdns[0] == '[')) rdns.clear();

  if (StartsWithIgnoreCase(ip, "ipv6:")) ip.erase(0, 5);
  if (!ip.empty() && ip[0] == '[') ip.erase(0, 1);
  if (!ip.empty() && ip.back() == ']') ip.pop_back();
  {
    size_t pct = ip.rfind('%');
    if (pct != std::string::npos) {
      bool zone_chars = true;
      for (size_t i = pct + 1; i < ip.size(); ++i) {
        char ch = ip[i];
        bool ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
                  (ch >= 'A' && ch <= 'Z') || ch == '.' || ch == '_' || ch == '~' || ch == '-';
        if (!ok) zone_chars = false;
      }
      if (zone_chars) ip.erase(pct);
    }
  }
  {
    static const Re kMapped(R"((?i)^0*:0*:(?:0*:)*ffff:(\d+\.\d+\.\d+\.\d+)$)");
    Caps mc;
    if (kMapped.Find(ip, &mc)) ip = mc[1];
  }
  if (!by.empty() && by.back() == ';') by.pop_back();

  StripChars(&ip);
  StripChars(&rdns);
  StripChars(&helo);
  StripChars(&by);
  StripChars(&ident);

  Relay& r = result.relay;
  r.envfrom_defined = envfrom.has_value();
  if (envfrom.has_value()) {
    r.envfrom = *envfrom;
    CleanEnvfrom(&r.envfrom);
  }
  r.ip = std::move(ip);
  r.by = std::move(by);
  r.helo = std::move(helo);
  r.id = std::move(id);
  r.ident = std::move(ident);
  r.auth = std::move(auth);
  r.lc_by = ToLowerAscii(r.by);
  r.lc_helo = ToLowerAscii(r.helo);
  if (rdns.empty()) {
    if (mta_looked_up_dns) {
      r.no_reverse_dns = true;
    } else {
      r.rdns_not_in_headers = true;
    }
  }
  r.rdns = std::move(rdns);
  r.lc_rdns = ToLowerAscii(r.rdns);
  r.as_string = RelayAsString(r);
  r.ip_private = IsPrivateIp(r.ip);
  result.kind = ReceivedParse::kRelay;
  return result;
}

// ---------------------------------------------------------------------------------------------
// Network sets (SA's NetSet, longest-prefix match with "!" exclusions).

namespace {

struct Net {
  std::array<uint8_t, 16> addr{};  // IPv4 as ::ffff:a.b.c.d
  int bits = 128;
  bool exclude = false;
};

std::optional<std::array<uint8_t, 16>> ParseIpAddr(std::string_view text) {
  std::array<uint8_t, 16> out{};
  // IPv4 dotted quad.
  auto parse_v4 = [](std::string_view t, uint8_t* dst) -> bool {
    int parts = 0;
    size_t i = 0;
    while (parts < 4) {
      size_t j = i;
      unsigned v = 0;
      while (j < t.size() && t[j] >= '0' && t[j] <= '9' && j - i < 3) v = v * 10 + (t[j++] - '0');
      if (j == i || v > 255) return false;
      dst[parts++] = static_cast<uint8_t>(v);
      if (parts < 4) {
        if (j >= t.size() || t[j] != '.') return false;
        ++j;
      }
      i = j;
    }
    return i == t.size();
  };
  if (text.find(':') == std::string_view::npos) {
    out[10] = out[11] = 0xff;
    if (!parse_v4(text, &out[12])) return std::nullopt;
    return out;
  }
  // IPv6, possibly with an embedded IPv4 tail.
  std::vector<uint16_t> head, tail;
  bool seen_gap = false;
  size_t i = 0;
  if (text.substr(0, 2) == "::") {
    seen_gap = true;
    i = 2;
  }
  int v4_words = 0;
  uint8_t v4[4];
  while (i < text.size()) {
    size_t j = i;
    while (j < text.size() && text[j] != ':') ++j;
    std::string_view piece = text.substr(i, j - i);
    if (piece.find('.') != std::string_view::npos) {
      if (j != text.size() || !parse_v4(piece, v4)) return std::nullopt;
      v4_words = 2;
      i = j;
      break;
    }
    if (piece.empty() || piece.size() > 4) return std::nullopt;
    unsigned v = 0;
    for (char ch : piece) {
      int d = (ch >= '0' && ch <= '9')   ? ch - '0'
              : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10
              : (ch >= 'A' && ch <= 'F') ? ch - 'A' + 10
                                         : -1;
      if (d < 0) return std::nullopt;
      v = v * 16 + d;
    }
    (seen_gap ? tail : head).push_back(static_cast<uint16_t>(v));
    if (j == text.size()) {
      i = j;
      break;
    }
    if (text.substr(j, 2) == "::") {
      if (seen_gap) return std::nullopt;
      seen_gap = true;
      i = j + 2;
    } else {
      i = j + 1;
      if (i == text.size()) return std::nullopt;
    }
  }
  size_t words = head.size() + tail.size() + v4_words;
  if (words > 8 || (!seen_gap && words != 8)) return std::nullopt;
  std::vector<uint16_t> all = head;
  all.resize(8 - tail.size() - v4_words, 0);
  all.insert(all.end(), tail.begin(), tail.end());
  for (size_t k = 0; k < all.size(); ++k) {
    out[2 * k] = static_cast<uint8_t>(all[k] >> 8);
    out[2 * k + 1] = static_cast<uint8_t>(all[k] & 0xff);
  }
  if (v4_words) std::memcpy(&out[12], v4, 4);
  return out;
}

// Parses "[!]addr[/bits]", also SA's short IPv4 forms ("10.", "192.168" = /8, /16).
std::optional<Net> ParseNet(std::string_view text) {
  Net net;
  text = TrimSpaces(text);
  if (!text.empty() && text[0] == '!') {
    net.exclude = true;
    text.remove_prefix(1);
  }
  if (text.size() >= 2 && text.front() == '[' && text.find(']') != std::string_view::npos) {
    size_t close = text.find(']');
    std::string joined(text.substr(1, close - 1));
    joined += text.substr(close + 1);
    auto n = ParseNet(joined);
    if (n) n->exclude = net.exclude;
    return n;
  }
  std::string_view addr = text;
  std::optional<int> bits;
  size_t slash = text.find('/');
  if (slash != std::string_view::npos) {
    addr = text.substr(0, slash);
    auto b = ParseUnsigned(text.substr(slash + 1));
    if (!b) return std::nullopt;
    bits = static_cast<int>(*b);
  }
  bool v4 = addr.find(':') == std::string_view::npos;
  std::string a(addr);
  int implied = 32;
  if (v4) {
    if (!a.empty() && a.back() == '.') a.pop_back();
    int dots = static_cast<int>(std::count(a.begin(), a.end(), '.'));
    implied = 8 * (dots + 1);
    for (int k = dots; k < 3; ++k) a += ".0";
  }
  auto parsed = ParseIpAddr(a);
  if (!parsed) return std::nullopt;
  net.addr = *parsed;
  if (v4) {
    int b = bits.value_or(implied);
    if (b > 32) return std::nullopt;
    net.bits = 96 + b;
  } else {
    int b = bits.value_or(128);
    if (b > 128) return std::nullopt;
    net.bits = b;
  }
  return net;
}

bool PrefixMatch(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, int bits) {
  for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((a[i] & mask) != (b[i] & mask)) return false;
  }
  return true;
}

class NetSet {
 public:
  NetSet(const std::vector<std::string>& entries, bool loopback, std::vector<std::string>* bad) {
    if (loopback) {
      nets_.push_back(*ParseNet("127.0.0.0/8"));
      nets_.push_back(*ParseNet("::1"));
    }
    for (const std::string& e : entries) {
      for (std::string_view piece : SplitSpaces(e)) {
        auto n = ParseNet(piece);
        if (n) {
          nets_.push_back(*n);
        } else if (bad != nullptr) {
          bad->emplace_back(piece);
        }
      }
    }
  }

  bool Contains(std::string_view ip) const {
    if (nets_.empty()) return false;
    std::string_view t = ip;
    if (t.size() >= 2 && t.front() == '[' && t.back() == ']') t = t.substr(1, t.size() - 2);
    size_t pct = t.find('%');
    if (pct != std::string_view::npos) t = t.substr(0, pct);
    if (StartsWithIgnoreCase(t, "IPv6:")) t.remove_prefix(5);
    auto addr = ParseIpAddr(t);
    if (!addr) return false;
    const Net* best = nullptr;
    for (const Net& n : nets_) {
      if (PrefixMatch(n.addr, *addr, n.bits) && (best == nullptr || n.bits > best->bits)) {
        best = &n;
      }
    }
    return best != nullptr && !best->exclude;
  }

 private:
  std::vector<Net> nets_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------

namespace {

// SA's unfolding of a header value (Node::header, _decode_header): each line break followed by
// blanks becomes one space, blanks at both ends are trimmed, other line breaks are removed.
std::string SaUnfold(std::string_view raw) {
  // Message.pm keeps at most MAX_HEADER_VALUE_LENGTH (8192) bytes of a field's value, counted
  // with LF line ends and the final line end.
  std::string squashed;
  if (raw.find("\r\n") != std::string_view::npos) {
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n') continue;
      squashed += raw[i];
    }
    raw = squashed;
  }
  if (raw.size() >= 8192) raw = raw.substr(0, 8192);
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size();) {
    size_t nl = raw[i] == '\n' ? i
                : (raw[i] == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n')
                    ? i + 1
                    : std::string_view::npos;
    if (nl == std::string_view::npos) {
      out += raw[i++];
      continue;
    }
    size_t j = nl + 1;
    if (j < raw.size() && (raw[j] == ' ' || raw[j] == '\t')) {
      while (j < raw.size() && (raw[j] == ' ' || raw[j] == '\t')) ++j;
      out += ' ';
    }
    i = j;
  }
  size_t b = 0, e = out.size();
  while (b < e && IsPerlSpace(out[b])) ++b;
  while (e > b && IsPerlSpace(out[e - 1])) --e;
  return out.substr(b, e - b);
}

// A field's value as SA's get_header returns it: unfolded its way, RFC 2047-decoded unless the
// field is one SA leaves alone, and UTF-8.
std::string SaFieldValueImpl(const mime::HeaderField& f) {
  static const Re kUndecoded(

      R"((?i)^(?:Received|(?:Resent-)?(?:Message-ID|Date)|MIME-Version|References|In-Reply-To|)"
      R"(List-.*)\z)");
  std::string value = SaUnfold(f.raw);
  if (!kUndecoded.Find(f.name)) value = mime::DecodeEncodedWords(value);
  return SaHeaderText(value);
}

// The values remembered while a SaHeaderCacheScope is open on this thread.
struct HeaderValueCache {
  bool open = false;
  std::unordered_map<const mime::HeaderField*, std::string> values;
};
thread_local HeaderValueCache header_value_cache;

const std::string& CachedFieldValue(const mime::HeaderField& f, std::string* uncached) {
  HeaderValueCache& cache = header_value_cache;
  if (!cache.open) {
    *uncached = SaFieldValueImpl(f);
    return *uncached;
  }
  auto it = cache.values.find(&f);
  if (it == cache.values.end()) it = cache.values.emplace(&f, SaFieldValueImpl(f)).first;
  return it->second;
}

}  // namespace

SaHeaderCacheScope::SaHeaderCacheScope() {
  if (header_value_cache.open) return;  // nested: the outer scope owns the cache
  header_value_cache.open = true;
  outermost_ = true;
}

SaHeaderCacheScope::~SaHeaderCacheScope() {
  if (!outermost_) return;
  header_value_cache.values.clear();
  header_value_cache.open = false;
}

std::string_view IpAddressPattern() { return kIpAddress; }

std::string SaHeaderValue(const mime::HeaderField& field) {
  std::string uncached;
  return CachedFieldValue(field, &uncached);
}

std::string SaGetHeader(const mime::Headers& headers, std::string_view name, bool* exists) {
  std::string out;
  std::vector<const mime::HeaderField*> all = headers.GetAll(name);
  std::string uncached;
  for (const mime::HeaderField* f : all) {
    out += CachedFieldValue(*f, &uncached);
    out += '\n';
  }
  if (exists != nullptr) *exists = !all.empty();
  return out;
}

RelayPath AnalyzeReceivedHeaders(const mime::Headers& headers, const TrustOptions& options) {
  RelayPath path;
  bool user_trust = !options.trusted_networks.empty();
  bool user_internal = !options.internal_networks.empty();
  const std::vector<std::string>& trusted_list =
      user_trust ? options.trusted_networks : options.internal_networks;
  const std::vector<std::string>& internal_list =
      user_internal ? options.internal_networks : options.trusted_networks;
  NetSet trusted(trusted_list, true, &path.bad_networks);
  NetSet internal(internal_list, true, user_internal ? &path.bad_networks : nullptr);
  NetSet msa(options.msa_networks, false, &path.bad_networks);

  std::vector<std::string> lines;
  for (const mime::HeaderField* f : headers.GetAll("Received")) lines.push_back(SaHeaderValue(*f));
  static const Re kIp("({IP})");
  for (const std::string& name : options.originating_ip_headers) {
    std::vector<const mime::HeaderField*> all = headers.GetAll(name);
    if (all.empty()) continue;
    Caps c;
    if (kIp.Find(SaHeaderValue(*all.back()), &c)) lines.push_back("from X-Originating-IP: " + c[1]);
  }

  bool in_trusted = true, in_internal = true, found_msa = false;
  bool allow_mailfetch_markers = true;
  std::optional<std::string> qms_pending;

  for (const std::string& line : lines) {
    std::optional<std::string> qms_env_from;
    if (qms_pending.has_value() && PerlTrue(*qms_pending)) qms_env_from = qms_pending;
    qms_pending.reset();

    ParsedReceived parsed = ParseReceivedLine(line);
    if (parsed.pop_fetcher && allow_mailfetch_markers) {
      path.trusted.clear();
      path.internal.clear();
      path.external.clear();
    }
    if (parsed.qmail_scanner) qms_pending = parsed.qmail_scanner_envfrom;
    if (parsed.kind == ReceivedParse::kUnparseable) ++path.unparseable;
    if (parsed.kind != ReceivedParse::kRelay) {
      if (in_trusted) ++path.last_trusted_relay_index;
      if (in_internal) ++path.last_internal_relay_index;
      continue;
    }
    Relay relay = std::move(parsed.relay);
    if (qms_env_from.has_value()) relay.envfrom = *qms_env_from;

    if (in_trusted && !found_msa) {
      if (!user_trust && !user_internal) {
        bool inferred = relay.ip_private || PerlTrue(relay.auth);
        if (!inferred) in_trusted = in_internal = false;
      } else if (!PerlTrue(relay.auth) && !trusted.Contains(relay.ip)) {
        if (!options.originating) {
          in_trusted = false;
        } else {
          found_msa = true;
        }
        in_internal = false;
      } else {
        if (in_internal && !PerlTrue(relay.auth) && !internal.Contains(relay.ip)) {
          in_internal = false;
        }
        if (msa.Contains(relay.ip)) {
          found_msa = true;
          relay.msa = true;
        }
      }
    }
    relay.internal = in_internal;
    relay.as_string = RelayAsString(relay);

    if (in_trusted) {
      path.trusted.push_back(relay);
      allow_mailfetch_markers = true;
      ++path.last_trusted_relay_index;
    } else {
      path.untrusted.push_back(relay);
      allow_mailfetch_markers = false;
    }
    if (in_internal) {
      path.internal.push_back(relay);
      ++path.last_internal_relay_index;
    } else {
      path.external.push_back(std::move(relay));
    }
  }

  auto join = [](const std::vector<Relay>& relays) {
    std::string out;
    for (const Relay& r : relays) {
      if (!out.empty()) out += ' ';
      out += r.as_string;
    }
    return out;
  };
  path.trusted_str = join(path.trusted);
  path.untrusted_str = join(path.untrusted);
  path.internal_str = join(path.internal);
  path.external_str = join(path.external);
  return path;
}

std::string ReceivedRangeText(const mime::Headers& headers, const RelayPath& path,
                              ReceivedRange range) {
  std::optional<int> start, end;
  switch (range) {
    case ReceivedRange::kAllTrusted:
      end = path.last_trusted_relay_index + 1;
      break;
    case ReceivedRange::kAllInternal:
      end = path.last_internal_relay_index + 1;
      break;
    case ReceivedRange::kAllUntrusted:
      start = path.last_trusted_relay_index + 1;
      break;
    case ReceivedRange::kAllExternal:
      start = path.last_internal_relay_index + 1;
      break;
  }
  std::string out;
  std::string uncached;
  auto append = [&](const mime::HeaderField& f) {
    out += f.name;
    out += ": ";
    out += CachedFieldValue(f, &uncached);
    out += '\n';
  };
  int index = -1;
  for (const mime::HeaderField& f : headers.fields()) {
    bool is_received = EqualsIgnoreCase(f.name, "Received");
    if (is_received) ++index;
    if ((!start || *start <= index) && (!end || index < *end)) {
      append(f);
    } else if (end && index == *end) {
      append(f);
      break;
    }
  }
  return out;
}

}  // namespace mailsift::rules
