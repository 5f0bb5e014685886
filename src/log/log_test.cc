#include "log/log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

namespace mailsift::log {
namespace {

// Points stderr at a non-blocking pipe for the test's lifetime.
class CapturedStderr {
 public:
  CapturedStderr() {
    EXPECT_EQ(::pipe2(pipe_, O_NONBLOCK | O_CLOEXEC), 0);
    saved_ = ::dup(STDERR_FILENO);
    ::dup2(pipe_[1], STDERR_FILENO);
  }
  ~CapturedStderr() {
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    ::close(pipe_[0]);
    ::close(pipe_[1]);
  }
  // What was written since the last read ("" if nothing).
  std::string Read() {
    char buffer[65536];
    ssize_t n = ::read(pipe_[0], buffer, sizeof buffer);
    return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : std::string();
  }

 private:
  int pipe_[2] = {-1, -1};
  int saved_ = -1;
};

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(Log, BatchedInfoLinesWaitForFlushInOrder) {
  // On its own thread: batching is per thread and stays on.
  std::thread([] {
    CapturedStderr captured;
    int wakes = 0;
    BatchThread([&wakes] { ++wakes; });
    Info("first {}", 1);
    Info("second {}", 2);
    EXPECT_EQ(captured.Read(), "");
    EXPECT_EQ(wakes, 1);  // once, for the line that found the buffer empty
    FlushThread();
    std::string both = captured.Read();
    EXPECT_EQ(Count(both, "\n"), 2u);
    EXPECT_LT(both.find("first 1"), both.find("second 2"));
    EXPECT_NE(both.find("Z mailsift["), std::string::npos);

    // A warning writes the buffered lines first, then itself at once.
    Info("third");
    Warn("trouble");
    std::string out = captured.Read();
    ASSERT_NE(out.find("third"), std::string::npos);
    ASSERT_NE(out.find("warning: trouble"), std::string::npos);
    EXPECT_LT(out.find("third"), out.find("warning: trouble"));
    EXPECT_EQ(wakes, 2);
  }).join();
}

TEST(Log, BatchesAreWholeLinesOfAtMostPipeBuf) {
  std::thread([] {
    CapturedStderr captured;
    BatchThread([] {});
    const std::string text(100, 'x');
    std::vector<std::string> chunks;
    for (int i = 0; i < 200; ++i) {
      Info("{} {}", i, text);
      for (std::string chunk = captured.Read(); !chunk.empty(); chunk = captured.Read()) {
        chunks.push_back(chunk);
      }
    }
    FlushThread();
    chunks.push_back(captured.Read());
    size_t lines = 0;
    for (const std::string& chunk : chunks) {
      EXPECT_LE(chunk.size(), static_cast<size_t>(PIPE_BUF));
      EXPECT_EQ(chunk.back(), '\n');
      lines += Count(chunk, "\n");
    }
    EXPECT_EQ(lines, 200u);
    EXPECT_GT(chunks.size(), 2u);
    EXPECT_LT(chunks.size(), 20u);  // batched, not one write per line
  }).join();
}

TEST(Log, ThreadsThatDoNotBatchWriteAtOnce) {
  std::thread([] {
    CapturedStderr captured;
    Info("immediate");
    EXPECT_NE(captured.Read().find("immediate"), std::string::npos);
  }).join();
}

}  // namespace
}  // namespace mailsift::log
