#include "smtp/trace.h"

#include <fmt/format.h>

#include <ctime>
#include <random>

#include "base/strings.h"

namespace mailsift::smtp {

std::string NewMailId() {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
  thread_local std::mt19937_64 generator{std::random_device{}()};
  uint64_t bits = generator();
  std::string id(12, 'A');
  for (char& c : id) {
    c = kAlphabet[bits & 63];
    bits >>= 6;
  }
  // A mail id never starts with '-', so it can't be mistaken for an option.
  if (id[0] == '-') id[0] = 'x';
  return id;
}

std::string Rfc5322Date(std::chrono::system_clock::time_point when) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm tm_utc;
  gmtime_r(&seconds, &tm_utc);
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  return fmt::format("{}, {} {} {} {:02}:{:02}:{:02} +0000", kDays[tm_utc.tm_wday], tm_utc.tm_mday,
                     kMonths[tm_utc.tm_mon], tm_utc.tm_year + 1900, tm_utc.tm_hour, tm_utc.tm_min,
                     tm_utc.tm_sec);
}

std::string ReceivedHeader(const ReceivedFacts& facts) {
  std::string from = facts.client_addr.empty()
                         ? fmt::format("{} (local)", facts.helo)
                         : fmt::format("{} ([{}])", facts.helo, facts.client_addr);
  std::string recipient =
      facts.single_recipient.empty() ? "" : fmt::format(" for <{}>", facts.single_recipient);
  return fmt::format("Received: from {}\r\n by {} (mailsift, {})\r\n with {} id {}{};\r\n {}\r\n",
                     from, facts.hostname, facts.listener, facts.protocol, facts.mail_id, recipient,
                     Rfc5322Date(facts.when));
}

}  // namespace mailsift::smtp
