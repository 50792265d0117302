#!/usr/bin/env bash
# Debian packages the role images are built from (no registry is reachable, so some roles
# copy binaries Debian ships into their bundle at build time):
#   postgresql-15 — the db role runs Debian's PostgreSQL 15 (see images/db/prepare.sh).
# Idempotent: installs only what is missing.
set -euo pipefail
missing=()
[ -x /usr/lib/postgresql/15/bin/postgres ] || missing+=(postgresql-15)
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-build-deps: all present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-build-deps: need root to install ${missing[*]} (apt-get install -y ${missing[*]})" >&2
  exit 1
fi
echo "setup-build-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The package's own cluster is not needed (the db image runs its own): keep it from creating one.
mkdir -p /etc/postgresql-common
[ -f /etc/postgresql-common/createcluster.conf ] || echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
