// Tests of the supervisor's timers with a clock the test moves forward by hand.
#include "supervisor/deadlines.h"

#include <gtest/gtest.h>

namespace mailsift::supervisor {
namespace {

using Clock = Deadlines::Clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

const Clock::time_point kStart = Clock::time_point() + std::chrono::hours(1);
constexpr Clock::time_point kNever = Clock::time_point::max();

TEST(Deadlines, NothingIsDueWhenNothingIsSet) {
  Deadlines d;
  EXPECT_EQ(d.Next(), kNever);
  EXPECT_FALSE(d.GenerationDue(1, kStart));
  EXPECT_FALSE(d.TakeRestart(kStart + std::chrono::hours(100)));
  EXPECT_FALSE(d.TakeStop(kStart + std::chrono::hours(100)));
  EXPECT_EQ(d.crashes_in_a_row(), 0);
}

TEST(Deadlines, AStartingGenerationIsDueAtItsReadyTimeoutUntilCleared) {
  Deadlines d;
  d.AwaitReady(3, kStart, config::Seconds(30));
  EXPECT_EQ(d.Next(), kStart + seconds(30));
  EXPECT_FALSE(d.GenerationDue(3, kStart + seconds(30) - milliseconds(1)));
  EXPECT_TRUE(d.GenerationDue(3, kStart + seconds(30)));
  EXPECT_TRUE(d.GenerationDue(3, kStart + seconds(31)));   // stays due
  EXPECT_FALSE(d.GenerationDue(4, kStart + seconds(31)));  // another generation
  d.Clear(3);                                              // READY
  EXPECT_FALSE(d.GenerationDue(3, kStart + seconds(31)));
  EXPECT_EQ(d.Next(), kNever);
}

TEST(Deadlines, AFractionalReadyTimeoutIsKept) {
  Deadlines d;
  d.AwaitReady(1, kStart, config::Seconds(0.25));
  EXPECT_FALSE(d.GenerationDue(1, kStart + milliseconds(249)));
  EXPECT_TRUE(d.GenerationDue(1, kStart + milliseconds(250)));
}

TEST(Deadlines, ADrainingGenerationHasDrainTimeoutAndTheGrace) {
  Deadlines d;
  d.AwaitExit(2, kStart, config::Seconds(60));
  EXPECT_EQ(Deadlines::kDrainGrace, config::Seconds(5));
  EXPECT_FALSE(d.GenerationDue(2, kStart + seconds(64)));
  EXPECT_TRUE(d.GenerationDue(2, kStart + seconds(65)));
}

TEST(Deadlines, ReadyThenDrainingReplacesTheDeadline) {
  Deadlines d;
  d.AwaitReady(5, kStart, config::Seconds(30));
  d.AwaitExit(5, kStart + seconds(10), config::Seconds(60));
  EXPECT_FALSE(d.GenerationDue(5, kStart + seconds(30)));
  EXPECT_TRUE(d.GenerationDue(5, kStart + seconds(75)));
}

TEST(Deadlines, NextIsTheEarliestOfEveryKind) {
  Deadlines d;
  d.AwaitExit(1, kStart, config::Seconds(60));   // at 65 s
  d.AwaitReady(2, kStart, config::Seconds(30));  // at 30 s
  d.Stop(kStart, false, config::Seconds(60));    // at 65 s
  EXPECT_EQ(d.Next(), kStart + seconds(30));
  d.RetryRestart(kStart);  // at 5 s
  EXPECT_EQ(d.Next(), kStart + seconds(5));
  ASSERT_TRUE(d.TakeRestart(kStart + seconds(5)));
  d.Clear(2);
  EXPECT_EQ(d.Next(), kStart + seconds(65));
}

TEST(Deadlines, CrashRestartsBackOffFromNoneToThirtySeconds) {
  Deadlines d;
  Clock::time_point now = kStart;
  std::vector<long long> delays;
  for (int crash = 0; crash < 8; ++crash) {
    d.RestartAfterCrash(now);
    Clock::time_point at = d.Next();
    delays.push_back(std::chrono::duration_cast<seconds>(at - now).count());
    EXPECT_FALSE(d.TakeRestart(at - milliseconds(1))) << "crash " << crash;
    EXPECT_TRUE(d.TakeRestart(at)) << "crash " << crash;
    EXPECT_FALSE(d.TakeRestart(at)) << "taken once, crash " << crash;
    now = at + seconds(1);  // the replacement started, and crashed a second later
  }
  EXPECT_EQ(delays, (std::vector<long long>{0, 2, 4, 8, 16, 30, 30, 30}));
  EXPECT_EQ(d.crashes_in_a_row(), 8);
}

TEST(Deadlines, AFailedStartWithNothingServingWaitsAtLeastASecond) {
  Deadlines d;
  std::vector<long long> delays;
  for (int failure = 0; failure < 7; ++failure) {
    d.RestartAfterFailedStart(kStart);
    delays.push_back(std::chrono::duration_cast<seconds>(d.Next() - kStart).count());
    ASSERT_TRUE(d.TakeRestart(d.Next()));
  }
  EXPECT_EQ(delays, (std::vector<long long>{1, 2, 4, 8, 16, 30, 30}));
}

TEST(Deadlines, CrashesAndFailedStartsCountTogetherUntilServed) {
  Deadlines d;
  d.RestartAfterCrash(kStart);        // at once
  d.RestartAfterFailedStart(kStart);  // the replacement failed: 2 s
  EXPECT_EQ(d.Next(), kStart + seconds(2));
  d.RestartAfterCrash(kStart);  // 4 s
  EXPECT_EQ(d.Next(), kStart + seconds(4));
  ASSERT_TRUE(d.TakeRestart(kStart + seconds(4)));
  d.Served();  // a generation said READY
  EXPECT_EQ(d.crashes_in_a_row(), 0);
  d.RestartAfterCrash(kStart + seconds(100));
  EXPECT_EQ(d.Next(), kStart + seconds(100));
}

TEST(Deadlines, ARestartThatCouldNotSpawnIsRetriedAfterFiveSeconds) {
  Deadlines d;
  d.RestartNow(kStart);
  ASSERT_TRUE(d.TakeRestart(kStart));
  d.RetryRestart(kStart + milliseconds(3));
  EXPECT_FALSE(d.TakeRestart(kStart + seconds(5)));
  EXPECT_TRUE(d.TakeRestart(kStart + seconds(5) + milliseconds(3)));
  EXPECT_EQ(d.crashes_in_a_row(), 0);  // a retry is no crash
}

TEST(Deadlines, AGracefulStopKillsAfterTheDrainTimeoutAndTheGrace) {
  Deadlines d;
  d.Stop(kStart, false, config::Seconds(60));
  EXPECT_EQ(d.Next(), kStart + seconds(65));
  EXPECT_FALSE(d.TakeStop(kStart + seconds(64)));
  EXPECT_TRUE(d.TakeStop(kStart + seconds(65)));
  EXPECT_FALSE(d.TakeStop(kStart + seconds(66)));  // once
  EXPECT_EQ(d.Next(), kNever);
}

TEST(Deadlines, AFastStopIsDueAtOnceEvenDuringAGracefulOne) {
  Deadlines d;
  d.Stop(kStart, false, config::Seconds(60));
  d.Stop(kStart + seconds(1), true, config::Seconds(60));
  EXPECT_TRUE(d.TakeStop(kStart + seconds(1)));
}

TEST(PollTimeout, WakesJustPastTheDeadlineAndAtLeastEverySecond) {
  EXPECT_EQ(PollTimeout(kNever, kStart), 1000);
  EXPECT_EQ(PollTimeout(kStart + seconds(30), kStart), 1000);
  EXPECT_EQ(PollTimeout(kStart + milliseconds(200), kStart), 201);
  EXPECT_EQ(PollTimeout(kStart + std::chrono::microseconds(300), kStart), 1);
  EXPECT_EQ(PollTimeout(kStart, kStart), 1);
  EXPECT_EQ(PollTimeout(kStart - seconds(2), kStart), 0);
}

}  // namespace
}  // namespace mailsift::supervisor
