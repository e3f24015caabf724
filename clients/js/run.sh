#!/usr/bin/env bash
# Tests of Herald's front-end packages (clients/js).
#   run.sh unit     unit tests of herald-client and herald-react (Node's test runner, fakes)
#   run.sh e2e      headless Chromium against the real herald in $HERALD_BUILD_DIR: the demo page,
#                   and a React app built with esbuild from the packages
#   run.sh resume   the client in Node against the real herald: cut at every point of a resume,
#                   and token refresh with auth.close_on_expiry
#   run.sh pack     npm pack of both packages, installed into a scratch app checked with tsc --strict
#   run.sh          all of them
# Installs what is missing: node and npm (Debian), chromium (Debian, e2e only), and the npm
# packages of package-lock.json (npm ci).
set -euo pipefail
cd "$(dirname "$0")"

mode=${1:-all}
case $mode in
unit | e2e | resume | pack | all) ;;
*)
	echo "usage: $0 [unit|e2e|resume|pack]" >&2
	exit 2
	;;
esac

apt_install() {
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "$@" >/dev/null
}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	apt_install nodejs npm
fi
if [[ ! -d node_modules/react || package-lock.json -nt node_modules ]]; then
	npm ci --no-audit --no-fund --loglevel=error
	touch node_modules
fi

run() { node --test --test-concurrency=1 "$@"; }

if [[ $mode == unit || $mode == all ]]; then
	run packages/herald-client/test/ packages/herald-react/test/
fi
if [[ $mode == e2e || $mode == all ]]; then
	if [[ ! -x /usr/bin/chromium ]]; then
		apt_install chromium
	fi
	run test/demo.test.mjs test/app.test.mjs
fi
if [[ $mode == resume || $mode == all ]]; then
	run test/resume.test.mjs test/refresh.test.mjs
fi
if [[ $mode == pack || $mode == all ]]; then
	run test/pack.test.mjs
fi
