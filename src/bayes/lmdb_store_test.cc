// bayes/lmdb_store_test.cc — the LMDB Bayes store: SpamAssassin's learn / forget / seen
// semantics, readers while a writer learns (threads and processes), a writer killed in the
// middle, and expiry by last use.
#include "bayes/lmdb_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

namespace mailsift::bayes {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "mailsift-bayes-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::unique_ptr<LmdbStore> OpenStore(const std::string& dir) {
  auto store = LmdbStore::Open(dir);
  EXPECT_TRUE(store.has_value()) << (store ? "" : store.error().message);
  return store ? std::move(*store) : nullptr;
}

std::vector<TokenId> Ids(std::initializer_list<const char*> tokens) {
  std::vector<TokenId> ids;
  for (const char* t : tokens) ids.push_back(TokenIdOf(t));
  return ids;
}

StoredToken Get(LmdbStore& store, TokenId id) {
  auto got = store.Lookup(std::vector<TokenId>{id});
  EXPECT_TRUE(got.has_value());
  return got ? (*got)[0] : StoredToken{};
}

TEST(LmdbStore, LearnTwiceCountsOnceAndTheOtherClassMoves) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  ASSERT_TRUE(store);
  std::vector<std::string> m1 = {"aaa@sa_generated", "m1@example.org"};
  std::vector<TokenId> t1 = Ids({"cheap", "viagra", "hello"});

  EXPECT_EQ(store->Learn(true, m1, t1, 1000).value(), LearnOutcome::kLearned);
  EXPECT_EQ(store->Learn(true, m1, t1, 2000).value(), LearnOutcome::kAlreadyLearned);
  EXPECT_EQ(store->Counts()->nspam, 1u);
  EXPECT_EQ(store->Counts()->nham, 0u);
  StoredToken cheap = Get(*store, TokenIdOf("cheap"));
  EXPECT_TRUE(cheap.found);
  EXPECT_EQ(cheap.spam, 1u);
  EXPECT_EQ(cheap.ham, 0u);
  EXPECT_EQ(cheap.atime, 1000u);  // the second learn changed nothing
  EXPECT_EQ(store->Seen("aaa@sa_generated").value(), 's');
  EXPECT_EQ(store->Seen("m1@example.org").value(), std::nullopt);  // only the first id is kept

  // Known by its Message-Id only (learned elsewhere with another generated id): same class,
  // nothing happens.
  std::vector<std::string> other_gen = {"bbb@sa_generated", "aaa@sa_generated"};
  EXPECT_EQ(store->Learn(true, other_gen, t1, 3000).value(), LearnOutcome::kAlreadyLearned);

  // As ham: forgotten as spam first, then learned as ham.
  EXPECT_EQ(store->Learn(false, m1, t1, 4000).value(), LearnOutcome::kRelearned);
  EXPECT_EQ(store->Counts()->nspam, 0u);
  EXPECT_EQ(store->Counts()->nham, 1u);
  cheap = Get(*store, TokenIdOf("cheap"));
  EXPECT_EQ(cheap.spam, 0u);
  EXPECT_EQ(cheap.ham, 1u);
  EXPECT_EQ(cheap.atime, 4000u);
  EXPECT_EQ(store->Seen("aaa@sa_generated").value(), 'h');
  EXPECT_EQ(store->Variables()->ntokens, 3u);
}

TEST(LmdbStore, ForgetUndoesALearnAndDeletesEmptyTokens) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  ASSERT_TRUE(store);
  std::vector<std::string> a = {"a@sa_generated"}, b = {"b@sa_generated"};
  ASSERT_TRUE(store->Learn(true, a, Ids({"shared", "only-a"}), 100));
  ASSERT_TRUE(store->Learn(false, b, Ids({"shared", "only-b"}), 200));
  EXPECT_EQ(store->Variables()->ntokens, 3u);

  EXPECT_EQ(store->Forget(a, Ids({"shared", "only-a"})).value(), LearnOutcome::kLearned);
  EXPECT_EQ(store->Forget(a, Ids({"shared", "only-a"})).value(), LearnOutcome::kNotLearned);
  EXPECT_EQ(store->Counts()->nspam, 0u);
  EXPECT_EQ(store->Counts()->nham, 1u);
  EXPECT_FALSE(Get(*store, TokenIdOf("only-a")).found);  // 0/0: deleted
  StoredToken shared = Get(*store, TokenIdOf("shared"));
  EXPECT_EQ(shared.spam, 0u);
  EXPECT_EQ(shared.ham, 1u);
  EXPECT_EQ(shared.atime, 200u);  // a forget never moves an atime
  EXPECT_EQ(store->Seen("a@sa_generated").value(), std::nullopt);
  EXPECT_EQ(store->Variables()->ntokens, 2u);
}

