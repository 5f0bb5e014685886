// rules/prefilter/multi_prefilter.cc — see multi_prefilter.h.
#include "rules/prefilter/multi_prefilter.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <hs/hs.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <thread>
#include <utility>

#include "base/fd.h"
#include "base/strings.h"
#include "rules/prefilter/hs_expression.h"

namespace mailsift::rules {
namespace {

// Bumped whenever hs_expression.cc writes different expressions for the same pattern, so that
// cache files of an older translation are not used.
constexpr int kExpressionVersion = 8;
constexpr std::string_view kMagic = "MAILSIFT-PREFILTER 1\n";
constexpr unsigned kHsFlags = HS_FLAG_SINGLEMATCH | HS_FLAG_MULTILINE;
// Repeated-group rules: every end of a match is reported.
constexpr unsigned kHsRepeatFlags = HS_FLAG_MULTILINE;
// More ends than this in one scan: the repeated-group rules of the group all run as usual.
constexpr size_t kMaxRepeatEnds = 1 << 16;
// Repeated groups written longer than this are only checked group by group.
constexpr size_t kLargeRepeatedGroup = 2000;
// Repeated groups whose expression leaves off more than this are only counted, not followed.
constexpr long kMaxRepeatTail = 64;
// Expressions written longer than this are compiled with their repeat bounds relaxed.
constexpr size_t kLongExpression = 4000;
// The nice value of the background build thread and of the builder process.
constexpr int kBuildNice = 10;
// What the slot writes to the builder process (EncodeJob).
constexpr std::string_view kJobMagic = "MAILSIFT-PREFILTER-JOB 1\n";
// Rule indexes beyond this in a job are refused (a ruleset has a few thousand).
constexpr uint64_t kMaxJobRules = uint64_t{1} << 24;
// How much of a failed builder's standard error goes into the description.
constexpr size_t kMaxBuilderMessage = 1024;
// Cache files of other keys not used for this long are removed when a new one is written.
constexpr auto kCacheMaxAge = std::chrono::hours(24 * 30);

std::atomic<uint64_t> next_serial{1};

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// A thread's scratch space, grown for every database set it has scanned with.
struct ThreadScratch {
  hs_scratch_t* scratch = nullptr;
  uint64_t serial = 0;
  ~ThreadScratch() {
    if (scratch != nullptr) hs_free_scratch(scratch);
  }
};

int OnMatch(unsigned int id, unsigned long long /*from*/, unsigned long long /*to*/,
            unsigned int /*flags*/, void* context) {
  static_cast<uint8_t*>(context)[id] = 1;
  return 0;
}

// (rule, end offset) of every match of a repeated group.
using RepeatEnds = std::vector<std::pair<uint32_t, uint32_t>>;

int OnRepeatMatch(unsigned int id, unsigned long long /*from*/, unsigned long long to,
                  unsigned int /*flags*/, void* context) {
  auto* ends = static_cast<RepeatEnds*>(context);
  if (ends->size() >= kMaxRepeatEnds) return 1;  // stop: too many to be worth it
  ends->emplace_back(id, static_cast<uint32_t>(to));
  return 0;
}

// Compiles expressions with their ids; the error names the expression that failed.
hs_database_t* CompileAll(const std::vector<std::string>& expressions,
                          const std::vector<unsigned>& ids, int* failed, std::string* error,
                          unsigned hs_flags = kHsFlags) {
  std::vector<const char*> texts;
  texts.reserve(expressions.size());
  for (const std::string& e : expressions) texts.push_back(e.c_str());
  std::vector<unsigned> flags(expressions.size(), hs_flags);
  hs_database_t* db = nullptr;
  hs_compile_error_t* compile_error = nullptr;
  if (hs_compile_multi(texts.data(), flags.data(), ids.data(), static_cast<unsigned>(texts.size()),
                       HS_MODE_BLOCK, nullptr, &db, &compile_error) != HS_SUCCESS) {
    if (compile_error != nullptr) {
      *failed = compile_error->expression;
      *error = compile_error->message;
      hs_free_compile_error(compile_error);
    }
    return nullptr;
  }
  return db;
}

void PutU32(std::string* out, uint32_t v) { out->append(reinterpret_cast<const char*>(&v), 4); }
void PutU64(std::string* out, uint64_t v) { out->append(reinterpret_cast<const char*>(&v), 8); }

void PutString(std::string* out, std::string_view v) {
  PutU32(out, static_cast<uint32_t>(v.size()));
  out->append(v);
}

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  bool U32(uint32_t* v) { return Bytes(v, 4); }
  bool U64(uint64_t* v) { return Bytes(v, 8); }
  bool Take(size_t n, std::string_view* out) {
    if (s_.size() - pos_ < n) return false;
    *out = s_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool String(std::string* out) {
    uint32_t n = 0;
    std::string_view bytes;
    if (!U32(&n) || !Take(n, &bytes)) return false;
    out->assign(bytes);
    return true;
  }
  bool AtEnd() const { return pos_ == s_.size(); }

 private:
  bool Bytes(void* v, size_t n) {
    if (s_.size() - pos_ < n) return false;
    std::memcpy(v, s_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  std::string_view s_;
  size_t pos_ = 0;
};

// A file (or memfd) mapped read-only, whose pages can be given back as they are consumed: the
// databases are deserialised from it without the whole file in memory next to them (20 MB less
// at the peak of a load). Cache files are only ever replaced by a rename, never rewritten in
// place, so a mapped one keeps its contents while another process writes the next.
class MappedBytes {
 public:
  explicit MappedBytes(int fd) {
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0 || st.st_size <= 0) return;
    void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) return;
    data_ = static_cast<const char*>(p);
    size_ = static_cast<size_t>(st.st_size);
  }
  ~MappedBytes() {
    if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
  }
  MappedBytes(const MappedBytes&) = delete;
  MappedBytes& operator=(const MappedBytes&) = delete;
  bool ok() const { return data_ != nullptr; }
  std::string_view view() const { return {data_, size_}; }
  // The pages wholly before `end` leave this process (read again from the page cache if
  // touched).
  void Release(size_t end) const {
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    const size_t length = std::min(end, size_) / page * page;
    if (length > 0) ::madvise(const_cast<char*>(data_), length, MADV_DONTNEED);
  }

 private:
  const char* data_ = nullptr;
  size_t size_ = 0;
};

// `mkdir -p` with mode 0755: the databases are no secret, and only their owner writes them.
Status MakeDirectories(const std::string& dir) {
  for (size_t end = 0; end < dir.size();) {
    end = std::min(dir.find('/', end + 1), dir.size());
    const std::string prefix = dir.substr(0, end);
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return Fail(fmt::format("cannot create {}: {}", prefix, std::strerror(errno)));
    }
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Fail(fmt::format("cannot create {}: not a directory", dir));
  }
  return {};
}

// Writes `bytes` to `path` through a temporary file in the same directory.
// `release` as for PrefilterDatabases::Deserialize: told, as the bytes are written, that those
// before an offset are no longer needed.
Status WriteFileAtomically(const std::string& path, std::string_view bytes,
                           const std::function<void(size_t)>& release = {}) {
  const std::filesystem::path target(path);
  if (auto made = MakeDirectories(target.parent_path().string()); !made) return made;
  const std::string temp = fmt::format("{}/.{}.{}.tmp", target.parent_path().string(),
                                       target.filename().string(), getpid());
  FILE* f = std::fopen(temp.c_str(), "wb");
  if (f == nullptr) return Fail(fmt::format("cannot write {}: {}", temp, std::strerror(errno)));
  bool written = true;
  constexpr size_t kChunk = 1 << 20;
  for (size_t at = 0; written && at < bytes.size(); at += kChunk) {
    const std::string_view chunk = bytes.substr(at, kChunk);
    written = std::fwrite(chunk.data(), 1, chunk.size(), f) == chunk.size();
    if (release) release(at + chunk.size());
  }
  const bool closed = std::fclose(f) == 0;
  if (!written || !closed || std::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(temp.c_str());
    return Fail(fmt::format("cannot write {}: {}", path, reason));
  }
  return {};
}

// Removes cache files of other keys that have not been used for kCacheMaxAge.
void RemoveStaleCacheFiles(const std::string& keep) {
  std::error_code ec;
  const std::filesystem::path dir = std::filesystem::path(keep).parent_path();
  const auto now = std::filesystem::file_time_type::clock::now();
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.path() == keep || name.rfind("prefilter-", 0) != 0 ||
        entry.path().extension() != ".hsdb") {
      continue;
    }
    auto mtime = entry.last_write_time(ec);
    if (!ec && now - mtime > kCacheMaxAge) std::filesystem::remove(entry.path(), ec);
  }
}

