// rules/eval/welcome_list_subject_test.cc — WelcomeListSubject's subject lists: hits and no-hits.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rules/eval/eval_input.h"
#include "rules/eval/eval_registry.h"
#include "rules/eval/eval_test_message.h"

namespace mailsift::rules {
namespace {

using Fixture = EvalFixture;

TEST(WelcomeListSubjectTest, SubjectLists) {
  EvalSettings s;
  s.welcomelist_subject = {"[Bug *]"};
  s.blocklist_subject = {"Make Money Fast", "v?agra"};
  Fixture f("Subject: x\n\nbody\n", s);
  f.subject = "Re: [Bug 1234] crash on start\n";
  EXPECT_TRUE(f.Call("check_subject_in_welcomelist"));
  EXPECT_FALSE(f.Call("check_subject_in_blocklist"));
  f.subject = "MAKE MONEY FAST now\n";
  EXPECT_TRUE(f.Call("check_subject_in_blacklist"));
  EXPECT_FALSE(f.Call("check_subject_in_whitelist"));
  f.subject = "cheap v1agra\n";
  EXPECT_TRUE(f.Call("check_subject_in_blocklist"));
  f.subject = "Bug 1234\n";  // no brackets
  EXPECT_FALSE(f.Call("check_subject_in_welcomelist"));
  f.subject = "";
  EXPECT_FALSE(f.Call("check_subject_in_blocklist"));
}

}  // namespace
}  // namespace mailsift::rules
