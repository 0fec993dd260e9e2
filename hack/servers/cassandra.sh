#!/usr/bin/env bash
# A local Cassandra for the Cassandra adapters' tests: one node run from Maven Central jars
# (org.apache.cassandra:cassandra-all, no distribution tarball) with plain java:
#   hack/servers/cassandra.sh up|down|status|endpoints
# CQL on 127.0.0.1:29042 (PARLEY_CASSANDRA_PORT), internode on 127.0.0.1:29000
# (PARLEY_CASSANDRA_STORAGE_PORT); no JMX. Data, logs and pid file in
# $PARLEY_INFRA_DIR/cassandra. The configuration is tuned for tests (fast start, fast
# schema changes, no snapshots on DROP); docs/operations.md says what production needs.
set -euo pipefail
# shellcheck disable=SC2034 # read by lib.sh (log)
SERVER_NAME=cassandra
source "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

PORT=${PARLEY_CASSANDRA_PORT:-29042}
STORAGE_PORT=${PARLEY_CASSANDRA_STORAGE_PORT:-29000}
CASSANDRA_HOME="$PARLEY_CACHE/cassandra-$CASSANDRA_VERSION"
LIB="$CASSANDRA_HOME/lib"
PROBE_CLASSES="$CASSANDRA_HOME/probe"
RUN="$PARLEY_INFRA_DIR/cassandra"
PIDFILE="$RUN/cassandra.pid"
CONFIG="$RUN/conf/cassandra.yaml"
# SimpleSnitch puts every node in this data centre; `up` checks that the node says so.
DATACENTER=datacenter1

provision() {
  maven_copy_dependencies "$HACK_DIR/cassandra/pom.xml" "$LIB" -Dcassandra.version="$CASSANDRA_VERSION"
  if [[ ! -f "$PROBE_CLASSES/CqlProbe.class" || "$HACK_DIR/cassandra/CqlProbe.java" -nt "$PROBE_CLASSES/CqlProbe.class" ]]; then
    mkdir -p "$PROBE_CLASSES"
    "$JDK/bin/javac" -nowarn -d "$PROBE_CLASSES" -cp "$LIB/*" "$HACK_DIR/cassandra/CqlProbe.java"
  fi
}

# JDK: the Java home of the java that lib.sh's java17 runs (setsid cannot run a shell
# function, so the server is started with that java's path).
JDK=""
resolve_jdk() {
  [[ -n "$JDK" ]] || JDK=$(dirname "$(dirname "$(java17_bin)")")
  [[ -x "$JDK/bin/java" ]] || die "no Java 17 found (PARLEY_JAVA_HOME, /usr/lib/jvm/java-17-openjdk-amd64 or java on PATH)"
}

# Class-data sharing: the first run records the classes Cassandra loads into an archive
# when it stops (`down`); later runs map it and start a second or two sooner. One archive
# per JDK build, as an archive only works with the JVM that wrote it.
cds_archive() {
  local runtime
  runtime=$(sed -n 's/^JAVA_RUNTIME_VERSION="\(.*\)"/\1/p' "$JDK/release" 2>/dev/null || true)
  echo "$CASSANDRA_HOME/classes-${runtime:-unknown}.jsa"
}

cds_options() {
  local archive
  archive=$(cds_archive)
  # jamm runs as a Java agent, which CDS accepts only with this diagnostic flag.
  printf '%s\n' -XX:+UnlockDiagnosticVMOptions -XX:+AllowArchivingWithJavaAgent
  if [[ -s "$archive" ]]; then
    echo "-XX:SharedArchiveFile=$archive"
  else
    echo "-XX:ArchiveClassesAtExit=$archive.partial"
  fi
}

down() {
  resolve_jdk
  stop_pidfile "$PIDFILE"
  # The JVM writes the archive as it exits; only a complete one is kept.
  local archive
  archive=$(cds_archive)
  if [[ -s "$archive.partial" ]]; then mv "$archive.partial" "$archive"; fi
  rm -f "$archive.partial"
  log "stopped"
}