// Known false negatives of vectorscan releases: the library is not used when it misses one of
// these (Debian 12's vectorscan 5.4.9 misses all three on x86-64 with AVX-512; Hyperscan 5.4.0
// misses none). A pattern, compiled as the prefilter compiles, and a text that must match it:
// `before`, 0 to 128 times `filler`, `after`.
struct LibraryProbe {
  const char* pattern;
  const char* before;
  const char* after;
  char filler;
};
constexpr LibraryProbe kLibraryProbes[] = {
    // A one-byte literal after 64 bytes, with HS_FLAG_SINGLEMATCH.
    {"a", "", "a", 'z'},
    // SpamAssassin's INVALID_DATE on a Date with a long comment: "… -0500 (added by …)\n".
    {"0 *\\(.*\\) *\\n", "0 (", ")\n", 'a'},
    {"0 *\\([^\\n]*\\)\\s*$", "-0500 (", ")\n", 'x'},
};

// Empty when the library finds every probe; else what it missed.
std::string FindLibraryProblem() {
  for (const LibraryProbe& probe : kLibraryProbes) {
    hs_database_t* db = nullptr;
    hs_compile_error_t* error = nullptr;
    if (hs_compile(probe.pattern, kHsFlags, HS_MODE_BLOCK, nullptr, &db, &error) != HS_SUCCESS) {
      if (error != nullptr) hs_free_compile_error(error);
      return fmt::format("cannot compile its self-test pattern {}", probe.pattern);
    }
    hs_scratch_t* scratch = nullptr;
    std::string missed;
    if (hs_alloc_scratch(db, &scratch) == HS_SUCCESS) {
      for (size_t n = 0; n <= 128 && missed.empty(); ++n) {
        const std::string text = probe.before + std::string(n, probe.filler) + probe.after;
        uint8_t found = 0;
        const hs_error_t rc = hs_scan(
            db, text.data(), static_cast<unsigned>(text.size()), 0, scratch,
            [](unsigned, unsigned long long, unsigned long long, unsigned, void* c) {
              *static_cast<uint8_t*>(c) = 1;
              return 0;
            },
            &found);
        if (rc != HS_SUCCESS || !found) {
          missed = fmt::format("misses /{}/ in a text of {} bytes", probe.pattern, text.size());
        }
      }
      hs_free_scratch(scratch);
    } else {
      missed = "cannot allocate scratch space";
    }
    hs_free_database(db);
    if (!missed.empty()) return missed;
  }
  return {};
}

// Whether `times` consecutive matches of a group can end in text[.., end): starting from the ends
// of its matches in that text (`first`, ascending), each further match is one of the anchored
// group starting where the previous one ended. Exact for the group as compiled, so only a
// superset of the pattern's matches passes. True as well when the search grows too large.
bool FollowRepeats(const hs_database_t* anchored, std::string_view text, size_t end,
                   const std::vector<uint32_t>& first, uint32_t times, uint32_t tail,
                   hs_scratch_t* scratch) {
  constexpr size_t kMaxPositions = 256;
  size_t budget = 4096;  // anchored scans before giving up
  std::vector<uint32_t> current;
  for (uint32_t e : first) {
    if (e <= end) current.push_back(e);
  }
  std::vector<uint32_t> next;
  struct Context {
    uint32_t base;
    std::vector<uint32_t>* out;
  };
  for (uint32_t round = 1; round < times; ++round) {
    if (current.empty()) return false;
    if (current.size() > kMaxPositions) return true;
    next.clear();
    // The next match starts where one ends, or up to `tail` bytes later.
    std::vector<uint32_t> starts;
    for (uint32_t p : current) {
      for (uint32_t s = p; s <= p + tail && s < end; ++s) starts.push_back(s);
    }
    std::sort(starts.begin(), starts.end());
    starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
    if (starts.size() > budget) return true;
    budget -= starts.size();
    for (uint32_t p : starts) {
      Context c{p, &next};
      const hs_error_t rc = hs_scan(
          anchored, text.data() + p, static_cast<unsigned>(end - p), 0, scratch,
          [](unsigned, unsigned long long, unsigned long long to, unsigned, void* v) {
            auto* ctx = static_cast<Context*>(v);
            ctx->out->push_back(ctx->base + static_cast<uint32_t>(to));
            return 0;
          },
          &c);
      if (rc != HS_SUCCESS) return true;
    }
    std::sort(next.begin(), next.end());
    next.erase(std::unique(next.begin(), next.end()), next.end());
    current.swap(next);
  }
  return !current.empty();
}

