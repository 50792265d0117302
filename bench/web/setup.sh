#!/usr/bin/env bash
# Installs the reference servers and load tools the web, proxy and dns benchmarks compare
# against (Debian packages; not needed for the tests or CI). Idempotent; `npm run bench`
# runs it before those benchmarks. policy-rc.d (scripts/lib/apt.sh) keeps nginx and nsd
# from starting on ports 80 and 53 during the install.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/apt.sh"
apt_install_missing "bench setup" nginx-light wrk dnsperf nsd
echo "bench setup: nginx, wrk, dnsperf, nsd ready"
