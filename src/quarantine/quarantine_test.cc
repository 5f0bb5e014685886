// Tests of the quarantine store: files hold the bytes as received, the index lists them, a
// release is recorded.
#include "quarantine/quarantine.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace mailsift::quarantine {
namespace {

std::string TempDir() {
  char name[] = "/tmp/mailsift-quarantine-XXXXXX";
  return ::mkdtemp(name);
}

TEST(Quarantine, PutListReadRelease) {
  std::string dir = TempDir();
  Store store(dir + "/q");        // created on first use
  spool::Spool message(dir, 16);  // spills to a file: both paths of the reader
  std::string bytes = "From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n.dot line\r\n";
  ASSERT_TRUE(message.Append(bytes));

  Entry entry;
  entry.mail_id = "aBcD3fGh1jKl";
  entry.time = "2026-11-30T01:02:03Z";
  entry.category = "INFECTED (Eicar-Test-Signature)";
  entry.action = "discard";
  entry.sender = "s@example.org";
  entry.recipients = {"r1@example.com", "r2@example.com"};
  entry.size = bytes.size();
  entry.message_id = "<id@example.org>";
  entry.subject = "tab\there";
  auto file = store.Put(entry, "virus", message);
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_EQ(*file, "a/virus-aBcD3fGh1jKl");

  auto entries = store.List();
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 1u);
  const Entry& got = entries->front();
  EXPECT_EQ(got.category, "INFECTED (Eicar-Test-Signature)");
  EXPECT_EQ(got.recipients, entry.recipients);
  EXPECT_EQ(got.subject, "tab here");
  EXPECT_EQ(got.size, bytes.size());
  EXPECT_EQ(got.released, "");
  auto read = store.Read(got);
  ASSERT_TRUE(read);
  EXPECT_EQ(*read, bytes);

  ASSERT_TRUE(store.MarkReleased("aBcD3fGh1jKl", "250 2.0.0 Ok: queued as 1234"));
  auto found = store.Find("aBcD3fGh1jKl");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->released, "250 2.0.0 Ok: queued as 1234");
  EXPECT_EQ(found->releases, 1);
  EXPECT_TRUE(found->released_time.starts_with("20") && found->released_time.ends_with("Z"))
      << found->released_time;
  ASSERT_TRUE(store.MarkReleased("aBcD3fGh1jKl", "250 2.0.0 Ok: queued as 5678"));
  found = store.Find("aBcD3fGh1jKl");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->releases, 2);
  EXPECT_EQ(found->released, "250 2.0.0 Ok: queued as 5678");
  EXPECT_FALSE(store.Find("nope"));
  std::filesystem::remove_all(dir);
}

TEST(Quarantine, UnwritableDirectoryIsAnError) {
  Store store("/proc/mailsift-no-such-dir");
  spool::Spool message("/tmp", 1024);
  ASSERT_TRUE(message.Append("x\r\n"));
  Entry entry;
  entry.mail_id = "x1";
  auto file = store.Put(entry, "spam", message);
  ASSERT_FALSE(file);
  EXPECT_NE(file.error().message.find("/proc/mailsift-no-such-dir"), std::string::npos);
}

}  // namespace
}  // namespace mailsift::quarantine
