#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ through CMake (clang, ASan + UBSan: -DHERALD_FUZZ=ON,
# see tests/fuzz/CMakeLists.txt) and runs each for SECONDS (default 20) on a copy of its seed
# corpus, one after the other.
#
#   tests/fuzz/run.sh [SECONDS]
#
# FUZZ_BUILD_DIR  build and work directory (default: build-fuzz/ at the top of the tree)
# FUZZ_TARGETS    the targets to run (default: every tests/fuzz/fuzz_<name>.c)
# FUZZ_CC         the compiler (default: clang)
# FUZZ_COVERAGE   1: also build each target for source coverage (fuzz_<name>_cov) and report
#                 the line and branch coverage of its code under test over the corpus the run
#                 produced
#
# Exits non-zero when a build fails or a target finds a crash, a leak, a timeout or a broken
# invariant; the input is then in <build>/<target>/artifacts/ and the log beside it.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-20}
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
cc=${FUZZ_CC:-clang}
cov=${FUZZ_COVERAGE:-0}
if [ -n "${FUZZ_TARGETS:-}" ]; then
	targets=$FUZZ_TARGETS
else
	targets=$(cd "$root/tests/fuzz" && for f in fuzz_*.c; do f=${f#fuzz_}; echo "${f%.c}"; done)
fi

case $secs in
'' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac
for t in $targets; do
	if [ ! -f "$root/tests/fuzz/fuzz_$t.c" ]; then
		echo "no target fuzz_$t" >&2
		exit 2
	fi
done
mkdir -p "$build"
build=$(cd "$build" && pwd)

# The whole project is configured (the targets use its pkg-config checks); only the fuzz
# targets are built. Compiler errors go to stderr, the rest to build.log.
cov_opt=OFF
[ "$cov" = 1 ] && cov_opt=ON
echo "configuring $build" >&2
if ! cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Debug \
	-DHERALD_FUZZ=ON -DHERALD_FUZZ_COVERAGE="$cov_opt" >"$build/build.log"; then
	echo "configure failed (log: $build/build.log)" >&2
	exit 2
fi
failed=0
built=()
for t in $targets; do
	echo "building fuzz_$t" >&2
	names=("fuzz_$t")
	[ "$cov" = 1 ] && names+=("fuzz_${t}_cov")
	if cmake --build "$build" -j"$(nproc)" --target "${names[@]}" >>"$build/build.log"; then
		built+=("$t")
	else
		# The other targets still run; the exit status says it.
		printf '%-14s %s\n' "fuzz_$t" "BUILD-FAILED (log: $build/build.log)"
		failed=1
	fi
done

# One line from the log: the coverage of the last status line, the speed of the final stats.
summary() {
	local t=$1 status=$2 log=$3 line
	line=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1 || true)
	printf '%-14s %-6s %4ss' "fuzz_$t" "$status" "$secs"
	printf ' runs=%s exec/s=%s' \
		"$(sed -nE 's/^stat::number_of_executed_units: *//p' "$log")" \
		"$(sed -nE 's/^stat::average_exec_per_sec: *//p' "$log")"
	for key in cov ft corp; do
		printf ' %s=%s' "$key" "$(sed -nE "s/.* $key: ([^ ]+).*/\\1/p" <<<"$line")"
	done
	printf ' rss=%sMb\n' "$(sed -nE 's/^stat::peak_rss_mb: *//p' "$log")"
}

# Line and branch coverage of the target's code under test (listed by CMake in
# <build>/tests/fuzz/fuzz_TARGET.sources) over the corpus in <build>/TARGET/corpus.
coverage() {
	local t=$1 work=$build/$1 bin=$build/fuzz_$1_cov srcs
	mkdir -p "$work/cov"
	rm -f "$work"/cov/*.profraw
	(cd "$work" && LLVM_PROFILE_FILE="$work/cov/%p.profraw" "$bin" -runs=0 corpus \
		>"$work/cov/log" 2>&1)
	llvm-profdata merge -sparse -o "$work/cov/merged.profdata" "$work"/cov/*.profraw
	mapfile -t srcs <"$build/tests/fuzz/fuzz_$t.sources"
	# llvm-cov names the files by their path or without the prefix they share: named back from
	# the list.
	llvm-cov report "$bin" -instr-profile="$work/cov/merged.profdata" "${srcs[@]/#/$root/}" |
		awk -v t="$t" -v srcs="${srcs[*]}" '
		function ends(s, x) { return s == x || substr(s, length(s) - length(x)) == "/" x }
		$1 ~ /\.c$/ {
			n = split(srcs, list, " ")
			path = $1
			for (i = 1; i <= n; i++)
				if (ends($1, list[i]) || ends(list[i], $1))
					path = list[i]
			printf "%-14s %s: lines %s of %s covered (%s), branches %s of %s (%s)\n",
				"fuzz_" t, path, $8 - $9, $8, $10, $11 - $12, $11, $13 }'
}

for t in "${built[@]}"; do
	work=$build/$t
	rm -rf "$work/corpus" "$work/artifacts"
	mkdir -p "$work/corpus" "$work/artifacts"
	cp "$root/tests/fuzz/corpus/$t/"* "$work/corpus/"
	args=(-max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1
	      -artifact_prefix="$work/artifacts/")
	[ -f "$root/tests/fuzz/fuzz_$t.dict" ] && args+=(-dict="$root/tests/fuzz/fuzz_$t.dict")
	[ "$t" = auth ] && args+=(-max_len=9000) # auth.c refuses tokens over 8192 bytes unread
	[ "$t" = webhook ] && args+=(-max_len=12000) # past the 8192-byte request head
	status=ok
	if ! (cd "$work" && UBSAN_OPTIONS=print_stacktrace=1 \
		"$build/fuzz_$t" "${args[@]}" corpus >"$work/log" 2>&1); then
		status=FAILED
		failed=1
	fi
	summary "$t" "$status" "$work/log"
	if [ $status != ok ]; then
		grep -E 'ERROR|REQUIRE|SUMMARY|Test unit written' "$work/log" | head -n 20 >&2 || true
		echo "  log: $work/log" >&2
	elif [ "$cov" = 1 ]; then
		coverage "$t"
	fi
done
exit $failed
