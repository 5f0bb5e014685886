// rules/regex/pattern.cc — see pattern.h.
#include "rules/regex/pattern.h"

#define PCRE2_CODE_UNIT_WIDTH 0
#include <fmt/format.h>
#include <pcre2.h>

namespace mailsift::rules {
namespace {

// The limit hits of the scan running on this thread (LimitHitScope), or null.
thread_local uint64_t* t_limit_hits = nullptr;

void CountLimitHit() {
  if (t_limit_hits != nullptr) ++*t_limit_hits;
}

constexpr size_t kJitStackStart = 32 * 1024;
constexpr size_t kJitStackMax = 4 * 1024 * 1024;

// Per-thread scratch for each code-unit width: a match context with a JIT stack and a small
// match data block (only the overall match offsets are read).
struct Scratch8 {
  pcre2_jit_stack_8* stack = pcre2_jit_stack_create_8(kJitStackStart, kJitStackMax, nullptr);
  pcre2_match_context_8* context = pcre2_match_context_create_8(nullptr);
  pcre2_match_data_8* data = pcre2_match_data_create_8(1, nullptr);
  Scratch8() { pcre2_jit_stack_assign_8(context, nullptr, stack); }
  ~Scratch8() {
    pcre2_match_data_free_8(data);
    pcre2_match_context_free_8(context);
    pcre2_jit_stack_free_8(stack);
  }
};
struct Scratch32 {
  pcre2_jit_stack_32* stack = pcre2_jit_stack_create_32(kJitStackStart, kJitStackMax, nullptr);
  pcre2_match_context_32* context = pcre2_match_context_create_32(nullptr);
  pcre2_match_data_32* data = pcre2_match_data_create_32(1, nullptr);
  std::u32string widened;
  Scratch32() { pcre2_jit_stack_assign_32(context, nullptr, stack); }
  ~Scratch32() {
    pcre2_match_data_free_32(data);
    pcre2_match_context_free_32(context);
    pcre2_jit_stack_free_32(stack);
  }
};

Scratch8& ThreadScratch8() {
  thread_local Scratch8 scratch;
  return scratch;
}
Scratch32& ThreadScratch32() {
  thread_local Scratch32 scratch;
  return scratch;
}

uint32_t OptionsFor(std::string_view flags) {
  uint32_t options = 0;
  for (char f : flags) {
    if (f == 'i') options |= PCRE2_CASELESS;
    if (f == 'm') options |= PCRE2_MULTILINE;
    if (f == 's') options |= PCRE2_DOTALL;
    if (f == 'x') options |= PCRE2_EXTENDED;
  }
  return options;
}

std::string ErrorText8(int code) {
  PCRE2_UCHAR8 buf[256];
  pcre2_get_error_message_8(code, buf, sizeof(buf));
  return reinterpret_cast<const char*>(buf);
}

}  // namespace

std::string StripPerlAsciiFlag(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size());
  size_t i = 0;
  while (i < pattern.size()) {
    if (pattern[i] == '\\' && i + 1 < pattern.size()) {
      out.append(pattern.substr(i, 2));
      i += 2;
      continue;
    }
    if (pattern.compare(i, 5, "(?aa)") == 0) {
      i += 5;
      continue;
    }
    // "(?aa:" and "(?aai)" style groups: drop the a's, keep the rest of the group.
    if (pattern.compare(i, 4, "(?aa") == 0) {
      out.append("(?");
      i += 4;
      continue;
    }
    out.push_back(pattern[i++]);
  }
  return out;
}

struct Pattern::Impl {
  pcre2_code_8* code8 = nullptr;
  pcre2_code_32* code32 = nullptr;
  bool jit = false;  // JIT-compiled: matched with pcre2_jit_match (no per-call option checks)
  PatternLimits limits;
  ~Impl() {
    if (code8 != nullptr) pcre2_code_free_8(code8);
    if (code32 != nullptr) pcre2_code_free_32(code32);
  }
};

Pattern::Pattern() : impl_(std::make_unique<Impl>()) {}
Pattern::~Pattern() = default;
Pattern::Pattern(Pattern&&) noexcept = default;
Pattern& Pattern::operator=(Pattern&&) noexcept = default;

Result<Pattern> Pattern::Compile(std::string_view pattern, std::string_view flags,
                                 const PatternLimits& limits, bool jit) {
  Pattern out;
  out.impl_->limits = limits;
  const std::string source = StripPerlAsciiFlag(pattern);
  const uint32_t options = OptionsFor(flags);
  int error = 0;
  PCRE2_SIZE offset = 0;
  out.impl_->code8 = pcre2_compile_8(reinterpret_cast<PCRE2_SPTR8>(source.data()), source.size(),
                                     options, &error, &offset, nullptr);
  if (out.impl_->code8 != nullptr) {
    // The interpreter if JIT fails.
    out.impl_->jit = jit && pcre2_jit_compile_8(out.impl_->code8, PCRE2_JIT_COMPLETE) == 0;
    return out;
  }
  if (error != PCRE2_ERROR_PATTERN_TOO_LARGE) {
    return Fail(fmt::format("regex error at offset {}: {}", offset, ErrorText8(error)));
  }
  std::u32string wide(source.begin(), source.end());
  for (size_t i = 0; i < source.size(); ++i) wide[i] = static_cast<unsigned char>(source[i]);
  out.impl_->code32 = pcre2_compile_32(reinterpret_cast<PCRE2_SPTR32>(wide.data()), wide.size(),
                                       options, &error, &offset, nullptr);
  if (out.impl_->code32 == nullptr) {
    return Fail(fmt::format("regex error at offset {}: {}", offset, ErrorText8(error)));
  }
  out.impl_->jit = jit && pcre2_jit_compile_32(out.impl_->code32, PCRE2_JIT_COMPLETE) == 0;
  return out;
}

