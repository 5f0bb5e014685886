// scan/verdict.cc — see verdict.h. Formats follow amavisd-new 2.13 (Amavis.pm 4866-4875 for
// X-Spam-Status; its header wrapping at 78 columns, breaking after ", ").
#include "scan/verdict.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "base/strings.h"

namespace mailsift::scan {
namespace {

constexpr size_t kWrapColumn = 78;

// The header fields amavisd inserts itself, removed when they arrive from outside.
bool IsOwnedField(std::string_view field) {
  for (std::string_view name : {"X-Spam-Status:", "X-Spam-Level:", "X-Spam-Flag:", "X-Spam-Score:",
                                "X-Spam-Report:", "X-Spam-Checker-Version:", "X-Spam-Tests:"}) {
    if (StartsWithIgnoreCase(field, name)) return true;
  }
  return false;
}

}  // namespace

std::string_view CheckKindName(CheckKind kind) {
  // In CheckKind's order.
  static constexpr std::array<std::string_view, kTimedCheckKinds + 1> kNames = {
      "spam", "virus", "banned", "bad_header", "other"};
  return kNames[static_cast<size_t>(kind)];
}

std::string_view CategoryName(Category category) {
  switch (category) {
    case Category::kVirus:
      return "VIRUS";
    case Category::kBanned:
      return "BANNED";
    case Category::kUnchecked:
      return "UNCHECKED";
    case Category::kSpam:
      return "SPAM";
    case Category::kSpammy:
      return "SPAMMY";
    case Category::kBadHeader:
      return "BAD-HEADER";
    case Category::kClean:
      break;
  }
  return "CLEAN";
}

std::string_view CategoryKey(Category category) {
  switch (category) {
    case Category::kVirus:
      return "virus";
    case Category::kBanned:
      return "banned";
    case Category::kUnchecked:
      return "unchecked";
    case Category::kSpam:
      return "spam";
    case Category::kBadHeader:
      return "bad_header";
    case Category::kSpammy:
    case Category::kClean:
      break;
  }
  return "";
}

std::string FormatScore(double score) {
  std::string s = fmt::format("{:.3f}", score);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s == "-0" ? "0" : s;
}

namespace {

std::string Joined(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

// amavisd's %smtp_reason_by_ccat (Amavis/Conf.pm), without its "id=%n - ".
std::string BadHeaderReason(int subcategory) {
  static constexpr std::string_view kReasons[] = {"",
                                                  "MIME error",
                                                  "nonencoded 8-bit character",
                                                  "contains invalid control character",
                                                  "line made up entirely of whitespace",
                                                  "line longer than RFC 5322 limit",
                                                  "syntax error",
                                                  "missing required header field",
                                                  "duplicate header field"};
  if (subcategory <= 0 || subcategory > 8) return "BAD HEADER";
  return fmt::format("BAD HEADER: {}", kReasons[subcategory]);
}

// "mailsift at example.com" from the host name "mx1.example.com", as amavisd's
// "$myproduct_name at $mydomain".
std::string DefaultHeaderLine(const std::string& hostname) {
  size_t dot = hostname.find('.');
  return fmt::format("mailsift at {}",
                     dot == std::string::npos ? hostname : hostname.substr(dot + 1));
}

// How the sender lists bear on the spam verdict (amavisd's recip_whitelisted_sender and
// recip_blacklisted_sender).
struct SenderStanding {
  bool allowed = false;
  bool denied = false;
};

// The spam check's X-Spam-* fields; `tagged2`: X-Spam-Flag YES.
std::string SpamHeaders(const CheckResult& spam, const config::Spam& config, bool tagged2,
                        SenderStanding sender) {
  std::string h;
  h += fmt::format("X-Spam-Flag: {}\r\n", tagged2 ? "YES" : "NO");
  h += fmt::format("X-Spam-Score: {}\r\n", FormatScore(spam.score));
  int stars = sender.allowed ? 0
              : sender.denied
                  ? 64
                  : std::min(64, static_cast<int>(std::floor(std::max(0.0, spam.score))));
  if (stars > 0) h += "X-Spam-Level: " + std::string(static_cast<size_t>(stars), '*') + "\r\n";
  // "Yes, score=9.222 tagged_above=-999 required=6.31\r\n tests=[A=1, B=2.907,\r\n C=1]\r\n
  //  autolearn=disabled"
  std::vector<std::string> tests;
  std::vector<rules::RuleHit> hits = spam.hits;
  std::sort(hits.begin(), hits.end(),
            [](const rules::RuleHit& a, const rules::RuleHit& b) { return a.name < b.name; });
  for (const rules::RuleHit& hit : hits) {
    if (hit.name.rfind("__", 0) == 0) continue;
    tests.push_back(hit.name + "=" + FormatScore(hit.score));
  }
  std::string status = fmt::format("X-Spam-Status: {}, score={} tagged_above={} required={}\r\n",
                                   tagged2 ? "Yes" : "No", FormatScore(spam.score),
                                   FormatScore(config.tag_level), FormatScore(config.tag2_level));
  if (sender.denied) status += " BLACKLISTED\r\n";
  if (sender.allowed) status += " WHITELISTED\r\n";
  std::string line = " tests=[";
  for (size_t i = 0; i < tests.size(); ++i) {
    std::string item = tests[i] + (i + 1 < tests.size() ? "," : "");
    if (line.size() > 8 && line.size() + 1 + item.size() > kWrapColumn) {
      status += line + "\r\n";
      line = " " + item;
    } else {
      line += (line.size() > 8 ? " " : "") + item;
    }
  }
  status += line + "]\r\n autolearn=disabled\r\n";
  h += status;
  return h;
}

}  // namespace

bool AddressListed(std::string_view address, const std::vector<std::string>& table) {
  const size_t at = address.rfind('@');
  const std::string_view local = at == std::string_view::npos ? address : address.substr(0, at);
  const std::string_view domain =
      at == std::string_view::npos ? std::string_view() : address.substr(at + 1);
  for (const std::string& entry : table) {
    const size_t entry_at = entry.rfind('@');
    std::string_view entry_view(entry);
    if (entry_at == std::string::npos) {
      if (EqualsIgnoreCase(entry_view, address)) return true;
      continue;
    }
    std::string_view entry_local = entry_view.substr(0, entry_at);
    std::string_view entry_domain = entry_view.substr(entry_at + 1);
    if (!entry_local.empty() && !EqualsIgnoreCase(entry_local, local)) continue;
    if (entry_domain.empty() || DomainListed(domain, {std::string(entry_domain)})) return true;
  }
  return false;
}

bool DomainListed(std::string_view domain, const std::vector<std::string>& table) {
  for (const std::string& entry : table) {
    std::string_view e(entry);
    if (EqualsIgnoreCase(e, domain)) return true;
    if (e.starts_with('.')) {
      // ".example.com": the domain itself and any subdomain.
      if (EqualsIgnoreCase(e.substr(1), domain)) return true;
      if (domain.size() > e.size() &&
          EqualsIgnoreCase(domain.substr(domain.size() - e.size()), e)) {
        return true;
      }
    }
  }
  return false;
}

Verdict Decide(const std::vector<CheckResult>& results, const config::Config& config,
               const Envelope& envelope) {
  Verdict v;
  SenderStanding sender{AddressListed(envelope.mail_from, config.spam.allow_senders),
                        AddressListed(envelope.mail_from, config.spam.deny_senders)};
  bool local = config.spam.local_domains.empty();
  for (const std::string& rcpt : envelope.rcpt_to) {
    const size_t at = rcpt.rfind('@');
    if (at != std::string::npos &&
        DomainListed(std::string_view(rcpt).substr(at + 1), config.spam.local_domains)) {
      local = true;
    }
  }
  bool tagged2 = false;
  auto raise = [&v](Category category, int subcategory, std::string log_name, std::string reason,
                    const std::vector<std::string>& details) {
    if (category <= v.category) return;  // the first of a category stands
    v.category = category;
    v.subcategory = subcategory;
    v.log_name = std::move(log_name);
    v.reason = std::move(reason);
    v.details = details;
  };
  for (const CheckResult& r : results) {
    if (r.kind == CheckKind::kVirus && r.scanned && r.finding != Finding::kUnchecked) {
      v.virus_scanned = true;
    }
    if (r.kind == CheckKind::kSpam && r.scanned) {
      v.spam_scanned = true;
      v.score = r.score;
      // amavisd: an allowed sender is never spam, a denied one always is.
      const bool spam = !sender.allowed && (sender.denied || r.score >= config.spam.kill_level);
      tagged2 = !sender.allowed && (sender.denied || r.score >= config.spam.tag2_level);
      if (spam) {
        raise(Category::kSpam, 0, "SPAM", "spam", {});
      } else if (tagged2) {
        raise(Category::kSpammy, 0, "SPAMMY", "spammy", {});
      }
      if (local &&
          (sender.denied || r.score + (sender.allowed ? -10 : 0) >= config.spam.tag_level)) {
        v.added_headers += SpamHeaders(r, config.spam, tagged2, sender);
      }
    }
    switch (r.finding) {
      case Finding::kNothing:
        break;
      case Finding::kVirus: {
        std::string names = Joined(r.details, ", ");
        raise(Category::kVirus, 0, fmt::format("INFECTED ({})", names),
              fmt::format("INFECTED: {}", names), r.details);
        break;
      }
      case Finding::kBanned: {
        // amavisd's %F: the first banned part (banned_check.h puts it first).
        std::string part = r.details.empty() ? std::string("?") : r.details.front();
        raise(Category::kBanned, 0, fmt::format("BANNED ({})", part),
              fmt::format("BANNED: {}", part), r.details);
        break;
      }
      case Finding::kUnchecked:
        raise(Category::kUnchecked, r.subcategory,
              r.subcategory == 1 ? "UNCHECKED-ENCRYPTED" : "UNCHECKED",
              r.subcategory == 1   ? "UNCHECKED: encrypted"
              : r.subcategory == 2 ? "UNCHECKED: over limits"
                                   : "UNCHECKED",
              r.details);
        break;
      case Finding::kBadHeader:
        raise(Category::kBadHeader, r.subcategory,
              r.subcategory > 0 ? fmt::format("BAD-HEADER-{}", r.subcategory) : "BAD-HEADER",
              BadHeaderReason(r.subcategory), r.details);
        break;
    }
  }
  if (v.log_name.empty()) v.log_name = "CLEAN";
  switch (v.category) {
    case Category::kVirus:
      v.action = config.actions.virus;
      break;
    case Category::kBanned:
      v.action = config.actions.banned;
      break;
    case Category::kUnchecked:
      v.action = v.subcategory == 1 ? config.actions.unchecked_encrypted : config.actions.unchecked;
      break;
    case Category::kSpam:
      v.action = config.actions.spam;
      break;
    case Category::kBadHeader:
      v.action = config.actions.bad_header;
      break;
    case Category::kSpammy:
    case Category::kClean:
      v.action = Action::kPass;
      break;
  }
  // amavisd's %subject_tag_maps_by_ccat: ***INFECTED*** for a passed virus, the spam tag from
  // tag2_level.
  if (v.category == Category::kVirus) {
    v.subject_tag = "***INFECTED*** ";
  } else if (tagged2 && local) {
    v.subject_tag = config.spam.subject_tag;
  }
  if (v.virus_scanned) {
    v.added_headers.insert(
        0, fmt::format("X-Virus-Scanned: {}\r\n", config.virus.header_line.empty()
                                                      ? DefaultHeaderLine(config.hostname)
                                                      : config.virus.header_line));
  }
  return v;
}

std::string EditHeaderSection(std::string_view headers, std::string_view subject_tag) {
  std::string out;
  out.reserve(headers.size() + subject_tag.size());
  size_t pos = 0;
  while (pos < headers.size()) {
    // One field: its first line and the continuation lines after it.
    size_t end = pos;
    do {
      size_t eol = headers.find("\r\n", end);
      end = eol == std::string_view::npos ? headers.size() : eol + 2;
    } while (end < headers.size() && (headers[end] == ' ' || headers[end] == '\t'));
    std::string_view field = headers.substr(pos, end - pos);
    pos = end;
    if (IsOwnedField(field)) continue;
    if (!subject_tag.empty() && StartsWithIgnoreCase(field, "Subject:")) {
      size_t value = 8;
      while (value < field.size() && (field[value] == ' ' || field[value] == '\t')) ++value;
      out.append(field.substr(0, 8));
      out.push_back(' ');
      out.append(subject_tag);
      out.append(field.substr(value));
      continue;
    }
    out.append(field);
  }
  return out;
}

}  // namespace mailsift::scan
