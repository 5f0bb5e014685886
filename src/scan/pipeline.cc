// scan/pipeline.cc — see pipeline.h.
#include "scan/pipeline.h"

#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <thread>

namespace mailsift::scan {
namespace {

size_t PoolSize(int threads) {
  if (threads > 0) return static_cast<size_t>(threads);
  unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 2 : cores;
}

}  // namespace

Pipeline::Pipeline(std::vector<std::unique_ptr<Check>> checks, int threads)
    : checks_(std::move(checks)), pool_(PoolSize(threads)) {}

Pipeline::~Pipeline() { pool_.join(); }

std::vector<CheckResult> Pipeline::RunNow(const MessageInput& message) const {
  std::vector<CheckResult> results;
  results.reserve(checks_.size());
  for (const auto& check : checks_) {
    auto start = std::chrono::steady_clock::now();
    results.push_back(check->Run(message));
    results.back().elapsed = std::chrono::steady_clock::now() - start;
  }
  return results;
}

asio::awaitable<std::optional<std::vector<CheckResult>>> Pipeline::Scan(
    MessageInput message, std::chrono::steady_clock::time_point deadline) {
  auto executor = co_await asio::this_coro::executor;
  struct State {
    explicit State(asio::any_io_executor e) : timer(std::move(e)) {}
    asio::steady_timer timer;
    std::optional<std::vector<CheckResult>> results;
  };
  auto state = std::make_shared<State>(executor);
  state->timer.expires_at(deadline);
  asio::post(pool_, [this, state, executor, message = std::move(message)]() mutable {
    std::vector<CheckResult> results = RunNow(message);
    // Back on the session's thread: hand over the results and wake the session.
    asio::post(executor, [state, results = std::move(results)]() mutable {
      state->results = std::move(results);
      state->timer.cancel();
    });
  });
  co_await state->timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  co_return std::move(state->results);
}

}  // namespace mailsift::scan
