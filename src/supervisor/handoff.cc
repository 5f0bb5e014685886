// supervisor/handoff.cc — see handoff.h.
#include "supervisor/handoff.h"

namespace mailsift::supervisor {

void Handoff::Begin(int number, Held held) {
  state_ = State::kStarting;
  generation_ = number;
  held_ = std::move(held);
}

Handoff::Held Handoff::End() {
  Held held = std::move(held_);
  held_ = Held{};
  state_ = State::kIdle;
  generation_ = 0;
  return held;
}

void Handoff::QueueReload(int client) {
  reload_queued_ = true;
  if (client >= 0) queued_clients_.push_back(client);
}

std::optional<std::vector<int>> Handoff::TakeQueuedReload() {
  if (!reload_queued_) return std::nullopt;
  reload_queued_ = false;
  std::vector<int> clients = std::move(queued_clients_);
  queued_clients_.clear();
  return clients;
}

bool Handoff::QueueUpgrade(int client) {
  if (upgrade_queued_) return false;
  upgrade_queued_ = true;
  upgrade_client_ = client;
  return true;
}

std::optional<int> Handoff::TakeQueuedUpgrade() {
  if (!upgrade_queued_) return std::nullopt;
  upgrade_queued_ = false;
  int client = upgrade_client_;
  upgrade_client_ = -1;
  return client;
}

std::vector<int> Handoff::TakeWaitingClients() {
  std::vector<int> clients = std::move(held_.clients);
  held_.clients.clear();
  clients.insert(clients.end(), queued_clients_.begin(), queued_clients_.end());
  queued_clients_.clear();
  return clients;
}

void ReloadAnswers::Add(const std::vector<int>& clients, const std::string& text,
                        Clock::time_point now) {
  for (int client : clients) answers_.push_back({client, text});
  until_ = now + kStopAcceptingWait;
}

std::vector<std::pair<int, std::string>> ReloadAnswers::TakeDue(Clock::time_point now,
                                                                bool old_still_accepting) {
  if (answers_.empty() || (old_still_accepting && now < until_)) return {};
  std::vector<std::pair<int, std::string>> due = std::move(answers_);
  answers_.clear();
  return due;
}

}  // namespace mailsift::supervisor