// ---- the builder process ---------------------------------------------------------------------

// Reads `fd` from its current offset to its end, at most `limit` bytes. A file's size is known
// up front: the string is allocated once (the databases are 20 MB).
bool ReadAll(int fd, std::string* out, size_t limit = SIZE_MAX) {
  out->clear();
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    out->reserve(std::min(static_cast<size_t>(st.st_size), limit));
  }
  char chunk[65536];
  while (out->size() < limit) {
    const ssize_t n = ::read(fd, chunk, std::min(sizeof chunk, limit - out->size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) break;
    out->append(chunk, static_cast<size_t>(n));
  }
  return true;
}

// A group's bits in a job: its text is a list; its database is for ASCII texts only.
constexpr uint32_t kJobLists = 1, kJobAscii = 2;

// What the builder process is given: the pid of the process that asks (the builder stops when
// that is no longer its parent: it went away before the builder started), the rule count and
// the groups; a checksum at the end.
std::string EncodeJob(const std::vector<PrefilterGroup>& groups, size_t rule_count) {
  std::string out(kJobMagic);
  PutU32(&out, static_cast<uint32_t>(::getpid()));
  PutU64(&out, rule_count);
  PutU32(&out, static_cast<uint32_t>(groups.size()));
  for (const PrefilterGroup& g : groups) {
    PutU32(&out, (g.lists ? kJobLists : 0) | (g.text == TextBytes::kAscii ? kJobAscii : 0));
    PutU32(&out, static_cast<uint32_t>(g.rules.size()));
    for (const PrefilterRule& r : g.rules) {
      PutU32(&out, r.rule);
      PutString(&out, r.pattern);
      PutString(&out, r.flags);
    }
  }
  PutU64(&out, Fnv1a(out));
  return out;
}

struct Job {
  uint32_t parent = 0;  // 0: whoever
  size_t rule_count = 0;
  std::vector<PrefilterGroup> groups;
};

Result<Job> DecodeJob(std::string_view bytes) {
  if (bytes.size() < kJobMagic.size() + 8) return Fail("truncated");
  const std::string_view body = bytes.substr(0, bytes.size() - 8);
  uint64_t checksum;
  std::memcpy(&checksum, bytes.data() + body.size(), 8);
  if (Fnv1a(body) != checksum) return Fail("checksum mismatch");
  Reader in(body);
  std::string_view magic;
  if (!in.Take(kJobMagic.size(), &magic) || magic != kJobMagic) return Fail("not a job");
  Job job;
  uint64_t rule_count = 0;
  uint32_t groups = 0;
  if (!in.U32(&job.parent) || !in.U64(&rule_count) || !in.U32(&groups)) return Fail("truncated");
  if (rule_count > kMaxJobRules) return Fail("too many rules");
  job.rule_count = static_cast<size_t>(rule_count);
  for (uint32_t g = 0; g < groups; ++g) {
    PrefilterGroup group;
    uint32_t bits = 0, n = 0;
    if (!in.U32(&bits) || !in.U32(&n)) return Fail("truncated");
    group.lists = (bits & kJobLists) != 0;
    group.text = (bits & kJobAscii) != 0 ? TextBytes::kAscii : TextBytes::kAny;
    for (uint32_t k = 0; k < n; ++k) {
      PrefilterRule rule;
      if (!in.U32(&rule.rule) || !in.String(&rule.pattern) || !in.String(&rule.flags)) {
        return Fail("truncated");
      }
      group.rules.push_back(std::move(rule));
    }
    job.groups.push_back(std::move(group));
  }
  if (!in.AtEnd()) return Fail("trailing bytes");
  return job;
}

// The first lines a failed builder wrote to its standard error, as one line.
std::string BuilderMessage(int fd) {
  std::string text;
  if (::lseek(fd, 0, SEEK_SET) != 0 || !ReadAll(fd, &text, kMaxBuilderMessage)) return {};
  std::string out;
  std::string_view rest = text;
  while (!rest.empty()) {
    const size_t end = std::min(rest.find('\n'), rest.size());
    const std::string_view line = TrimSpaces(rest.substr(0, end));
    rest.remove_prefix(std::min(end + 1, rest.size()));
    if (line.empty()) continue;
    if (!out.empty()) out += "; ";
    out.append(line);
  }
  return out;
}

}  // namespace

int RunPrefilterBuilder() {
  // A build that nobody waits for is wasted CPU: this process dies with the thread that
  // started it (a filter process that exits, or is killed, takes its build along).
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // Scans come first (the filter's builder inherits its thread's nice 10 already).
  errno = 0;
  const int nice = ::getpriority(PRIO_PROCESS, 0);
  if (errno == 0 && nice < kBuildNice) ::setpriority(PRIO_PROCESS, 0, kBuildNice);
  std::string input;
  if (!ReadAll(STDIN_FILENO, &input)) {
    std::fprintf(stderr, "prefilter-build: cannot read the groups: %s\n", std::strerror(errno));
    return 1;
  }
  auto job = DecodeJob(input);
  if (!job) {
    std::fprintf(stderr, "prefilter-build: the groups on standard input are refused: %s\n",
                 job.error().message.c_str());
    return 1;
  }
  std::string().swap(input);
  if (job->parent != 0 && static_cast<uint32_t>(::getppid()) != job->parent) {
    std::fprintf(stderr, "prefilter-build: the process that asked has gone\n");
    return 1;
  }
  auto built = PrefilterDatabases::Build(job->groups, job->rule_count);
  if (!built) {
    std::fprintf(stderr, "prefilter-build: %s\n", built.error().message.c_str());
    return 1;
  }
  const std::string bytes = (*built)->Serialize(PrefilterKey(job->groups));
  if (bytes.empty()) {
    std::fprintf(stderr, "prefilter-build: vectorscan cannot serialise the databases\n");
    return 1;
  }
  if (!WriteAll(STDOUT_FILENO, bytes)) {
    std::fprintf(stderr, "prefilter-build: cannot write the databases: %s\n", std::strerror(errno));
    return 1;
  }
  return 0;
}

