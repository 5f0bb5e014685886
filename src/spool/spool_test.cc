#include "spool/spool.h"

#include <gtest/gtest.h>

namespace mailsift::spool {
namespace {

std::string ReadBack(const Spool& spool, size_t chunk) {
  Spool::Reader reader(spool);
  std::string buffer, all;
  while (true) {
    auto piece = reader.Next(buffer, chunk);
    EXPECT_TRUE(piece);
    if (!piece || piece->empty()) break;
    all.append(*piece);
  }
  return all;
}

TEST(Spool, SmallMessageStaysInMemory) {
  Spool spool("/tmp", 1024);
  ASSERT_TRUE(spool.Append("Subject: hi\r\n\r\nbody\r\n"));
  EXPECT_FALSE(spool.spilled());
  EXPECT_EQ(ReadBack(spool, 7), "Subject: hi\r\n\r\nbody\r\n");
}

TEST(Spool, LargeMessageSpillsAndMemoryStaysBounded) {
  Spool spool("/tmp", 4096);
  std::string expected;
  for (int i = 0; i < 2000; ++i) {
    std::string line = "line " + std::to_string(i) + " of a large message\r\n";
    expected += line;
    ASSERT_TRUE(spool.Append(line));
  }
  EXPECT_TRUE(spool.spilled());
  EXPECT_EQ(spool.Head().size(), 4096u);
  EXPECT_EQ(spool.size(), expected.size());
  EXPECT_EQ(ReadBack(spool, 1000), expected);
  spool.Clear();
  EXPECT_EQ(spool.size(), 0u);
  ASSERT_TRUE(spool.Append("again\r\n"));
  EXPECT_EQ(ReadBack(spool, 100), "again\r\n");
}

TEST(Spool, UnwritableDirectoryIsAClearError) {
  Spool spool("/nonexistent-mailsift-dir", 4);
  auto status = spool.Append("more than four bytes");
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message.find("/nonexistent-mailsift-dir"), std::string::npos);
}

}  // namespace
}  // namespace mailsift::spool
