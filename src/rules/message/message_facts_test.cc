// rules/message/message_facts_test.cc — SpamAssassin's MIME tree as message_facts rebuilds it,
// and its rendered body lines.
#include "rules/message/message_facts.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rules/message/message_facts_test_messages.h"

namespace mailsift::rules {
namespace {

// A parsed message and the facts computed from it.
struct Parsed {
  explicit Parsed(const std::string& raw)
      : message(mime::ParseMessage(raw)), facts(ComputeMessageFacts(message)) {}
  mime::Message message;
  MessageFacts facts;
};

TEST(MessageFactsTest, BuildsSaTree) {
  Parsed e(kAlternative);
  ASSERT_EQ(e.facts.nodes.size(), 3u);
  EXPECT_EQ(e.facts.nodes[0].type, "multipart/alternative");
  EXPECT_FALSE(e.facts.nodes[0].leaf);
  EXPECT_EQ(e.facts.nodes[1].type, "text/plain");
  EXPECT_EQ(e.facts.nodes[2].type, "text/html");
  // The line break before the delimiter belongs to it.
  ASSERT_EQ(e.facts.nodes[1].raw_lines.size(), 1u);
  EXPECT_EQ(e.facts.nodes[1].raw_lines[0], "hello world words");
  EXPECT_EQ(e.facts.html_all.size(), 1u);
}

TEST(MessageFactsTest, NestedRfc822IsParsed) {
  Parsed e(
      "Subject: fwd\nContent-Type: multipart/mixed; boundary=X\n\n--X\n"
      "Content-Type: message/rfc822\n\nSubject: inner\nContent-Type: text/html\n\n<b>x</b>\n"
      "--X--\n");
  // The message/rfc822 part holds the inner message, itself a text/html leaf.
  ASSERT_EQ(e.facts.dfs.size(), 3u);
  EXPECT_EQ(e.facts.nodes[e.facts.dfs[1]].type, "message/rfc822");
  EXPECT_EQ(e.facts.nodes[e.facts.dfs[2]].type, "text/html");
  EXPECT_EQ(e.facts.html_all.size(), 1u);
}

TEST(MessageFactsTest, RenderedBodyLines) {
  Parsed e("Subject: subj\n\npara one\n  line two\n\n\n para\ttwo\n");
  std::vector<std::string> lines = SaRenderedBodyLines(e.facts);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "subj\n");
  EXPECT_EQ(lines[1], "para one line two\n");
  EXPECT_EQ(lines[2], " para two ");
}

}  // namespace
}  // namespace mailsift::rules
