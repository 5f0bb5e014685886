// rules/eval/eval_util_test.cc — the Perl-alike helpers the eval plugins share.
#include "rules/eval/eval_util.h"

#include <gtest/gtest.h>

namespace mailsift::rules {
namespace {

TEST(EvalUtil, DottedQuadLengthIsTheMatchOfFourDigitRunsAndThreeDots) {
  EXPECT_EQ(DottedQuadLength("1.2.3.4", 0), 7u);
  EXPECT_EQ(DottedQuadLength("10.20.300.4000/x", 0), 14u);  // \d+ takes any number of digits
  EXPECT_EQ(DottedQuadLength("//192.168.0.1", 2), 11u);
  EXPECT_EQ(DottedQuadLength("1.2.3.4.5", 0), 7u);  // a prefix match, as /\d+\.\d+\.\d+\.\d+/
  EXPECT_EQ(DottedQuadLength("1.2.3.", 0), 0u);
  EXPECT_EQ(DottedQuadLength("1.2.3", 0), 0u);
  EXPECT_EQ(DottedQuadLength("a1.2.3.4", 0), 0u);
  EXPECT_EQ(DottedQuadLength("1..2.3.4", 0), 0u);
  EXPECT_EQ(DottedQuadLength("", 0), 0u);
  EXPECT_EQ(DottedQuadLength("1.2.3.4", 7), 0u);
}

TEST(EvalUtil, PerlNumberReadsTheLeadingNumber) {
  EXPECT_EQ(PerlNumber("  3.5abc"), 3.5);
  EXPECT_EQ(PerlNumber("abc"), 0.0);
  EXPECT_EQ(PerlNumber("-2"), -2.0);
}

}  // namespace
}  // namespace mailsift::rules
