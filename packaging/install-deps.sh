#!/usr/bin/env bash
# Installs, with apt-get, the Debian 12 packages Herald needs: to build and run it (no
# argument), or to build, run and test it (--test). The one list of dependencies: the README,
# CI and the test runner all call this script.
set -euo pipefail

packages=(
  # build and run
  build-essential cmake pkg-config
  libwebsockets-dev liblua5.4-dev libjansson-dev libjwt-dev libyaml-dev libhiredis-dev
  # OpenSSL 3's libcrypto: the core's HS256/384/512 token verification, the webhook's HMAC
  libssl-dev
  # lws' libuv support (dlopened at run time) and libuv's headers: Herald owns a libuv loop
  libuv1-dev libwebsockets-evlib-uv
)
test_packages=(
  # tests (Debian's Python packages are seen by /usr/bin/python3 only)
  python3 python3-pytest python3-websockets python3-jwt python3-prometheus-client curl openssl
  redis-server python3-redis
  # browser tests (tests/browser/run.sh; npm brings playwright-core)
  chromium
  # packages (packaging/build-packages.sh) and their test (tests/packaging)
  dpkg-dev file rpm lintian debootstrap
  # the Python client (clients/python): its tests, and building python3-herald offline
  python3-django python3-pip python3-setuptools python3-wheel python3-venv
  # fuzzing (tests/fuzz/run.sh)
  clang libclang-rt-14-dev
  # the format check (tests/lint/format.sh): clang-format 14, the version .clang-format fits
  clang-format
)

case "${1:-}" in
  --test) packages+=("${test_packages[@]}") ;;
  "") ;;
  *) echo "usage: $0 [--test]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
