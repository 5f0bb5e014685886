// base/published_test.cc — readers see each published value whole, while one thread publishes
// (run under ThreadSanitizer in CI, which reports a race that the value's lock would miss).
#include "base/published.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace mailsift {
namespace {

TEST(Published, EmptyUntilStored) {
  Published<std::string> p;
  EXPECT_EQ(p.Load(), nullptr);
  p.Store(std::make_shared<const std::string>("one"));
  ASSERT_NE(p.Load(), nullptr);
  EXPECT_EQ(*p.Load(), "one");
}

TEST(Published, ReadersSeeWholeValuesWhileOneThreadPublishes) {
  struct Pair {
    int a;
    int b;  // always a + 1 in a published value
  };
  Published<Pair> p;
  p.Store(std::make_shared<const Pair>(Pair{0, 1}));
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0}, reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      int last = 0;
      while (!stop.load()) {
        auto v = p.Load();
        if (v->b != v->a + 1 || v->a < last) torn.fetch_add(1);
        last = v->a;
        reads.fetch_add(1);
      }
    });
  }
  while (reads.load() < 3) std::this_thread::yield();  // the readers are running
  for (int i = 1; i <= 20000; ++i) p.Store(std::make_shared<const Pair>(Pair{i, i + 1}));
  stop.store(true);
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(p.Load()->a, 20000);
}

}  // namespace
}  // namespace mailsift
