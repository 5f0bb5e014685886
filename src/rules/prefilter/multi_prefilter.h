// rules/prefilter/multi_prefilter.h — one Hyperscan (vectorscan) scan per text that names the rules
// that may match, so that PCRE2 runs only for those.
//
// The evaluator groups its regex rules by the text they match (the body lines, the rawbody
// chunks, the value of one header request). For each group, PrefilterDatabases holds one
// Hyperscan block-mode database built from hs_expression.h's superset expressions of its rules
// (HS_FLAG_SINGLEMATCH | HS_FLAG_MULTILINE), each reporting its rule's index. Scanning a group's
// text (a list of texts joined with "\n") marks every rule that has a match somewhere; the others
// cannot match any of the texts and are skipped. Rules whose pattern cannot be expressed or
// compiled are in no database and always run. A rule (?:G){n} too large for Hyperscan as a
// whole (ReplaceTags' __FILL_THIS_FORM_SHORT/LONG families) is checked through G's beginning G'
// instead: a second database reports every end of a match of G', and a text is a candidate only
// where n such matches follow one another — each next one found by G' anchored where the
// previous one ended, or up to the few bytes later that G' leaves off (RepeatCandidates).
//
// The prefilter is only as exact as the library: Start() first checks it against known false
// negatives (Debian 12's vectorscan 5.4.9 misses plain matches that Hyperscan 5.4.0 finds) and
// stays off with such a library.
//
// Building the databases takes seconds (about 25 s of CPU for SpamAssassin's rules), so it
// never delays a ruleset: PrefilterSlot::Start() returns at once. It looks for a cache file
// named by the key of the inputs (PrefilterKey: the patterns, flags, groups, the library version
// and the CPU features), and otherwise builds in the background and writes the cache
// (serialised databases and a checksum; written to a temporary file and renamed). A cache
// directory that cannot be written only means the next load compiles again. Until the
// databases are ready, Get() returns null and the evaluator runs every rule, as without a
// prefilter; results are the same either way.
//
// The compile needs about 60 MB more than its result at its peak. So that a filter process
// never holds that, the build runs in a short-lived process of its own when
// PrefilterOptions::builder names an executable: a background thread writes the groups to it,
// waits, and loads what it wrote back (the cache file's form, checked as a cache file is). A
// builder that fails or is killed leaves the prefilter off (kFailed) for this ruleset; one that
// cannot be started at all (no /proc in a chroot) means the build runs on the thread.
//
// Thread-safety: a PrefilterDatabases is immutable and shared by all scan threads (each uses its
// own thread-local scratch space). PrefilterSlot's methods may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "base/published.h"
#include "rules/prefilter/hs_expression.h"

namespace mailsift::rules {

struct PrefilterRule {
  uint32_t rule = 0;  // index in the ruleset, reported on a match
  std::string pattern;
  std::string flags;  // Perl flags
};

// Rules matched against the same text.
struct PrefilterGroup {
  std::vector<PrefilterRule> rules;
  bool lists = false;  // the text is a list of texts joined with "\n" (allows repeated groups)
  // kAscii: the group's database is only ever scanned over texts without a byte above 0x7f
  // (the caller checks), so its expressions leave out what only such bytes can match.
  TextBytes text = TextBytes::kAny;
};

// A cache key for `groups`: 32 hex digits.
std::string PrefilterKey(const std::vector<PrefilterGroup>& groups);

// For the repeated-group rules of a list of texts: the texts (ascending) where one may match.
struct RepeatCandidates {
  std::vector<std::pair<uint32_t, std::vector<uint32_t>>> rules;  // (rule, texts)
  // The texts for `rule`, or null when the prefilter gave none (then the rule runs as usual).
  const std::vector<uint32_t>* Find(uint32_t rule) const {
    for (const auto& [r, texts] : rules) {
      if (r == rule) return &texts;
    }
    return nullptr;
  }
};

class PrefilterDatabases {
 public:
  ~PrefilterDatabases();
  PrefilterDatabases(const PrefilterDatabases&) = delete;
  PrefilterDatabases& operator=(const PrefilterDatabases&) = delete;

  // Compiles every group; `rule_count` bounds the rule indexes. A rule that cannot be expressed
  // or compiled is left out, a group without rules gets no database. Stops early with an error
  // when `cancelled` becomes true (polled between compiles).
  static Result<std::shared_ptr<const PrefilterDatabases>> Build(
      const std::vector<PrefilterGroup>& groups, size_t rule_count,
      const std::atomic<bool>* cancelled = nullptr);

  // The cache file form, and back. Deserialize refuses bytes that are damaged, that were written
  // for another key, or whose databases this vectorscan or CPU cannot run.
  std::string Serialize(std::string_view key) const;
  // `release`, when given, is told as the bytes are read that those before an offset are no
  // longer needed (a mapped file then gives their pages back, so that the file and the
  // databases are not both in memory).
  static Result<std::shared_ptr<const PrefilterDatabases>> Deserialize(
      std::string_view bytes, std::string_view key, size_t rule_count,
      const std::function<void(size_t)>& release = {});

