// rules/prefilter/multi_prefilter_builder_test.cc — the prefilter's databases built in a process of
// their own (PrefilterOptions::builder). This test program is that builder too (main() below, as
// `mailsift prefilter-build` is for the filter), started through /proc/self/exe as the filter
// starts itself; real programs stand in for builders that fail (/bin/false) or write nonsense
// (/bin/echo). What the builder builds scans as what is built in-process and is a valid cache
// file; a builder that fails or is killed leaves every rule running; Cancel() kills the builder
// and reaps it; the builder inherits no other descriptor and runs at nice 10.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "mime/message.h"
#include "rules/cf/cf_parser.h"
#include "rules/engine.h"
#include "rules/prefilter/multi_prefilter.h"
#include "rules/prefilter/multi_prefilter_test_groups.h"

namespace mailsift::rules {
namespace {

// Selects what this program does when it is started as the builder.
constexpr const char* kBehaviour = "MAILSIFT_TEST_BUILDER";    // unset | kill | hang
constexpr const char* kPidFile = "MAILSIFT_TEST_BUILDER_PID";  // hang: where it writes its pid

// Sets an environment variable for the lifetime of the object (the builder inherits it).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// What a slot reported when its build ended.
struct Reports {
  std::mutex mutex;
  std::vector<std::pair<bool, std::string>> items;
  std::function<void(bool, const std::string&)> Callback() {
    return [this](bool trouble, const std::string& description) {
      std::lock_guard<std::mutex> lock(mutex);
      items.emplace_back(trouble, description);
    };
  }
};

class PrefilterBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/mailsift-prefilter-builder-test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  PrefilterOptions Options(PrefilterMode mode, const std::string& builder) {
    PrefilterOptions o;
    o.mode = mode;
    o.cache_dir = dir_ + "/cache";
    o.check_library = false;  // the logic under test, whatever the installed library
    o.builder = builder;
    o.report = reports_.Callback();
    return o;
  }
  std::string dir_;
  Reports reports_;
};

// Every rule flagged by a scan of each group's text with `db`, and the repeated-group texts.
std::string ScanAll(const PrefilterDatabases& db) {
  const std::vector<std::string> lines = {
      "Get FREE MONEY now", "v1agra", "Subject: hi", "abab", "nothing", "bc"};
  std::string body;
  std::vector<size_t> starts;
  for (const std::string& l : lines) {
    starts.push_back(body.size());
    body += l + "\n";
  }
  std::string out;
  for (const auto& [group, text] :
       std::vector<std::pair<int, std::string>>{{0, body}, {1, "Mon, 1 Jan 2024 +0000"}}) {
    std::vector<uint8_t> may(8, 0);
    RepeatCandidates repeats;
    const bool scanned = db.Scan(group, text, group == 0 ? &starts : nullptr, may.data(), &repeats);
    out += "group " + std::to_string(group) + (scanned ? " scanned:" : " not scanned:");
    for (size_t r = 0; r < may.size(); ++r) {
      if (may[r]) out += " " + std::to_string(r);
    }
    for (const auto& [rule, texts] : repeats.rules) {
      out += " repeat " + std::to_string(rule) + " in " + std::to_string(texts.size());
    }
    out += "\n";
  }
  return out;
}

TEST_F(PrefilterBuilderTest, BuiltByTheBuilderScansAsBuiltInProcessAndIsCached) {
  auto in_process = PrefilterDatabases::Build(TestGroups(), 8);
  ASSERT_TRUE(in_process) << in_process.error().message;

  auto slot =
      PrefilterSlot::Start(TestGroups(), 8, Options(PrefilterMode::kSync, "/proc/self/exe"));
  ASSERT_EQ(slot->state(), PrefilterSlot::State::kReady) << slot->Describe();
  EXPECT_NE(slot->Describe().find("built by a builder process"), std::string::npos)
      << slot->Describe();
  EXPECT_NE(slot->Describe().find("cached in"), std::string::npos) << slot->Describe();
  auto child = slot->Get();
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(child->rules(), (*in_process)->rules());
  EXPECT_EQ(child->databases(), (*in_process)->databases());
  for (uint32_t r = 0; r < 8; ++r) EXPECT_EQ(child->GroupOf(r), (*in_process)->GroupOf(r)) << r;
  const std::string expected = ScanAll(**in_process);
  EXPECT_EQ(ScanAll(*child), expected);
  EXPECT_NE(expected.find("group 0 scanned: 0 1 2 3"), std::string::npos) << expected;
  ASSERT_EQ(reports_.items.size(), 1u);
  EXPECT_FALSE(reports_.items[0].first) << reports_.items[0].second;

  // What the builder wrote is the cache file the next start loads.
  auto next = PrefilterSlot::Start(TestGroups(), 8, Options(PrefilterMode::kBackground, ""));
  ASSERT_EQ(next->state(), PrefilterSlot::State::kReady) << next->Describe();
  EXPECT_NE(next->Describe().find("loaded from"), std::string::npos) << next->Describe();
  EXPECT_EQ(ScanAll(*next->Get()), expected);
}

TEST_F(PrefilterBuilderTest, BackgroundBuildByTheBuilderIsPublishedWhenReady) {
  std::promise<void> gate;
  PrefilterOptions o = Options(PrefilterMode::kBackground, "/proc/self/exe");
  o.start_gate = gate.get_future().share();
  auto slot = PrefilterSlot::Start(TestGroups(), 8, o);
  EXPECT_EQ(slot->state(), PrefilterSlot::State::kBuilding);
  EXPECT_EQ(slot->Get(), nullptr);
  gate.set_value();
  ASSERT_TRUE(slot->Wait(std::chrono::seconds(60)));
  ASSERT_EQ(slot->state(), PrefilterSlot::State::kReady) << slot->Describe();
  EXPECT_NE(slot->Describe().find("built by a builder process"), std::string::npos);
  EXPECT_NE(slot->Get(), nullptr);
}

TEST_F(PrefilterBuilderTest, BuilderThatFailsLeavesThePrefilterOffWithTheReason) {
  auto slot = PrefilterSlot::Start(TestGroups(), 8, Options(PrefilterMode::kSync, "/bin/false"));
  EXPECT_EQ(slot->state(), PrefilterSlot::State::kFailed);
  EXPECT_EQ(slot->Get(), nullptr);  // every rule runs
  EXPECT_NE(slot->Describe().find("the builder process exited with status 1"), std::string::npos)
      << slot->Describe();
  ASSERT_EQ(reports_.items.size(), 1u);
  EXPECT_TRUE(reports_.items[0].first);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/cache")) << "nothing to cache";
}

TEST_F(PrefilterBuilderTest, BuilderOutputThatIsNoCacheFileIsRefused) {
  // echo exits 0 after writing its argument: not databases.
  auto slot = PrefilterSlot::Start(TestGroups(), 8, Options(PrefilterMode::kSync, "/bin/echo"));
  EXPECT_EQ(slot->state(), PrefilterSlot::State::kFailed);
  EXPECT_EQ(slot->Get(), nullptr);
  EXPECT_NE(slot->Describe().find("the builder's output is refused"), std::string::npos)
      << slot->Describe();
}

TEST_F(PrefilterBuilderTest, KilledBuilderLeavesThePrefilterOff) {
  ScopedEnv kill(kBehaviour, "kill");
  auto slot =
      PrefilterSlot::Start(TestGroups(), 8, Options(PrefilterMode::kSync, "/proc/self/exe"));
  EXPECT_EQ(slot->state(), PrefilterSlot::State::kFailed);
  EXPECT_EQ(slot->Get(), nullptr);
  EXPECT_NE(slot->Describe().find("killed by signal 9"), std::string::npos) << slot->Describe();
}

TEST_F(PrefilterBuilderTest, BuilderThatCannotBeStartedMeansABuildInThisProcess) {
  auto slot = PrefilterSlot::Start(TestGroups(), 8,
                                   Options(PrefilterMode::kSync, dir_ + "/no-such-builder"));
  EXPECT_EQ(slot->state(), PrefilterSlot::State::kReady) << slot->Describe();
  EXPECT_NE(slot->Get(), nullptr);
  EXPECT_NE(slot->Describe().find("built in this process (cannot run the builder"),
            std::string::npos)
      << slot->Describe();
  ASSERT_EQ(reports_.items.size(), 1u);
  EXPECT_TRUE(reports_.items[0].first);  // worth a warning: the filter holds the compile's memory
}

// The descriptors a process has open.
std::set<int> OpenFds(pid_t pid) {
  std::set<int> fds;
  for (const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    fds.insert(std::stoi(e.path().filename().string()));
  }
  return fds;
}

TEST_F(PrefilterBuilderTest, CancelKillsAndReapsTheBuilderWhichHasNoOtherDescriptors) {
  const std::string pid_file = dir_ + "/builder.pid";
  ScopedEnv hang(kBehaviour, "hang");
  ScopedEnv where(kPidFile, pid_file);
  // As a listening socket handed over by systemd: inheritable, yet not the builder's business.
  int leak[2];
  ASSERT_EQ(pipe(leak), 0);
  auto slot =
      PrefilterSlot::Start(TestGroups(), 8, Options(PrefilterMode::kBackground, "/proc/self/exe"));
  pid_t pid = 0;
  for (int i = 0; i < 1000 && pid == 0; ++i) {
    std::ifstream in(pid_file);
    std::string line;
    if (std::getline(in, line) && in.good()) pid = std::stoi(line);
    if (pid == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  close(leak[0]);
  close(leak[1]);
  ASSERT_GT(pid, 0) << "the builder did not start";
  EXPECT_EQ(OpenFds(pid), (std::set<int>{0, 1, 2}));
  errno = 0;
  EXPECT_EQ(getpriority(PRIO_PROCESS, static_cast<id_t>(pid)), 10);
  EXPECT_EQ(slot->state(), PrefilterSlot::State::kBuilding);

  slot->Cancel();
  ASSERT_TRUE(slot->Wait(std::chrono::seconds(10)));
  EXPECT_EQ(slot->state(), PrefilterSlot::State::kFailed);
  EXPECT_EQ(slot->Get(), nullptr);
  // Reaped: not even a zombie is left (a zombie still takes signal 0).
  EXPECT_EQ(kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  EXPECT_TRUE(reports_.items.empty()) << "a cancelled build is not reported";
}

// ---- the evaluator with a builder ------------------------------------------------------------

constexpr std::string_view kCf =
    "body T_FREE /\\bfree money\\b/i\n"
    "body T_VIAGRA /v[i1!|]agra/i\n"
    "body T_COND /(?(?=x)xy|ab)c/\n"
    "body T_MULTI /\\bwin\\b/i\n"
    "tflags T_MULTI multiple maxhits=3\n"
    "rawbody T_RAW /<b>bold<\\/b>/i\n"
    "header T_SUBJ1 Subject =~ /hello/i\n"
    "header T_SUBJ2 Subject =~ /^Re:/\n"
    "header T_SUBJ3 Subject =~ /world$/\n"
    "header T_SUBJ4 Subject !~ /unlikely/\n"
    "meta T_BOTH T_FREE && T_VIAGRA\n";

const std::vector<std::string>& Messages() {
  static const std::vector<std::string> messages = {
      "From: a@example.com\nSubject: Re: Hello world\n\nGet free money now, v1agra!\n"
      "win win WIN win\nabc\n",
      "From: b@example.org\nSubject: unlikely\nContent-Type: text/html\n\n"
      "<html><b>bold</b> nothing else</html>\n",
      "Subject: hi\n\n",
  };
  return messages;
}

std::string Hits(const CompiledRuleset& ruleset, const std::string& raw) {
  std::ostringstream out;
  for (const RuleHit& hit : ruleset.Scan(mime::ParseMessage(raw)).hits) {
    out << hit.name << "x" << hit.count << " ";
  }
  return out.str();
}

std::shared_ptr<const CompiledRuleset> CompileWith(const PrefilterOptions& prefilter) {
  CfParser parser;
  parser.ParseText(kCf, "test.cf");
  LoadResult loaded = parser.Finish();
  for (const Diagnostic& d : loaded.errors) ADD_FAILURE() << d.ToString();
  CompileOptions options;
  options.prefilter = prefilter;
  auto compiled = CompiledRuleset::Compile(std::move(loaded.ruleset), options);
  EXPECT_TRUE(compiled) << (compiled ? "" : compiled.error().message);
  return compiled ? *compiled : nullptr;
}

TEST_F(PrefilterBuilderTest, RulesetGivesTheSameHitsWithTheBuildersDatabasesOrAFailedBuilder) {
  auto off = CompileWith(Options(PrefilterMode::kOff, ""));
  auto built = CompileWith(Options(PrefilterMode::kSync, "/proc/self/exe"));
  PrefilterOptions failing = Options(PrefilterMode::kSync, "/bin/false");
  failing.cache_dir.clear();
  auto failed = CompileWith(failing);
  ASSERT_TRUE(off && built && failed);
  ASSERT_EQ(built->prefilter().state(), PrefilterSlot::State::kReady)
      << built->prefilter().Describe();
  ASSERT_NE(built->prefilter().Get(), nullptr);
  EXPECT_GT(built->prefilter().Get()->rules(), 3u);
  ASSERT_EQ(failed->prefilter().state(), PrefilterSlot::State::kFailed);
  size_t hits = 0;
  for (const std::string& raw : Messages()) {
    const std::string expected = Hits(*off, raw);
    EXPECT_EQ(Hits(*built, raw), expected);
    EXPECT_EQ(Hits(*failed, raw), expected);
    hits += static_cast<size_t>(std::count(expected.begin(), expected.end(), ' '));
  }
  EXPECT_GE(hits, 8u);  // the messages do hit: the comparison is not between empty lists
}

// ---- the options -----------------------------------------------------------------------------

}  // namespace
}  // namespace mailsift::rules

int main(int argc, char** argv) {
  // Started by a slot as its builder: `<this program> prefilter-build`.
  if (argc == 2 && std::string_view(argv[1]) == "prefilter-build") {
    const char* behaviour = std::getenv(mailsift::rules::kBehaviour);
    if (behaviour == nullptr) return mailsift::rules::RunPrefilterBuilder();
    if (std::string_view(behaviour) == "kill") raise(SIGKILL);
    if (std::string_view(behaviour) == "hang") {
      // Never outlives the test, whatever it asserts.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      alarm(60);
      if (const char* path = std::getenv(mailsift::rules::kPidFile)) {
        // Written aside and renamed: once the test can read the pid, this file is closed
        // again, so the test sees only the descriptors the builder was started with.
        const std::string written = std::string(path) + ".tmp";
        std::ofstream(written) << getpid() << "\n";
        std::rename(written.c_str(), path);
      }
      while (true) pause();
    }
    return 2;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
