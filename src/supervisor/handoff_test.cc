// supervisor/handoff_test.cc — the handoff's states: queued reloads, each client served once.
#include "supervisor/handoff.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mailsift::supervisor {
namespace {

using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using Answers = std::vector<std::pair<int, std::string>>;

TEST(Handoff, StartsIdle) {
  Handoff h;
  EXPECT_TRUE(h.idle());
  EXPECT_EQ(h.state(), Handoff::State::kIdle);
  EXPECT_EQ(h.generation(), 0);
  EXPECT_FALSE(h.reload_queued());
  EXPECT_FALSE(h.upgrade_queued());
  EXPECT_FALSE(h.TakeQueuedReload());
  EXPECT_FALSE(h.TakeQueuedUpgrade());
}

TEST(Handoff, EndGivesBackWhatBeginHeld) {
  Handoff h;
  Handoff::Held held(Handoff::Kind::kReload);
  held.opened = {7, 8};
  held.metrics = MetricsSocket{9, {}};
  held.clients = {11};
  h.Begin(4, std::move(held));
  EXPECT_EQ(h.state(), Handoff::State::kStarting);
  EXPECT_EQ(h.generation(), 4);
  EXPECT_EQ(h.held().kind, Handoff::Kind::kReload);
  Handoff::Held back = h.End();
  EXPECT_TRUE(h.idle());
  EXPECT_EQ(h.generation(), 0);
  EXPECT_EQ(back.kind, Handoff::Kind::kReload);
  EXPECT_THAT(back.opened, ElementsAre(7, 8));
  ASSERT_TRUE(back.metrics);
  EXPECT_EQ(back.metrics->fd, 9);
  EXPECT_THAT(back.clients, ElementsAre(11));
  EXPECT_FALSE(back.config);
  EXPECT_THAT(h.held().clients, IsEmpty());
}

TEST(Handoff, QueuedReloadServesEveryClientOnce) {
  Handoff h;
  h.Begin(2, Handoff::Held(Handoff::Kind::kFirstStart));
  h.QueueReload(5);
  h.QueueReload(-1);  // a signal's
  h.QueueReload(6);
  EXPECT_TRUE(h.reload_queued());
  auto clients = h.TakeQueuedReload();
  ASSERT_TRUE(clients);
  EXPECT_THAT(*clients, ElementsAre(5, 6));
  EXPECT_FALSE(h.TakeQueuedReload());
}

TEST(Handoff, AReloadQueuedBySignalHasNoClient) {
  Handoff h;
  h.QueueReload(-1);
  auto clients = h.TakeQueuedReload();
  ASSERT_TRUE(clients);
  EXPECT_THAT(*clients, IsEmpty());
}

TEST(Handoff, OneUpgradeWaitsAtATime) {
  Handoff h;
  EXPECT_TRUE(h.QueueUpgrade(3));
  EXPECT_FALSE(h.QueueUpgrade(4));
  EXPECT_EQ(h.TakeQueuedUpgrade(), 3);
  EXPECT_FALSE(h.upgrade_queued());
  EXPECT_TRUE(h.QueueUpgrade(-1));
  EXPECT_EQ(h.TakeQueuedUpgrade(), -1);
}

TEST(Handoff, StoppingTakesTheHandoffsClientsThenTheQueuedOnes) {
  Handoff h;
  Handoff::Held held(Handoff::Kind::kReload);
  held.clients = {10};
  h.Begin(3, std::move(held));
  h.QueueReload(12);
  h.QueueReload(13);
  EXPECT_THAT(h.TakeWaitingClients(), ElementsAre(10, 12, 13));
  EXPECT_THAT(h.TakeWaitingClients(), IsEmpty());
  EXPECT_TRUE(h.reload_queued());  // refused when it runs: the service is stopping
  EXPECT_EQ(h.generation(), 3);
}

TEST(ReloadAnswers, WaitForTheOldGenerationToStopAccepting) {
  ReloadAnswers answers;
  const auto t0 = ReloadAnswers::Clock::time_point{} + std::chrono::hours(1);
  EXPECT_EQ(answers.Due(), ReloadAnswers::Clock::time_point::max());
  answers.Add({5, 6}, "ok generation 2 serving", t0);
  EXPECT_EQ(answers.Due(), t0 + ReloadAnswers::kStopAcceptingWait);
  EXPECT_THAT(answers.TakeDue(t0 + milliseconds(10), true), IsEmpty());
  EXPECT_THAT(answers.TakeDue(t0 + milliseconds(20), false),
              ElementsAre(Answers::value_type{5, "ok generation 2 serving"},
                          Answers::value_type{6, "ok generation 2 serving"}));
  EXPECT_TRUE(answers.empty());
}

TEST(ReloadAnswers, GoOutAtTheDeadlineWhateverTheOldGenerationDoes) {
  ReloadAnswers answers;
  const auto t0 = ReloadAnswers::Clock::time_point{} + std::chrono::hours(1);
  answers.Add({5}, "ok", t0);
  EXPECT_THAT(answers.TakeDue(t0 + ReloadAnswers::kStopAcceptingWait - milliseconds(1), true),
              IsEmpty());
  EXPECT_THAT(answers.TakeDue(t0 + ReloadAnswers::kStopAcceptingWait, true),
              ElementsAre(Answers::value_type{5, "ok"}));
}

TEST(ReloadAnswers, ANewHandoffRestartsTheWait) {
  ReloadAnswers answers;
  const auto t0 = ReloadAnswers::Clock::time_point{} + std::chrono::hours(1);
  answers.Add({5}, "ok 2", t0);
  answers.Add({}, "ok 3", t0 + milliseconds(1500));  // a handoff nobody waited for
  EXPECT_THAT(answers.TakeDue(t0 + ReloadAnswers::kStopAcceptingWait, true), IsEmpty());
  EXPECT_EQ(answers.Due(), t0 + milliseconds(1500) + ReloadAnswers::kStopAcceptingWait);
}

}  // namespace
}  // namespace mailsift::supervisor
