// cli/malloc_tuning.cc — see malloc_tuning.h.
#include "cli/malloc_tuning.h"

#include <unistd.h>

#include <cstdlib>
#include <string>

namespace mailsift::cli {

void RestartWithMallocTuning(char** argv) {
  constexpr const char* kTunable = "glibc.malloc.tcache_count";
  const char* current = std::getenv("GLIBC_TUNABLES");
  const std::string tunables = current != nullptr ? current : "";
  if (tunables.find(kTunable) != std::string::npos) return;  // set already (by us or the user)
  const std::string value = (tunables.empty() ? "" : tunables + ":") + kTunable + "=200";
  if (::setenv("GLIBC_TUNABLES", value.c_str(), 1) != 0) return;
  ::execv("/proc/self/exe", argv);
  // No /proc (a chroot): carry on with the defaults, and do not let children try again.
}

}  // namespace mailsift::cli
