#!/usr/bin/env bash
# A network partition on loopback for the chaos scenarios (services/chaos): packets to and
# from the given TCP ports are dropped, as a cut link or a dead switch does it (no RST, so
# clients find out only by their own timeouts). Root and iptables needed.
#   hack/chaos/partition.sh block PORT...   drop everything to or from these ports on lo
#   hack/chaos/partition.sh heal            remove every rule this script added
#   hack/chaos/partition.sh status          list them
# The rules carry the comment "parley-chaos", so `heal` removes exactly ours and is safe to
# run any number of times (the chaos runner runs it when it exits, however it exits).
set -euo pipefail
TAG=parley-chaos

# A fresh machine has no iptables: install Debian's, as hack/servers/redis.sh does redis.
if ! command -v iptables >/dev/null; then
  echo "[chaos] installing iptables (apt-get)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iptables >/dev/null
fi

rules() { iptables -S OUTPUT | grep -- "--comment $TAG" || true; }

heal() {
  local rule
  while IFS= read -r rule; do
    [[ -n $rule ]] || continue
    # `-A OUTPUT ...` as listed becomes `-D OUTPUT ...`; the words are iptables' own, unquoted.
    # shellcheck disable=SC2086
    iptables ${rule/#-A/-D}
  done < <(rules)
}

case "${1:-}" in
  block)
    shift
    [[ $# -gt 0 ]] || { echo "usage: $0 block PORT..." >&2; exit 2; }
    for port in "$@"; do
      [[ $port =~ ^[0-9]+$ ]] || { echo "not a port: $port" >&2; exit 2; }
      iptables -I OUTPUT -o lo -p tcp --dport "$port" -m comment --comment "$TAG" -j DROP
      iptables -I OUTPUT -o lo -p tcp --sport "$port" -m comment --comment "$TAG" -j DROP
    done
    ;;
  heal) heal ;;
  status) rules ;;
  *)
    echo "usage: $0 block PORT...|heal|status" >&2
    exit 2
    ;;
esac