const std::string& PrefilterLibraryProblem() {
  static const std::string problem = FindLibraryProblem();
  return problem;
}

struct PrefilterDatabases::Db {
  hs_database_t* db = nullptr;  // may be null when the group has repeated-group rules only
  std::vector<uint32_t> rules;
  hs_database_t* repeats = nullptr;                         // every end of each repeated group
  std::vector<std::pair<uint32_t, uint32_t>> repeat_rules;  // (rule, times the group repeats)
  // Per repeated-group rule, the group anchored at the start of the text (null: none), to
  // follow the matches from one end on, and how far after such an end the next match may
  // start (the part of the group its expression leaves off).
  std::vector<hs_database_t*> anchored;
  std::vector<uint32_t> tails;
  size_t bytes = 0;
  ~Db() {
    if (db != nullptr) hs_free_database(db);
    if (repeats != nullptr) hs_free_database(repeats);
    for (hs_database_t* a : anchored) {
      if (a != nullptr) hs_free_database(a);
    }
  }
};

PrefilterDatabases::PrefilterDatabases() : serial_(next_serial.fetch_add(1)) {}
PrefilterDatabases::~PrefilterDatabases() = default;

size_t PrefilterDatabases::databases() const {
  return std::count_if(dbs_.begin(), dbs_.end(), [](const auto& d) { return d != nullptr; });
}

size_t PrefilterDatabases::bytes() const {
  size_t total = 0;
  for (const auto& d : dbs_) total += d ? d->bytes : 0;
  return total;
}

std::string PrefilterKey(const std::vector<PrefilterGroup>& groups) {
  uint64_t a = kFnv1aOffset, b = kFnv1aOffset ^ 0x9e3779b97f4a7c15ull;
  auto mix = [&](std::string_view s) {
    a = Fnv1a(s, a);
    b = Fnv1a(s, b);
    const uint64_t n = s.size();  // lengths too, so that pieces cannot run into each other
    a = Fnv1a(std::string_view(reinterpret_cast<const char*>(&n), sizeof n), a);
    b = Fnv1a(std::string_view(reinterpret_cast<const char*>(&n), sizeof n), b);
  };
  mix(kMagic);
  mix(std::to_string(kExpressionVersion));
  mix(hs_version());
  hs_platform_info_t platform{};
  if (hs_populate_platform(&platform) == HS_SUCCESS) {
    mix(fmt::format("{}/{}", platform.tune, platform.cpu_features));
  }
  mix(std::to_string(groups.size()));
  for (const PrefilterGroup& g : groups) {
    mix(g.lists ? "lists" : "text");
    mix(g.text == TextBytes::kAscii ? "ascii" : "bytes");
    mix(std::to_string(g.rules.size()));
    for (const PrefilterRule& r : g.rules) {
      mix(std::to_string(r.rule));
      mix(r.pattern);
      mix(r.flags);
    }
  }
  return fmt::format("{:016x}{:016x}", a, b);
}

