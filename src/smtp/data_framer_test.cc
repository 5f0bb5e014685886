#include "smtp/data_framer.h"

#include <gtest/gtest.h>

#include <random>

namespace mailsift::smtp {
namespace {

struct Framed {
  std::string content;
  size_t consumed = 0;
  bool finished = false;
  bool bare = false;
};

// Feeds `input` in pieces of `step` bytes (0: all at once).
Framed Frame(std::string_view input, size_t step = 0) {
  DataFramer framer(DataFramer::Mode::kDotTerminated);
  Framed out;
  size_t pos = 0;
  while (pos < input.size() && !framer.finished()) {
    size_t n = step == 0 ? input.size() - pos : std::min(step, input.size() - pos);
    size_t used = framer.Feed(input.substr(pos, n), out.content);
    pos += used;
    if (used < n) break;
  }
  out.consumed = pos;
  out.finished = framer.finished();
  out.bare = framer.saw_bare_newline();
  return out;
}

TEST(DataFramer, EndsOnlyAtCrLfDotCrLf) {
  auto f = Frame("Subject: x\r\n\r\nbody\r\n.\r\nMAIL FROM:<next>\r\n");
  EXPECT_TRUE(f.finished);
  EXPECT_EQ(f.content, "Subject: x\r\n\r\nbody\r\n");
  EXPECT_EQ(f.consumed, std::string("Subject: x\r\n\r\nbody\r\n.\r\n").size());
  EXPECT_FALSE(f.bare);
}

TEST(DataFramer, DotRightAfter354EndsAnEmptyMessage) {
  auto f = Frame(".\r\n");
  EXPECT_TRUE(f.finished);
  EXPECT_EQ(f.content, "");
}

TEST(DataFramer, RemovesTransparencyDots) {
  auto f = Frame("..leading dot\r\n...two\r\n.x\r\n.\r\n");
  EXPECT_TRUE(f.finished);
  EXPECT_EQ(f.content, ".leading dot\r\n..two\r\nx\r\n");
}

// The SMTP smuggling vectors: none of them ends the data; each is content.
struct Vector {
  const char* name;
  std::string sequence;
  std::string content_normalized;  // what the framer makes of "a" + sequence + "b\r\n"
};

TEST(DataFramer, SmugglingVectorsAreContent) {
  const Vector vectors[] = {
      {"LF.LF", "\n.\n", "a\r\n.\r\nb\r\n"},
      {"LF.CRLF", "\n.\r\n", "a\r\n.\r\nb\r\n"},
      {"CR.CR", "\r.\r", "a . b\r\n"},
      {"CRLF.CR", "\r\n.\r", "a\r\n. b\r\n"},
      {"CR.LF", "\r.\n", "a .\r\nb\r\n"},
      {"CRLF NUL . CRLF", std::string("\r\n\0.\r\n", 6), std::string("a\r\n\0.\r\nb\r\n", 10)},
      {"CRLF . NUL CRLF", std::string("\r\n.\0\r\n", 6), std::string("a\r\n\0\r\nb\r\n", 9)},
  };
  for (const auto& v : vectors) {
    std::string input = "a" + v.sequence + "b\r\n";
    for (size_t step : {size_t{0}, size_t{1}, size_t{2}, size_t{3}}) {
      auto f = Frame(input + ".\r\n", step);
      EXPECT_TRUE(f.finished) << v.name;
      EXPECT_EQ(f.consumed, input.size() + 3) << v.name << " step " << step;
      EXPECT_EQ(f.content, v.content_normalized) << v.name << " step " << step;
      // Canonical: no bare CR or LF in what leaves.
      for (size_t i = 0; i < f.content.size(); ++i) {
        if (f.content[i] == '\n') {
          EXPECT_TRUE(i > 0 && f.content[i - 1] == '\r') << v.name;
        }
        if (f.content[i] == '\r') {
          EXPECT_TRUE(i + 1 < f.content.size() && f.content[i + 1] == '\n') << v.name;
        }
      }
    }
  }
}

TEST(DataFramer, BareNewlinesAreReported) {
  EXPECT_TRUE(Frame("a\nb\r\n.\r\n").bare);
  EXPECT_TRUE(Frame("a\rb\r\n.\r\n").bare);
  EXPECT_FALSE(Frame("a\r\nb\r\n.\r\n").bare);
}

TEST(DataFramer, EndMarkSplitAcrossEveryBoundaryIsFoundOnce) {
  std::string message = "Subject: t\r\n\r\nline\r\n..dots\r\n";
  std::string input = message + ".\r\nQUIT\r\n";
  for (size_t step = 1; step <= input.size(); ++step) {
    auto f = Frame(input, step);
    ASSERT_TRUE(f.finished) << step;
    EXPECT_EQ(f.consumed, message.size() + 3) << step;
    EXPECT_EQ(f.content, "Subject: t\r\n\r\nline\r\n.dots\r\n") << step;
  }
}

TEST(DataFramer, RawModeForBdat) {
  DataFramer framer(DataFramer::Mode::kRaw);
  std::string out;
  EXPECT_EQ(framer.Feed(".\r\n.leading\r\nbare\nend", out), 21u);
  EXPECT_FALSE(framer.finished());
  framer.Finish(out);
  EXPECT_TRUE(framer.finished());
  EXPECT_EQ(out, ".\r\n.leading\r\nbare\r\nend\r\n");
  EXPECT_TRUE(framer.saw_bare_newline());
}

TEST(DotStuffer, StuffsEveryLeadingDotAcrossChunks) {
  DotStuffer stuffer;
  std::string out;
  stuffer.Stuff("a\r\n.b\r\n", out);
  stuffer.Stuff(".", out);
  stuffer.Stuff("c\r\n..\r\n", out);
  EXPECT_EQ(out, "a\r\n..b\r\n..c\r\n...\r\n");
  EXPECT_TRUE(stuffer.at_line_start());
}

// Differential property (reference §2.5 rule 7): for random input, the framer's output is
// canonical, and stuffing it then framing it again gives the same content.
TEST(DataFramer, RoundTripIsCanonicalAndStable) {
  std::mt19937 random(42);
  const char alphabet[] = {'a', '.', '\r', '\n', '\0', ' '};
  for (int round = 0; round < 3000; ++round) {
    std::string input;
    int length = static_cast<int>(random() % 40);
    for (int i = 0; i < length; ++i) input.push_back(alphabet[random() % sizeof alphabet]);
    auto first = Frame(input + "\r\n.\r\n");
    ASSERT_TRUE(first.finished);
    DotStuffer stuffer;
    std::string wire;
    stuffer.Stuff(first.content, wire);
    if (!stuffer.at_line_start()) wire += "\r\n";
    wire += ".\r\n";
    auto second = Frame(wire);
    ASSERT_TRUE(second.finished) << round;
    EXPECT_FALSE(second.bare) << "not canonical, round " << round;
    EXPECT_EQ(second.content, first.content) << round;
    EXPECT_EQ(second.consumed, wire.size()) << round;
  }
}

}  // namespace
}  // namespace mailsift::smtp
