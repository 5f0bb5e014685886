// rules/prefilter/multi_prefilter_test_groups.h — the rule groups the prefilter's tests build from.
#pragma once

#include <vector>

#include "rules/prefilter/multi_prefilter.h"

namespace mailsift::rules {

// Rule indexes 0..7: 0..5 in one list group, where 4 cannot be expressed (a conditional) and
// 5 can only match the empty string (it would flag everything); 6 and 7 in a single-text group.
inline std::vector<PrefilterGroup> TestGroups() {
  PrefilterGroup body;
  body.lists = true;
  body.rules = {{0, "\\bfree money\\b", "i"}, {1, "v[i1]agra", ""},  {2, "^Subject: hi$", ""},
                {3, "(a)b\\1", ""},           {4, "(?(1)a|b)c", ""}, {5, "x*", ""}};
  PrefilterGroup header;  // a single text
  header.rules = {{6, "^Mon", ""}, {7, "\\+0000$", ""}};
  return {body, header};
}

}  // namespace mailsift::rules
