#!/usr/bin/env bash
# Module boundaries of core/: fails when two modules include each other's headers (a.c or a.h
# includes b.h while b.c or b.h includes a.h) or when headers include each other in a cycle of
# any length. A module is a file name without its extension: ws.c and ws.h are the module ws.
#
#   tests/lint/includes.sh [DIR]    # DIR: default core/ of this tree
#
# Prints each cycle with the #include lines that make it; exits 1 if there is one.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:-$root/core}
cd "$dir"

# One edge per quoted #include of a header of DIR: "FILE HEADER", paths relative to DIR.
# A name is looked up beside the including file, then in DIR and DIR/include (the -I of core/).
edges() {
	local f name d h
	while IFS= read -r f; do
		d=$(dirname "$f")
		sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]+)".*/\1/p' "$f" |
			while IFS= read -r name; do
				for h in "$d/$name" "$name" "include/$name"; do
					if [ -f "$h" ]; then
						echo "${f#./} $(realpath -m --relative-to=. "$h")"
						break
					fi
				done
			done
	done < <(find . -name '*.[ch]' | sort)
}
module() { sed -E 's/\.[ch]$//'; }

all=$(edges)
failed=0

# Two modules that include each other's headers.
pairs=$(while read -r f h; do
	a=$(module <<<"$f")
	b=$(module <<<"$h")
	[ "$a" = "$b" ] || echo "$a $b"
done <<<"$all" | sort -u)
while read -r a b; do
	if [ -z "$a" ] || [[ ! "$a" < "$b" ]]; then
		continue
	fi
	if grep -qx "$b $a" <<<"$pairs"; then
		echo "cycle: $a <-> $b"
		while read -r f h; do
			fm=$(module <<<"$f")
			hm=$(module <<<"$h")
			if { [ "$fm" = "$a" ] && [ "$hm" = "$b" ]; } || { [ "$fm" = "$b" ] && [ "$hm" = "$a" ]; }; then
				echo "  $f includes $h"
			fi
		done <<<"$all"
		failed=1
	fi
done <<<"$pairs"

# Headers including each other in a longer loop (tsort names one loop at a time).
loops=$(grep -E '\.h [^ ]+\.h$' <<<"$all" | awk '$1 != $2 { print $2, $1 }' | tsort 2>&1 >/dev/null || true)
if [ -n "$loops" ]; then
	echo "header cycle:"
	sed -n '/input contains a loop/d; s/^tsort: /  /p' <<<"$loops"
	failed=1
fi

if [ $failed = 0 ]; then
	echo "includes: no two modules of ${dir#"$root"/} include each other's headers; no header cycle"
fi
exit $failed
