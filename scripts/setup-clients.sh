#!/usr/bin/env bash
# Installs the real protocol clients the tests drive our servers with, with what each needs
# for TLS, and checks that TLS mode works after the install.
#
# Why: "done" in this project means real clients (dig, psql, sftp, swaks, curl, lftp, a
# headless browser…) talk to our servers, so the tests need them, and CI starts from a new
# Debian 12 machine. Idempotent: one apt-get for the missing packages only.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"

PACKAGES=(
  curl               # HTTP, SMTP, IMAP, POP3, FTP(S), SFTP client
  bind9-dnsutils     # dig
  knot-dnsutils      # kdig
  swaks              # SMTP test client…
  libnet-ssleay-perl # …and its STARTTLS (without both, swaks says "TLS not available")
  libio-socket-ssl-perl
  openssh-client     # sftp, scp
  sshpass            # non-interactive passwords for sftp/scp
  lftp               # FTP/FTPS client (TLS through GnuTLS, a hard dependency)
  postgresql-client  # psql
  iproute2           # ip, ss
  chromium           # headless page tests
  openssl            # test certificates
  libxml2-utils      # xmllint: the datacenter SVG is well-formed XML
  shellcheck         # the Hetzner cloud-init scripts pass shellcheck
  cloud-init         # cloud-init's own schema validator for the rendered user data
  iptables           # iptables-save: internal networks are closed on the host
  pebble             # Let's Encrypt's test ACME CA: the proxy's ACME issuing (test/proxy/acme.test.ts)
)
apt_install_missing setup-clients "${PACKAGES[@]}"

# A client installed without its TLS part fails only deep inside a test: check each now.
problems=()
swaks --support 2>&1 | grep -q "^=== TLS supported" || problems+=("swaks: $(swaks --support 2>&1 | grep TLS)")
curl -V | grep -q "^Features:.* SSL" || problems+=("curl: no TLS in $(curl -V | head -1)")
curl -V | grep -q "^Protocols:.* sftp" || problems+=("curl: no sftp protocol")
ldd "$(command -v lftp)" | grep -q gnutls || problems+=("lftp: built without GnuTLS")
# psql is Debian's pg_wrapper script; the real client links libpq, which links OpenSSL.
psql_bin=$(ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | tail -1)
[[ -n $psql_bin ]] && ldd "$psql_bin" | grep -q libpq || problems+=("psql: no client binary linked with libpq")
ldd /usr/lib/x86_64-linux-gnu/libpq.so.5 | grep -q libssl || problems+=("psql: libpq without OpenSSL")
if ((${#problems[@]})); then
  printf 'setup-clients: ERROR: %s\n' "${problems[@]}" >&2
  exit 1
fi
echo "setup-clients: TLS present in swaks, curl, lftp and psql"