Result<std::shared_ptr<const PrefilterDatabases>> PrefilterDatabases::Build(
    const std::vector<PrefilterGroup>& groups, size_t rule_count,
    const std::atomic<bool>* cancelled) {
  std::shared_ptr<PrefilterDatabases> out(new PrefilterDatabases());
  out->group_of_.assign(rule_count, -1);
  out->dbs_.resize(groups.size());
  auto stop = [&] { return cancelled != nullptr && cancelled->load(); };
  for (size_t g = 0; g < groups.size(); ++g) {
    std::vector<std::string> expressions;
    std::vector<unsigned> ids;
    std::vector<uint32_t> rules;
    std::vector<std::string> repeat_expressions;
    std::vector<unsigned> repeat_ids;
    std::vector<std::pair<uint32_t, uint32_t>> repeat_rules;
    std::vector<hs_database_t*> anchored;
    std::vector<uint32_t> tails;
    auto free_anchored = [&] {
      for (hs_database_t* a : anchored) {
        if (a != nullptr) hs_free_database(a);
      }
      anchored.clear();
    };
    for (const PrefilterRule& r : groups[g].rules) {
      if (r.rule >= rule_count) continue;
      bool done = false;
      // A large group repeated n times is beyond Hyperscan as a whole (it takes seconds to say
      // so): straight to the repeated-group check.
      std::string probe;
      const bool large_repeat =
          groups[g].lists &&
          RepeatedGroupExpression(r.pattern, r.flags, RelaxLevel::kLight, &probe) > 0 &&
          probe.size() > kLargeRepeatedGroup;
      for (RelaxLevel level : {RelaxLevel::kLight, RelaxLevel::kSmall, RelaxLevel::kSplit}) {
        if (large_repeat) break;
        if (stop()) return Fail("cancelled");
        auto ex = SupersetExpressions(r.pattern, r.flags, level, groups[g].text);
        if (!ex) continue;
        // Long expressions with their repeat bounds kept take Hyperscan many seconds to refuse
        // (__FILL_THIS_FORM_PARTIAL: 12 s); with the bounds relaxed they compile at once.
        if (level == RelaxLevel::kLight && ex->expressions.size() == 1 &&
            ex->expressions[0].size() > kLongExpression) {
          continue;
        }
        std::vector<unsigned> own_ids(ex->expressions.size(), r.rule);
        int failed = -1;
        std::string error;
        hs_database_t* db = CompileAll(ex->expressions, own_ids, &failed, &error);
        if (db == nullptr) continue;
        hs_free_database(db);
        for (std::string& e : ex->expressions) {
          expressions.push_back(std::move(e));
          ids.push_back(r.rule);
        }
        rules.push_back(r.rule);
        done = true;
        break;
      }
      if (done || !groups[g].lists) continue;
      // Too large as a whole: a repeated group is checked by the ends of its beginning.
      for (RelaxLevel level : {RelaxLevel::kLight, RelaxLevel::kSmall}) {
        if (stop()) return Fail("cancelled");
        std::string expression;
        long tail = 0;
        const int times = RepeatedGroupExpression(r.pattern, r.flags, level, &expression, &tail);
        if (times == 0) break;
        int failed = -1;
        std::string error;
        hs_database_t* db = CompileAll({expression}, {r.rule}, &failed, &error, kHsRepeatFlags);
        if (db == nullptr) continue;
        hs_free_database(db);
        // Without HS_FLAG_MULTILINE, ^ is the start of the scanned text only. No chain when the
        // left-off part is unbounded.
        anchored.push_back(
            tail < 0 || tail > kMaxRepeatTail
                ? nullptr
                : CompileAll({"^(?:" + expression + ")"}, {r.rule}, &failed, &error, 0));
        tails.push_back(tail < 0 ? 0 : static_cast<uint32_t>(tail));
        repeat_expressions.push_back(std::move(expression));
        repeat_ids.push_back(r.rule);
        repeat_rules.emplace_back(r.rule, static_cast<uint32_t>(times));
        break;
      }
    }
    // Each rule compiles on its own; should the set not, leave out the rule named and retry.
    hs_database_t* db = nullptr;
    for (int attempt = 0; attempt < 8 && !rules.empty() && db == nullptr; ++attempt) {
      if (stop()) return Fail("cancelled");
      int failed = -1;
      std::string error;
      db = CompileAll(expressions, ids, &failed, &error);
      if (db != nullptr || failed < 0 || static_cast<size_t>(failed) >= ids.size()) break;
      const unsigned bad = ids[failed];
      std::vector<std::string> kept_expressions;
      std::vector<unsigned> kept_ids;
      for (size_t k = 0; k < ids.size(); ++k) {
        if (ids[k] == bad) continue;
        kept_expressions.push_back(std::move(expressions[k]));
        kept_ids.push_back(ids[k]);
      }
      expressions = std::move(kept_expressions);
      ids = std::move(kept_ids);
      rules.erase(std::remove(rules.begin(), rules.end(), bad), rules.end());
    }
    if (db == nullptr) rules.clear();
    hs_database_t* repeats = nullptr;
    if (!repeat_expressions.empty()) {
      if (stop()) {
        if (db != nullptr) hs_free_database(db);
        free_anchored();
        return Fail("cancelled");
      }
      int failed = -1;
      std::string error;
      repeats = CompileAll(repeat_expressions, repeat_ids, &failed, &error, kHsRepeatFlags);
    }
    if (repeats == nullptr) {
      repeat_rules.clear();
      free_anchored();
      tails.clear();
    }
    if (db == nullptr && repeats == nullptr) continue;
    auto entry = std::make_unique<Db>();
    entry->db = db;
    entry->repeats = repeats;
    entry->anchored = std::move(anchored);
    entry->tails = std::move(tails);
    size_t size = 0;
    if (db != nullptr && hs_database_size(db, &size) == HS_SUCCESS) entry->bytes += size;
    if (repeats != nullptr && hs_database_size(repeats, &size) == HS_SUCCESS) entry->bytes += size;
    for (hs_database_t* a : entry->anchored) {
      if (a != nullptr && hs_database_size(a, &size) == HS_SUCCESS) entry->bytes += size;
    }
    entry->rules = std::move(rules);
    entry->repeat_rules = std::move(repeat_rules);
    for (uint32_t r : entry->rules) out->group_of_[r] = static_cast<int32_t>(g);
    for (const auto& [r, times] : entry->repeat_rules) out->group_of_[r] = static_cast<int32_t>(g);
    out->rules_ += entry->rules.size() + entry->repeat_rules.size();
    out->dbs_[g] = std::move(entry);
  }
  return std::shared_ptr<const PrefilterDatabases>(std::move(out));
}

bool PrefilterDatabases::Scan(int group, std::string_view text, const std::vector<size_t>* starts,
                              uint8_t* may, RepeatCandidates* repeats) const {
  if (group < 0 || static_cast<size_t>(group) >= dbs_.size() || !dbs_[group]) return false;
  if (text.size() > UINT32_MAX) return false;
  const Db& d = *dbs_[group];
  thread_local ThreadScratch scratch;
  if (scratch.serial != serial_) {
    for (const auto& entry : dbs_) {
      if (!entry) continue;
      for (hs_database_t* db : {entry->db, entry->repeats}) {
        if (db != nullptr && hs_alloc_scratch(db, &scratch.scratch) != HS_SUCCESS) return false;
      }
      for (hs_database_t* db : entry->anchored) {
        if (db != nullptr && hs_alloc_scratch(db, &scratch.scratch) != HS_SUCCESS) return false;
      }
    }
    scratch.serial = serial_;
  }
  if (d.db != nullptr && hs_scan(d.db, text.data(), static_cast<unsigned>(text.size()), 0,
                                 scratch.scratch, OnMatch, may) != HS_SUCCESS) {
    return false;
  }
  if (d.repeats == nullptr) return true;
  if (starts == nullptr || repeats == nullptr || starts->empty()) return false;
  thread_local RepeatEnds ends;
  ends.clear();
  const hs_error_t rc = hs_scan(d.repeats, text.data(), static_cast<unsigned>(text.size()), 0,
                                scratch.scratch, OnRepeatMatch, &ends);
  if (rc != HS_SUCCESS) {
    // Stopped (too many ends) or failed: these rules run as usual.
    for (const auto& [rule, times] : d.repeat_rules) may[rule] = 1;
    return rc == HS_SCAN_TERMINATED;
  }
  std::sort(ends.begin(), ends.end());
  ends.erase(std::unique(ends.begin(), ends.end()), ends.end());
  for (size_t k = 0; k < d.repeat_rules.size(); ++k) {
    // Plain variables, not a structured binding: the lambda below captures them.
    const auto rule = d.repeat_rules[k].first;
    const auto times = d.repeat_rules[k].second;
    const hs_database_t* anchored = k < d.anchored.size() ? d.anchored[k] : nullptr;
    const uint32_t tail = k < d.tails.size() ? d.tails[k] : 0;
    auto it = std::lower_bound(ends.begin(), ends.end(), std::make_pair(rule, uint32_t{0}));
    std::vector<uint32_t> texts;
    // Per text (in order): the ends of matches of the group in it.
    std::vector<uint32_t> text_ends;
    uint32_t current = UINT32_MAX;
    auto finish_text = [&] {
      if (current == UINT32_MAX || text_ends.size() < times) return;
      // The text's content, without the "\n" the texts are joined with.
      const size_t end = (current + 1 < starts->size() ? (*starts)[current + 1] : text.size()) - 1;
      if (anchored == nullptr ||
          FollowRepeats(anchored, text, end, text_ends, times, tail, scratch.scratch)) {
        texts.push_back(current);
      }
    };
    for (; it != ends.end() && it->first == rule; ++it) {
      // The text holding the match's last byte.
      const size_t last = it->second == 0 ? 0 : it->second - 1;
      const uint32_t t = static_cast<uint32_t>(
          std::upper_bound(starts->begin(), starts->end(), last) - starts->begin() - 1);
      if (t != current) {
        finish_text();
        current = t;
        text_ends.clear();
      }
      text_ends.push_back(it->second);
    }
    finish_text();
    if (!texts.empty()) {
      may[rule] = 1;
      repeats->rules.emplace_back(rule, std::move(texts));
    }
  }
  return true;
}

