#include "smtp/header_meter.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "smtp/data_framer.h"

namespace mailsift::smtp {
namespace {

// Feeds `text` in pieces of `step` bytes (0: at once); returns the meter.
HeaderMeter Measure(std::string_view text, uint64_t limit, size_t step = 0) {
  HeaderMeter meter(limit);
  for (size_t pos = 0; pos < text.size();) {
    size_t n = step == 0 ? text.size() - pos : std::min(step, text.size() - pos);
    meter.Feed(text.substr(pos, n));
    pos += n;
  }
  return meter;
}

bool IsNameByte(unsigned char c) { return c > 32 && c < 127 && c != ':'; }

// The reference: line by line, the largest field of the header section of canonical content
// (Postfix's counting: joined continuation lines, one byte per join, no final line end).
uint64_t ReferenceLargest(std::string_view text) {
  std::vector<std::string_view> lines;
  for (size_t pos = 0; pos < text.size();) {
    size_t crlf = text.find("\r\n", pos);
    if (crlf == std::string_view::npos) {
      lines.push_back(text.substr(pos));
      break;
    }
    lines.push_back(text.substr(pos, crlf - pos));
    pos = crlf + 2;
  }
  uint64_t largest = 0, field = 0;
  bool open = false;
  for (std::string_view line : lines) {
    if (line.empty()) break;
    unsigned char first = static_cast<unsigned char>(line[0]);
    if (first == ' ' || first == '\t') {
      if (!open) break;
      field += 1 + line.size();
    } else {
      // "name" [SP/HT]* ":" within the first kMaxNameScan bytes, else the body starts.
      size_t i = 0;
      while (i < line.size() && i < HeaderMeter::kMaxNameScan &&
             IsNameByte(static_cast<unsigned char>(line[i]))) {
        ++i;
      }
      if (i == 0) break;
      while (i < line.size() && i < HeaderMeter::kMaxNameScan &&
             (line[i] == ' ' || line[i] == '\t')) {
        ++i;
      }
      if (i >= line.size() || line[i] != ':') {
        // The meter counts what it read of a name before it knew; that is no field.
        break;
      }
      open = true;
      field = line.size();
    }
    largest = std::max(largest, field);
  }
  return largest;
}

TEST(HeaderMeter, CountsOneFieldWithItsContinuationLines) {
  std::string text = "Subject: 12345\r\n\tabc\r\nTo: x\r\n\r\nbody\r\n";
  auto meter = Measure(text, 1000);
  EXPECT_EQ(meter.largest(), std::string("Subject: 12345").size() + 1 + 4);
  EXPECT_FALSE(meter.exceeded());
  EXPECT_TRUE(meter.done());
}

TEST(HeaderMeter, ALongLineOverTheLimitIsSeenBeforeItEnds) {
  std::string text = "Subject: x\r\nX-Big: " + std::string(5000, 'a');  // no line end yet
  EXPECT_TRUE(Measure(text, 4096).exceeded());
  EXPECT_TRUE(Measure(text, 4096, 7).exceeded());
  EXPECT_FALSE(Measure(text, 5007).exceeded());
  EXPECT_TRUE(Measure(text, 5006).exceeded());
}

TEST(HeaderMeter, ManyFoldedLinesAddUp) {
  std::string text = "X-Folded: a\r\n";
  for (int i = 0; i < 100; ++i) text += " " + std::string(99, 'b') + "\r\n";
  text += "\r\n";
  EXPECT_EQ(Measure(text, 1 << 20).largest(), 11 + 100 * 101u);
  EXPECT_TRUE(Measure(text, 10000).exceeded());
}

TEST(HeaderMeter, TheBodyIsNotMeasured) {
  std::string body_line(10000, 'x');
  EXPECT_FALSE(Measure("Subject: x\r\n\r\n" + body_line + "\r\n", 1024).exceeded());
  // A first line that is no header field starts the body (Postfix's is_header()).
  EXPECT_FALSE(Measure(body_line + "\r\n", 1024).exceeded());
  EXPECT_FALSE(Measure(" folded nothing " + body_line, 1024).exceeded());
  EXPECT_FALSE(Measure("Subject: x\r\nno colon " + body_line, 1024).exceeded());
  // A name without a colon in its first 2048 bytes is body too.
  EXPECT_FALSE(Measure(std::string(3000, 'N') + ": value\r\n", 4096).exceeded());
}

TEST(HeaderMeter, NameSpaceColonIsAHeader) {
  EXPECT_TRUE(Measure("Subject  : " + std::string(2000, 'v') + "\r\n", 1024).exceeded());
}

// Property: fed in any split, the meter agrees with the line-by-line reference, and says
// exceeded exactly when the reference's largest field passes the limit.
TEST(HeaderMeter, AgreesWithTheReferenceInAnySplit) {
  std::mt19937 random(20240601);
  const std::vector<std::string> pieces = {"Subject:", "X-A :", " ",    "\t", "v",
                                           "vvvvvvvv", "\r\n",  "\r\n", ":",  "\x01",
                                           "\xe9",     "N",     "x"};
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    int n = static_cast<int>(random() % 60);
    for (int i = 0; i < n; ++i) text += pieces[random() % pieces.size()];
    if (random() % 4 == 0) text += std::string(random() % 3000, 'L');
    // Canonical content only, as the framer produces it.
    std::string canonical;
    DataFramer framer(DataFramer::Mode::kRaw);
    framer.Feed(text, canonical);
    framer.Finish(canonical);
    const uint64_t limit = 1 + random() % 200;
    const uint64_t expected = ReferenceLargest(canonical);
    for (size_t step : {size_t{0}, size_t{1}, size_t{3}, size_t{64}}) {
      auto meter = Measure(canonical, 1 << 20, step);
      ASSERT_EQ(meter.largest(), expected) << "step " << step << ": " << canonical;
      ASSERT_EQ(Measure(canonical, limit, step).exceeded(), expected > limit)
          << "limit " << limit << " step " << step << ": " << canonical;
    }
  }
}

}  // namespace
}  // namespace mailsift::smtp
