#!/usr/bin/env bash
# Debian packages the role images are built from (no registry is reachable, so images copy
# what Debian ships into their build context or base image):
#   postgresql-15  — the db role runs Debian's PostgreSQL 15 (images/db/prepare.sh copies it);
#   busybox-static — a static shell and tools for the locally made base image
#                    (scripts/make-base-image.sh copies /bin/busybox into it);
#   g++, make, python3 — node-gyp builds ssh2's native crypto with them (scripts/build-ssh-crypto.sh).
# Idempotent: installs only what is missing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"
# The package's own cluster is not needed (the db image runs its own): keep it from creating one.
if [[ -n "$(apt_missing postgresql-15)" && "$(id -u)" -eq 0 ]]; then
  mkdir -p /etc/postgresql-common
  [ -f /etc/postgresql-common/createcluster.conf ] || echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
fi
apt_install_missing setup-build-deps postgresql-15 postgresql-15-auto-failover pg-auto-failover-cli busybox-static g++ make python3
