#!/usr/bin/env bash
# Installs Postfix, the reference the SMTP benchmark compares against; its smtp-source is
# the load for both sides (Debian packages; not needed for the tests or CI). Idempotent;
# `npm run bench -- mail` runs it first. The benchmark starts its own Postfix instance
# with a throw-away config on a loopback port, so the package is installed unconfigured
# ("No configuration") and its own service is kept from starting (scripts/lib/apt.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/apt.sh"
if [[ -n "$(apt_missing postfix)" && "$(id -u)" -eq 0 ]]; then
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
fi
apt_install_missing "bench setup" postfix
echo "bench setup: postfix $(postconf -d mail_version 2>/dev/null | cut -d' ' -f3), smtp-source ready"