std::string PrefilterDatabases::Serialize(std::string_view key) const {
  std::string out(kMagic);
  out.append(key);
  out.push_back('\n');
  PutU32(&out, static_cast<uint32_t>(group_of_.size()));
  PutU32(&out, static_cast<uint32_t>(dbs_.size()));
  auto put_db = [&](hs_database_t* db) {
    char* bytes = nullptr;
    size_t length = 0;
    if (db == nullptr || hs_serialize_database(db, &bytes, &length) != HS_SUCCESS) {
      PutU64(&out, 0);
      return db == nullptr;
    }
    PutU64(&out, length);
    out.append(bytes, length);
    std::free(bytes);
    return true;
  };
  for (const auto& d : dbs_) {
    if (!d) {
      PutU32(&out, 0);
      PutU64(&out, 0);
      PutU32(&out, 0);
      PutU64(&out, 0);
      continue;
    }
    PutU32(&out, static_cast<uint32_t>(d->rules.size()));
    for (uint32_t r : d->rules) PutU32(&out, r);
    if (!put_db(d->db)) return {};
    PutU32(&out, static_cast<uint32_t>(d->repeat_rules.size()));
    for (const auto& [r, times] : d->repeat_rules) {
      PutU32(&out, r);
      PutU32(&out, times);
    }
    if (!put_db(d->repeats)) return {};
    for (size_t k = 0; k < d->repeat_rules.size(); ++k) {
      PutU32(&out, k < d->tails.size() ? d->tails[k] : 0);
      if (!put_db(k < d->anchored.size() ? d->anchored[k] : nullptr)) return {};
    }
  }
  PutU64(&out, Fnv1a(out));
  return out;
}

Result<std::shared_ptr<const PrefilterDatabases>> PrefilterDatabases::Deserialize(
    std::string_view bytes, std::string_view key, size_t rule_count,
    const std::function<void(size_t)>& release) {
  if (bytes.size() < kMagic.size() + key.size() + 1 + 8) return Fail("truncated");
  const std::string_view body = bytes.substr(0, bytes.size() - 8);
  uint64_t checksum;
  std::memcpy(&checksum, bytes.data() + body.size(), 8);
  uint64_t sum = kFnv1aOffset;
  constexpr size_t kChunk = 1 << 20;
  for (size_t at = 0; at < body.size(); at += kChunk) {
    sum = Fnv1a(body.substr(at, kChunk), sum);
    if (release) release(at + kChunk);
  }
  if (sum != checksum) return Fail("checksum mismatch");
  Reader in(body);
  std::string_view magic, stored_key, newline;
  if (!in.Take(kMagic.size(), &magic) || magic != kMagic) return Fail("not a prefilter cache");
  if (!in.Take(key.size(), &stored_key) || stored_key != key || !in.Take(1, &newline) ||
      newline != "\n") {
    return Fail("written for other rules");
  }
  uint32_t rules = 0, groups = 0;
  if (!in.U32(&rules) || !in.U32(&groups) || rules != rule_count) {
    return Fail("written for other rules");
  }
  std::shared_ptr<PrefilterDatabases> out(new PrefilterDatabases());
  out->group_of_.assign(rule_count, -1);
  out->dbs_.resize(groups);
  auto take_db = [&](bool wanted, hs_database_t** db, size_t* db_bytes) -> Status {
    uint64_t length = 0;
    std::string_view blob;
    if (!in.U64(&length) || !in.Take(length, &blob)) return Fail("truncated");
    if (!wanted) return {};
    if (length == 0) return Fail("damaged");
    if (hs_deserialize_database(blob.data(), blob.size(), db) != HS_SUCCESS) {
      return Fail("vectorscan cannot load the databases (other version or CPU)");
    }
    if (release) release(static_cast<size_t>(blob.data() + blob.size() - bytes.data()));
    size_t size = 0;
    if (hs_database_size(*db, &size) == HS_SUCCESS) *db_bytes += size;
    return {};
  };
  for (uint32_t g = 0; g < groups; ++g) {
    auto entry = std::make_unique<Db>();
    uint32_t n = 0;
    if (!in.U32(&n)) return Fail("truncated");
    entry->rules.resize(n);
    for (uint32_t& r : entry->rules) {
      if (!in.U32(&r) || r >= rule_count) return Fail("damaged");
    }
    if (auto s = take_db(n > 0, &entry->db, &entry->bytes); !s) return Fail(s.error().message);
    uint32_t m = 0;
    if (!in.U32(&m)) return Fail("truncated");
    entry->repeat_rules.resize(m);
    for (auto& [r, times] : entry->repeat_rules) {
      if (!in.U32(&r) || !in.U32(&times) || r >= rule_count || times < 2) return Fail("damaged");
    }
    if (auto s = take_db(m > 0, &entry->repeats, &entry->bytes); !s) return Fail(s.error().message);
    entry->anchored.assign(m, nullptr);
    entry->tails.assign(m, 0);
    for (uint32_t k = 0; k < m; ++k) {
      if (!in.U32(&entry->tails[k]) || entry->tails[k] > kMaxRepeatTail) return Fail("damaged");
      // An empty blob: that rule has no anchored group.
      uint64_t length = 0;
      std::string_view blob;
      if (!in.U64(&length) || !in.Take(length, &blob)) return Fail("truncated");
      if (length == 0) continue;
      if (hs_deserialize_database(blob.data(), blob.size(), &entry->anchored[k]) != HS_SUCCESS) {
        return Fail("vectorscan cannot load the databases (other version or CPU)");
      }
      size_t size = 0;
      if (hs_database_size(entry->anchored[k], &size) == HS_SUCCESS) entry->bytes += size;
    }
    if (n == 0 && m == 0) continue;
    for (uint32_t r : entry->rules) out->group_of_[r] = static_cast<int32_t>(g);
    for (const auto& [r, times] : entry->repeat_rules) out->group_of_[r] = static_cast<int32_t>(g);
    out->rules_ += n + m;
    out->dbs_[g] = std::move(entry);
  }
  return std::shared_ptr<const PrefilterDatabases>(std::move(out));
}