write_config() {
  mkdir -p "$RUN/conf" "$RUN/data" "$RUN/commitlog" "$RUN/saved_caches" "$RUN/hints" "$RUN/cdc_raw" "$RUN/logs"
  cat >"$CONFIG" <<YAML
# Written by hack/servers/cassandra.sh: a single node for tests, on 127.0.0.1 only.
cluster_name: parley-test
# One token, given: the node starts without token allocation or bootstrap.
num_tokens: 1
initial_token: 0
auto_bootstrap: false
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
# Fresh clusters only: every 5.0 feature, no 4.x wire compatibility.
storage_compatibility_mode: NONE
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1:$STORAGE_PORT"
listen_address: 127.0.0.1
rpc_address: 127.0.0.1
storage_port: $STORAGE_PORT
ssl_storage_port: $((STORAGE_PORT + 1))
native_transport_port: $PORT
start_native_transport: true
endpoint_snitch: SimpleSnitch
dynamic_snitch: false
authenticator: AllowAllAuthenticator
authorizer: AllowAllAuthorizer
role_manager: CassandraRoleManager
network_authorizer: AllowAllNetworkAuthorizer
data_file_directories:
  - $RUN/data
commitlog_directory: $RUN/commitlog
saved_caches_directory: $RUN/saved_caches
hints_directory: $RUN/hints
cdc_raw_directory: $RUN/cdc_raw
# The adapters' sequence numbers and inbox cursors are assigned with lightweight
# transactions: Paxos v2 needs fewer round trips and copes better with contention.
paxos_variant: v2
commitlog_sync: periodic
commitlog_sync_period: 10000ms
# Tests create and drop a keyspace per test: no snapshot of every dropped table.
auto_snapshot: false
snapshot_before_compaction: false
disk_failure_policy: stop
commit_failure_policy: stop
concurrent_reads: 8
concurrent_writes: 16
concurrent_counter_writes: 8
YAML
}

# Cassandra 5.0's conf/jvm17-server.options (the JPMS exports/opens it needs on Java 17,
# its G1 and Netty settings), with a small heap and start-up shortcuts for a single test node.
jvm_options() {
  local options=(
    -Xms512m -Xmx1g -Xss256k
    -XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxTenuringThreshold=1 -XX:G1HeapRegionSize=16m
    -XX:G1RSetUpdatingPauseTimePercent=5 -XX:MaxGCPauseMillis=300 -XX:InitiatingHeapOccupancyPercent=70
    -XX:+CrashOnOutOfMemoryError -XX:+PerfDisableSharedMem
    -Djdk.attach.allowAttachSelf=true
    --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
    --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
    --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
    --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
    --add-exports java.sql/java.sql=ALL-UNNAMED
    --add-exports java.base/java.lang.ref=ALL-UNNAMED
    --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
    --add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED
    --add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED
    --add-opens java.base/java.lang.module=ALL-UNNAMED
    --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
    --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
    --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
    --add-opens java.base/jdk.internal.math=ALL-UNNAMED
    --add-opens java.base/jdk.internal.module=ALL-UNNAMED
    --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
    --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
    --add-opens java.base/sun.nio.ch=ALL-UNNAMED
    --add-opens java.base/java.io=ALL-UNNAMED
    --add-opens java.base/java.lang.reflect=ALL-UNNAMED
    --add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED
    --add-opens java.base/java.lang=ALL-UNNAMED
    --add-opens java.base/java.util=ALL-UNNAMED
    -Dio.netty.tryReflectionSetAccessible=true
    -Dio.netty.allocator.useCacheForAllThreads=true
    -Dio.netty.allocator.maxOrder=11
    -Djava.net.preferIPv4Stack=true
    -javaagent:"$(ls "$LIB"/jamm-*.jar)"
    -Dcassandra.config="file://$CONFIG"
    -Dcassandra.storagedir="$RUN"
    -Dcassandra.logdir="$RUN/logs"
    -Dlogback.configurationFile="$HACK_DIR/cassandra/logback.xml"
    -Dcassandra-foreground=yes
    # A lone seed node: nothing to wait for in gossip or the ring.
    -Dcassandra.skip_wait_for_gossip_to_settle=0
    -Dcassandra.ring_delay_ms=0
    -Dcassandra.load_ring_state=false
    -Dcassandra.superuser_setup_delay_ms=0
    # Tests change the schema constantly: skip fsync of the system tables (unsafe for
    # production, harmless for a throw-away test node).
    -Dcassandra.unsafesystem=true
  )
  printf '%s\n' "${options[@]}"
}

