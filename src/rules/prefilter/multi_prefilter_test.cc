// rules/prefilter/multi_prefilter_test.cc — the vectorscan databases: which rules they hold and
// flag, the candidate texts of repeated-group rules, the cache file (written, read back, refused
// when damaged or foreign, a directory that cannot be written), and the background build (off until
// ready, then published).
#include "rules/prefilter/multi_prefilter.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "rules/prefilter/multi_prefilter_test_groups.h"

namespace mailsift::rules {
namespace {

// (?:field0|field1|…|field299): a group written longer than the repeated-group threshold.
std::string FieldWords() {
  std::string words = "(?:";
  for (int i = 0; i < 300; ++i) words += (i ? "|" : "") + std::string("field") + std::to_string(i);
  return words + ")";
}

// Joined like the evaluator joins body lines; `starts` receives where each line begins.
std::string Join(const std::vector<std::string>& lines, std::vector<size_t>* starts) {
  std::string out;
  for (const std::string& l : lines) {
    starts->push_back(out.size());
    out += l + "\n";
  }
  return out;
}

std::shared_ptr<const PrefilterDatabases> BuildOrDie(const std::vector<PrefilterGroup>& groups,
                                                     size_t rules) {
  auto built = PrefilterDatabases::Build(groups, rules);
  EXPECT_TRUE(built) << (built ? "" : built.error().message);
  return built ? *built : nullptr;
}

TEST(PrefilterDatabases, FlagsTheRulesThatMayMatch) {
  auto db = BuildOrDie(TestGroups(), 8);
  ASSERT_TRUE(db);
  EXPECT_EQ(db->GroupOf(0), 0);
  EXPECT_EQ(db->GroupOf(3), 0);
  EXPECT_EQ(db->GroupOf(4), -1);  // always runs
  EXPECT_EQ(db->GroupOf(5), -1);
  EXPECT_EQ(db->GroupOf(6), 1);
  EXPECT_EQ(db->GroupOf(99), -1);
  EXPECT_EQ(db->databases(), 2u);
  EXPECT_EQ(db->rules(), 6u);

  std::vector<size_t> starts;
  const std::string text = Join({"Subject: hi", "get FREE   money", "abab"}, &starts);
  std::vector<uint8_t> may(8, 0);
  RepeatCandidates repeats;
  ASSERT_TRUE(db->Scan(0, text, &starts, may.data(), &repeats));
  EXPECT_EQ(may[0], 0);  // "FREE   money": not "free money" (the prefilter is exact here)
  EXPECT_EQ(may[1], 0);
  EXPECT_EQ(may[2], 1);  // ^ and $ at line ends
  EXPECT_EQ(may[3], 1);  // the backreference, relaxed: "ab" then anything
  std::fill(may.begin(), may.end(), 0);
  ASSERT_TRUE(db->Scan(1, "Mon, 1 Jan 2024 10:00:00 +0000", nullptr, may.data(), nullptr));
  EXPECT_EQ(may[6], 1);
  EXPECT_EQ(may[7], 1);
  EXPECT_FALSE(db->Scan(7, "x", nullptr, may.data(), nullptr));  // no such group
}

TEST(PrefilterDatabases, RepeatedGroupsNameTheirCandidateTexts) {
  // (?:G){3} with a G written longer than the repeated-group threshold goes to the repeat
  // database: a line is a candidate when matches of G end at 3 different offsets in it.
  const std::string words = FieldWords();
  PrefilterGroup g;
  g.lists = true;
  g.rules = {{0, "(?:" + words + "[:,]\\s*(?:and\\s)?){3}", ""}};
  auto db = BuildOrDie({g}, 1);
  ASSERT_TRUE(db);
  ASSERT_EQ(db->GroupOf(0), 0);
  std::vector<size_t> starts;
  const std::string text = Join({"field1: field2, field3: here", "field1: only two field7,",
                                 "nothing", "field9, field9, and field9,"},
                                &starts);
  std::vector<uint8_t> may(1, 0);
  RepeatCandidates repeats;
  ASSERT_TRUE(db->Scan(0, text, &starts, may.data(), &repeats));
  EXPECT_EQ(may[0], 1);
  const std::vector<uint32_t>* texts = repeats.Find(0);
  ASSERT_NE(texts, nullptr);
  EXPECT_EQ(*texts, (std::vector<uint32_t>{0, 3}));

  std::vector<size_t> none_starts;
  const std::string none = Join({"field1: field2"}, &none_starts);
  std::fill(may.begin(), may.end(), 0);
  RepeatCandidates no_repeats;
  ASSERT_TRUE(db->Scan(0, none, &none_starts, may.data(), &no_repeats));
  EXPECT_EQ(may[0], 0);
  EXPECT_EQ(no_repeats.Find(0), nullptr);
}

TEST(PrefilterDatabases, RepeatedGroupsAreFollowedFromEndToStart) {
  // With a bounded part left off ("[:,] ?" keeps ":" and leaves off the space), the n matches
  // must follow each other: three field words in one line are not enough.
  const std::string words = FieldWords();
  PrefilterGroup g;
  g.lists = true;
  g.rules = {{0, "(?:" + words + "[:,] ?){3}", ""}};
  auto db = BuildOrDie({g}, 1);
  ASSERT_TRUE(db);
  std::vector<size_t> starts;
  const std::string text = Join({"field1: field2, field3: here",         // consecutive
                                 "field1: and field2: and field3: not",  // three, apart
                                 "field4,field5:field6,"},               // consecutive
                                &starts);
  std::vector<uint8_t> may(1, 0);
  RepeatCandidates repeats;
  ASSERT_TRUE(db->Scan(0, text, &starts, may.data(), &repeats));
  const std::vector<uint32_t>* texts = repeats.Find(0);
  ASSERT_NE(texts, nullptr);
  EXPECT_EQ(*texts, (std::vector<uint32_t>{0, 2}));
  // Round trip: the followed group is in the cache file too.
  const std::string key = PrefilterKey({g});
  auto back = PrefilterDatabases::Deserialize(db->Serialize(key), key, 1);
  ASSERT_TRUE(back) << back.error().message;
  RepeatCandidates again;
  std::fill(may.begin(), may.end(), 0);
  ASSERT_TRUE((*back)->Scan(0, text, &starts, may.data(), &again));
  ASSERT_NE(again.Find(0), nullptr);
  EXPECT_EQ(*again.Find(0), (std::vector<uint32_t>{0, 2}));
}

TEST(PrefilterDatabases, SerializedFormRoundTripsAndRefusesDamage) {
  auto db = BuildOrDie(TestGroups(), 8);
  ASSERT_TRUE(db);
  const std::string key = PrefilterKey(TestGroups());
  EXPECT_EQ(key.size(), 32u);
  const std::string bytes = db->Serialize(key);
  ASSERT_FALSE(bytes.empty());
  auto back = PrefilterDatabases::Deserialize(bytes, key, 8);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ((*back)->GroupOf(2), 0);
  EXPECT_EQ((*back)->GroupOf(4), -1);
  std::vector<size_t> starts;
  const std::string text = Join({"Subject: hi"}, &starts);
  std::vector<uint8_t> may(8, 0);
  RepeatCandidates repeats;
  ASSERT_TRUE((*back)->Scan(0, text, &starts, may.data(), &repeats));
  EXPECT_EQ(may[2], 1);

  EXPECT_FALSE(PrefilterDatabases::Deserialize(bytes, std::string(32, '0'), 8));  // other key
  EXPECT_FALSE(PrefilterDatabases::Deserialize(bytes, key, 9));  // other ruleset size
  std::string damaged = bytes;
  damaged[damaged.size() / 2] ^= 0x40;
  EXPECT_FALSE(PrefilterDatabases::Deserialize(damaged, key, 8));
  EXPECT_FALSE(PrefilterDatabases::Deserialize(bytes.substr(0, bytes.size() - 9), key, 8));
  EXPECT_FALSE(PrefilterDatabases::Deserialize("", key, 8));
}

TEST(PrefilterKey, DependsOnEveryInput) {
  auto groups = TestGroups();
  const std::string key = PrefilterKey(groups);
  groups[0].rules[1].flags = "i";
  EXPECT_NE(PrefilterKey(groups), key);
  groups = TestGroups();
  groups[1].rules[0].rule = 9;
  EXPECT_NE(PrefilterKey(groups), key);
  groups = TestGroups();
  groups[1].lists = true;
  EXPECT_NE(PrefilterKey(groups), key);
  EXPECT_EQ(PrefilterKey(TestGroups()), key);
}

class PrefilterSlotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/mailsift-prefilter-test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  PrefilterOptions Options(PrefilterMode mode, const std::string& cache) const {
    PrefilterOptions o;
    o.mode = mode;
    o.cache_dir = cache;
    o.check_library = false;  // the logic under test, whatever the installed library
    return o;
  }
  size_t CacheFiles() const {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir_ + "/cache")) {
      n += e.path().extension() == ".hsdb";
    }
    return n;
  }
  std::string dir_;
};

