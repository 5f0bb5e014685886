// Parses every message of the SpamAssassin public corpus (scripts/fetch-corpus.sh prints its
// directory; set MAILSIFT_CORPUS to it). Skipped when MAILSIFT_CORPUS is unset.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "mime/charset.h"
#include "mime/message.h"

namespace mailsift::mime {
namespace {

TEST(Corpus, EveryMessageParses) {
  const char* dir = std::getenv("MAILSIFT_CORPUS");
  if (dir == nullptr || *dir == '\0') GTEST_SKIP() << "MAILSIFT_CORPUS is not set";
  size_t messages = 0, parts = 0, text_parts = 0, multipart = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".eml") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream buf;
    buf << in.rdbuf();
    std::string raw = buf.str();
    Message m = ParseMessage(raw);
    ++messages;
    ASSERT_FALSE(m.parts().empty()) << entry.path();
    if (!m.containers().empty()) ++multipart;
    for (const Part& p : m.parts()) {
      ++parts;
      if (p.is_text()) {
        ++text_parts;
        EXPECT_TRUE(IsValidUtf8(p.text_utf8())) << entry.path() << " part " << p.path();
      }
      EXPECT_TRUE(IsValidUtf8(p.filename())) << entry.path();
    }
    EXPECT_FALSE(m.stats().LimitHit()) << entry.path();
  }
  EXPECT_GT(messages, 1000u);
  std::printf("corpus: %zu messages, %zu multipart, %zu leaves, %zu text\n", messages, multipart,
              parts, text_parts);
}

}  // namespace
}  // namespace mailsift::mime
