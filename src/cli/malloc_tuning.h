// cli/malloc_tuning.h — glibc's malloc set up for a scan's allocation pattern.
//
// A scan allocates and frees hundreds of small strings of the same few sizes per message (the
// message's lines, header values, URIs). glibc keeps only 7 freed chunks per size in a
// thread's cache by default; the rest go through the arena's bins and their consolidation,
// which cost 11 % of the CPU per message on the parity sample (measured against a cache of
// 200 per size: the same RSS, +1.6 MB in the filter after 900 messages). That cache size is a
// glibc tunable, read only when a program starts, from GLIBC_TUNABLES.
#pragma once

namespace mailsift::cli {

// When GLIBC_TUNABLES does not set glibc.malloc.tcache_count yet: adds it and executes this
// program again with the same arguments (same process, same open descriptors), once; the
// processes it starts inherit the setting. Returns when that is not needed or not possible
// (then malloc keeps its defaults).
void RestartWithMallocTuning(char** argv);

}  // namespace mailsift::cli
