// rules/message/registry_boundaries.h — SpamAssassin's RegistryBoundaries: where a host name's
// registrable domain starts, and whether a domain ends in a known top-level domain.
//
// Built from the util_rb_tld, util_rb_2tld and util_rb_3tld lists of the rule files (compared
// in ASCII lower case; lower-casing stands in for SpamAssassin's idn_to_ascii). SplitDomain
// follows split_domain: dots squeezed and trimmed, then labels move from the host to the domain
// until the rest is a registered two- or three-level suffix, a US state locality
// (xx.us, ci|co.xx.us, pvt.k12.xx.us) or a single label — the domain keeps one label more.
//
// Thread-safety: immutable after construction; shared by scan threads.
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace mailsift::rules {

class RegistryBoundaries {
 public:
  RegistryBoundaries() = default;
  RegistryBoundaries(const std::vector<std::string>& valid_tlds,
                     const std::vector<std::string>& two_level_domains,
                     const std::vector<std::string>& three_level_domains);

  // split_domain: (host part, registrable domain), both lower case; ("", "") for "".
  std::pair<std::string, std::string> SplitDomain(std::string_view fqdn) const;
  // trim_domain: the registrable domain.
  std::string TrimDomain(std::string_view fqdn) const { return SplitDomain(fqdn).second; }
  // is_domain_valid: no blanks, a dot, and a known top-level domain after the last dot.
  bool IsDomainValid(std::string_view domain) const;
  const std::unordered_set<std::string>& valid_tlds() const { return valid_tlds_; }

 private:
  std::unordered_set<std::string> valid_tlds_, two_level_domains_, three_level_domains_;
};

}  // namespace mailsift::rules
