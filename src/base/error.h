// base/error.h — the error and result types every fallible function returns.
//
// A Result<T> is either a value or an Error that says, in words a mail administrator can act
// on, what went wrong. No exception crosses a module boundary; adapters around libraries that
// throw catch and convert. Thread-safety: plain values, no shared state.
#pragma once

#include <string>
#include <tl/expected.hpp>
#include <utility>

namespace mailsift {

struct Error {
  std::string message;
};

template <typename T>
using Result = tl::expected<T, Error>;
using Status = tl::expected<void, Error>;

inline tl::unexpected<Error> Fail(std::string message) {
  return tl::unexpected<Error>(Error{std::move(message)});
}

}  // namespace mailsift
