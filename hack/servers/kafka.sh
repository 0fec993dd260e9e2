#!/usr/bin/env bash
# A local Kafka for the Kafka adapter's tests: one KRaft node that is broker and controller,
# run from Maven Central jars (no distribution tarball):
#   hack/servers/kafka.sh up|down|status|endpoints
# Listens on 127.0.0.1:29092 (PARLEY_KAFKA_PORT), controller on 127.0.0.1:29093
# (PARLEY_KAFKA_CONTROLLER_PORT); data, log and pid file in $PARLEY_INFRA_DIR/kafka. A third
# listener, 127.0.0.1:29094 (PARLEY_KAFKA_POD_PORT), advertises this machine's address for
# the pods of hack/cluster (PARLEY_TEST_KAFKA_POD_BROKERS).
#
# A second, separate cluster of three KRaft nodes (each broker and controller), only on
# request, for replication faults (hack/chaos): `up 3`, `down 3 [node]`, `status 3`,
# `endpoints 3`. Brokers on 127.0.0.1:29112, 29122, 29132, controllers on 29113, 29123,
# 29133; data in $PARLEY_INFRA_DIR/kafka3/node-<n>. `down 3 2` stops node 2 alone (a lost
# broker); `up 3` starts whichever nodes are not running. The single broker above is
# untouched by it.
#
# An extra single broker, separate from both, for measurements that must not load the
# shared ones (services/bench/group-topics.ts): PARLEY_KAFKA_INSTANCE=<name> with its own
# PARLEY_KAFKA_PORT and PARLEY_KAFKA_CONTROLLER_PORT; same version and JVM settings as the
# single broker, data in $PARLEY_INFRA_DIR/kafka-<name>, no pods' listener. `purge` stops
# it and deletes its data.
set -euo pipefail
# shellcheck disable=SC2034 # read by log() in lib.sh
SERVER_NAME=kafka
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

PORT=${PARLEY_KAFKA_PORT:-29092}
CONTROLLER_PORT=${PARLEY_KAFKA_CONTROLLER_PORT:-29093}
KAFKA_HOME="$PARLEY_CACHE/kafka-$KAFKA_VERSION"
LIBS="$KAFKA_HOME/libs"
DATA="$PARLEY_INFRA_DIR/kafka"
PIDFILE="$DATA/kafka.pid"
CONFIG="$DATA/server.properties"
BOOTSTRAP="127.0.0.1:$PORT"
# A listener for pods of the one-node cluster (hack/cluster): bound to loopback like the
# other, but advertising this machine's address, where the cluster forwards pods' traffic
# for this port to loopback. Only the single broker has it; none without such an address.
POD_PORT=${PARLEY_KAFKA_POD_PORT:-29094}
POD_ADDRESS=${PARLEY_NODE_ADDRESS:-$(node_address)}

INSTANCE=${PARLEY_KAFKA_INSTANCE:-}
if [[ -n $INSTANCE ]]; then
  [[ $INSTANCE =~ ^[a-z0-9][a-z0-9-]*$ ]] || die "PARLEY_KAFKA_INSTANCE: lower-case letters, digits and dashes, not '$INSTANCE'"
  [[ -n ${PARLEY_KAFKA_PORT:-} && -n ${PARLEY_KAFKA_CONTROLLER_PORT:-} ]] ||
    die "instance $INSTANCE needs ports of its own: set PARLEY_KAFKA_PORT and PARLEY_KAFKA_CONTROLLER_PORT"
  [[ $PORT != 29092 && $CONTROLLER_PORT != 29093 ]] || die "instance $INSTANCE must not take the shared broker's ports"
  DATA="$PARLEY_INFRA_DIR/kafka-$INSTANCE"
  PIDFILE="$DATA/kafka.pid"
  CONFIG="$DATA/server.properties"
  POD_ADDRESS=""
fi

