// rules/regex/perl_regex.cc — see perl_regex.h.
#include "rules/regex/perl_regex.h"

#include <algorithm>

namespace mailsift::rules {

PerlRegex::PerlRegex(std::string_view pattern, uint32_t options, uint32_t match_limit, bool jit) {
  int err = 0;
  PCRE2_SIZE offset = 0;
  code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &err,
                        &offset, nullptr);
  if (code_ == nullptr) return;
  pcre2_pattern_info(code_, PCRE2_INFO_CAPTURECOUNT, &captures_);
  if (jit) pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);  // the interpreter when JIT fails
  context_ = pcre2_match_context_create(nullptr);
  if (context_ != nullptr) {
    pcre2_set_match_limit(context_, match_limit);
    pcre2_set_depth_limit(context_, 10000);
  }
}

PerlRegex::~PerlRegex() {
  pcre2_match_context_free(context_);
  pcre2_code_free(code_);
}

PerlRegex::PerlRegex(PerlRegex&& other) noexcept
    : code_(other.code_), context_(other.context_), captures_(other.captures_) {
  other.code_ = nullptr;
  other.context_ = nullptr;
}

namespace {

// Per-thread match data large enough for the eval functions' patterns: the Received-header
// parser alone runs about a hundred patterns per header, and a match data block allocated and
// freed per search was a good part of that.
constexpr uint32_t kSharedMatchPairs = 64;

struct ThreadMatchData {
  pcre2_match_data* data = pcre2_match_data_create(kSharedMatchPairs, nullptr);
  ~ThreadMatchData() { pcre2_match_data_free(data); }
};

}  // namespace

bool PerlRegex::Search(std::string_view subject, size_t start, std::vector<Span>* groups) const {
  if (code_ == nullptr || start > subject.size()) return false;
  thread_local ThreadMatchData shared;
  pcre2_match_data* own = nullptr;
  pcre2_match_data* md = shared.data;
  if (md == nullptr || captures_ + 1 > kSharedMatchPairs) {
    own = pcre2_match_data_create_from_pattern(code_, nullptr);
    md = own;
  }
  if (md == nullptr) return false;
  int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), start,
                       0, md, context_);
  const bool found = rc >= 0;
  if (found && groups != nullptr) {
    // Only the pattern's own groups: the shared block has more pairs than the pattern.
    const uint32_t n = std::min(pcre2_get_ovector_count(md), captures_ + 1);
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    groups->assign(n, Span{});
    // Groups past the highest one that matched (rc) are unset, whatever the ovector holds.
    const uint32_t valid = rc == 0 ? n : static_cast<uint32_t>(rc);
    for (uint32_t i = 0; i < n && i < valid; ++i) {
      if (ov[2 * i] != PCRE2_UNSET) (*groups)[i] = Span{ov[2 * i], ov[2 * i + 1]};
    }
  }
  pcre2_match_data_free(own);
  return found;
}

bool SearchFirstGroup(std::string_view s, const PerlRegex& re, std::string* group1) {
  if (group1 == nullptr) return re.Matches(s);
  std::vector<Span> groups;
  if (!re.Search(s, 0, &groups)) return false;
  group1->clear();
  if (groups.size() > 1 && groups[1].set()) {
    group1->assign(s.substr(groups[1].begin, groups[1].end - groups[1].begin));
  }
  return true;
}

}  // namespace mailsift::rules
