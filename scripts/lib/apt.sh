#!/usr/bin/env bash
# Shared by every set-up script: install Debian packages that are missing, once.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"
#   apt_install_missing "setup-clients" curl swaks libnet-ssleay-perl
#
# Asks dpkg which of the packages are not installed (exact package names: a `busybox`
# binary may come from the dynamic busybox package, which the base image cannot use) and
# runs one `apt-get install` for those only, so a second run is a no-op. Needs root for an
# install and says so when it is not root. SP_APT_SERVICES=keep lets a package's own
# service start during the install; by default policy-rc.d forbids it (no init system runs
# here, and a server package must not take ports such as 25, 53 or 80 on its own).
# --no-install-recommends keeps installs small; scripts list what a client needs for TLS
# explicitly (swaks needs libnet-ssleay-perl and libio-socket-ssl-perl). SP_APT_RECOMMENDS=1
# installs recommended packages too (the Docker engine needs iptables and friends).

apt_missing() {
  local pkg
  for pkg in "$@"; do
    if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]]; then
      printf '%s\n' "$pkg"
    fi
  done
}

apt_install_missing() {
  local who=$1
  shift
  local missing
  mapfile -t missing < <(apt_missing "$@")
  if ((${#missing[@]} == 0)); then
    echo "$who: all ${#} packages present"
    return 0
  fi
  if [[ "$(id -u)" -ne 0 ]]; then
    echo "$who: need root to install ${missing[*]} (run: sudo apt-get install -y ${missing[*]})" >&2
    return 1
  fi
  echo "$who: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
  local made_policy=0
  if [[ ${SP_APT_SERVICES:-} != keep && ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
  fi
  local rc=0 recommends=--no-install-recommends
  [[ ${SP_APT_RECOMMENDS:-0} == 1 ]] && recommends=""
  # A stale package list makes apt ask for files the mirror no longer has: update first.
  apt-get update -qq && apt-get install -y -qq ${recommends} "${missing[@]}" >/dev/null || rc=$?
  [[ $made_policy == 1 ]] && rm -f /usr/sbin/policy-rc.d
  if ((rc != 0)); then
    echo "$who: ERROR: apt-get install ${missing[*]} failed (exit $rc)" >&2
    return "$rc"
  fi
  local still
  mapfile -t still < <(apt_missing "${missing[@]}")
  if ((${#still[@]})); then
    echo "$who: ERROR: still not installed after apt-get: ${still[*]}" >&2
    return 1
  fi
}
