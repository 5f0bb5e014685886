// generation/prefilter.cc — see prefilter.h.
#include "generation/prefilter.h"

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
