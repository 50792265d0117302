#!/usr/bin/env bash
# Tests listen on fixed loopback ports 40000–47999 (servers started in-process, PostgreSQL,
# FTP passive ranges). Those lie inside Linux's ephemeral range (32768–60999), so any client
# connection of a test running beside them could be handed one of them as its local port
# and make a later listen fail with EADDRINUSE. Reserving the range keeps the kernel from
# handing them out; explicit binds still work. Not persistent: it lasts until reboot.
set -euo pipefail
RANGE="40000-47999"
FILE=/proc/sys/net/ipv4/ip_local_reserved_ports
current="$(cat "$FILE" 2>/dev/null || true)"
case ",$current," in
  *",$RANGE,"*) echo "reserve-test-ports: $RANGE already reserved"; exit 0 ;;
esac
wanted="${current:+$current,}$RANGE"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if $SUDO sysctl -q -w "net.ipv4.ip_local_reserved_ports=$wanted"; then
  echo "reserve-test-ports: reserved $RANGE from the ephemeral range"
elif [ "${CI:-}" = "true" ]; then
  echo "reserve-test-ports: could not reserve $RANGE (sysctl net.ipv4.ip_local_reserved_ports)" >&2
  exit 1
else
  echo "reserve-test-ports: could not reserve $RANGE; tests with fixed ports may now and then fail with EADDRINUSE" >&2
fi