  // The group whose database holds `rule`, or -1 when the rule always runs.
  int GroupOf(uint32_t rule) const { return rule < group_of_.size() ? group_of_[rule] : -1; }
  // Scans `text` with the database of `group`: sets may[rule] = 1 for every rule of the group
  // that may match it (`may` has one entry per rule). False when the scan failed: then every
  // rule of the group has to run. `text` is a list of texts joined with "\n" when `starts`
  // (where each text begins in it) is given: then repeated-group rules get the texts where they
  // may match in `repeats`.
  bool Scan(int group, std::string_view text, const std::vector<size_t>* starts, uint8_t* may,
            RepeatCandidates* repeats) const;

  size_t rules() const { return rules_; }  // rules in some database (repeats too)
  size_t databases() const;                // groups with a database
  size_t bytes() const;                    // size of the compiled databases

 private:
  PrefilterDatabases();
  struct Db;
  std::vector<std::unique_ptr<Db>> dbs_;  // per group; null: none
  std::vector<int32_t> group_of_;         // per rule
  size_t rules_ = 0;
  uint64_t serial_ = 0;  // tells thread-local scratch spaces apart
};

// Empty when the Hyperscan library in use finds a few matches that some vectorscan releases are
// known to miss (a self-test, run once per process); else what it missed. With such a library
// the prefilter stays off unless PrefilterOptions::check_library is false.
const std::string& PrefilterLibraryProblem();

enum class PrefilterMode {
  kOff,         // no prefilter: every rule runs (MAILSIFT_PREFILTER=off)
  kBackground,  // cache or background build; every rule runs until ready (the default)
  kSync,        // cache or build before Start() returns (tests, benchmarks)
  kVerify,      // like kBackground, but every rule runs and a rule the prefilter would have
                // skipped although it matches is reported on stderr (development)
};

struct PrefilterOptions {
  PrefilterMode mode = PrefilterMode::kBackground;
  // Where cache files live (created when missing, 0755); empty: no cache.
  std::string cache_dir;
  // A background build starts only once this is ready: in tests, and in a filter process once
  // it has dropped its privileges (so that the builder process and the cache file are the
  // service user's). kSync ignores it.
  std::shared_future<void> start_gate;
  // Run the library self-test (known false negatives of some vectorscan releases) and stay off
  // when it fails. Tests of the prefilter's own logic may turn it off.
  bool check_library = true;
  // An executable that builds the databases in a process of its own, run as
  // `builder prefilter-build` (it calls RunPrefilterBuilder); `mailsift` passes "/proc/self/exe",
  // which still runs the program's own file when an upgrade has replaced it on disk. Empty: the
  // build runs on a thread of this process.
  std::string builder;
  // Called once when a build ends (not for a cache load, nor for a cancelled build), on the
  // thread that built, before Wait() returns: the description, and whether something went
  // wrong (no databases, or the cache file could not be written). The filter logs it.
  std::function<void(bool trouble, const std::string& description)> report;
};

// The builder process's side (`mailsift prefilter-build`): reads the groups from standard input
// (as the slot writes them), builds the databases and writes their cache-file form (with the
// groups' key) to standard output. Runs at nice 10 and dies with the thread that started it.
// Returns the exit status: 0, or 1 with the reason on standard error.
int RunPrefilterBuilder();

// The databases of one ruleset: loaded from the cache or built in the background.
class PrefilterSlot {
 public:
  enum class State { kOff, kBuilding, kReady, kFailed };

  static std::shared_ptr<PrefilterSlot> Start(std::vector<PrefilterGroup> groups, size_t rule_count,
                                              const PrefilterOptions& options);
  ~PrefilterSlot();

  // The databases, or null when not (yet) available.
  std::shared_ptr<const PrefilterDatabases> Get() const { return ready_.Load(); }
  State state() const { return state_.load(); }
  PrefilterMode mode() const { return mode_; }
  // Waits until the build has finished (or failed, or was never started). False on timeout.
  bool Wait(std::chrono::milliseconds timeout) const;
  // True while a build runs whose result will be written to the cache.
  bool BuildingForCache() const;
  // Stops a running build (the ruleset is going away): a thread's at its next step, a builder
  // process at once (SIGKILL; the thread that waits for it reaps it and finishes as kFailed).
  void Cancel();
  // One line for logs and `scan --timing`: where the databases came from, sizes, times.
  std::string Describe() const;

 private:
  PrefilterSlot() = default;
  struct BuilderRun;
  void Build(std::vector<PrefilterGroup> groups, size_t rule_count, std::string key,
             std::shared_future<void> gate);
  // Runs builder_ on `job` and returns what it wrote; `run` tells whether it started at all.
  Result<UniqueFd> RunBuilder(const std::string& job, BuilderRun* run);  // its output
  // The cache file written from `bytes`: what to say about it, and whether that is trouble.
  std::string WriteCache(std::string_view bytes, bool* trouble,
                         const std::function<void(size_t)>& release = {}) const;
  void Finish(State state, std::string description);

  PrefilterMode mode_ = PrefilterMode::kOff;
  std::string cache_path_;  // empty: no cache
  std::string builder_;     // empty: build on the thread
  std::function<void(bool, const std::string&)> report_;
  std::mutex child_mutex_;  // guards child_pid_ against Cancel() killing a reaped pid
  int child_pid_ = 0;       // the running builder process, reaped once this is 0 again
  Published<PrefilterDatabases> ready_;
  std::atomic<State> state_{State::kOff};
  std::atomic<bool> cancelled_{false};
  std::promise<void> done_;
  std::shared_future<void> done_future_;
  Published<std::string> description_;
};

}  // namespace mailsift::rules
