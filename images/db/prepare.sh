#!/usr/bin/env bash
# Copies the host's Debian PostgreSQL 15 (server, initdb, pg_dump, pg_restore) with the
# shared libraries they need into dist/pg/, laid out at the same absolute paths, so the
# image runs the very binaries Debian ships and its build needs no network. PostgreSQL
# finds its share/ and lib/ relative to its bin/ folder, so the paths must stay as they are.
# Needs: apt-get install -y postgresql-15 (scripts/setup-clients.sh installs the client).
# High availability (src/ha/, README "High availability"): pg_auto_failover's pg_autoctl
# (pg-auto-failover-cli) and its monitor extension (postgresql-15-auto-failover: the
# pgautofailover .so in lib/, .control/.sql in share/extension/, copied with the rest), plus
# the programs pg_autoctl runs: pg_ctl, pg_basebackup, pg_rewind, pg_controldata.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/dist/pg"
pg=/usr/lib/postgresql/15
if [ ! -x "$pg/bin/postgres" ]; then
  echo "prepare db: $pg/bin/postgres is missing; run: apt-get install -y postgresql-15" >&2
  exit 1
fi
if [ ! -x /usr/bin/pg_autoctl ] || [ ! -f "$pg/lib/pgautofailover.so" ]; then
  echo "prepare db: pg_auto_failover is missing; run: bash scripts/setup-build-deps.sh" >&2
  exit 1
fi
rm -rf "$out"
mkdir -p "$out$pg/bin" "$out$pg/lib" "$out/usr/share/postgresql" "$out/usr/share/zoneinfo" "$out/usr/lib/x86_64-linux-gnu" "$out/usr/bin"
bins=(postgres initdb pg_dump pg_restore pg_isready pg_ctl pg_basebackup pg_rewind pg_controldata)
for b in "${bins[@]}"; do cp -L "$pg/bin/$b" "$out$pg/bin/"; done
cp -L /usr/bin/pg_autoctl "$out/usr/bin/"
# Server modules, without the LLVM JIT (its bitcode alone is ~25 MB and JIT is off by default).
find "$pg/lib" -maxdepth 1 -name '*.so' ! -name 'llvmjit*' -exec cp -L {} "$out$pg/lib/" \;
cp -rL /usr/share/postgresql/15 "$out/usr/share/postgresql/"
cp -rL /usr/share/zoneinfo/UTC /usr/share/zoneinfo/Etc "$out/usr/share/zoneinfo/"
# The C.UTF-8 locale (400 KB; the slim base image has none): pg_autoctl runs initdb with the
# environment's locale (src/ha/node.ts sets LANG=C.UTF-8, so the cluster is UTF8 like the single server's).
if [ ! -d /usr/lib/locale/C.utf8 ]; then
  echo "prepare db: /usr/lib/locale/C.utf8 is missing (Debian's libc-bin ships it)" >&2
  exit 1
fi
mkdir -p "$out/usr/lib/locale"
cp -rL /usr/lib/locale/C.utf8 "$out/usr/lib/locale/"
# Libraries the base image (node + libc) lacks.
for f in "${bins[@]/#/$pg/bin/}" /usr/bin/pg_autoctl "$out$pg/lib/"*.so; do ldd "$f" 2>/dev/null | awk '/=> \//{print $3}'; done | sort -u | while read -r lib; do
  case "$(basename "$lib")" in libc.so.*|libdl.so.*|libgcc_s.so.*|libm.so.*|libpthread.so.*|libstdc++.so.*|librt.so.*) continue ;; esac
  cp -L "$lib" "$out/usr/lib/x86_64-linux-gnu/"
done
du -sh "$out" | awk '{print "prepare db: dist/pg " $1}'
