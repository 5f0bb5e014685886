// generation/prefilter.h — the vectorscan prefilter's settings (rules/prefilter/multi_prefilter.h)
// for the rulesets this program compiles: the [spam] keys, and this program as the builder process
// that `mailsift prefilter-build` (rules::RunPrefilterBuilder) runs. The generation uses them, and
// so do the offline verbs (check-config, scan) that compile the same rules. Thread-safety: pure
// functions; a generation's report callback only logs.
#pragma once

#include <future>

#include "config/config.h"
#include "rules/prefilter/multi_prefilter.h"

namespace mailsift::generation {

// [spam] prefilter and prefilter_cache_dir of `config` (null: their defaults), the databases
// built by this program in a process of its own, with the environment's overrides
// (WithEnvironmentOverrides).
rules::PrefilterOptions PrefilterDefaults(const config::Config* config);

// `base` with the environment's overrides, for development: MAILSIFT_PREFILTER = off | on |
// sync | verify sets the mode; MAILSIFT_PREFILTER_CACHE = a directory, or "none", the cache
// directory. Without either a cache directory in `base` or that variable:
// $XDG_CACHE_HOME/mailsift/prefilter, or $HOME/.cache/mailsift/prefilter. A cache directory
// "none" means no cache. The only place the prefilter's settings are read from the environment.
rules::PrefilterOptions WithEnvironmentOverrides(rules::PrefilterOptions base);

// The same for a generation: builds start only once `privileges_dropped` is ready, and how each
// ends is logged (a warning when it failed or could not be cached).
rules::PrefilterOptions GenerationPrefilter(const config::Config& config,
                                            std::shared_future<void> privileges_dropped);

}  // namespace mailsift::generation
