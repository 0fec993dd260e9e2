#!/usr/bin/env bash
# Redis for the Redis adapters' tests (services/adapters/redis): a standalone server on
# 127.0.0.1:26379 and a Redis Cluster of three masters on 127.0.0.1:27001-27003 (cluster
# bus on 17001-17003: the default, port + 10000, would fall in the ephemeral range 32768-60999
# where outgoing connections take ports at random), all from Debian's redis-server package but run as our own
# processes (the Debian service is never used). Nothing is persisted (no RDB, no AOF):
# $PARLEY_INFRA_DIR/redis/<node>/ holds a node's config, log and pid file, and for the
# cluster nodes the cluster's nodes.conf, so a restarted cluster rejoins without being
# created again.
#   hack/servers/redis.sh up|down|status|endpoints
#
# A second, separate Redis Cluster, only on request, for the failover of a master (the chaos
# scenario redis-cluster-failover, services/chaos): three masters each with one replica on
# 127.0.0.1:27011-27016 (bus on 17011-17016), with a 2 s node timeout so a replica takes
# over a dead master within seconds: `up failover`, `down failover`, `status failover`,
# `endpoints failover`; nodes in $PARLEY_INFRA_DIR/redis/failover-<port>/. `up failover`
# also starts a killed node again, which rejoins as a replica. hack/infra.sh does not start
# it, and the plain commands leave it alone, as `failover` leaves the servers above alone.
# shellcheck disable=SC2034 # read by log() in lib.sh
SERVER_NAME=redis
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$(cd "$(dirname "$0")" && pwd)/../lib.sh"

REDIS_DIR="$PARLEY_INFRA_DIR/redis"
STANDALONE_PORT=26379
CONTRACT_CLUSTER_PORTS=(27001 27002 27003)
FAILOVER_CLUSTER_PORTS=(27011 27012 27013 27014 27015 27016)
READY_SECONDS=30

