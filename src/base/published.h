// base/published.h — a value one thread publishes and others read: a shared_ptr to const
// behind a mutex.
//
// In place of std::atomic<std::shared_ptr<const T>>: libstdc++ 12 ends its load() with a
// relaxed unlock, so a reader's copy of the pointer is not ordered before the next store's
// write of it, a data race by the memory model that ThreadSanitizer reports. A mutex costs a
// reader about as much (one uncontended lock per read; readers here read once per message).
//
// Thread-safety: Load and Store may be called from any threads at once.
#pragma once

#include <memory>
#include <mutex>
#include <utility>

namespace mailsift {

template <class T>
class Published {
 public:
  std::shared_ptr<const T> Load() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return value_;
  }
  void Store(std::shared_ptr<const T> value) {
    std::lock_guard<std::mutex> lock(mutex_);
    value_.swap(value);  // the old value, if last, is freed outside the lock
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const T> value_;
};

}  // namespace mailsift