TEST(LmdbStore, TouchOnlyMovesAtimesForward) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  ASSERT_TRUE(store);
  ASSERT_TRUE(
      store->Learn(true, std::vector<std::string>{"x@sa_generated"}, Ids({"t1", "t2"}), 500));
  ASSERT_TRUE(store->Touch(Ids({"t1", "absent"}), 900));
  ASSERT_TRUE(store->Touch(Ids({"t2"}), 100));
  EXPECT_EQ(Get(*store, TokenIdOf("t1")).atime, 900u);
  EXPECT_EQ(Get(*store, TokenIdOf("t2")).atime, 500u);
  EXPECT_FALSE(Get(*store, TokenIdOf("absent")).found);
  EXPECT_EQ(store->Variables()->newest_atime, 900u);
  EXPECT_EQ(store->Variables()->oldest_atime, 500u);
}

TEST(LmdbStore, ReopenKeepsEverythingAndOneEnvironmentPerProcess) {
  TempDir dir;
  {
    auto a = OpenStore(dir.path());
    auto b = OpenStore(dir.path() + "/.");  // the same directory: one shared environment
    ASSERT_TRUE(a && b);
    ASSERT_TRUE(a->Learn(true, std::vector<std::string>{"k@sa_generated"}, Ids({"tok"}), 7));
    EXPECT_EQ(b->Counts()->nspam, 1u);
  }
  auto again = OpenStore(dir.path());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->Counts()->nspam, 1u);
  EXPECT_EQ(Get(*again, TokenIdOf("tok")).spam, 1u);
}

// Readers on other threads see whole learns only: in one lookup, the count of the token every
// message carries equals the number of per-message tokens present. (Two calls are two
// snapshots, and LMDB may start a read on the snapshot before the one a previous read saw, so
// only what one call reads is checked against itself.)
TEST(LmdbStore, ReadersWhileAWriterLearnsSeeWholeLearns) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  ASSERT_TRUE(store);
  constexpr int kMessages = 300;
  std::vector<TokenId> probe = Ids({"every"});
  for (int i = 0; i < kMessages; ++i) probe.push_back(TokenIdOf("unique" + std::to_string(i)));
  std::atomic<bool> done{false};
  std::atomic<int> reads{0}, torn{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      while (!done.load()) {
        auto got = store->Lookup(probe);
        if (!got) {
          ADD_FAILURE() << got.error().message;
          ++torn;
          continue;
        }
        uint64_t present = 0;
        for (size_t k = 1; k < got->size(); ++k) present += (*got)[k].found;
        if ((*got)[0].spam != present) {
          ADD_FAILURE() << "every " << (*got)[0].spam << " but " << present << " messages";
          ++torn;
        }
        ++reads;
      }
    });
  }
  for (int i = 0; i < kMessages; ++i) {
    std::vector<std::string> id = {"msg" + std::to_string(i) + "@sa_generated"};
    std::vector<TokenId> toks = {probe[0], probe[i + 1]};
    ASSERT_TRUE(store->Learn(true, id, toks, 1000 + i));
  }
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(store->Counts()->nspam, static_cast<uint64_t>(kMessages));
  EXPECT_EQ(Get(*store, TokenIdOf("every")).spam, static_cast<uint64_t>(kMessages));
}

// A child process learns while this one reads; each read transaction is consistent.
TEST(LmdbStore, ReaderProcessWhileAWriterProcessLearns) {
  TempDir dir;
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto store = LmdbStore::Open(dir.path());
    if (!store) _exit(2);
    for (int i = 0; i < 200; ++i) {
      std::vector<std::string> id = {"p" + std::to_string(i) + "@sa_generated"};
      if (!(*store)->Learn(i % 2 == 0, id, Ids({"both", i % 2 == 0 ? "spammy" : "hammy"}), i)) {
        _exit(3);
      }
    }
    _exit(0);
  }
  auto store = OpenStore(dir.path());
  ASSERT_TRUE(store);
  int reads = 0, bad = 0;
  int status = 0;
  while (waitpid(child, &status, WNOHANG) == 0) {
    auto got = store->Lookup(Ids({"both", "spammy", "hammy"}));
    if (!got) {
      ++bad;
      continue;
    }
    // One transaction: "both" is the sum of the two others.
    if ((*got)[0].spam + (*got)[0].ham != (*got)[1].spam + (*got)[2].ham) ++bad;
    ++reads;
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(bad, 0);
  EXPECT_GT(reads, 0);
  EXPECT_EQ(store->Counts()->nspam, 100u);
  EXPECT_EQ(store->Counts()->nham, 100u);
}

