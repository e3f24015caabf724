#!/usr/bin/env bash
# Every tracked C source and header (core, common, plugins, tests, clients) against .clang-format,
# with clang-format 14 (Debian 12's; another version may format differently).
#
#   tests/lint/format.sh          check; exits 1 and names each file clang-format would change
#   tests/lint/format.sh --fix    reformat every file, pending ones too, and empty the pending list
#
# tests/lint/format-pending lists the files not reformatted yet: they are skipped until the
# one-time reformat (--fix) empties it. A file not listed there, new ones too, must be clean.
# Without clang-format the check is skipped (exit 77), except under CI=true, where it fails.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
pending=tests/lint/format-pending

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
	: >"$pending"
	echo "format: ${#files[@]} files reformatted; $pending emptied"
	exit 0
elif [ $# -gt 0 ]; then
	echo "usage: $0 [--fix]" >&2
	exit 2
fi

skipped=0
checked=0
bad=()
for f in "${files[@]}"; do
	[ -f "$f" ] || continue # deleted but not yet committed
	if [ -f "$pending" ] && grep -qxF "$f" "$pending"; then
		skipped=$((skipped + 1))
		continue
	fi
	checked=$((checked + 1))
	if ! "$cf" --dry-run --Werror "$f" >/dev/null 2>&1; then
		bad+=("$f")
	fi
done

if [ ${#bad[@]} -gt 0 ]; then
	echo "format: ${#bad[@]} of $checked files differ from .clang-format ($("$cf" --version)):" >&2
	printf '  %s\n' "${bad[@]}" >&2
	echo "see the changes: $cf --dry-run FILE; apply them: $cf -i FILE" >&2
	exit 1
fi
echo "format: $checked files match .clang-format; $skipped pending the reformat ($pending)"
