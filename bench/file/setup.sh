#!/usr/bin/env bash
# Installs what the SFTP benchmark compares against and drives the load with (Debian
# packages; not needed for the tests or CI): OpenSSH's sshd (openssh-server) as the
# reference server, the OpenSSH sftp client and sshpass. Idempotent. The package's own sshd
# service must not run here (it would take port 22): policy-rc.d forbids starting it during
# the install, and if one runs anyway it is stopped. The benchmark starts its own sshd with a
# throw-away config on a loopback port.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/apt.sh"
apt_install_missing "bench setup" openssh-server openssh-sftp-server openssh-client sshpass
# A system sshd (from the package's service) must not keep port 22: stop it if one runs.
if [[ -f /run/sshd.pid ]] && kill -0 "$(cat /run/sshd.pid)" 2>/dev/null; then
  kill "$(cat /run/sshd.pid)"
  echo "bench setup: stopped the system sshd (pid file /run/sshd.pid)"
fi
# sshd refuses to start without its privilege-separation directory.
mkdir -p /run/sshd && chmod 755 /run/sshd
echo "bench setup: sshd $(/usr/sbin/sshd -V 2>&1 | head -1), sftp, sshpass ready"
