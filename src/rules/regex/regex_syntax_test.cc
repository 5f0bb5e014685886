// rules/regex/regex_syntax_test.cc — the syntax tree of tricky patterns, as dumps: flags and
// their scope, \Q…\E, classes, escapes, groups, quantifiers, what is unsupported or refused.
#include "rules/regex/regex_syntax.h"

#include <gtest/gtest.h>

#include <string>

namespace mailsift::rules::regex {
namespace {

std::string Tree(std::string_view pattern, std::string_view flags = "") {
  auto tree = ParseRegex(pattern, flags);
  return tree ? Dump(*tree) : "<malformed>";
}

TEST(RegexSyntax, LiteralsFoldPerTheFlagsInEffect) {
  EXPECT_EQ(Tree("a(?i)b(?-i:c)d"),
            "sequence\n"
            "  bytes literal a\n"
            "  flags i\n"
            "  bytes literal B b\n"
            "  group flags -i\n"
            "    sequence\n"
            "      bytes literal c\n"
            "  bytes literal D d\n");
  // Flag changes carry into later branches of the same group, not out of it.
  EXPECT_EQ(Tree("(?:(?i)a|b)c"),
            "sequence\n"
            "  group non-capture\n"
            "    alternation\n"
            "      sequence\n"
            "        flags i\n"
            "        bytes literal A a\n"
            "      sequence\n"
            "        bytes literal B b\n"
            "  bytes literal c\n");
  EXPECT_EQ(Tree("\\xe4", "i"), "sequence\n  bytes literal \\xe4\n");  // ASCII only
}

TEST(RegexSyntax, QuotedTextAndItsQuantifier) {
  EXPECT_EQ(Tree("\\Qa.b\\E+"),
            "sequence\n"
            "  bytes quoted a\n"
            "  bytes quoted .\n"
            "  repeat 1,inf greedy\n"
            "    bytes quoted b\n");
}

TEST(RegexSyntax, ClassesAndTypes) {
  EXPECT_EQ(Tree("[]a-c[:digit:]\\x41-]"), "sequence\n  bytes class - 0-9 A ] a-c\n");
  EXPECT_EQ(Tree("[^a]", "i"), "sequence\n  bytes class \\x00-@ B-` b-\\xff\n");
  EXPECT_EQ(Tree("[\\d\\s]"), "sequence\n  bytes class \\x09-\\x0d \\x20 0-9\n");
  EXPECT_EQ(Tree(".\\N", "s"),
            "sequence\n  bytes dot \\x00-\\xff\n  bytes type \\x00-\\x09 \\x0b-\\xff\n");
  EXPECT_EQ(Tree("\\h\\V"),
            "sequence\n  bytes type \\x09 \\x20 \\xa0\n"
            "  bytes type \\x00-\\x09 \\x0e-\\x84 \\x86-\\xff\n");
  EXPECT_EQ(Tree("[\\101\\b]"), "sequence\n  bytes class \\x08 A\n");  // octal and backspace
  EXPECT_EQ(Tree("[z-a]"), "<malformed>");
  EXPECT_EQ(Tree("[a-\\d]"), "<malformed>");
  EXPECT_EQ(Tree("[[.a.]]"), "<malformed>");
}

TEST(RegexSyntax, GroupsAssertionsAndQuantifiers) {
  EXPECT_EQ(Tree("^(?<n>a)(?>b)(?=c)(?<!d)\\b\\z"),
            "sequence\n"
            "  assertion ^\n"
            "  group named\n"
            "    sequence\n"
            "      bytes literal a\n"
            "  group atomic\n"
            "    sequence\n"
            "      bytes literal b\n"
            "  lookaround ahead\n"
            "    sequence\n"
            "      bytes literal c\n"
            "  lookaround negative-behind\n"
            "    sequence\n"
            "      bytes literal d\n"
            "  assertion \\b\n"
            "  assertion \\z\n");
  EXPECT_EQ(Tree("a{2,3}?b*+c{,3}"),
            "sequence\n"
            "  repeat 2,3 lazy\n"
            "    bytes literal a\n"
            "  repeat 0,inf possessive\n"
            "    bytes literal b\n"
            "  bytes literal c\n"
            "  bytes literal {\n"
            "  bytes literal ,\n"
            "  bytes literal 3\n"
            "  bytes literal }\n");
  EXPECT_EQ(Tree("(a)\\1\\g{1}\\k<n>"),
            "sequence\n"
            "  group capture\n"
            "    sequence\n"
            "      bytes literal a\n"
            "  backreference\n"
            "  backreference\n"
            "  backreference\n");
  EXPECT_EQ(Tree("a{3,2}"), "<malformed>");
  EXPECT_EQ(Tree("*a"), "<malformed>");
  EXPECT_EQ(Tree("(a"), "<malformed>");
  EXPECT_EQ(Tree("a)"), "<malformed>");
}

TEST(RegexSyntax, ExtendedSyntax) {
  EXPECT_EQ(Tree(" a # note\n [ b]", "x"), "sequence\n  bytes literal a\n  bytes class \\x20 b\n");
  EXPECT_EQ(Tree("(?xx)a"), "<malformed>");
}

TEST(RegexSyntax, UnsupportedSyntaxIsMarked) {
  EXPECT_EQ(Tree("(?(1)a|b)"),
            "sequence\n"
            "  unsupported conditional\n"
            "    alternation\n"
            "      sequence\n"
            "        bytes literal a\n"
            "      sequence\n"
            "        bytes literal b\n");
  EXPECT_EQ(Tree("(?R)(?1)\\g<1>"),
            "sequence\n  unsupported recursion\n  unsupported recursion\n"
            "  unsupported recursion\n");
  EXPECT_EQ(Tree("(*SKIP)\\pL\\p{Lu}\\X\\12"),
            "sequence\n  unsupported verb\n  unsupported property\n  unsupported property\n"
            "  unsupported property\n  unsupported ambiguous-number\n");
  auto tree = ParseRegex("a(*FAIL)", "");
  ASSERT_TRUE(tree);
  EXPECT_TRUE(Contains(*tree, Node::Kind::kUnsupported));
  EXPECT_FALSE(Contains(*ParseRegex("a", ""), Node::Kind::kUnsupported));
}

TEST(RegexSyntax, WhatAWalkMayReadAsUnknownText) {
  // The items of (a)\1\12(*SKIP)\pL(?1)b: group, backreference, ambiguous number, verb,
  // property, recursion, literal.
  auto tree = ParseRegex("(a)\\1\\12(*SKIP)\\pL(?1)b", "");
  ASSERT_TRUE(tree);
  ASSERT_EQ(tree->children.size(), 7u);
  const bool expected[] = {false, true, true, false, false, false, false};
  for (size_t i = 0; i < 7; ++i) {
    EXPECT_EQ(MatchesUnknownText(tree->children[i]), expected[i]) << Dump(tree->children[i]);
  }
}

}  // namespace
}  // namespace mailsift::rules::regex