# use_cluster contract|failover: the cluster the cluster functions below work on: its node
# ports, replicas per master, node timeout and the prefix of its nodes' names.
use_cluster() {
  case $1 in
    contract)
      CLUSTER_PORTS=("${CONTRACT_CLUSTER_PORTS[@]}")
      CLUSTER_REPLICAS=0
      CLUSTER_NODE_TIMEOUT_MS=5000
      CLUSTER_NODE_PREFIX=cluster
      ;;
    failover)
      CLUSTER_PORTS=("${FAILOVER_CLUSTER_PORTS[@]}")
      CLUSTER_REPLICAS=1
      # Short, so a dead master is marked failed and its replica elected within seconds.
      CLUSTER_NODE_TIMEOUT_MS=2000
      CLUSTER_NODE_PREFIX=failover
      ;;
  esac
  CLUSTER_MASTERS=$((${#CLUSTER_PORTS[@]} / (CLUSTER_REPLICAS + 1)))
}
use_cluster contract

node_dir() { printf '%s/%s' "$REDIS_DIR" "$1"; }
pidfile_of() { printf '%s/redis.pid' "$(node_dir "$1")"; }
cli() { local port=$1; shift; { redis-cli -h 127.0.0.1 -p "$port" "$@" 2>/dev/null || true; } | tr -d '\r'; }
# cluster_field PORT FIELD: one field of `CLUSTER INFO` on that node.
cluster_field() { cli "$1" cluster info | sed -n "s/^$2://p"; }

# Installs Debian's redis-server package when redis-server or redis-cli is missing.
provision() {
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    log "installing Debian's redis-server package (first run only)"
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=300)
    # Saves the `apt-get update` while the package lists already know the package;
    # updates and retries when they do not or the install fails (stale lists).
    if ! { apt-cache show redis-server >/dev/null 2>&1 && "${apt[@]}" install redis-server >&2; }; then
      "${apt[@]}" update >&2
      "${apt[@]}" install redis-server >&2
    fi
  fi
  local version
  version=$(redis-server --version | sed -n 's/.* v=\([0-9.]*\).*/\1/p')
  [[ -n "$version" ]] || die "cannot tell the version of $(command -v redis-server)"
  if [[ $(printf '%s\n%s\n' "$REDIS_MIN_VERSION" "$version" | sort -V | head -n1) != "$REDIS_MIN_VERSION" ]]; then
    die "redis-server $version is older than $REDIS_MIN_VERSION (hack/versions.env)"
  fi
}

# start_node NAME PORT [cluster]: starts one detached redis-server unless it runs already.
start_node() {
  local name=$1 port=$2 mode=${3:-standalone} dir pidfile
  dir=$(node_dir "$name")
  pidfile=$(pidfile_of "$name")
  is_running "$pidfile" && return 0
  mkdir -p "$dir"
  {
    echo "bind 127.0.0.1"
    echo "protected-mode yes"
    echo "port $port"
    echo "dir $dir"
    echo "daemonize no"
    echo "save \"\""
    echo "appendonly no"
    echo "loglevel notice"
    if [[ $mode == cluster ]]; then
      echo "cluster-enabled yes"
      echo "cluster-config-file nodes.conf"
      echo "cluster-node-timeout $CLUSTER_NODE_TIMEOUT_MS"
      echo "cluster-port $((port - 10000))" # cluster_bus_ports_current checks the same rule
      if ((CLUSTER_REPLICAS > 0)); then
        # A node started again after a kill resyncs at once, rather than after the default 5 s
        # wait for more replicas to share the same transfer.
        echo "repl-diskless-sync-delay 0"
      fi
    fi
  } >"$dir/redis.conf"
  # setsid+nohup: the server outlives this script and the terminal; its output goes to a log.
  setsid nohup redis-server "$dir/redis.conf" >>"$dir/redis.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
}

# wait_ready NAME PORT: until our process (not some other one on the port) answers PING.
wait_ready() {
  local name=$1 port=$2 pidfile i
  pidfile=$(pidfile_of "$name")
  for ((i = 0; i < READY_SECONDS * 50; i++)); do
    if ! is_running "$pidfile"; then
      tail -n 20 "$(node_dir "$name")/redis.log" >&2 || true
      die "redis $name on port $port exited; log: $(node_dir "$name")/redis.log"
    fi
    if [[ $(cli "$port" ping) == PONG ]]; then
      [[ $(cli "$port" info server | sed -n 's/^process_id://p') == "$(cat "$pidfile")" ]] ||
        die "port $port answers, but not as redis $name (pid $(cat "$pidfile")): is another server on it?"
      return 0
    fi
    sleep 0.02
  done
  die "redis $name did not answer PING on 127.0.0.1:$port within ${READY_SECONDS}s"
}

# True when every cluster node reports a full, healthy cluster of all its masters, and
# every replica it should have is linked to its master (a node started again after a kill
# counts once it follows the master that took its place).
cluster_ok() {
  local port replicas=0
  for port in "${CLUSTER_PORTS[@]}"; do
    [[ $(cluster_field "$port" cluster_state) == ok ]] || return 1
    [[ $(cluster_field "$port" cluster_slots_ok) == 16384 ]] || return 1
    [[ $(cluster_field "$port" cluster_known_nodes) == "${#CLUSTER_PORTS[@]}" ]] || return 1
    [[ $(cluster_field "$port" cluster_size) == "$CLUSTER_MASTERS" ]] || return 1
    if [[ $(cli "$port" info replication | sed -n 's/^role://p') == slave ]]; then
      [[ $(cli "$port" info replication | sed -n 's/^master_link_status://p') == up ]] || return 1
      replicas=$((replicas + 1))
    fi
  done
  [[ $replicas == $((CLUSTER_MASTERS * CLUSTER_REPLICAS)) ]]
}

wait_cluster_ok() {
  local seconds=$1 i
  for ((i = 0; i < seconds * 20; i++)); do
    cluster_ok && return 0
    sleep 0.05
  done
  return 1
}

# True when no node has met another or owns a slot: a cluster still to be created.
cluster_blank() {
  local port
  for port in "${CLUSTER_PORTS[@]}"; do
    [[ $(cluster_field "$port" cluster_known_nodes) == 1 && $(cluster_field "$port" cluster_slots_assigned) == 0 ]] || return 1
  done
}

# True when every node came back from its nodes.conf with all slots assigned.
cluster_restarted() {
  local port
  for port in "${CLUSTER_PORTS[@]}"; do
    [[ $(cluster_field "$port" cluster_slots_assigned) == 16384 ]] || return 1
  done
}

start_cluster_nodes() {
  local port
  for port in "${CLUSTER_PORTS[@]}"; do start_node "$CLUSTER_NODE_PREFIX-$port" "$port" cluster; done
  for port in "${CLUSTER_PORTS[@]}"; do wait_ready "$CLUSTER_NODE_PREFIX-$port" "$port"; done
}

create_cluster() {
  local nodes=() port
  for port in "${CLUSTER_PORTS[@]}"; do nodes+=("127.0.0.1:$port"); done
  log "creating the cluster of ${nodes[*]}"
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas "$CLUSTER_REPLICAS" --cluster-yes >>"$REDIS_DIR/$CLUSTER_NODE_PREFIX-create.log" 2>&1 ||
    die "redis-cli --cluster create failed; see $REDIS_DIR/$CLUSTER_NODE_PREFIX-create.log"
}

# Forgets the cluster (only test data lives in it) and starts blank nodes.
reset_cluster() {
  local port
  # shellcheck disable=SC2046 # node names have no spaces
  stop_nodes $(cluster_node_names)
  for port in "${CLUSTER_PORTS[@]}"; do rm -f "$(node_dir "$CLUSTER_NODE_PREFIX-$port")/nodes.conf"; done
  start_cluster_nodes
}

# True when every node knows every other on the bus port configured today: nodes.conf files
# from before a bus-port change name the old ports, and such a cluster reports ok at first,
# then fails once the node timeout passes.
cluster_bus_ports_current() {
  local port address node_port bus_port
  for port in "${CLUSTER_PORTS[@]}"; do
    for address in $(cli "$port" cluster nodes | awk '{print $2}'); do
      node_port=${address%@*}
      node_port=${node_port##*:}
      bus_port=${address#*@}
      bus_port=${bus_port%%,*}
      [[ $bus_port == $((node_port - 10000)) ]] || return 1
    done
  done
}

up_cluster() {
  start_cluster_nodes
  if ! cluster_bus_ports_current; then
    log "the cluster's nodes.conf names other bus ports; creating it afresh"
    reset_cluster
  fi
  cluster_ok && return 0
  if cluster_blank; then
    create_cluster
  elif cluster_restarted && wait_cluster_ok "$READY_SECONDS"; then
    # Restarted nodes found each other again through their nodes.conf (a killed node of the
    # failover cluster also resyncs as a replica meanwhile: given as long as a start).
    return 0
  else
    log "the cluster nodes do not form one healthy cluster; creating it afresh"
    reset_cluster
    create_cluster
  fi
  wait_cluster_ok "$READY_SECONDS" || die "the cluster did not reach cluster_state:ok within ${READY_SECONDS}s"
}

# A real round trip through a cluster client: a write that may be redirected, then a read.
cluster_smoke_test() {
  local key="parley:infra-check:$$"
  if [[ $(redis-cli -c -h 127.0.0.1 -p "${CLUSTER_PORTS[0]}" set "$key" ok px 10000 2>/dev/null | tr -d '\r') != OK ||
    $(redis-cli -c -h 127.0.0.1 -p "${CLUSTER_PORTS[1]}" get "$key" 2>/dev/null | tr -d '\r') != ok ]]; then
    die "the cluster is up but a write and read through it failed"
  fi
}

cmd_up() {
  provision
  mkdir -p "$REDIS_DIR"
  start_node standalone "$STANDALONE_PORT"
  up_cluster
  wait_ready standalone "$STANDALONE_PORT"
  cluster_smoke_test
  echo "redis: standalone on 127.0.0.1:$STANDALONE_PORT; cluster of 3 masters on 127.0.0.1:${CLUSTER_PORTS[0]}-${CLUSTER_PORTS[-1]}; data and logs in $REDIS_DIR"
}

cmd_up_failover() {
  provision
  mkdir -p "$REDIS_DIR"
  up_cluster
  cluster_smoke_test
  echo "redis: failover cluster of $CLUSTER_MASTERS masters with $CLUSTER_REPLICAS replica each on 127.0.0.1:${CLUSTER_PORTS[0]}-${CLUSTER_PORTS[-1]}; data and logs in $REDIS_DIR/$CLUSTER_NODE_PREFIX-<port>"
}

# stop_nodes NAME...: signals every node first, so they shut down together, then waits for each.
stop_nodes() {
  local name
  for name in "$@"; do
    if is_running "$(pidfile_of "$name")"; then kill "$(cat "$(pidfile_of "$name")")" 2>/dev/null || true; fi
  done
  for name in "$@"; do stop_pidfile "$(pidfile_of "$name")"; done
}

cluster_node_names() { local port; for port in "${CLUSTER_PORTS[@]}"; do echo "$CLUSTER_NODE_PREFIX-$port"; done; }

cmd_down() {
  # shellcheck disable=SC2046 # node names have no spaces
  stop_nodes standalone $(cluster_node_names)
  echo "redis: stopped"
}

cmd_down_failover() {
  # shellcheck disable=SC2046 # node names have no spaces
  stop_nodes $(cluster_node_names)
  echo "redis: failover cluster stopped"
}

# Prints each node of the cluster in use; fails when one is stopped or the cluster is not
# healthy (cluster_ok: all slots served, every replica linked).
cluster_status() {
  local healthy=0 port state role name
  for port in "${CLUSTER_PORTS[@]}"; do
    name="$CLUSTER_NODE_PREFIX-$port"
    if is_running "$(pidfile_of "$name")"; then
      state=$(cluster_field "$port" cluster_state)
      role=$(cli "$port" info replication | sed -n 's/^role://p')
      echo "redis cluster node: running (pid $(cat "$(pidfile_of "$name")")) on 127.0.0.1:$port, ${role:-unknown role}, cluster_state:${state:-unknown}"
    else
      echo "redis cluster node 127.0.0.1:$port: stopped"
      healthy=1
    fi
  done
  [[ $healthy == 0 ]] && cluster_ok
}

cmd_status() {
  local healthy=0
  if is_running "$(pidfile_of standalone)"; then
    echo "redis standalone: running (pid $(cat "$(pidfile_of standalone)")) on 127.0.0.1:$STANDALONE_PORT"
  else
    echo "redis standalone: stopped"
    healthy=1
  fi
  cluster_status || healthy=1
  return "$healthy"
}

cmd_endpoints() {
  echo "PARLEY_TEST_REDIS_URL=redis://127.0.0.1:$STANDALONE_PORT"
  echo "PARLEY_TEST_REDIS_CLUSTER_NODES=$(cluster_nodes_list)"
}

cluster_nodes_list() {
  local nodes=() port
  for port in "${CLUSTER_PORTS[@]}"; do nodes+=("127.0.0.1:$port"); done
  (IFS=,; echo "${nodes[*]}")
}

usage() {
  echo "usage: $0 up|down|status|endpoints [failover]" >&2
  exit 2
}

if [[ ${2:-} == failover ]]; then
  use_cluster failover
  case "$1" in
    up) cmd_up_failover ;;
    down) cmd_down_failover ;;
    status) cluster_status ;;
    endpoints)
      cluster_status >/dev/null || exit 1
      echo "PARLEY_TEST_REDIS_FAILOVER_CLUSTER_NODES=$(cluster_nodes_list)"
      ;;
    *) usage ;;
  esac
  exit $?
fi

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  endpoints) cmd_endpoints ;;
  *) usage ;;
esac
