#!/usr/bin/env bash
# Installs the real protocol clients the tests drive our servers with.
#
# Why: "done" in this project means real clients (dig, psql, sftp, swaks, curl,
# a headless browser…) talk to our servers, so the tests need them, and CI starts
# from a fresh Debian 12 machine. busybox-static also feeds the local base image
# (scripts/make-base-image.sh copies its /bin/busybox into the image).
# Idempotent: asks dpkg which are missing and runs one apt-get for those only.
set -euo pipefail

PACKAGES=(
  curl            # HTTP, SMTP, IMAP, POP3, FTP(S), SFTP client
  bind9-dnsutils  # dig
  knot-dnsutils   # kdig
  swaks           # SMTP test client
  openssh-client  # sftp, scp
  sshpass         # non-interactive passwords for sftp/scp
  lftp            # FTP/FTPS client
  postgresql-client # psql
  iproute2        # ip, ss
  busybox-static  # static busybox for the locally made base image
  chromium        # headless page tests
  openssl         # test certificates
  libxml2-utils   # xmllint: the datacenter SVG is well-formed XML
  shellcheck      # the Hetzner cloud-init scripts pass shellcheck
  cloud-init      # cloud-init's own schema validator for the rendered user data
  iptables        # iptables-save: internal networks are closed on the host
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  # dpkg-query is exact about the package (a `busybox` binary may come from the
  # dynamic busybox package, which the base image cannot use).
  if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup-clients: all ${#PACKAGES[@]} client packages present"
  exit 0
fi

echo "setup-clients: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup-clients: done"
