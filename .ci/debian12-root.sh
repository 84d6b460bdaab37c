#!/usr/bin/env bash
# Makes a clean Debian 12 root with Debian's own Node 18 in it, for the packaging test (test/packaging/debian-root.test.ts):
#   .ci/debian12-root.sh <new directory>
# debootstrap (from the Debian mirror this machine's apt is configured with) is slow, so the root is kept as a
# tarball outside the clone, keyed by a hash of what goes into it; later runs only unpack it. Needs root.
set -euo pipefail
target=${1:?usage: $0 <new directory>}
SUITE=bookworm
VARIANT=minbase
# nodejs: Debian's Node 18 (the one FreePBX 17 holds); adduser: what the .deb's postinst uses; ca-certificates: as
# on any real box (without it Debian's Node warns at every start that its CA file is missing).
PKGS=nodejs,adduser,ca-certificates
CACHE_DIR=${SWITCHBOARD_CI_CACHE:-/var/cache/switchboard-ci}

[ "$(id -u)" = 0 ] || { echo "debian12-root: needs root (debootstrap, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "debian12-root: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }
[ ! -e "$target" ] || { echo "debian12-root: $target already exists" >&2; exit 1; }

# The Debian mirror apt uses here: the first URI of a deb822 stanza, or of a one-line `deb` entry, for $SUITE.
apt_mirrors() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    awk -v suite="$SUITE" '
      /^[[:space:]]*$/ { if (uri != "" && ok) print uri; uri = ""; ok = 0; next }
      $1 == "URIs:" { uri = $2 }
      $1 == "Suites:" { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
      END { if (uri != "" && ok) print uri }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    sed -e 's/\[[^]]*\]//' "$f" | awk -v suite="$SUITE" '$1 == "deb" && $3 == suite { print $2 }'
  done
}
mirror=$(apt_mirrors | head -n1 || true)
[ -n "$mirror" ] || { echo "debian12-root: no Debian mirror for $SUITE in /etc/apt/sources.list*" >&2; exit 1; }

key=$(printf '%s\n' "$SUITE" "$VARIANT" "$PKGS" "$mirror" "$(dpkg-query -W -f='${Version}' debootstrap)" | sha256sum | cut -c1-16)
tarball="$CACHE_DIR/debian12-node18-$key.tar"
mkdir -p "$CACHE_DIR"
exec 9>"$CACHE_DIR/.lock"
flock 9
if [ ! -s "$tarball" ]; then
  echo "debian12-root: building $tarball with debootstrap from $mirror (slow, once)" >&2
  stage=$(mktemp -d "$CACHE_DIR/stage.XXXXXX")
  trap 'rm -rf "$stage"' EXIT
  debootstrap --variant="$VARIANT" --include="$PKGS" "$SUITE" "$stage/root" "$mirror" >"$stage/debootstrap.log" 2>&1 || {
    tail -n 30 "$stage/debootstrap.log" >&2; echo "debian12-root: debootstrap failed" >&2; exit 1; }
  rm -rf "$stage/root/var/cache/apt/archives/"*.deb "$stage/root/var/lib/apt/lists/"*
  tar --numeric-owner -C "$stage/root" -cf "$stage/root.tar" .
  mv "$stage/root.tar" "$tarball"
  rm -rf "$stage"
  trap - EXIT
fi
mkdir -p "$target"
tar --numeric-owner -C "$target" -xf "$tarball"
echo "$target"