TEST_F(PrefilterSlotTest, SyncBuildWritesTheCacheAndTheNextStartLoadsIt) {
  auto first =
      PrefilterSlot::Start(TestGroups(), 8, Options(PrefilterMode::kSync, dir_ + "/cache"));
  EXPECT_EQ(first->state(), PrefilterSlot::State::kReady);
  ASSERT_NE(first->Get(), nullptr);
  EXPECT_NE(first->Describe().find("built"), std::string::npos) << first->Describe();
  EXPECT_NE(first->Describe().find("cached"), std::string::npos) << first->Describe();
  EXPECT_EQ(CacheFiles(), 1u);

  auto second =
      PrefilterSlot::Start(TestGroups(), 8, Options(PrefilterMode::kBackground, dir_ + "/cache"));
  EXPECT_EQ(second->state(), PrefilterSlot::State::kReady);  // at once, from the file
  ASSERT_NE(second->Get(), nullptr);
  EXPECT_NE(second->Describe().find("loaded from"), std::string::npos) << second->Describe();
  EXPECT_EQ(second->Get()->GroupOf(2), 0);
}

TEST_F(PrefilterSlotTest, DamagedCacheFileIsRebuilt) {
  auto first =
      PrefilterSlot::Start(TestGroups(), 8, Options(PrefilterMode::kSync, dir_ + "/cache"));
  ASSERT_EQ(first->state(), PrefilterSlot::State::kReady);
  for (const auto& e : std::filesystem::directory_iterator(dir_ + "/cache")) {
    std::ofstream(e.path(), std::ios::binary | std::ios::trunc) << "MAILSIFT-PREFILTER 1\ngarbage";
  }
  auto second =
      PrefilterSlot::Start(TestGroups(), 8, Options(PrefilterMode::kSync, dir_ + "/cache"));
  EXPECT_EQ(second->state(), PrefilterSlot::State::kReady);
  EXPECT_NE(second->Describe().find("built"), std::string::npos) << second->Describe();
}

