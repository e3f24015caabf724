#!/usr/bin/env bash
# Tests of Herald's browser client (core/web).
#   run.sh client   the Node unit tests of the client (node only, nothing to install)
#   run.sh e2e      the headless Chromium tests against the real herald in $HERALD_BUILD_DIR;
#                   installs Debian's chromium and the npm packages of package-lock.json first
#   run.sh          both
set -euo pipefail
cd "$(dirname "$0")"

mode=${1:-all}
case $mode in
client | e2e | all) ;;
*)
	echo "usage: $0 [client|e2e]" >&2
	exit 2
	;;
esac

apt_install() {
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "$@" >/dev/null
}

if ! command -v node >/dev/null; then
	apt_install nodejs npm
fi

if [[ $mode != e2e ]]; then
	node --test client.test.mjs
fi

if [[ $mode != client ]]; then
	if [[ ! -x /usr/bin/chromium ]]; then
		apt_install chromium
	fi
	if ! command -v npm >/dev/null; then
		apt_install npm
	fi
	if [[ ! -d node_modules/playwright-core || package-lock.json -nt node_modules ]]; then
		npm ci --no-audit --no-fund --loglevel=error
		touch node_modules
	fi
	node --test browser.test.mjs
fi
