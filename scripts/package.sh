#!/usr/bin/env bash
# Builds the Debian package (debian/) from this tree and checks it:
#   scripts/package.sh [--out DIR]
# Leaves betcore_VERSION_ARCH.deb and betcore-dbgsym_VERSION_ARCH.deb in DIR
# (default build-package/), then runs lintian on them (any warning or error
# fails) and `systemd-analyze verify` on each unit as installed. The build
# runs in a copy of the tree (DIR/src), so this checkout is left as it was.
# docs/operations.md, "Install as a service".
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/build-package
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$(realpath -m "$2"); shift 2 ;;
    *) echo "package.sh: unknown argument $1 (usage: scripts/package.sh [--out DIR])" >&2; exit 2 ;;
  esac
done
for tool in dpkg-buildpackage dh lintian systemd-analyze; do
  command -v "$tool" >/dev/null || { echo "package.sh: $tool is missing: run scripts/install-deps.sh" >&2; exit 1; }
done

version=$(sed -n 's/^project(betcore VERSION \([0-9.]*\) .*/\1/p' CMakeLists.txt)
changelog=$(sed -n '1s/^betcore (\([^)]*\)).*/\1/p' debian/changelog)
if [ "$version" != "$changelog" ]; then
  echo "package.sh: CMakeLists.txt says $version but debian/changelog says $changelog: add a debian/changelog entry" >&2
  exit 1
fi

t0=$(date +%s)
# Only a directory of this script's own making is ever cleared (the
# default, build-package/, is ignored by git and always its own).
marker=$out/.made-by-betcore-package
if [ "$out" != "$root/build-package" ] && [ -d "$out" ] && [ -n "$(ls -A "$out")" ] && [ ! -e "$marker" ]; then
  echo "package.sh: $out is not empty and was not made by package.sh; it is left alone: give --out a new directory" >&2
  exit 2
fi
mkdir -p "$out" && touch "$marker"
src=$out/src/betcore-$version
rm -rf "$out/src" "$out"/betcore*.deb "$out"/betcore_*.changes "$out"/betcore_*.buildinfo "$out/root" "$out/unit"
mkdir -p "$src"
# The tree as git sees it (tracked and new files, not ignored ones), with
# the git directory so the build names its revision.
git ls-files -z --cached --others --exclude-standard | tar -c --null -T - -f - | tar -x -C "$src"
cp -a .git "$src/.git" 2>/dev/null || true
echo "package.sh: building betcore $version in $src"
# debhelper gives the build a HOME of its own: name the cache the tests'
# build filled, or every package build would start from an empty one.
if command -v ccache >/dev/null; then export CCACHE_DIR=${CCACHE_DIR:-$(ccache -k cache_dir)}; fi
(cd "$src" && dpkg-buildpackage -b -us -uc -j2 >"$out/build.log" 2>&1) || {
  tail -40 "$out/build.log" >&2
  echo "package.sh: the package build failed; its whole log is $out/build.log" >&2
  exit 1
}
mv "$out"/src/betcore*.deb "$out"/src/betcore_*.changes "$out"/src/betcore_*.buildinfo "$out"/
deb=$(ls "$out"/betcore_"$version"_*.deb)
dbgsym=$(ls "$out"/betcore-dbgsym_"$version"_*.deb 2>/dev/null || true)
[ -n "$dbgsym" ] || { echo "package.sh: no betcore-dbgsym package beside $deb" >&2; exit 1; }
echo "package.sh: built $(basename "$deb") ($(du -h "$deb" | cut -f1)) and $(basename "$dbgsym") ($(du -h "$dbgsym" | cut -f1)) in $(( $(date +%s) - t0 )) s"

echo "package.sh: lintian"
lintian --fail-on error,warning --info "$out"/betcore_"$version"_*.changes

echo "package.sh: systemd-analyze verify"
dpkg-deb -x "$deb" "$out/root"
file "$out/root/usr/bin/betcore" | grep -q ', stripped' || { echo "package.sh: /usr/bin/betcore is not stripped" >&2; exit 1; }
# The unit as installed, with its ExecStart naming the binary the package
# holds (this machine may have no /usr/bin/betcore): every other line as
# shipped.
mkdir -p "$out/unit"
for unit in betcore betcore-archiver betcore-feed betcore-payments; do
  installed="$out/root/lib/systemd/system/$unit.service"
  [ -f "$installed" ] || { echo "package.sh: the package has no $unit.service" >&2; exit 1; }
  [ -f "$out/root/etc/default/$unit" ] || { echo "package.sh: the package has no /etc/default/$unit" >&2; exit 1; }
  sed "s|/usr/bin/betcore|$out/root/usr/bin/betcore|" "$installed" >"$out/unit/$unit.service"
  # verify exits 0 on a line it ignores ("Failed to parse ..."): any output fails.
  said=$(systemd-analyze verify --man=no "$out/unit/$unit.service" 2>&1) || true
  if [ -n "$said" ]; then
    echo "$said" >&2
    echo "package.sh: systemd-analyze verify found problems in deploy/systemd/$unit.service (above)" >&2
    exit 1
  fi
done
echo "package.sh: OK: $deb"