TEST_F(PrefilterSlotTest, CacheDirectoryThatCannotBeWrittenStillWorks) {
  // A path below a regular file can never be created, even by root.
  std::ofstream(dir_ + "/file") << "x";
  auto slot =
      PrefilterSlot::Start(TestGroups(), 8, Options(PrefilterMode::kSync, dir_ + "/file/cache"));
  EXPECT_EQ(slot->state(), PrefilterSlot::State::kReady);
  ASSERT_NE(slot->Get(), nullptr);
  EXPECT_NE(slot->Describe().find("not cached"), std::string::npos) << slot->Describe();
  EXPECT_FALSE(slot->BuildingForCache());
}

TEST_F(PrefilterSlotTest, BackgroundBuildIsPublishedWhenReady) {
  std::promise<void> gate;
  PrefilterOptions o = Options(PrefilterMode::kBackground, dir_ + "/cache");
  o.start_gate = gate.get_future().share();
  auto slot = PrefilterSlot::Start(TestGroups(), 8, o);
  EXPECT_EQ(slot->state(), PrefilterSlot::State::kBuilding);
  EXPECT_EQ(slot->Get(), nullptr);  // callers run every rule meanwhile
  EXPECT_TRUE(slot->BuildingForCache());
  EXPECT_FALSE(slot->Wait(std::chrono::milliseconds(20)));
  gate.set_value();
  ASSERT_TRUE(slot->Wait(std::chrono::seconds(60)));
  EXPECT_EQ(slot->state(), PrefilterSlot::State::kReady);
  EXPECT_NE(slot->Get(), nullptr);
  EXPECT_EQ(CacheFiles(), 1u);
}

TEST_F(PrefilterSlotTest, CancelledBuildPublishesNothing) {
  std::promise<void> gate;
  PrefilterOptions o = Options(PrefilterMode::kBackground, "");
  o.start_gate = gate.get_future().share();
  auto slot = PrefilterSlot::Start(TestGroups(), 8, o);
  EXPECT_FALSE(slot->BuildingForCache());  // no cache to wait for
  slot->Cancel();
  gate.set_value();
  ASSERT_TRUE(slot->Wait(std::chrono::seconds(60)));
  EXPECT_EQ(slot->state(), PrefilterSlot::State::kFailed);
  EXPECT_EQ(slot->Get(), nullptr);
}

TEST_F(PrefilterSlotTest, OffMeansNoDatabases) {
  auto slot = PrefilterSlot::Start(TestGroups(), 8, Options(PrefilterMode::kOff, dir_ + "/cache"));
  EXPECT_EQ(slot->state(), PrefilterSlot::State::kOff);
  EXPECT_EQ(slot->Get(), nullptr);
  EXPECT_TRUE(slot->Wait(std::chrono::milliseconds(0)));
}

}  // namespace
}  // namespace mailsift::rules