bool Pattern::wide() const { return impl_->code32 != nullptr; }

LimitHitScope::LimitHitScope() : outer_(t_limit_hits) { t_limit_hits = &hits_; }
LimitHitScope::~LimitHitScope() { t_limit_hits = outer_; }

bool Pattern::Search(std::string_view subject, size_t start, size_t* match_start,
                     size_t* match_end) const {
  int rc;
  PCRE2_SIZE* ovector;
  if (impl_->code8 != nullptr) {
    Scratch8& s = ThreadScratch8();
    pcre2_set_match_limit_8(s.context, impl_->limits.match_limit);
    pcre2_set_depth_limit_8(s.context, impl_->limits.depth_limit);
    rc = (impl_->jit ? pcre2_jit_match_8 : pcre2_match_8)(
        impl_->code8, reinterpret_cast<PCRE2_SPTR8>(subject.data()), subject.size(), start, 0,
        s.data, s.context);
    ovector = pcre2_get_ovector_pointer_8(s.data);
  } else {
    Scratch32& s = ThreadScratch32();
    // Widen once per subject: callers scan one subject from several start offsets.
    if (s.widened.size() != subject.size() ||
        !std::equal(subject.begin(), subject.end(), s.widened.begin(),
                    [](char a, char32_t b) { return static_cast<unsigned char>(a) == b; })) {
      s.widened.resize(subject.size());
      for (size_t i = 0; i < subject.size(); ++i) {
        s.widened[i] = static_cast<unsigned char>(subject[i]);
      }
    }
    pcre2_set_match_limit_32(s.context, impl_->limits.match_limit);
    pcre2_set_depth_limit_32(s.context, impl_->limits.depth_limit);
    rc = (impl_->jit ? pcre2_jit_match_32 : pcre2_match_32)(
        impl_->code32, reinterpret_cast<PCRE2_SPTR32>(s.widened.data()), s.widened.size(), start, 0,
        s.data, s.context);
    ovector = pcre2_get_ovector_pointer_32(s.data);
  }
  if (rc >= 0) {
    *match_start = ovector[0];
    *match_end = ovector[1];
    return true;
  }
  if (rc != PCRE2_ERROR_NOMATCH) CountLimitHit();
  return false;
}

bool Pattern::Matches(std::string_view subject) const {
  size_t b, e;
  return Search(subject, 0, &b, &e);
}

int Pattern::CountMatches(std::string_view subject, int max) const {
  int count = 0;
  size_t pos = 0, b, e;
  while (pos <= subject.size() && Search(subject, pos, &b, &e)) {
    ++count;
    if (max > 0 && count >= max) break;
    pos = e > b ? e : e + 1;
  }
  return count;
}

bool Pattern::SearchCaptures(std::string_view subject,
                             std::vector<std::pair<std::string, std::string>>* named) const {
  named->clear();
  if (impl_->code8 == nullptr) return Matches(subject);
  pcre2_match_data_8* md = pcre2_match_data_create_from_pattern_8(impl_->code8, nullptr);
  Scratch8& s = ThreadScratch8();
  int rc = pcre2_match_8(impl_->code8, reinterpret_cast<PCRE2_SPTR8>(subject.data()),
                         subject.size(), 0, 0, md, s.context);
  if (rc < 0) {
    if (rc != PCRE2_ERROR_NOMATCH) CountLimitHit();
    pcre2_match_data_free_8(md);
    return false;
  }
  uint32_t name_count = 0, entry_size = 0;
  PCRE2_SPTR8 table = nullptr;
  pcre2_pattern_info_8(impl_->code8, PCRE2_INFO_NAMECOUNT, &name_count);
  pcre2_pattern_info_8(impl_->code8, PCRE2_INFO_NAMEENTRYSIZE, &entry_size);
  pcre2_pattern_info_8(impl_->code8, PCRE2_INFO_NAMETABLE, &table);
  PCRE2_SIZE* ov = pcre2_get_ovector_pointer_8(md);
  for (uint32_t i = 0; i < name_count; ++i) {
    PCRE2_SPTR8 entry = table + i * entry_size;
    int group = (entry[0] << 8) | entry[1];
    if (group >= rc || ov[2 * group] == PCRE2_UNSET) continue;
    named->emplace_back(
        reinterpret_cast<const char*>(entry + 2),
        std::string(subject.substr(ov[2 * group], ov[2 * group + 1] - ov[2 * group])));
  }
  pcre2_match_data_free_8(md);
  return true;
}

}  // namespace mailsift::rules