// A writer killed with SIGKILL in the middle of learning: the store opens again, holds exactly
// the learns that were committed (nspam equals the "every" token's count and the seen table),
// and takes new learns.
TEST(LmdbStore, WriterKilledMidLearnLeavesAConsistentStore) {
  TempDir dir;
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(ready[0]);
    auto store = LmdbStore::Open(dir.path());
    if (!store) _exit(2);
    for (int i = 0;; ++i) {
      std::vector<std::string> id = {"k" + std::to_string(i) + "@sa_generated"};
      std::vector<TokenId> toks = Ids({"every"});
      for (int k = 0; k < 200; ++k) toks.push_back(TokenIdOf(std::to_string(i * 1000 + k)));
      if (!(*store)->Learn(true, id, toks, i)) _exit(3);
      if (i == 20) {
        char c = 1;
        if (write(ready[1], &c, 1) != 1) _exit(4);
      }
    }
  }
  close(ready[1]);
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  close(ready[0]);

  auto store = OpenStore(dir.path());
  ASSERT_TRUE(store);
  uint64_t nspam = store->Counts()->nspam;
  EXPECT_GT(nspam, 20u);
  EXPECT_EQ(Get(*store, TokenIdOf("every")).spam, nspam);
  for (uint64_t i = 0; i < nspam; ++i) {
    EXPECT_EQ(store->Seen("k" + std::to_string(i) + "@sa_generated").value(), 's') << i;
  }
  EXPECT_EQ(store->Seen("k" + std::to_string(nspam) + "@sa_generated").value(), std::nullopt);
  EXPECT_EQ(store->Variables()->ntokens, 1 + 200 * nspam);
  ASSERT_TRUE(
      store->Learn(false, std::vector<std::string>{"after@sa_generated"}, Ids({"every"}), 5));
  EXPECT_EQ(store->Counts()->nham, 1u);
}

// Expiry as SpamAssassin's: due only above bayes_expiry_max_db_size and 100,000 tokens, with
// 12 h between the oldest and newest atimes; it keeps the most recently used tokens and at
// least 75 % of the maximum (or 100,000).
TEST(LmdbStore, ExpiryDropsTheLeastRecentlyUsedTokens) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  ASSERT_TRUE(store);
  const uint32_t day = 86400, base = 1700000000;
  // 40,000 tokens last used 40 days before the newest, 110,000 recent ones (one message each).
  auto learn_batch = [&](int first, int count, uint32_t atime) {
    std::vector<TokenId> toks;
    for (int i = first; i < first + count; ++i) toks.push_back(TokenIdOf("t" + std::to_string(i)));
    std::vector<std::string> id = {"batch" + std::to_string(first) + "@sa_generated"};
    ASSERT_TRUE(store->Learn(true, id, toks, atime));
  };
  for (int i = 0; i < 40000; i += 10000) learn_batch(i, 10000, base);
  for (int i = 40000; i < 150000; i += 10000) learn_batch(i, 10000, base + 40 * day);
  EXPECT_EQ(store->Variables()->ntokens, 150000u);

  ExpiryOptions big, small;
  big.max_db_size = 200000;
  small.max_db_size = 120000;
  const uint32_t now = base + 40 * day + 3600;
  // Not due: the store holds fewer tokens than bayes_expiry_max_db_size.
  EXPECT_FALSE(store->Expire(big, now)->ran);

  auto result = store->Expire(small, now);
  ASSERT_TRUE(result.has_value()) << result.error().message;
  ASSERT_TRUE(result->ran);
  // Goal: keep max(120,000 × 0.75, 100,000) = 100,000, i.e. remove 50,000. No delta of the
  // exponential search (12 h × 2^k) removes more than that (each removes the 40,000 old ones),
  // so the smallest, 12 h, is used: what was not used in the 12 h before the newest goes.
  EXPECT_EQ(result->deleted, 40000u);
  EXPECT_EQ(result->kept, 110000u);
  EXPECT_EQ(result->atime_delta, 43200u);
  EXPECT_FALSE(Get(*store, TokenIdOf("t5")).found);
  EXPECT_TRUE(Get(*store, TokenIdOf("t45000")).found);
  auto vars = store->Variables();
  EXPECT_EQ(vars->ntokens, 110000u);
  EXPECT_EQ(vars->oldest_atime, base + 40 * day);
  EXPECT_EQ(vars->last_expire, now);
  EXPECT_EQ(vars->last_expire_reduce, 40000u);
  // Not again within 12 hours.
  EXPECT_FALSE(store->Expire(small, now + 3600)->ran);

  // A day later, 40,000 more tokens: the estimate from the last run (43,200 × 40,000 / 50,000
  // = 34,560 s) is below the period, so the search runs again; 12 h and 24 h would each remove
  // all 110,000 older tokens (more than the 50,000 wanted), the next step (48 h) removes none,
  // and SpamAssassin then gives up for this run: nothing is deleted, the run is recorded.
  for (int i = 150000; i < 190000; i += 10000) learn_batch(i, 10000, base + 41 * day);
  const uint32_t later = base + 41 * day + 3600;
  auto second = store->Expire(small, later);
  ASSERT_TRUE(second.has_value()) << second.error().message;
  EXPECT_TRUE(second->ran);
  EXPECT_EQ(second->deleted, 0u);
  EXPECT_EQ(store->Variables()->ntokens, 150000u);
  EXPECT_EQ(store->Variables()->last_expire, later);
}

}  // namespace
}  // namespace mailsift::bayes