// ---- options and the slot --------------------------------------------------------------------

std::shared_ptr<PrefilterSlot> PrefilterSlot::Start(std::vector<PrefilterGroup> groups,
                                                    size_t rule_count,
                                                    const PrefilterOptions& options) {
  std::shared_ptr<PrefilterSlot> slot(new PrefilterSlot());
  slot->mode_ = options.mode;
  slot->builder_ = options.builder;
  slot->report_ = options.report;
  slot->done_future_ = slot->done_.get_future().share();
  if (options.mode == PrefilterMode::kOff) {
    slot->Finish(State::kOff, "prefilter off");
    return slot;
  }
  if (hs_valid_platform() != HS_SUCCESS) {
    slot->Finish(State::kOff, "prefilter off: this CPU cannot run vectorscan");
    return slot;
  }
  if (options.check_library && !PrefilterLibraryProblem().empty()) {
    // A prefilter that misses matches would change verdicts: not with this library.
    slot->Finish(State::kOff,
                 fmt::format("prefilter off: the vectorscan library ({}) {}, a known bug that "
                             "would change results; use Hyperscan 5.4.0 (libhyperscan5) or a "
                             "vectorscan release that passes this self-test",
                             TrimSpaces(hs_version()), PrefilterLibraryProblem()));
    return slot;
  }
  std::string key = PrefilterKey(groups);
  if (!options.cache_dir.empty()) {
    slot->cache_path_ = options.cache_dir + "/prefilter-" + key + ".hsdb";
    const double cpu_before = CpuSeconds();
    const UniqueFd file(::open(slot->cache_path_.c_str(), O_RDONLY | O_CLOEXEC));
    const MappedBytes bytes(file.get());
    if (bytes.ok()) {
      auto loaded = PrefilterDatabases::Deserialize(bytes.view(), key, rule_count,
                                                    [&](size_t end) { bytes.Release(end); });
      if (loaded) {
        std::error_code ec;  // marks the file as in use for RemoveStaleCacheFiles
        std::filesystem::last_write_time(slot->cache_path_,
                                         std::filesystem::file_time_type::clock::now(), ec);
        const auto& db = **loaded;
        slot->ready_.Store(*loaded);
        slot->Finish(State::kReady,
                     fmt::format("prefilter: {} regex rules in {} Hyperscan {} databases "
                                 "({:.1f} MB), loaded from {} in {:.3f} s",
                                 db.rules(), db.databases(), TrimSpaces(hs_version()),
                                 db.bytes() / 1e6, slot->cache_path_, CpuSeconds() - cpu_before));
        return slot;
      }
    }
  }
  slot->state_.store(State::kBuilding);
  slot->description_.Store(std::make_shared<const std::string>("prefilter: building"));
  if (options.mode == PrefilterMode::kSync) {
    slot->Build(std::move(groups), rule_count, std::move(key), {});
    return slot;
  }
  std::thread([slot, groups = std::move(groups), rule_count, key = std::move(key),
               gate = options.start_gate]() mutable {
    // Scans come first: the build yields the CPU to them (nice applies per thread on Linux, and
    // a builder process inherits it).
    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kBuildNice);
    slot->Build(std::move(groups), rule_count, std::move(key), std::move(gate));
  }).detach();
  return slot;
}

PrefilterSlot::~PrefilterSlot() = default;

struct PrefilterSlot::BuilderRun {
  bool started = false;  // false: the builder could not be run at all
  double cpu_seconds = 0;
  double peak_mib = 0;  // its peak resident set size
};

