#!/usr/bin/env bash
# Fails, naming the files, when a C++ file of the tree does not match .clang-format
# (clang-format 14, Debian 12). Fix with: git ls-files '*.cc' '*.h' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."

unformatted=()
while IFS= read -r file; do
  clang-format --dry-run --Werror "$file" >/dev/null 2>&1 || unformatted+=("$file")
done < <(git ls-files '*.cc' '*.h')

if ((${#unformatted[@]})); then
  echo "not formatted as .clang-format says (${#unformatted[@]} files):" >&2
  printf '  %s\n' "${unformatted[@]}" >&2
  echo "fix: git ls-files '*.cc' '*.h' | xargs clang-format -i" >&2
  exit 1
fi
echo "all $(git ls-files '*.cc' '*.h' | wc -l) C++ files formatted"
