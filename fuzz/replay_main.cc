// fuzz/replay_main.cc — the main() of a fuzz target built without libFuzzer: it replays inputs,
// so that ctest runs every seed corpus (testdata/fuzz/<target>/) in the normal builds, and under
// ASan and UBSan in the asan-ubsan build (tests unit.fuzz_replay.<target>).
//
//   <target>_fuzz_replay PATH...
//
// Each PATH is an input file or a directory whose regular files (not its subdirectories) are
// inputs, taken in name order. It calls LLVMFuzzerInitialize once if the target defines it,
// then LLVMFuzzerTestOneInput on each input, in a heap block of exactly the input's size (so a
// read past the end is a sanitizer report, as under libFuzzer). A target that finds a property
// violated aborts: the program then names the input on stderr and dies of the signal (a
// sanitizer report names it too). At the end it prints how many inputs ran; it fails (exit 1)
// when a path cannot be read or there was no input at all, so an empty corpus is no pass.
//
// Single-threaded; one process per replay.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);
// Present when the program runs with a sanitizer runtime (ASan, UBSan): called as it dies.
extern "C" __attribute__((weak)) void __sanitizer_set_death_callback(void (*callback)(void));

namespace {

// The input being run, for the crash handlers (a plain C string: they may only write(2)).
const char* current_input = nullptr;

void WriteToStderr(const char* text) {
  size_t length = std::strlen(text);
  while (length > 0) {
    ssize_t written = ::write(STDERR_FILENO, text, length);
    if (written <= 0) return;
    text += written;
    length -= static_cast<size_t>(written);
  }
}

void NameCurrentInput() {
  if (current_input == nullptr) return;
  WriteToStderr("fuzz replay: crashed on input ");
  WriteToStderr(current_input);
  WriteToStderr("\n");
}

void OnFatalSignal(int signal_number) {
  NameCurrentInput();
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

// SIGABRT is the targets' own "property violated" (std::abort), which no sanitizer handles by
// default. The faults are left to the sanitizer's handlers when there is one (it reports them
// and then calls the death callback).
void InstallCrashHandlers() {
  std::vector<int> signals = {SIGABRT};
  if (__sanitizer_set_death_callback != nullptr) {
    __sanitizer_set_death_callback(NameCurrentInput);
  } else {
    signals.insert(signals.end(), {SIGSEGV, SIGBUS, SIGFPE, SIGILL});
  }
  for (int signal_number : signals) ::signal(signal_number, OnFatalSignal);
}

// The input files that `path` names, in name order; false if it cannot be read.
bool CollectInputs(const std::filesystem::path& path, std::vector<std::string>& inputs) {
  std::error_code error;
  if (!std::filesystem::is_directory(path, error)) {
    if (!std::filesystem::is_regular_file(path, error)) return false;
    inputs.push_back(path.string());
    return true;
  }
  std::vector<std::string> found;
  for (const auto& entry : std::filesystem::directory_iterator(path, error)) {
    if (entry.is_regular_file(error)) found.push_back(entry.path().string());
  }
  if (error) return false;
  std::sort(found.begin(), found.end());
  inputs.insert(inputs.end(), found.begin(), found.end());
  return true;
}

bool ReadInput(const std::string& path, std::vector<char>& bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s INPUT_FILE_OR_DIRECTORY...\n", argv[0]);
    return 2;
  }
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    if (!CollectInputs(argv[i], inputs)) {
      std::fprintf(stderr, "fuzz replay: cannot read %s\n", argv[i]);
      return 1;
    }
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "fuzz replay: no inputs\n");
    return 1;
  }
  InstallCrashHandlers();
  size_t total_bytes = 0;
  std::vector<char> bytes;
  for (const std::string& path : inputs) {
    if (!ReadInput(path, bytes)) {
      std::fprintf(stderr, "fuzz replay: cannot read %s\n", path.c_str());
      return 1;
    }
    // Exactly the input's size (new of 0 bytes is a valid, unreadable block).
    std::unique_ptr<uint8_t[]> data(new uint8_t[bytes.size()]);
    std::copy(bytes.begin(), bytes.end(), data.get());
    current_input = path.c_str();
    LLVMFuzzerTestOneInput(data.get(), bytes.size());
    current_input = nullptr;
    total_bytes += bytes.size();
  }
  std::printf("fuzz replay: %zu inputs ran (%zu bytes)\n", inputs.size(), total_bytes);
  return 0;
}