void PrefilterSlot::Build(std::vector<PrefilterGroup> groups, size_t rule_count, std::string key,
                          std::shared_future<void> gate) {
  if (gate.valid()) gate.wait();
  const double cpu_before = CpuSeconds();
  const auto wall_before = std::chrono::steady_clock::now();
  auto wall_seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_before).count();
  };
  // A cancelled build is not news: its ruleset is going away.
  auto finish = [&](State state, std::string description, bool trouble) {
    if (report_ && !cancelled_.load()) report_(trouble, description);
    Finish(state, std::move(description));
  };
  std::string fallback;  // why a build with a builder runs on this thread
  if (!builder_.empty()) {
    BuilderRun run;
    auto output = RunBuilder(EncodeJob(groups, rule_count), &run);
    if (run.started) {
      if (!output) {
        finish(State::kFailed, "prefilter: not built: " + output.error().message, true);
        return;
      }
      const MappedBytes bytes(output->get());
      auto loaded = PrefilterDatabases::Deserialize(bytes.view(), key, rule_count,
                                                    [&](size_t end) { bytes.Release(end); });
      if (!loaded) {
        finish(State::kFailed,
               "prefilter: not built: the builder's output is refused: " + loaded.error().message,
               true);
        return;
      }
      const auto& db = **loaded;
      ready_.Store(*loaded);
      bool trouble = false;
      const std::string cache_note =
          WriteCache(bytes.view(), &trouble, [&](size_t end) { bytes.Release(end); });
      finish(State::kReady,
             fmt::format("prefilter: {} regex rules in {} Hyperscan {} databases ({:.1f} MB), "
                         "built by a builder process in {:.1f} s ({:.1f} s CPU, {:.0f} MiB at "
                         "its peak), {}",
                         db.rules(), db.databases(), TrimSpaces(hs_version()), db.bytes() / 1e6,
                         wall_seconds(), run.cpu_seconds, run.peak_mib, cache_note),
             trouble);
      return;
    }
    fallback = fmt::format(" in this process ({})", output.error().message);
  }
  auto built = PrefilterDatabases::Build(groups, rule_count, &cancelled_);
  if (!built) {
    finish(State::kFailed, "prefilter: not built: " + built.error().message, true);
    return;
  }
  const auto& db = **built;
  ready_.Store(*built);
  bool trouble = false;
  const std::string cache_note =
      cache_path_.empty() ? "no cache" : WriteCache(db.Serialize(key), &trouble);
  finish(State::kReady,
         fmt::format("prefilter: {} regex rules in {} Hyperscan {} databases ({:.1f} MB), built{} "
                     "in {:.1f} s ({:.1f} s CPU), {}",
                     db.rules(), db.databases(), TrimSpaces(hs_version()), db.bytes() / 1e6,
                     fallback, wall_seconds(), CpuSeconds() - cpu_before, cache_note),
         trouble || !fallback.empty());
}

std::string PrefilterSlot::WriteCache(std::string_view bytes, bool* trouble,
                                      const std::function<void(size_t)>& release) const {
  if (cache_path_.empty()) return "no cache";
  auto written = bytes.empty() ? Fail("vectorscan cannot serialise the databases")
                               : WriteFileAtomically(cache_path_, bytes, release);
  if (!written) {
    *trouble = true;
    return "not cached: " + written.error().message;
  }
  RemoveStaleCacheFiles(cache_path_);
  return "cached in " + cache_path_;
}

Result<UniqueFd> PrefilterSlot::RunBuilder(const std::string& job, BuilderRun* run) {
  // Input and output go through memory files: nothing to deadlock on while both run, and the
  // output is read once, after the builder has exited.
  UniqueFd in(::memfd_create("mailsift-prefilter-job", MFD_CLOEXEC));
  UniqueFd out(::memfd_create("mailsift-prefilter-databases", MFD_CLOEXEC));
  UniqueFd err(::memfd_create("mailsift-prefilter-errors", MFD_CLOEXEC));
  if (in.get() < 0 || out.get() < 0 || err.get() < 0) {
    return Fail(fmt::format("memfd_create: {}", std::strerror(errno)));
  }
  if (!WriteAll(in.get(), job) || ::lseek(in.get(), 0, SEEK_SET) != 0) {
    return Fail(fmt::format("cannot write the builder's input: {}", std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err.get(), STDERR_FILENO);
  // Nothing else of ours: not a listening socket, a connection or the supervisor's channel,
  // whatever their close-on-exec flags (sockets handed over by systemd have none at first).
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // The filter blocks or ignores the signals it handles itself; the builder gets the defaults.
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int signal : {SIGHUP, SIGINT, SIGPIPE, SIGTERM, SIGUSR1, SIGUSR2}) {
    sigaddset(&defaults, signal);
  }
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::string program = builder_, verb = "prefilter-build";
  char* argv[] = {program.data(), verb.data(), nullptr};
  pid_t pid = 0;
  const int spawned = ::posix_spawn(&pid, program.c_str(), &actions, &attributes, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawned != 0) {
    return Fail(fmt::format("cannot run the builder {}: {}", builder_, std::strerror(spawned)));
  }
  run->started = true;
  {
    std::lock_guard<std::mutex> lock(child_mutex_);
    child_pid_ = pid;
    if (cancelled_.load()) ::kill(pid, SIGKILL);
  }
  // Waits without reaping first: while Cancel() may still kill `pid`, it must not be reused.
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR) {
  }
  {
    std::lock_guard<std::mutex> lock(child_mutex_);
    child_pid_ = 0;
  }
  int status = 0;
  rusage usage{};
  pid_t waited;
  while ((waited = ::wait4(pid, &status, 0, &usage)) < 0 && errno == EINTR) {
  }
  if (waited != pid) {
    // Reaped by someone else (SIGCHLD ignored): how it ended is unknown.
    return Fail(fmt::format("cannot wait for the builder process: {}", std::strerror(errno)));
  }
  run->cpu_seconds = usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
                     (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  run->peak_mib = usage.ru_maxrss / 1024.0;
  if (cancelled_.load()) return Fail("cancelled");
  if (WIFSIGNALED(status)) {
    const int signal = WTERMSIG(status);
    return Fail(fmt::format("the builder process was killed by signal {} ({}){}", signal,
                            strsignal(signal),
                            signal == SIGKILL ? ", by hand or for want of memory" : ""));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const std::string message = BuilderMessage(err.get());
    return Fail(fmt::format("the builder process exited with status {}{}{}",
                            WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                            message.empty() ? "" : ": ", message));
  }
  return out;
}

void PrefilterSlot::Cancel() {
  cancelled_.store(true);
  std::lock_guard<std::mutex> lock(child_mutex_);
  if (child_pid_ > 0) ::kill(child_pid_, SIGKILL);
}

void PrefilterSlot::Finish(State state, std::string description) {
  description_.Store(std::make_shared<const std::string>(std::move(description)));
  state_.store(state);
  done_.set_value();
}

bool PrefilterSlot::Wait(std::chrono::milliseconds timeout) const {
  return done_future_.wait_for(timeout) == std::future_status::ready;
}

bool PrefilterSlot::BuildingForCache() const {
  return state_.load() == State::kBuilding && !cache_path_.empty();
}

std::string PrefilterSlot::Describe() const {
  auto d = description_.Load();
  return d ? *d : std::string();
}

}  // namespace mailsift::rules
