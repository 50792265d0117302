#!/usr/bin/env bash
# Makes a working Docker engine available on this machine, idempotently.
#
# Why: the project's end-to-end tests apply the datacenter's Docker resources to a
# real engine, but CI starts on a fresh Debian 12 machine that has only the docker
# client (no daemon, no registry access). Debian's docker.io package gives us a real
# engine; we start dockerd ourselves because no init system runs it here.
# Safe to run any number of times: it does nothing when `docker info` already works.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"

LOG=/var/log/serverpark-dockerd.log
WAIT_SECONDS=${SP_DOCKER_WAIT_SECONDS:-60}

if docker info >/dev/null 2>&1; then
  echo "setup-docker: engine already running"
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  # With its recommended packages: dockerd needs iptables for its networks.
  SP_APT_RECOMMENDS=1 apt_install_missing setup-docker docker.io
fi

# dockerd writes its pid here; a live pid means it is still starting, so just wait.
# A stale file from a killed daemon makes dockerd refuse to start: remove it.
PIDFILE=/var/run/docker.pid
if [[ -f $PIDFILE ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  echo "setup-docker: dockerd (pid $(cat "$PIDFILE")) is starting; waiting"
else
  rm -f "$PIDFILE"
  echo "setup-docker: starting dockerd (log: $LOG)"
  # setsid + nohup: the daemon must outlive this script and the CI step that ran it.
  # Only stdin/stdout/stderr go with it: an inherited descriptor (a caller's `flock` on a
  # lock file, say) would otherwise be held for the daemon's whole life.
  (
    for fd in /proc/self/fd/*; do
      n=${fd##*/}
      if ((n > 2)); then eval "exec ${n}>&-" 2>/dev/null || true; fi
    done
    exec setsid nohup dockerd >>"$LOG" 2>&1 </dev/null
  ) &
fi

for ((i = 0; i < WAIT_SECONDS; i++)); do
  if docker info >/dev/null 2>&1; then
    echo "setup-docker: engine ready after ${i}s"
    exit 0
  fi
  sleep 1
done

echo "setup-docker: ERROR: docker info still fails after ${WAIT_SECONDS}s; last lines of $LOG:" >&2
tail -n 20 "$LOG" >&2 || true
exit 1
