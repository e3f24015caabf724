#!/usr/bin/env bash
# Builds the Herald packages, herald_<version>-1_<arch>.deb and herald-<version>-1.<arch>.rpm,
# and the Python client's python3-herald_<version>-1_all.deb (build-python3-herald.sh),
# into build-pkg/ (or the directory given as the only argument), from the repository root:
#     bash packaging/build-packages.sh [OUTDIR]
# A Release build under /usr with Debian's hardening flags; CPack strips the binaries.
# Needs what `bash packaging/install-deps.sh --test` installs (dpkg-dev, file and rpm among it).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$src/build-pkg}

# Debian's flags for packages (stack protector, _FORTIFY_SOURCE, format checks, RELRO and
# BIND_NOW); CMake reads CFLAGS and LDFLAGS from the environment but not CPPFLAGS.
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
eval "$(dpkg-buildflags --export=sh)"
export CFLAGS="$CFLAGS $CPPFLAGS"

# A fresh configure each time, so a stale cache cannot change what is packaged.
rm -rf "$out/CMakeCache.txt" "$out/_CPack_Packages" "$out"/herald[-_]*.deb "$out"/herald[-_]*.rpm
cmake -S "$src" -B "$out" -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_BUILD_TYPE=Release
cmake --build "$out" -j"$(nproc)"
(cd "$out" && cpack -G "DEB;RPM")
ls -l "$out"/herald[-_]*.deb "$out"/herald[-_]*.rpm
bash "$src/packaging/build-python3-herald.sh" "$out"
