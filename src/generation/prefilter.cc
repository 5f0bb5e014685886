// generation/prefilter.cc — see prefilter.h.
#include "generation/prefilter.h"

#include <cstdlib>
#include <string>

#include "base/strings.h"
#include "log/log.h"

namespace mailsift::generation {

rules::PrefilterOptions PrefilterDefaults(const config::Config* config) {
  rules::PrefilterOptions o;
  if (config != nullptr) {
    o.mode = config->spam.prefilter == config::Prefilter::kOff ? rules::PrefilterMode::kOff
                                                               : rules::PrefilterMode::kBackground;
    o.cache_dir = config->spam.prefilter_cache_dir;
  }
  // The running program's own file, also when an upgrade has replaced it on disk since: the
  // builder's databases must be ones that this process's vectorscan loads.
  o.builder = "/proc/self/exe";
  return WithEnvironmentOverrides(std::move(o));
}

rules::PrefilterOptions WithEnvironmentOverrides(rules::PrefilterOptions o) {
  if (const char* mode = std::getenv("MAILSIFT_PREFILTER")) {
    const std::string m = ToLowerAscii(mode);
    if (m == "off" || m == "0" || m == "no") o.mode = rules::PrefilterMode::kOff;
    if (m == "on" || m == "1" || m == "yes" || m == "background") {
      o.mode = rules::PrefilterMode::kBackground;
    }
    if (m == "sync") o.mode = rules::PrefilterMode::kSync;
    if (m == "verify") o.mode = rules::PrefilterMode::kVerify;
  }
  if (const char* dir = std::getenv("MAILSIFT_PREFILTER_CACHE"); dir != nullptr && *dir) {
    o.cache_dir = dir;
  } else if (!o.cache_dir.empty()) {
    // The config's directory.
  } else if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg == '/') {
    o.cache_dir = std::string(xdg) + "/mailsift/prefilter";
  } else if (const char* home = std::getenv("HOME"); home != nullptr && *home == '/') {
    o.cache_dir = std::string(home) + "/.cache/mailsift/prefilter";
  }
  if (o.cache_dir == "none") o.cache_dir.clear();
  return o;
}

rules::PrefilterOptions GenerationPrefilter(const config::Config& config,
                                            std::shared_future<void> privileges_dropped) {
  rules::PrefilterOptions o = PrefilterDefaults(&config);
  // The builder process then runs as the service user (so that Cancel() may kill it), and the
  // cache file is that user's.
  o.start_gate = std::move(privileges_dropped);
  o.report = [](bool trouble, const std::string& description) {
    if (trouble) {
      log::Warn("{}", description);
    } else {
      log::Info("{}", description);
    }
  };
  return o;
}

}  // namespace mailsift::generation