probe() {
  "$JDK/bin/java" -Xmx128m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -Dlogback.configurationFile="$HACK_DIR/cassandra/logback-probe.xml" \
    -cp "$LIB/*:$PROBE_CLASSES" CqlProbe 127.0.0.1 "$PORT" "$@"
}

report() { log "Cassandra $CASSANDRA_VERSION is running (pid $(cat "$PIDFILE")): CQL on 127.0.0.1:$PORT, data centre $DATACENTER, data $RUN"; }

# Tests create and drop keyspaces all day. A dropped table leaves an empty directory and
# a file of Paxos repair state (data/system/_paxos_repair_state) that the node reads
# before it answers: with thousands of them, start-up took over 3 minutes. While the node
# is stopped, remove both for every table without data: on this single node that state
# only serves Paxos repair, and a live table whose data is still in the commit log gets
# its directory back when the node opens it.
prune_dropped_tables() {
  local data="$RUN/data" file name keyspace rest table id removed=0
  # Shell built-ins only in the loop: thousands of files, and a subprocess each took minutes.
  for file in "$data"/system/_paxos_repair_state/*.paxos; do
    [[ -e "$file" ]] || continue
    name=${file##*/}
    name=${name%.paxos}
    keyspace=${name%%-*}
    rest=${name#*-}
    table=${rest%%-*}
    # The table id as the directory spells it: the UUID without its dashes.
    id=${rest#*-}
    id=${id//-/}
    if [[ $keyspace == system* ]] || compgen -G "$data/$keyspace/$table-${id:0:32}/*" >/dev/null; then continue; fi
    rm -f "$file" "$file.crc"
    removed=$((removed + 1))
  done
  find "$data" -mindepth 1 -maxdepth 1 -type d ! -name 'system*' -exec find {} -type d -empty -delete \; 2>/dev/null || true
  ((removed == 0)) || log "removed the Paxos repair state of $removed tables without data (dropped by tests)"
}

up() {
  if is_running "$PIDFILE"; then
    report
    return 0
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    die "127.0.0.1:$PORT is taken by a process this script did not start"
  fi
  resolve_jdk
  provision
  write_config
  prune_dropped_tables
  local java options
  java="$JDK/bin/java"
  mapfile -t options < <(jvm_options; cds_options)
  log "starting Cassandra $CASSANDRA_VERSION on 127.0.0.1:$PORT"
  # Detached, in its own session: the node outlives this script.
  setsid "$java" "${options[@]}" -cp "$LIB/*" org.apache.cassandra.service.CassandraDaemon \
    >"$RUN/cassandra.out" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  # Ready when a CQL query through the driver answers (the probe waits for the port).
  local answer
  if ! answer=$(probe 180 "$(cat "$PIDFILE")"); then
    tail -n 40 "$RUN/cassandra.out" "$RUN/logs/system.log" >&2 2>/dev/null || true
    stop_pidfile "$PIDFILE"
    die "Cassandra did not answer CQL on 127.0.0.1:$PORT; logs: $RUN/logs/system.log, $RUN/cassandra.out"
  fi
  [[ "${answer#* }" == "$DATACENTER" ]] || log "warning: the node reports data centre '${answer#* }', not $DATACENTER"
  report
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status)
    if is_running "$PIDFILE"; then report; else log "not running"; exit 1; fi
    ;;
  endpoints)
    is_running "$PIDFILE" || exit 1
    echo "PARLEY_TEST_CASSANDRA_CONTACT_POINTS=127.0.0.1:$PORT"
    echo "PARLEY_TEST_CASSANDRA_DC=$DATACENTER"
    ;;
  *)
    echo "usage: $0 up|down|status|endpoints" >&2
    exit 2
    ;;
esac
