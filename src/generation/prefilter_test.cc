// generation/prefilter_test.cc — the prefilter's settings: the config's keys, then the
// environment's overrides (the only place they are read).
#include "generation/prefilter.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

namespace mailsift::generation {
namespace {

using rules::PrefilterMode;
using rules::PrefilterOptions;

// Sets (or unsets, with nullopt) a variable for the scope; restores it after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      setenv(name, value->c_str(), 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(WithEnvironmentOverrides, TheVariablesSetModeAndCache) {
  ScopedEnv xdg("XDG_CACHE_HOME", std::nullopt);
  {
    ScopedEnv mode("MAILSIFT_PREFILTER", "off");
    ScopedEnv cache("MAILSIFT_PREFILTER_CACHE", "/var/cache/x");
    PrefilterOptions o = WithEnvironmentOverrides({});
    EXPECT_EQ(o.mode, PrefilterMode::kOff);
    EXPECT_EQ(o.cache_dir, "/var/cache/x");
  }
  {
    ScopedEnv mode("MAILSIFT_PREFILTER", "verify");
    ScopedEnv cache("MAILSIFT_PREFILTER_CACHE", "none");
    PrefilterOptions o = WithEnvironmentOverrides({});
    EXPECT_EQ(o.mode, PrefilterMode::kVerify);
    EXPECT_EQ(o.cache_dir, "");
  }
  ScopedEnv mode("MAILSIFT_PREFILTER", std::nullopt);
  ScopedEnv cache("MAILSIFT_PREFILTER_CACHE", std::nullopt);
  ScopedEnv xdg_set("XDG_CACHE_HOME", "/xdg");
  PrefilterOptions o = WithEnvironmentOverrides({});
  EXPECT_EQ(o.mode, PrefilterMode::kBackground);
  EXPECT_EQ(o.cache_dir, "/xdg/mailsift/prefilter");
}

TEST(WithEnvironmentOverrides, TheConfigsKeysHoldWithoutVariables) {
  ScopedEnv mode("MAILSIFT_PREFILTER", std::nullopt);
  ScopedEnv cache("MAILSIFT_PREFILTER_CACHE", std::nullopt);
  config::Config config;
  config.spam.prefilter = config::Prefilter::kOff;
  config.spam.prefilter_cache_dir = "/var/cache/mailsift/prefilter";
  PrefilterOptions o = PrefilterDefaults(&config);
  EXPECT_EQ(o.mode, PrefilterMode::kOff);
  EXPECT_EQ(o.cache_dir, "/var/cache/mailsift/prefilter");
  EXPECT_EQ(o.builder, "/proc/self/exe");

  ScopedEnv mode_on("MAILSIFT_PREFILTER", "on");
  ScopedEnv mine("MAILSIFT_PREFILTER_CACHE", "/tmp/mine");
  o = PrefilterDefaults(&config);
  EXPECT_EQ(o.mode, PrefilterMode::kBackground);
  EXPECT_EQ(o.cache_dir, "/tmp/mine");
  EXPECT_EQ(o.builder, "/proc/self/exe");
}

TEST(WithEnvironmentOverrides, CacheNoneMeansNoCache) {
  ScopedEnv cache("MAILSIFT_PREFILTER_CACHE", std::nullopt);
  PrefilterOptions base;
  base.cache_dir = "none";
  EXPECT_EQ(WithEnvironmentOverrides(base).cache_dir, "");
  EXPECT_EQ(WithEnvironmentOverrides({}).builder, "");
}

}  // namespace
}  // namespace mailsift::generation
