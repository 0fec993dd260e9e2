#!/usr/bin/env bash
# A Kubernetes control plane for the operator's tests, as three local processes (no
# containers, no kubelet, so no pod ever runs; Deployments, ReplicaSets, Services, CRDs,
# RBAC, garbage collection and the like all work):
#   etcd                     client 127.0.0.1:22379, peer 127.0.0.1:22380 (plain HTTP)
#                            (PARLEY_KUBE_ETCD_PORT, PARLEY_KUBE_ETCD_PEER_PORT)
#   kube-apiserver           https://127.0.0.1:26443 (RBAC; client certificates)
#                            (PARLEY_KUBE_APISERVER_PORT)
#   kube-controller-manager  all default controllers; health on https://127.0.0.1:26257
#                            (PARLEY_KUBE_CONTROLLER_MANAGER_PORT)
# The binaries, and kubectl and helm for the tests, are built from Go modules by
# hack/kube/build.sh once (KUBE_VERSION, ETCD_VERSION, HELM_VERSION in hack/versions.env)
# into $PARLEY_CACHE/kube-$KUBE_VERSION/bin. $PARLEY_INFRA_DIR/kube holds the certificates
# (pki/, made once with openssl), etcd's data (etcd/: the cluster's objects outlive `down`;
# delete it for an empty cluster), logs and pid files, and admin.kubeconfig: user
# parley-admin in group system:masters.
#   hack/servers/kube.sh up|down|status|endpoints
# shellcheck disable=SC2034 # read by log() in lib.sh
SERVER_NAME=kube
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$(cd "$(dirname "$0")" && pwd)/../lib.sh"

KUBE_DIR="$PARLEY_INFRA_DIR/kube"
PKI="$KUBE_DIR/pki"
BIN="$PARLEY_CACHE/kube-$KUBE_VERSION/bin"
KUBECTL="$BIN/kubectl"
ADMIN_KUBECONFIG="$KUBE_DIR/admin.kubeconfig"
KCM_KUBECONFIG="$KUBE_DIR/kube-controller-manager.kubeconfig"
ETCD_PORT=${PARLEY_KUBE_ETCD_PORT:-22379}
ETCD_PEER_PORT=${PARLEY_KUBE_ETCD_PEER_PORT:-22380}
APISERVER_PORT=${PARLEY_KUBE_APISERVER_PORT:-26443}
KCM_PORT=${PARLEY_KUBE_CONTROLLER_MANAGER_PORT:-26257}
APISERVER_URL="https://127.0.0.1:$APISERVER_PORT"
SERVICE_CIDR=10.96.0.0/16
SERVICE_IP=10.96.0.1 # the `kubernetes` Service's cluster IP: the first of SERVICE_CIDR
# For a control plane with a node (hack/cluster): an address of this machine that pods can
# reach. The API server then also serves there and advertises it (the `kubernetes`
# Service's endpoint), and reaches kubelets by their InternalIP with a client certificate.
# Empty (the default, the operator's tests): loopback only, as before.
ADVERTISE_ADDRESS=${PARLEY_KUBE_ADVERTISE_ADDRESS:-}
if [[ -n $ADVERTISE_ADDRESS ]]; then
  BIND_ADDRESS=0.0.0.0 ENDPOINT_RECONCILER=lease
else
  ADVERTISE_ADDRESS=127.0.0.1 BIND_ADDRESS=127.0.0.1 ENDPOINT_RECONCILER=none
fi
READY_SECONDS=120

pidfile_of() { printf '%s/%s.pid' "$KUBE_DIR" "$1"; }
log_of() { printf '%s/%s.log' "$KUBE_DIR" "$1"; }

provision() {
  local out
  if ! out=$("$HACK_DIR/kube/build.sh"); then die "building the binaries failed (hack/kube/build.sh)"; fi
  [[ $out == "$BIN" ]] || die "hack/kube/build.sh built into $out, expected $BIN"
}

