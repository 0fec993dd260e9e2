#!/usr/bin/env bash
# S3Proxy for the S3 blob store's tests (services/adapters/s3): an S3-compatible server on
# 127.0.0.1:28080 with AWS signature v2/v4 authentication, storing objects as files under
# $PARLEY_INFRA_DIR/s3proxy/data (the `filesystem` back end). Its self-contained jar comes
# from Maven Central once (hack/s3proxy/pom.xml, version in hack/versions.env) and is
# cached in $PARLEY_CACHE/s3proxy-<version>/; $PARLEY_INFRA_DIR/s3proxy/ also holds the
# properties file, the log and the pid file.
#   hack/servers/s3proxy.sh up|down|status|endpoints
SERVER_NAME=s3proxy
# shellcheck source=../lib.sh
source "$(cd "$(dirname "$0")" && pwd)/../lib.sh"

S3PROXY_DIR="$PARLEY_INFRA_DIR/s3proxy"
S3PROXY_JARS="$PARLEY_CACHE/s3proxy-$S3PROXY_VERSION"
PIDFILE="$S3PROXY_DIR/s3proxy.pid"
LOGFILE="$S3PROXY_DIR/s3proxy.log"
PROPERTIES="$S3PROXY_DIR/s3proxy.properties"
PORT=28080
ENDPOINT="http://127.0.0.1:$PORT"
# Test-only credentials for a server that listens on the loopback interface alone.
ACCESS_KEY=parley-test
SECRET_KEY=parley-test-secret-0123456789
REGION=us-east-1
READY_SECONDS=60
# SHA-256 of an empty body: SigV4 signs it in x-amz-content-sha256.
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

jar_path() { printf '%s/s3proxy-%s-jar-with-dependencies.jar' "$S3PROXY_JARS" "$S3PROXY_VERSION"; }

provision() {
  command -v curl >/dev/null || die "curl is needed for the readiness check (apt-get install curl)"
  maven_copy_dependencies "$HACK_DIR/s3proxy/pom.xml" "$S3PROXY_JARS" -Ds3proxy.version="$S3PROXY_VERSION"
  [[ -f "$(jar_path)" ]] || die "$(jar_path) is missing after the download; remove $S3PROXY_JARS and retry"
}

write_properties() {
  mkdir -p "$S3PROXY_DIR/data"
  cat >"$PROPERTIES" <<EOF
# Written by hack/servers/s3proxy.sh on every start; edits are lost.
s3proxy.endpoint=$ENDPOINT
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$ACCESS_KEY
s3proxy.credential=$SECRET_KEY
jclouds.provider=filesystem
jclouds.filesystem.basedir=$S3PROXY_DIR/data
EOF
}

# A signed S3 request: ListBuckets (GET /), which needs the server up and our credentials.
list_buckets() {
  curl -sf --max-time 5 --aws-sigv4 "aws:amz:$REGION:s3" --user "$ACCESS_KEY:$SECRET_KEY" \
    -H "x-amz-content-sha256: $EMPTY_SHA256" "$ENDPOINT/" 2>/dev/null
}

wait_ready() {
  local i
  for ((i = 0; i < READY_SECONDS * 20; i++)); do
    if ! is_running "$PIDFILE"; then
      tail -n 20 "$LOGFILE" >&2 || true
      die "s3proxy exited; log: $LOGFILE"
    fi
    if list_buckets | grep -q '<ListAllMyBucketsResult'; then return 0; fi
    sleep 0.05
  done
  die "s3proxy did not answer a signed ListBuckets on $ENDPOINT within ${READY_SECONDS}s; log: $LOGFILE"
}

start() {
  write_properties
  echo "$(jar_path)" >"$S3PROXY_DIR/running-jar"
  # setsid+nohup: the server outlives this script and the terminal; its output goes to a log.
  # Serial GC and a bounded heap: a test server on a 2-core machine shared with Kafka and Cassandra.
  setsid nohup "$(java17_bin)" -XX:+UseSerialGC -Xms64m -Xmx512m \
    -jar "$(jar_path)" --properties "$PROPERTIES" >>"$LOGFILE" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
}

cmd_up() {
  provision
  mkdir -p "$S3PROXY_DIR"
  if is_running "$PIDFILE"; then
    if [[ $(cat "$S3PROXY_DIR/running-jar" 2>/dev/null) != "$(jar_path)" ]]; then
      log "running an other version than $S3PROXY_VERSION: restarting"
      stop_pidfile "$PIDFILE"
    else
      log "already running (pid $(cat "$PIDFILE"))"
    fi
  fi
  if ! is_running "$PIDFILE"; then
    if list_buckets >/dev/null || (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
      die "something else listens on 127.0.0.1:$PORT"
    fi
    start
  fi
  wait_ready
  echo "s3proxy $S3PROXY_VERSION: $ENDPOINT (access key $ACCESS_KEY, region $REGION); objects in $S3PROXY_DIR/data, log $LOGFILE"
}

cmd_down() {
  stop_pidfile "$PIDFILE"
  echo "s3proxy: stopped"
}

cmd_status() {
  if is_running "$PIDFILE"; then
    if list_buckets | grep -q '<ListAllMyBucketsResult'; then
      echo "s3proxy: running (pid $(cat "$PIDFILE")) on $ENDPOINT"
      return 0
    fi
    echo "s3proxy: running (pid $(cat "$PIDFILE")) but not answering on $ENDPOINT"
    return 1
  fi
  echo "s3proxy: stopped"
  return 1
}

cmd_endpoints() {
  echo "PARLEY_TEST_S3_ENDPOINT=$ENDPOINT"
  echo "PARLEY_TEST_S3_ACCESS_KEY=$ACCESS_KEY"
  echo "PARLEY_TEST_S3_SECRET_KEY=$SECRET_KEY"
  echo "PARLEY_TEST_S3_REGION=$REGION"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  endpoints) cmd_endpoints ;;
  *)
    echo "usage: $0 up|down|status|endpoints" >&2
    exit 2
    ;;
esac
