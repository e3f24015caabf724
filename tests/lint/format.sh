#!/usr/bin/env bash
# Every tracked C source and header (core, common, plugins, tests, clients) against .clang-format,
# with clang-format 14 (Debian 12's; another version may format differently).
#
#   tests/lint/format.sh          check; exits 1 and names each file clang-format would change
#   tests/lint/format.sh --fix    reformat every file and remove the list below: all are checked
#
# Until the tree is reformatted once, only the files listed in tests/lint/format-checked are
# checked (none today: the check is off); without that list, every file is. Without clang-format the check is skipped (exit 77), except under CI=true: it fails.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
checked=tests/lint/format-checked

cf=${CLANG_FORMAT:-}
if [ -z "$cf" ]; then
	cf=$(command -v clang-format-14 || command -v clang-format || true)
fi
if [ -z "$cf" ]; then
	if [ "${CI:-}" = true ]; then
		echo "format: clang-format not found (packaging/install-deps.sh --test installs it)" >&2
		exit 1
	fi
	echo "format: SKIP, clang-format not found" >&2
	exit 77
fi

# The files: tracked ones, or all of them outside a git checkout. Nothing is vendored or
# generated in the tree today; such a path would be left out here.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	mapfile -t files < <(git ls-files -- '*.c' '*.h')
else
	mapfile -t files < <(find core common plugins tests clients -name '*.[ch]' | sort)
fi

if [ "${1:-}" = --fix ]; then
	"$cf" -i "${files[@]}"
	rm -f "$checked"
	echo "format: ${#files[@]} files reformatted; $checked removed, so every file is checked"
	exit 0
elif [ $# -gt 0 ]; then
	echo "usage: $0 [--fix]" >&2
	exit 2
fi

skipped=0
n=0
bad=()
for f in "${files[@]}"; do
	[ -f "$f" ] || continue # deleted but not yet committed
	if [ -f "$checked" ] && ! grep -qxF "$f" "$checked"; then
		skipped=$((skipped + 1))
		continue
	fi
	n=$((n + 1))
	if ! "$cf" --dry-run --Werror "$f" >/dev/null 2>&1; then
		bad+=("$f")
	fi
done

if [ ${#bad[@]} -gt 0 ]; then
	echo "format: ${#bad[@]} of $n files differ from .clang-format ($("$cf" --version)):" >&2
	printf '  %s\n' "${bad[@]}" >&2
	echo "see the changes: $cf --dry-run FILE; apply them: $cf -i FILE" >&2
	exit 1
fi
if [ -f "$checked" ]; then
	echo "format: $n files match .clang-format; $skipped not checked until the reformat ($checked)"
else
	echo "format: all $n files match .clang-format"
fi