provision() {
  maven_copy_dependencies "$HACK_DIR/kafka/pom.xml" "$LIBS" \
    -Dkafka.version="$KAFKA_VERSION" -Dlog4j.version="$KAFKA_LOG4J_VERSION"
}


JAVA=$(java17_bin)

# kafka_tool CLASS ARGS...: one of Kafka's command-line tools, as its bin/ script runs it.
kafka_tool() {
  java17 -Xmx256m -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$HACK_DIR/kafka/tools-log4j2.properties" \
    -cp "$LIBS/*" "$@"
}

# The three-node cluster (`up 3`): node n listens on 291n2, its controller on 291n3.
MULTI_NODES=(1 2 3)
multi_port() { echo $((29102 + 10 * $1)); }
multi_controller_port() { echo $((29103 + 10 * $1)); }
multi_voters() {
  local n voters=()
  for n in "${MULTI_NODES[@]}"; do voters+=("$n@127.0.0.1:$(multi_controller_port "$n")"); done
  (IFS=,; echo "${voters[*]}")
}
multi_bootstrap() {
  local n brokers=()
  for n in "${MULTI_NODES[@]}"; do brokers+=("127.0.0.1:$(multi_port "$n")"); done
  (IFS=,; echo "${brokers[*]}")
}

# use_multi_node N: points PORT, DATA, CONFIG... at node N of the three-node cluster.
NODE_ID=1
VOTERS=""
REPLICAS=1
use_multi_node() {
  NODE_ID=$1
  PORT=$(multi_port "$1")
  CONTROLLER_PORT=$(multi_controller_port "$1")
  DATA="$PARLEY_INFRA_DIR/kafka3/node-$1"
  PIDFILE="$DATA/kafka.pid"
  CONFIG="$DATA/server.properties"
  BOOTSTRAP="127.0.0.1:$PORT"
  VOTERS=$(multi_voters)
  REPLICAS=3
}

write_config() {
  local voters=${VOTERS:-1@127.0.0.1:$CONTROLLER_PORT}
  if [[ $REPLICAS -eq 1 ]]; then
    cat >"$CONFIG" <<PROPERTIES
# Written by hack/servers/kafka.sh: a single node, broker and controller, for tests.
PROPERTIES
  else
    cat >"$CONFIG" <<PROPERTIES
# Written by hack/servers/kafka.sh: node $NODE_ID of three, each broker and controller, for
# replication faults (hack/chaos). Internal topics are replicated three times, two in sync.
PROPERTIES
  fi
  local listeners="PLAINTEXT://127.0.0.1:$PORT" advertised="PLAINTEXT://127.0.0.1:$PORT" protocols=PLAINTEXT:PLAINTEXT
  if [[ $REPLICAS -eq 1 && -n $POD_ADDRESS ]]; then
    listeners+=",PODS://127.0.0.1:$POD_PORT" advertised+=",PODS://$POD_ADDRESS:$POD_PORT" protocols+=",PODS:PLAINTEXT"
  fi
  cat >>"$CONFIG" <<PROPERTIES
process.roles=broker,controller
node.id=$NODE_ID
controller.quorum.voters=$voters
listeners=$listeners,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=$advertised
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,$protocols
log.dirs=$DATA/data
# Topics exist only when the adapter (or the operator) creates them.
auto.create.topics.enable=false
delete.topic.enable=true
num.partitions=3
default.replication.factor=$REPLICAS
min.insync.replicas=$(((REPLICAS + 1) / 2))
# Internal topics: one replica per node (one node: no more); few partitions start fast.
offsets.topic.replication.factor=$REPLICAS
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=$REPLICAS
transaction.state.log.min.isr=$(((REPLICAS + 1) / 2))
transaction.state.log.num.partitions=6
share.coordinator.state.topic.replication.factor=$REPLICAS
share.coordinator.state.topic.min.isr=$(((REPLICAS + 1) / 2))
# Tests join and leave consumer groups all the time: no waiting for more members, and
# short session timeouts allowed so a crashed consumer is noticed in seconds.
group.initial.rebalance.delay.ms=0
group.consumer.min.session.timeout.ms=1000
group.min.session.timeout.ms=1000
num.network.threads=2
num.io.threads=4
log.retention.hours=24
log.segment.bytes=67108864
PROPERTIES
}

# Formats the storage once (the data directory of another Kafka version is started afresh:
# formatted directories are not forward-compatible).
# The three nodes of `up 3` are formatted with one cluster id (CLUSTER_ID, else a new one).
format_storage() {
  if [[ -f "$DATA/data/meta.properties" && "$(cat "$DATA/version" 2>/dev/null)" == "$KAFKA_VERSION" ]]; then
    return 0
  fi
  rm -rf "$DATA/data"
  local cluster_id=${CLUSTER_ID:-}
  # A Kafka cluster id: 16 random bytes, URL-safe base64 without padding.
  [[ -n $cluster_id ]] || cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  [[ $cluster_id != -* ]] || cluster_id="A${cluster_id:1}"
  log "formatting storage in $DATA/data (cluster id $cluster_id)"
  kafka_tool kafka.tools.StorageTool format --config "$CONFIG" --cluster-id "$cluster_id" >"$DATA/format.log" 2>&1 ||
    { cat "$DATA/format.log" >&2; die "formatting the storage failed"; }
  echo "$KAFKA_VERSION" >"$DATA/version"
}

# How long a starting node may take to answer its first admin request: a restarted node of
# the three-node cluster first catches up on the metadata log, which took over 90 s on two
# busy cores.
READY_TIMEOUT=${PARLEY_KAFKA_READY_TIMEOUT:-240}

topic_list() {
  timeout "$READY_TIMEOUT" "$JAVA" -Xmx256m -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$HACK_DIR/kafka/tools-log4j2.properties" \
    -cp "$LIBS/*" org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" --list
}

report() { log "Kafka $KAFKA_VERSION is running (pid $(cat "$PIDFILE")): brokers $BOOTSTRAP, controller 127.0.0.1:$CONTROLLER_PORT, data $DATA"; }

up() {
  if is_running "$PIDFILE" && ! lacks_pod_listener; then
    report
    return 0
  fi
  if is_running "$PIDFILE"; then
    # A broker started before the pods' listener existed: pods could not reach it.
    log "restarting Kafka: it was started without the pods' listener $POD_ADDRESS:$POD_PORT"
    stop_pidfile "$PIDFILE"
  fi
  start_node
  wait_ready
}

# True when this machine has an address for pods but the running broker's configuration
# does not advertise the pods' listener on it.
lacks_pod_listener() {
  [[ -n $POD_ADDRESS ]] && ! grep -q "PODS://$POD_ADDRESS:$POD_PORT" "$CONFIG" 2>/dev/null
}

# Starts the broker of the current settings, detached; wait_ready waits for it.
start_node() {
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    die "127.0.0.1:$PORT is taken by a process this script did not start"
  fi
  provision
  mkdir -p "$DATA"
  write_config
  format_storage
  log "starting Kafka $KAFKA_VERSION on $BOOTSTRAP"
  # Detached, in its own session: the broker outlives this script.
  setsid "$JAVA" -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dkafka.logs.dir="$DATA" -Dlog4j2.configurationFile="$HACK_DIR/kafka/log4j2.properties" \
    -cp "$LIBS/*" kafka.Kafka "$CONFIG" >"$DATA/kafka.out" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
}

wait_ready() {
  # Ready when an admin request goes through: listing the topics. The tool's JVM starts
  # while the broker's does (its client retries until the broker answers), but it is
  # given up if the broker dies.
  topic_list >"$DATA/ready.log" 2>&1 &
  local probe=$!
  while kill -0 "$probe" 2>/dev/null; do
    if ! is_running "$PIDFILE"; then
      kill "$probe" 2>/dev/null || true
      tail -n 30 "$DATA/kafka.out" "$DATA/server.log" >&2 2>/dev/null || true
      rm -f "$PIDFILE"
      die "Kafka exited while starting; log: $DATA/server.log"
    fi
    sleep 0.1
  done
  if ! wait "$probe"; then
    cat "$DATA/ready.log" >&2
    tail -n 30 "$DATA/server.log" >&2 2>/dev/null || true
    die "Kafka on $BOOTSTRAP does not answer an admin request; log: $DATA/server.log"
  fi
  report
}

# The three-node cluster: up_multi starts the nodes not running (all at once: a controller
# quorum forms only when two of three answer), then waits for each.
up_multi() {
  local n started=()
  CLUSTER_ID=$(cat "$PARLEY_INFRA_DIR/kafka3/cluster-id" 2>/dev/null || true)
  if [[ -z $CLUSTER_ID ]]; then
    mkdir -p "$PARLEY_INFRA_DIR/kafka3"
    CLUSTER_ID=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    [[ $CLUSTER_ID != -* ]] || CLUSTER_ID="A${CLUSTER_ID:1}"
    echo "$CLUSTER_ID" >"$PARLEY_INFRA_DIR/kafka3/cluster-id"
  fi
  for n in "${MULTI_NODES[@]}"; do
    use_multi_node "$n"
    is_running "$PIDFILE" && continue
    start_node
    started+=("$n")
  done
  for n in "${started[@]}"; do
    use_multi_node "$n"
    wait_ready
  done
  for n in "${MULTI_NODES[@]}"; do use_multi_node "$n"; report; done
}

multi_command() {
  local command=$1 node=${2:-} n
  case "$command" in
    up) up_multi ;;
    down)
      for n in "${MULTI_NODES[@]}"; do
        [[ -z $node || $node == "$n" ]] || continue
        use_multi_node "$n"
        stop_pidfile "$PIDFILE"
        log "node $n stopped"
      done
      ;;
    status)
      local down=0
      for n in "${MULTI_NODES[@]}"; do
        use_multi_node "$n"
        if is_running "$PIDFILE"; then report; else log "node $n not running"; down=1; fi
      done
      return "$down"
      ;;
    endpoints)
      for n in "${MULTI_NODES[@]}"; do use_multi_node "$n"; is_running "$PIDFILE" || return 1; done
      echo "PARLEY_TEST_KAFKA3_BROKERS=$(multi_bootstrap)"
      ;;
    *)
      echo "usage: $0 up|down|status|endpoints 3 [node]" >&2
      exit 2
      ;;
  esac
}

if [[ "${2:-}" == 3 ]]; then
  multi_command "$1" "${3:-}"
  exit $?
fi

case "${1:-}" in
  up) up ;;
  down)
    stop_pidfile "$PIDFILE"
    log "stopped"
    ;;
  status)
    if is_running "$PIDFILE"; then report; else log "not running"; exit 1; fi
    ;;
  purge)
    [[ -n $INSTANCE ]] || die "purge deletes an extra instance's data (PARLEY_KAFKA_INSTANCE), never the shared broker's"
    stop_pidfile "$PIDFILE"
    rm -rf "$DATA"
    log "instance $INSTANCE stopped, $DATA deleted"
    ;;
  endpoints)
    is_running "$PIDFILE" || exit 1
    echo "PARLEY_TEST_KAFKA_BROKERS=$BOOTSTRAP"
    # Only when the running broker has the pods' listener (one started before it had not).
    if grep -q "PODS://$POD_ADDRESS:$POD_PORT" "$CONFIG" 2>/dev/null; then
      echo "PARLEY_TEST_KAFKA_POD_BROKERS=$POD_ADDRESS:$POD_PORT"
    fi
    ;;
  *)
    echo "usage: $0 up|down|status|endpoints (PARLEY_KAFKA_INSTANCE=<name>: also purge)" >&2
    exit 2
    ;;
esac
