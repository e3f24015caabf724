#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ with clang (ASan + UBSan) and runs each for
# SECONDS (default 20) on a copy of its seed corpus, one after the other.
#
#   tests/fuzz/run.sh [SECONDS]
#
# FUZZ_BUILD_DIR  build and work directory (default: build-fuzz/ at the top of the tree)
# FUZZ_TARGETS    the targets to run (default: "protocol event auth config")
# FUZZ_CC         the compiler (default: clang)
# FUZZ_COVERAGE   1: afterwards, rebuild each target for source coverage and report the line
#                 and branch coverage of its core module over the corpus the run produced
#
# Exits non-zero when a build fails or a target finds a crash, a leak, a timeout or a broken
# invariant; the input is then in <build>/<target>/artifacts/ and the log beside it.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-20}
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
targets=${FUZZ_TARGETS:-protocol event auth config expiry connection route webhook disklog redis_url}
cc=${FUZZ_CC:-clang}

case $secs in
'' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac
mkdir -p "$build"
build=$(cd "$build" && pwd)

common=(-std=gnu11 -g -fno-omit-frame-pointer -Wall -Wextra
	-I"$root/core" -I"$root/core/include" -I"$root/common/include" -I"$root/tests/fuzz"
	-DHERALD_KEYS_DIR="\"$root/tests/unit/keys\"" -DHERALD_SOURCE_DIR="\"$root\""
	-DHERALD_VERSION="\"fuzz\"" -DHERALD_DEFAULT_PLUGIN_DIR="\"/nonexistent\""
	-DHERALD_DEFAULT_CONFIG="\"/nonexistent/herald.yaml\"")
# shellcheck disable=SC2054 # the commas belong to the flag
fuzz_flags=(-O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)
cov_flags=(-O0 -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping)

# The pkg-config modules of each target.
modules() {
	case $1 in
	protocol | event) echo "jansson" ;;
	route | disklog | redis_url) echo "" ;;
	auth | expiry) echo "libjwt jansson libcrypto" ;;
	config) echo "yaml-0.1" ;;
	webhook) echo "jansson libcrypto" ;;
	connection) echo "libwebsockets lua5.4 jansson libjwt yaml-0.1 hiredis libcrypto" ;;
	esac
}

# pkg-config FLAG for the modules of target $1 (nothing for a target that needs none).
pc() {
	local m
	m=$(modules "$1")
	# shellcheck disable=SC2086 # a list of module names
	[ -z "$m" ] || pkg-config "$2" $m
}

# The core sources of each target: core/<target>.c, or as named here.
sources() {
	case $1 in
	expiry) echo core/auth.c ;;
	config) echo core/yaml_tree.c core/schema.c core/config.c ;;
	disklog) echo core/disklog.c core/memlog.c core/dedup.c core/hash.c core/route.c core/position.c ;;
	webhook) echo plugins/webhook/request.c ;;
	redis_url) echo common/redis_url.c ;;
	connection) (cd "$root" && ls core/*.c | grep -v '^core/main\.c$') ;;
	*) echo "core/$1.c" ;;
	esac
}

# build_target TARGET OUTPUT FLAGS...: core/log.c, core/TARGET.c and the harness.
build_target() {
	local t=$1 out=$2 obj=$2.obj src o objs=()
	shift 2
	mkdir -p "$obj"
	# shellcheck disable=SC2046 # one word per source
	for src in $(sources "$t" | grep -vx core/log.c) core/log.c common/text.c "tests/fuzz/fuzz_$t.c"; do
		o=$obj/$(basename "$src" .c).o
		# shellcheck disable=SC2046 # pkg-config's output is a list of words
		"$cc" "${common[@]}" "$@" $(pc "$t" --cflags) \
			-c "$root/$src" -o "$o"
		objs+=("$o")
	done
	# schema.c reads secret files with fopen(); its fuzzer reads only small regular files.
	if [ "$t" = config ]; then
		objcopy --redefine-sym fopen=fuzz_fopen "$obj/schema.o"
	fi
	# shellcheck disable=SC2046
	"$cc" "${common[@]}" "$@" "${objs[@]}" $(pc "$t" --libs) \
		-lpthread -ldl -lm -o "$out"
}

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

# Line and branch coverage of the target's core sources over the corpus in <build>/TARGET/corpus.
coverage() {
	local t=$1 work=$build/$1 bin=$build/$1/cov/fuzz_$1
	build_target "$t" "$bin" "${cov_flags[@]}"
	rm -f "$work"/cov/*.profraw
	(cd "$work" && LLVM_PROFILE_FILE="$work/cov/%p.profraw" "$bin" -runs=0 corpus \
		>"$work/cov/log" 2>&1)
	llvm-profdata merge -sparse -o "$work/cov/merged.profdata" "$work"/cov/*.profraw
	# shellcheck disable=SC2046 # one word per source
	llvm-cov report "$bin" -instr-profile="$work/cov/merged.profdata" \
		$(sources "$t" | sed "s|^|$root/|") |
		awk -v t="$t" '$1 ~ /\.c$/ {
			n = split($1, path, "/")
			printf "%-14s core/%s: lines %s of %s covered (%s), branches %s of %s (%s)\n",
				"fuzz_" t, path[n], $8 - $9, $8, $10, $11 - $12, $11, $13 }'
}

for t in $targets; do
	if [ ! -f "$root/tests/fuzz/fuzz_$t.c" ]; then
		echo "no target fuzz_$t" >&2
		exit 2
	fi
	echo "building fuzz_$t" >&2
	build_target "$t" "$build/fuzz_$t" "${fuzz_flags[@]}"
done

failed=0
for t in $targets; do
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
	elif [ "${FUZZ_COVERAGE:-0}" = 1 ]; then
		coverage "$t"
	fi
done
exit $failed
