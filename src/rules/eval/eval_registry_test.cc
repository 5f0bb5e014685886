// rules/eval/eval_registry_test.cc — the registry: every plugin table's names are found, in the
// table and in the registry; the network/Bayes evals never hit; other names are unknown.
#include "rules/eval/eval_registry.h"

#include <gtest/gtest.h>

#include <string_view>

namespace mailsift::rules {
namespace {

TEST(EvalRegistryTest, Names) {
  for (EvalTable table : {ImageInfoEvals(), UriEvals(), HttpsMismatchEvals(), VBounceEvals(),
                          WlblEvals(), WelcomeListSubjectEvals()}) {
    for (std::string_view n : EvalNamesIn(table)) EXPECT_NE(FindEvalIn(table, n), nullptr) << n;
    EXPECT_EQ(FindEvalIn(table, "check_for_mime"), nullptr);
  }
}

TEST(EvalRegistryTest, HeaderPluginsKnowNames) {
  EXPECT_NE(FindEvalIn(HeaderEvals(), "check_for_shifted_date"), nullptr);
  EXPECT_NE(FindEvalIn(WlblEvals(), "check_from_in_whitelist"), nullptr);
  for (EvalTable table : {HeaderEvals(), FreeMailEvals(), WlblEvals()}) {
    EXPECT_EQ(FindEvalIn(table, "check_rbl"), nullptr);
  }
  EXPECT_GE(EvalNamesIn(HeaderEvals()).size() + EvalNamesIn(FreeMailEvals()).size() +
                EvalNamesIn(WlblEvals()).size(),
            30u);
}

TEST(EvalRegistryTest, FindEvalKinds) {
  EvalKind kind;
  for (EvalTable table : {HeaderEvals(), HtmlEvals(), MimeEvals(), BodyEvals(), ImageInfoEvals(),
                          UriEvals(), HttpsMismatchEvals(), VBounceEvals(), WlblEvals(),
                          WelcomeListSubjectEvals(), RelayEvals()}) {
    for (std::string_view n : EvalNamesIn(table)) {
      EXPECT_EQ(FindEval(n, &kind), *FindEvalIn(table, n)) << n;
      EXPECT_EQ(kind, EvalKind::kNative) << n;
    }
  }
  EXPECT_EQ(FindEval("check_rbl", &kind), nullptr);
  EXPECT_EQ(kind, EvalKind::kNeverHits);
  EXPECT_EQ(FindEval("check_bayes", &kind), nullptr);
  EXPECT_EQ(kind, EvalKind::kNeverHits);
  EXPECT_EQ(FindEval("no_such_eval", &kind), nullptr);
  EXPECT_EQ(kind, EvalKind::kUnknown);
}

}  // namespace
}  // namespace mailsift::rules
