#!/usr/bin/env bash
# Builds python3-herald_<version>-1_all.deb, the Python client (clients/python), into build-pkg/
# (or the directory given as the only argument), from the repository root:
#     bash packaging/build-python3-herald.sh [OUTDIR]
# Offline: pip installs the package with Debian's own setuptools and wheel (python3-pip,
# python3-setuptools, python3-wheel), then dpkg-deb packs the tree. build-packages.sh runs it.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$src/build-pkg}
pkg=$src/packaging/python3-herald
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$src/clients/python/pyproject.toml")
[ -n "$version" ] || { echo "no version in clients/python/pyproject.toml" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
site=$root/usr/lib/python3/dist-packages
doc=$root/usr/share/doc/python3-herald

# A copy of the sources, so that pip's build directories stay out of the tree.
mkdir -p "$stage/src" "$site" "$doc" "$root/DEBIAN"
cp -r "$src/clients/python/herald" "$src/clients/python/pyproject.toml" \
      "$src/clients/python/README.md" "$stage/src/"
PIP_ROOT_USER_ACTION=ignore /usr/bin/python3 -m pip install --quiet --no-index --no-build-isolation --no-deps --no-compile \
  --no-warn-script-location --target "$site" "$stage/src"
# What only pip needs: the record of a pip install and the path it was installed from.
rm -f "$site"/herald-*.dist-info/{RECORD,INSTALLER,REQUESTED,direct_url.json}
find "$site" -name __pycache__ -prune -exec rm -rf {} +

cp "$src/clients/python/README.md" "$doc/README.md"
cp "$src/packaging/debian/copyright" "$doc/copyright"
gzip -9nc "$pkg/changelog" > "$doc/changelog.Debian.gz"

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@SIZE@/$size/" "$pkg/control.in" > "$root/DEBIAN/control"
install -m 0755 "$pkg/postinst" "$pkg/prerm" "$root/DEBIAN/"
find "$root" -type d -exec chmod 0755 {} +
find "$root/usr" -type f -exec chmod 0644 {} +

mkdir -p "$out"
deb=$out/python3-herald_${version}-1_all.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
ls -l "$deb"
