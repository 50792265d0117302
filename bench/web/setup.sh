#!/usr/bin/env bash
# Installs the reference servers and load tools the web, proxy and dns benchmarks compare
# against (Debian packages; not needed for the tests or CI). Idempotent.
set -euo pipefail
need=()
for pkg in nginx-light wrk dnsperf nsd; do
  [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" == "install ok installed" ]] || need+=("$pkg")
done
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  # No init system starts these here, and they must not grab ports 80/53 if one does.
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq "${need[@]}" >/dev/null || { apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; }
  rm -f /usr/sbin/policy-rc.d
fi
echo "bench setup: nginx, wrk, dnsperf, nsd ready"