# A CA, the API server's serving certificate, client certificates for the admin and the
# controller manager, the service-account token signing key, and a second CA with the
# client certificate the API server proxies to aggregated API servers with (the
# request-header CA, as kubeadm sets it up: the controller manager's delegated
# authentication wants it); made once.
PKI_FILES=(ca.crt apiserver.crt admin.crt kube-controller-manager.crt sa.key sa.pub front-proxy-ca.crt front-proxy-client.crt)
make_pki() {
  local file complete=1
  for file in "${PKI_FILES[@]}"; do [[ -f "$PKI/$file" ]] || complete=0; done
  [[ $complete -eq 1 ]] && return 0
  log "making the certificates in $PKI (first run only)"
  rm -rf "$PKI" && mkdir -p "$PKI" && chmod 700 "$PKI"
  cat >"$PKI/openssl.cnf" <<'CNF'
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
authorityKeyIdentifier = keyid
subjectAltName = @server_names
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
CNF
  {
    echo "[server_names]"
    echo "IP.1 = 127.0.0.1"
    echo "IP.2 = $SERVICE_IP"
    local i=1 name
    for name in localhost kubernetes kubernetes.default kubernetes.default.svc kubernetes.default.svc.cluster.local; do
      echo "DNS.$i = $name"
      i=$((i + 1))
    done
  } >>"$PKI/openssl.cnf"
  openssl req -x509 -new -newkey rsa:2048 -nodes -days 3650 -subj "/CN=parley-kube-ca" \
    -config "$PKI/openssl.cnf" -extensions ca -keyout "$PKI/ca.key" -out "$PKI/ca.crt" 2>/dev/null
  issue ca apiserver "/CN=kube-apiserver" server
  issue ca admin "/O=system:masters/CN=parley-admin" client
  issue ca kube-controller-manager "/CN=system:kube-controller-manager" client
  openssl req -x509 -new -newkey rsa:2048 -nodes -days 3650 -subj "/CN=parley-kube-front-proxy-ca" \
    -config "$PKI/openssl.cnf" -extensions ca -keyout "$PKI/front-proxy-ca.key" -out "$PKI/front-proxy-ca.crt" 2>/dev/null
  issue front-proxy-ca front-proxy-client "/CN=front-proxy-client" client
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  rm -f "$PKI"/*.csr
}

# The API server's client certificate for kubelets (logs, exec, port-forward), as kubeadm's
# apiserver-kubelet-client; made once, beside a PKI made before it existed.
make_kubelet_client_cert() {
  [[ -f "$PKI/apiserver-kubelet-client.crt" ]] && return 0
  issue ca apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" client
  rm -f "$PKI"/*.csr
}

# issue CA NAME SUBJECT server|client: a key and a certificate signed by CA, for 10 years.
issue() {
  local ca=$1 name=$2 subject=$3 kind=$4
  openssl req -new -newkey rsa:2048 -nodes -subj "$subject" -config "$PKI/openssl.cnf" \
    -keyout "$PKI/$name.key" -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" -set_serial "0x$(openssl rand -hex 16)" \
    -days 3650 -extfile "$PKI/openssl.cnf" -extensions "$kind" -out "$PKI/$name.crt" 2>/dev/null
}

# write_kubeconfig FILE USER CERT_NAME: a self-contained kubeconfig (certificates inline).
write_kubeconfig() {
  local file=$1 user=$2 cert=$3
  cat >"$file.tmp" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: parley
  cluster:
    server: $APISERVER_URL
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(base64 -w0 "$PKI/$cert.crt")
    client-key-data: $(base64 -w0 "$PKI/$cert.key")
contexts:
- name: parley
  context:
    cluster: parley
    user: $user
current-context: parley
YAML
  chmod 600 "$file.tmp" && mv -f "$file.tmp" "$file"
}

# current NAME ARGS...: true when NAME runs as `BIN/NAME ARGS...`: the binary and flags it
# would be started with now (so after a version bump or a change of flags here, `up`
# restarts it).
current() {
  local name=$1 pidfile want have
  shift
  pidfile=$(pidfile_of "$name")
  is_running "$pidfile" || return 1
  want=$(printf '%s\n' "$BIN/$name" "$@")
  have=$(tr '\0' '\n' <"/proc/$(cat "$pidfile")/cmdline" 2>/dev/null) || return 0 # cannot tell: keep it
  [[ $have == "$want" ]]
}

# start NAME PORT ARGS...: starts BIN/NAME ARGS... detached, unless it runs so already.
start() {
  local name=$1 port=$2 pidfile
  shift 2
  pidfile=$(pidfile_of "$name")
  current "$name" "$@" && return 0
  if is_running "$pidfile"; then
    log "restarting $name: it runs another binary or other flags than $BIN/$name would now"
    stop_pidfile "$pidfile"
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "something else listens on 127.0.0.1:$port, where $name would listen"
  fi
  log "starting $name"
  # setsid+nohup: the process outlives this script and the terminal; its output goes to a log.
  setsid nohup "$BIN/$name" "$@" >>"$(log_of "$name")" 2>&1 </dev/null &
  echo $! >"$pidfile"
}

# wait_until NAME DESCRIPTION COMMAND...: until COMMAND succeeds, while NAME keeps running.
wait_until() {
  local name=$1 what=$2 i
  shift 2
  for ((i = 0; i < READY_SECONDS * 5; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    if ! is_running "$(pidfile_of "$name")"; then
      tail -n 30 "$(log_of "$name")" >&2 || true
      die "$name exited before $what; log: $(log_of "$name")"
    fi
    sleep 0.2
  done
  tail -n 30 "$(log_of "$name")" >&2 || true
  die "no $what within ${READY_SECONDS}s; log: $(log_of "$name")"
}

# The checks below are run through wait_until.
# shellcheck disable=SC2317
etcd_healthy() { [[ $(curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_PORT/health") == *'"health":"true"'* ]]; }
apiserver_ready() {
  [[ $(curl -fsS --max-time 5 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "$APISERVER_URL/readyz") == ok ]]
}
kcm_healthy() { [[ $(curl -fsSk --max-time 2 "https://127.0.0.1:$KCM_PORT/healthz") == ok ]]; }
kubectl() { "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }
# shellcheck disable=SC2317
default_service_account() { kubectl get --request-timeout=5s serviceaccount default --namespace default; }

# The three processes' flags. `up` restarts a process whose flags (or binary) changed.
# etcd, plain HTTP on loopback; --unsafe-no-fsync: test data only (a killed process loses
# nothing, a crashed machine might).
ETCD_ARGS=(
  --name parley
  --data-dir "$KUBE_DIR/etcd"
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT"
  --advertise-client-urls "http://127.0.0.1:$ETCD_PORT"
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT"
  --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT"
  --initial-cluster "parley=http://127.0.0.1:$ETCD_PEER_PORT"
  --initial-cluster-state new
  --unsafe-no-fsync
)

# --endpoint-reconciler-type=none: with the default (lease) the API server refuses to start,
# as the `kubernetes` Service's endpoint would be 127.0.0.1, a loopback address.
# --requestheader-*/--proxy-client-*: the front-proxy set-up kubeadm makes, which aggregated
# API servers and the controller manager's delegated authentication read.
# With ADVERTISE_ADDRESS: bound to 0.0.0.0, so loopback (tests, kubectl) and that address
# (pods, through the `kubernetes` Service, whose endpoint the lease reconciler keeps) both work.
APISERVER_ARGS=(
  --bind-address="$BIND_ADDRESS"
  --advertise-address="$ADVERTISE_ADDRESS"
  --secure-port="$APISERVER_PORT"
  --etcd-servers="http://127.0.0.1:$ETCD_PORT"
  --tls-cert-file="$PKI/apiserver.crt"
  --tls-private-key-file="$PKI/apiserver.key"
  --client-ca-file="$PKI/ca.crt"
  --authorization-mode=RBAC
  --service-account-issuer=https://kubernetes.default.svc.cluster.local
  --service-account-key-file="$PKI/sa.pub"
  --service-account-signing-key-file="$PKI/sa.key"
  --service-cluster-ip-range="$SERVICE_CIDR"
  --endpoint-reconciler-type="$ENDPOINT_RECONCILER"
  --allow-privileged=true
  --requestheader-client-ca-file="$PKI/front-proxy-ca.crt"
  --requestheader-allowed-names=front-proxy-client
  --requestheader-username-headers=X-Remote-User
  --requestheader-group-headers=X-Remote-Group
  --requestheader-extra-headers-prefix=X-Remote-Extra-
  --proxy-client-cert-file="$PKI/front-proxy-client.crt"
  --proxy-client-key-file="$PKI/front-proxy-client.key"
  --cert-dir="$KUBE_DIR/kube-apiserver-certs"
  --profiling=false
)
if [[ $BIND_ADDRESS == 0.0.0.0 ]]; then
  APISERVER_ARGS+=(
    --kubelet-preferred-address-types=InternalIP
    --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt"
    --kubelet-client-key="$PKI/apiserver-kubelet-client.key"
  )
fi

# Every default controller (deployment, replicaset, garbage collector, namespace,
# service account and token, ...), each under its own service account as in kubeadm's
# clusters; the CA signs approved CSRs; the flex-volume directory is kept out of /usr.
KCM_ARGS=(
  --kubeconfig="$KCM_KUBECONFIG"
  --authentication-kubeconfig="$KCM_KUBECONFIG"
  --authorization-kubeconfig="$KCM_KUBECONFIG"
  --bind-address=127.0.0.1
  --secure-port="$KCM_PORT"
  --cert-dir="$KUBE_DIR/kube-controller-manager-certs"
  --flex-volume-plugin-dir="$KUBE_DIR/flexvolume"
  --controllers='*'
  --leader-elect=false
  --use-service-account-credentials=true
  --service-account-private-key-file="$PKI/sa.key"
  --root-ca-file="$PKI/ca.crt"
  --cluster-signing-cert-file="$PKI/ca.crt"
  --cluster-signing-key-file="$PKI/ca.key"
  --cluster-name=parley
  --profiling=false
)

cmd_up() {
  local start_time=$SECONDS
  provision
  mkdir -p "$KUBE_DIR"
  make_pki
  make_kubelet_client_cert
  write_kubeconfig "$ADMIN_KUBECONFIG" parley-admin admin
  write_kubeconfig "$KCM_KUBECONFIG" system:kube-controller-manager kube-controller-manager

  start etcd "$ETCD_PORT" "${ETCD_ARGS[@]}"
  wait_until etcd "etcd healthy on 127.0.0.1:$ETCD_PORT" etcd_healthy
  # A controller manager still starting exits when the API server goes away: restart both.
  current kube-apiserver "${APISERVER_ARGS[@]}" || stop_pidfile "$(pidfile_of kube-controller-manager)"
  start kube-apiserver "$APISERVER_PORT" "${APISERVER_ARGS[@]}"
  wait_until kube-apiserver "/readyz ok on $APISERVER_URL" apiserver_ready
  start kube-controller-manager "$KCM_PORT" "${KCM_ARGS[@]}"
  wait_until kube-controller-manager "kube-controller-manager healthy on 127.0.0.1:$KCM_PORT" kcm_healthy
  # The controller manager's service-account controller makes it; pods need it to be admitted.
  wait_until kube-controller-manager "service account default/default" default_service_account
  [[ $(kubectl get --raw /readyz) == ok ]] || die "kubectl get --raw /readyz is not ok"
  echo "kube: Kubernetes v$KUBE_VERSION at $APISERVER_URL (etcd v$ETCD_VERSION on 127.0.0.1:$ETCD_PORT) ready in $((SECONDS - start_time))s; kubeconfig $ADMIN_KUBECONFIG; logs in $KUBE_DIR"
}

cmd_down() {
  # The controller manager first, etcd last: each stops while what it talks to still runs.
  local name
  for name in kube-controller-manager kube-apiserver etcd; do stop_pidfile "$(pidfile_of "$name")"; done
  echo "kube: stopped"
}

cmd_status() {
  local healthy=0 name
  for name in etcd kube-apiserver kube-controller-manager; do
    if is_running "$(pidfile_of "$name")"; then
      echo "kube $name: running (pid $(cat "$(pidfile_of "$name")")), log $(log_of "$name")"
    else
      echo "kube $name: stopped"
      healthy=1
    fi
  done
  if [[ $healthy -eq 0 ]]; then
    if apiserver_ready && kcm_healthy; then
      echo "kube: ready at $APISERVER_URL (Kubernetes v$KUBE_VERSION), kubeconfig $ADMIN_KUBECONFIG"
    else
      echo "kube: running but not ready"
      healthy=1
    fi
  fi
  return "$healthy"
}

cmd_endpoints() {
  echo "PARLEY_TEST_KUBECONFIG=$ADMIN_KUBECONFIG"
  echo "PARLEY_TEST_KUBECTL=$KUBECTL"
  echo "PARLEY_TEST_HELM=$BIN/helm"
}

main() {
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
}

# On one line, so that bash has read it all before running it: editing this file while an
# `up` runs does not break that `up`.
main "$@"; exit
