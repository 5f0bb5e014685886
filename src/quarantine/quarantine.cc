// quarantine/quarantine.cc — see quarantine.h.
#include "quarantine/quarantine.h"

#include <fcntl.h>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/fd.h"

namespace mailsift::quarantine {
namespace {

constexpr std::string_view kReleased = "released";

// Index fields never hold a tab or a line break: those (and other controls) become spaces.
std::string Field(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

std::vector<std::string> SplitTabs(std::string_view line) {
  std::vector<std::string> fields;
  size_t start = 0;
  while (true) {
    size_t tab = line.find('\t', start);
    fields.emplace_back(line.substr(start, tab - start));
    if (tab == std::string_view::npos) break;
    start = tab + 1;
  }
  return fields;
}

std::string Errno(std::string_view what, const std::string& path) {
  return fmt::format("quarantine: {} {}: {}", what, path, std::strerror(errno));
}

Status WriteOrFail(int fd, std::string_view data, const std::string& path) {
  if (!WriteAll(fd, data)) return Fail(Errno("cannot write", path));
  return {};
}

}  // namespace

Status Store::AppendIndex(std::string_view line) const {
  std::string path = directory_ + "/index";
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Fail(Errno("cannot open", path));
  Status written = WriteOrFail(fd, line, path);
  ::close(fd);
  return written;
}

Result<std::string> Store::Put(Entry entry, std::string_view kind,
                               const spool::Spool& message) const {
  if (entry.mail_id.empty()) return Fail("quarantine: a message without a mail id");
  std::string subdir = directory_ + "/" + entry.mail_id.substr(0, 1);
  std::error_code error;
  std::filesystem::create_directories(directory_, error);
  if (error) {
    return Fail(fmt::format("quarantine: cannot create {}: {}", directory_, error.message()));
  }
  if (::mkdir(subdir.c_str(), 0750) != 0 && errno != EEXIST) {
    return Fail(Errno("cannot create", subdir));
  }
  entry.file = fmt::format("{}/{}-{}", entry.mail_id.substr(0, 1), kind, entry.mail_id);
  std::string path = directory_ + "/" + entry.file;
  std::string temp = path + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return Fail(Errno("cannot create", temp));
  spool::Spool::Reader reader(message);
  std::string buffer;
  Status written;
  while (written) {
    auto chunk = reader.Next(buffer);
    if (!chunk) {
      written = Fail("quarantine: cannot read the spooled message: " + chunk.error().message);
      break;
    }
    if (chunk->empty()) break;
    written = WriteOrFail(fd, *chunk, temp);
  }
  if (written && ::fsync(fd) != 0) written = Fail(Errno("cannot sync", temp));
  ::close(fd);
  if (written && ::rename(temp.c_str(), path.c_str()) != 0) {
    written = Fail(Errno("cannot rename", temp));
  }
  if (!written) {
    ::unlink(temp.c_str());
    return tl::unexpected(written.error());
  }
  std::string recipients;
  for (const std::string& r : entry.recipients) {
    if (!recipients.empty()) recipients += ',';
    recipients += Field(r);
  }
  std::string line = fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n", Field(entry.mail_id),
                                 Field(entry.time), Field(entry.category), Field(entry.action),
                                 Field(entry.sender), recipients, entry.size, Field(entry.file),
                                 Field(entry.message_id), Field(entry.subject));
  if (Status indexed = AppendIndex(line); !indexed) return tl::unexpected(indexed.error());
  return entry.file;
}

Result<std::vector<Entry>> Store::List() const {
  std::string path = directory_ + "/index";
  std::ifstream in(path);
  std::vector<Entry> entries;
  if (!in) {
    if (::access(directory_.c_str(), R_OK | X_OK) != 0) {
      return Fail(Errno("cannot read", directory_));
    }
    return entries;  // nothing quarantined yet
  }
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> f = SplitTabs(line);
    if (f.size() >= 4 && f[0] == kReleased) {
      for (Entry& e : entries) {
        if (e.mail_id != f[1]) continue;
        e.released = f[3].empty() ? "released" : f[3];
        e.released_time = f[2];
        ++e.releases;
      }
      continue;
    }
    if (f.size() < 10) continue;  // a line cut short by a crash: skipped
    Entry e;
    e.mail_id = f[0];
    e.time = f[1];
    e.category = f[2];
    e.action = f[3];
    e.sender = f[4];
    std::stringstream recipients(f[5]);
    for (std::string r; std::getline(recipients, r, ',');) e.recipients.push_back(r);
    e.size = std::strtoull(f[6].c_str(), nullptr, 10);
    e.file = f[7];
    e.message_id = f[8];
    e.subject = f[9];
    entries.push_back(std::move(e));
  }
  return entries;
}

Result<Entry> Store::Find(std::string_view mail_id) const {
  auto entries = List();
  if (!entries) return tl::unexpected(entries.error());
  for (Entry& e : *entries) {
    if (e.mail_id == mail_id) return std::move(e);
  }
  return Fail(fmt::format("quarantine: no message with mail id {} in {}", mail_id, directory_));
}

Result<std::string> Store::Read(const Entry& entry) const {
  std::string path = directory_ + "/" + entry.file;
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(Errno("cannot read", path));
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

Status Store::MarkReleased(std::string_view mail_id, std::string_view reply) const {
  return AppendIndex(fmt::format("{}\t{}\t{:%Y-%m-%dT%H:%M:%SZ}\t{}\n", kReleased, Field(mail_id),
                                 fmt::gmtime(std::time(nullptr)), Field(reply)));
}

}  // namespace mailsift::quarantine
