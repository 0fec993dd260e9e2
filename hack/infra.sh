#!/usr/bin/env bash
# Starts, stops or shows the real back ends Parley's production adapters are tested
# against, as local processes on 127.0.0.1:  hack/infra.sh up|down|status [server...]
# Servers: kafka cassandra redis s3proxy kube (default: all). After `up`, the endpoints are in
# $PARLEY_INFRA_DIR/endpoints.env (default ~/.cache/parley/run/endpoints.env).
set -euo pipefail
HACK_DIR="$(cd "$(dirname "$0")" && pwd)"
source "$HACK_DIR/lib.sh"

ALL_SERVERS=(redis s3proxy kafka cassandra kube)
command=${1:-status}
shift || true
servers=("$@")
[[ ${#servers[@]} -gt 0 ]] || servers=("${ALL_SERVERS[@]}")

case "$command" in
  up)
    # Building the Kubernetes binaries (first run only) takes both cores for minutes:
    # do it before the JVMs start, so their readiness waits are not starved.
    if [[ " ${servers[*]} " == *" kube "* ]]; then "$HACK_DIR/kube/build.sh"; fi
    # Start in parallel: the JVMs take the longest, so they overlap.
    pids=()
    for server in "${servers[@]}"; do
      "$HACK_DIR/servers/$server.sh" up >"$PARLEY_INFRA_DIR/$server.up.log" 2>&1 &
      pids+=($!)
    done
    failed=0
    for i in "${!pids[@]}"; do
      if ! wait "${pids[$i]}"; then
        echo "infra: ${servers[$i]} failed to start; its output:" >&2
        tail -n 40 "$PARLEY_INFRA_DIR/${servers[$i]}.up.log" >&2
        failed=1
      fi
    done
    [[ $failed -eq 0 ]] || exit 1
    : >"$PARLEY_INFRA_DIR/endpoints.env"
    for server in "${ALL_SERVERS[@]}"; do
      "$HACK_DIR/servers/$server.sh" endpoints >>"$PARLEY_INFRA_DIR/endpoints.env" 2>/dev/null || true
    done
    echo "infra: up; endpoints in $PARLEY_INFRA_DIR/endpoints.env:"
    cat "$PARLEY_INFRA_DIR/endpoints.env"
    ;;
  down)
    for server in "${servers[@]}"; do "$HACK_DIR/servers/$server.sh" down; done
    ;;
  status)
    for server in "${servers[@]}"; do "$HACK_DIR/servers/$server.sh" status || true; done
    ;;
  *)
    echo "usage: hack/infra.sh up|down|status [kafka|cassandra|redis|s3proxy|kube ...]" >&2
    exit 2
    ;;
esac
