#!/usr/bin/env bash
# The whole test suite: installs what it needs, checks the format and the include cycles, builds
# Herald twice (warnings as errors; then with AddressSanitizer + UndefinedBehaviorSanitizer) and
# runs every test against each build. A test that cannot run here is reported skipped by ctest;
# with CI=true (.ci/run sets it) it fails instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/install-deps.sh --test

# Lint first, in seconds: the C files against .clang-format (until the one reformat, those listed
# in tests/lint/format-checked) and no two modules of core/ including each other's headers.
bash tests/lint/format.sh
bash tests/lint/includes.sh

jobs=$(nproc)
cmake -S . -B build -DHERALD_WERROR=ON
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure

cmake -S . -B build-asan -DHERALD_WERROR=ON -DHERALD_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure

# The packages: build the .deb and .rpm, check their contents, dependencies and lintian, then
# install the .deb into a fresh Debian 12 root and run it there (tests/packaging/test_packages.py).
cmake -S . -B build-pkgtest -DHERALD_PACKAGE_TEST=ON
ctest --test-dir build-pkgtest -R '^packaging\.' --output-on-failure

# Each fuzz target for a short bounded time (longer runs: tests/fuzz/README.md).
bash tests/fuzz/run.sh 10
