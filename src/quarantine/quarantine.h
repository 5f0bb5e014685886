// quarantine/quarantine.h — amavisd-style local quarantine: blocked messages kept on disk.
//
// Each quarantined message is one file holding the bytes exactly as the client sent them
// (CRLF lines, without dot-stuffing), at <directory>/<first letter of the mail id>/
// <kind>-<mail id> ("virus-", "banned-", "spam-", "badh-", "unchecked-" as amavisd names them).
// The index, <directory>/index, has one tab-separated line per message — mail id, time, the
// log's category text, action, sender, recipients, size, file, Message-ID, Subject — and a
// line per release ("released", mail id, time, the next hop's reply). Lines are appended with
// one write() on an O_APPEND descriptor, so two generations writing at once never interleave
// their lines. `mailsift quarantine list|show|release` read it.
//
// Thread-safety: Store is immutable; Put() may be called from several threads at once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "spool/spool.h"

namespace mailsift::quarantine {

struct Entry {
  std::string mail_id;
  std::string time;      // UTC, ISO 8601 ("2026-11-30T01:02:03Z")
  std::string category;  // the log's category text: "INFECTED (Eicar-Test-Signature)"
  std::string action;    // "pass", "reject", "discard", "tempfail"
  std::string sender;    // envelope, without <>
  std::vector<std::string> recipients;
  uint64_t size = 0;
  std::string file;  // relative to the directory: "a/virus-aBcD3fGh1jKl"
  std::string message_id;
  std::string subject;
  std::string released;       // the next hop's reply if released, else ""
  std::string released_time;  // UTC, ISO 8601, of the last release; "" if unknown or none
  int releases = 0;           // how many times it was released
};

class Store {
 public:
  explicit Store(std::string directory) : directory_(std::move(directory)) {}
  const std::string& directory() const { return directory_; }

  // Writes the message and its index line; `kind` is the file prefix ("virus", "spam", …).
  // Returns the file name relative to the directory (the log's "quarantine:" field).
  Result<std::string> Put(Entry entry, std::string_view kind, const spool::Spool& message) const;

  // Every quarantined message, oldest first, with its release state.
  Result<std::vector<Entry>> List() const;
  Result<Entry> Find(std::string_view mail_id) const;
  // The message bytes as received.
  Result<std::string> Read(const Entry& entry) const;
  // Records a release (the next hop's reply) in the index.
  Status MarkReleased(std::string_view mail_id, std::string_view reply) const;

 private:
  Status AppendIndex(std::string_view line) const;
  std::string directory_;
};

}  // namespace mailsift::quarantine
