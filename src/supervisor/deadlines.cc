// supervisor/deadlines.cc — see deadlines.h.
#include "supervisor/deadlines.h"

#include <algorithm>

namespace mailsift::supervisor {
namespace {

using Clock = Deadlines::Clock;

Clock::time_point After(Clock::time_point now, config::Seconds seconds) {
  return now + std::chrono::duration_cast<Clock::duration>(seconds);
}

// 1, 2, 4, 8, 16, then 30 s for the crashes in a row so far.
config::Seconds Backoff(int crashes_in_a_row) {
  return config::Seconds(std::min(30, 1 << std::min(crashes_in_a_row, 5)));
}

}  // namespace

void Deadlines::AwaitReady(int generation, Clock::time_point now, config::Seconds ready_timeout) {
  generations_[generation] = After(now, ready_timeout);
}

void Deadlines::AwaitExit(int generation, Clock::time_point now, config::Seconds drain_timeout) {
  generations_[generation] = After(now, drain_timeout + kDrainGrace);
}

void Deadlines::Clear(int generation) { generations_.erase(generation); }

bool Deadlines::GenerationDue(int generation, Clock::time_point now) const {
  auto it = generations_.find(generation);
  return it != generations_.end() && now >= it->second;
}

void Deadlines::RestartAfterCrash(Clock::time_point now) {
  restart_at_ =
      After(now, crashes_in_a_row_ == 0 ? config::Seconds(0) : Backoff(crashes_in_a_row_));
  ++crashes_in_a_row_;
}

void Deadlines::RestartAfterFailedStart(Clock::time_point now) {
  restart_at_ = After(now, Backoff(crashes_in_a_row_));
  ++crashes_in_a_row_;
}

void Deadlines::RetryRestart(Clock::time_point now) { restart_at_ = After(now, kSpawnRetry); }

void Deadlines::RestartNow(Clock::time_point now) { restart_at_ = now; }

bool Deadlines::TakeRestart(Clock::time_point now) {
  if (now < restart_at_) return false;
  restart_at_ = Clock::time_point::max();
  return true;
}

void Deadlines::Stop(Clock::time_point now, bool fast, config::Seconds drain_timeout) {
  stop_at_ = fast ? now : After(now, drain_timeout + kDrainGrace);
}

bool Deadlines::TakeStop(Clock::time_point now) {
  if (now < stop_at_) return false;
  stop_at_ = Clock::time_point::max();
  return true;
}

Clock::time_point Deadlines::Next() const {
  Clock::time_point next = std::min(restart_at_, stop_at_);
  for (const auto& [generation, deadline] : generations_) next = std::min(next, deadline);
  return next;
}

int PollTimeout(Clock::time_point next, Clock::time_point now) {
  if (next == Clock::time_point::max()) return Deadlines::kMaxPollTimeoutMs;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count();
  return static_cast<int>(std::clamp<long long>(ms + 1, 0, Deadlines::kMaxPollTimeoutMs));
}

}  // namespace mailsift::supervisor
