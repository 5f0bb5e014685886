// rules/message/registry_boundaries.cc — see registry_boundaries.h.
#include "rules/message/registry_boundaries.h"

#include <algorithm>
#include <array>

#include "base/strings.h"

namespace mailsift::rules {
namespace {

// RegistryBoundaries' %US_STATES.
bool IsUsState(std::string_view s) {
  static constexpr std::array<std::string_view, 54> kUsStates = {
      "ak", "al", "ar", "az", "ca", "co", "ct", "dc", "de", "fl", "ga", "gu", "hi", "ia",
      "id", "il", "in", "ks", "ky", "la", "ma", "md", "me", "mi", "mn", "mo", "ms", "mt",
      "nc", "nd", "ne", "nh", "nj", "nm", "nv", "ny", "oh", "ok", "or", "pa", "pr", "ri",
      "sc", "sd", "tn", "tx", "ut", "va", "vi", "vt", "wa", "wi", "wv", "wy"};
  return std::find(kUsStates.begin(), kUsStates.end(), s) != kUsStates.end();
}

std::string JoinLabels(const std::vector<std::string>& labels, size_t from, size_t to) {
  std::string out;
  for (size_t i = from; i < to; ++i) {
    if (i > from) out += '.';
    out += labels[i];
  }
  return out;
}

}  // namespace

RegistryBoundaries::RegistryBoundaries(const std::vector<std::string>& valid_tlds,
                                       const std::vector<std::string>& two_level_domains,
                                       const std::vector<std::string>& three_level_domains) {
  for (const std::string& t : valid_tlds) valid_tlds_.insert(ToLowerAscii(t));
  for (const std::string& t : two_level_domains) two_level_domains_.insert(ToLowerAscii(t));
  for (const std::string& t : three_level_domains) three_level_domains_.insert(ToLowerAscii(t));
}

std::pair<std::string, std::string> RegistryBoundaries::SplitDomain(std::string_view fqdn) const {
  std::string squeezed;  // tr/././s, then leading and trailing dots removed
  for (char c : ToLowerAscii(fqdn)) {
    if (c == '.' && !squeezed.empty() && squeezed.back() == '.') continue;
    squeezed += c;
  }
  size_t b = squeezed.find_first_not_of('.');
  if (b == std::string::npos) return {"", ""};
  size_t e = squeezed.find_last_not_of('.');
  squeezed = squeezed.substr(b, e - b + 1);
  std::vector<std::string> parts;
  for (size_t pos = 0;;) {
    size_t dot = squeezed.find('.', pos);
    parts.push_back(squeezed.substr(pos, dot - pos));
    if (dot == std::string::npos) break;
    pos = dot + 1;
  }
  size_t first = 0;
  while (parts.size() - first > 1) {
    const size_t n = parts.size() - first;
    if (n == 2) {
      if (two_level_domains_.count(JoinLabels(parts, first, parts.size()))) break;
    } else if (n == 3) {
      if (parts[first + 2] == "us") {
        if (IsUsState(parts[first + 1])) break;
      } else if (three_level_domains_.count(JoinLabels(parts, first, parts.size()))) {
        break;
      }
    } else if (n == 4) {
      if (parts[first + 3] == "us" &&
          ((parts[first] == "pvt" && parts[first + 1] == "k12") || parts[first] == "ci" ||
           parts[first] == "co") &&
          IsUsState(parts[first + 2])) {
        break;
      }
    }
    ++first;
  }
  if (first > 0) --first;  // the last host label belongs to the domain
  return {JoinLabels(parts, 0, first), JoinLabels(parts, first, parts.size())};
}

bool RegistryBoundaries::IsDomainValid(std::string_view domain) const {
  std::string d = ToLowerAscii(domain);
  if (std::any_of(d.begin(), d.end(), [](char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
      })) {
    return false;
  }
  size_t dot = d.rfind('.');
  if (dot == std::string::npos || dot + 1 == d.size()) return false;
  return valid_tlds_.count(d.substr(dot + 1)) > 0;
}

}  // namespace mailsift::rules
