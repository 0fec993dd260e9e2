#!/usr/bin/env bash
# A one-node Kubernetes cluster that runs real pods, for Parley's end-to-end tests on a real
# node (operator/e2e-cluster) and for trying the chart by hand:
#   hack/cluster/cluster.sh up|down|status|env
# Its own control plane (hack/servers/kube.sh with PARLEY_INFRA_DIR=$CLUSTER_DIR, so the
# operator tests' control plane, where a fake kubelet writes pod status, never sees this
# node), serving on this machine's address too, and a node of plain processes:
#   containerd + runc (Debian)        socket $RUN_DIR/containerd.sock, streams 127.0.0.1:23010
#   dockerd (Debian, images only)     socket $RUN_DIR/docker.sock; no iptables, no bridge
#   kubelet                           node address :23250, healthz 127.0.0.1:23248
#   kube-proxy (iptables)             healthz 127.0.0.1:23256, metrics 127.0.0.1:23249
#   kube-scheduler                    127.0.0.1:23259
#   control plane                     API server :23443 (0.0.0.0), etcd 127.0.0.1:23379/23380,
#                                     controller manager 127.0.0.1:23257
# Pods get 10.244.0.0/24 on the bridge cni0 (CNI bridge, host-local, portmap, loopback);
# Services 10.96.0.0/16; NodePorts 30000-32767. All ports are below the ephemeral range.
# There is no cluster DNS: Parley needs none (the operator reaches the API server by the
# KUBERNETES_SERVICE_HOST address, services reach back ends by address); see hack/README.md.
# Pods reach the host's shared back ends (hack/infra.sh, on 127.0.0.1) at the node address:
# a DNAT rule forwards their ports from cni0 to loopback (net.ipv4.conf.cni0.route_localnet),
# and an SNAT rule makes them come from 127.0.0.1 (Redis's protected mode).
# Images are never pulled: hack/cluster/images.sh builds them with dockerd and imports them
# into containerd; pods use imagePullPolicy Never, image garbage collection is off.
# Binaries: hack/kube/build.sh node (kubelet, kube-scheduler, kube-proxy, CNI plugins, cached
# in $PARLEY_CACHE/kube-$KUBE_VERSION/bin); containerd, runc, docker.io, iptables and
# debootstrap from Debian (apt-get installs them when missing). Needs root, cgroups, overlayfs.
# `up` is idempotent (what runs with the same flags is left alone); `down` stops the node's
# processes and removes its pods' containers, network and rules; state stays in $CLUSTER_DIR.
# shellcheck disable=SC2034 # read by log() in lib.sh
SERVER_NAME=cluster
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$(cd "$(dirname "$0")" && pwd)/../lib.sh"
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$HACK_DIR/cluster/common.sh"

# The packages the node runs from Debian, by the command each provides.
declare -A PACKAGE_OF=([containerd]=containerd [runc]=runc [dockerd]=docker.io [iptables]=iptables [debootstrap]=debootstrap [ip]=iproute2 [openssl]=openssl [curl]=curl)

# require_machine: dies naming what this machine lacks for a node; installs missing packages.
require_machine() {
  [[ $(id -u) -eq 0 ]] || die "the node needs root (containerd, runc, iptables, mounts): run as root"
  local command missing=()
  for command in "${!PACKAGE_OF[@]}"; do command -v "$command" >/dev/null || missing+=("${PACKAGE_OF[$command]}"); done
  if [[ ${#missing[@]} -gt 0 ]]; then
    log "installing from Debian: ${missing[*]}"
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=300)
    { "${apt[@]}" update >&2 && "${apt[@]}" install --no-install-recommends "${missing[@]}" >&2; } ||
      die "apt-get install ${missing[*]} failed: the node needs these Debian packages"
  fi
  command -v go >/dev/null || die "go is not installed: kubelet and the CNI plugins are built from Go modules"
  grep -qw overlay /proc/filesystems || die "the kernel has no overlayfs (containerd's snapshotter needs it)"
  [[ -d /sys/fs/cgroup/memory || -f /sys/fs/cgroup/cgroup.controllers ]] ||
    die "no memory cgroup under /sys/fs/cgroup (kubelet and runc need cgroups v1 or v2 mounted)"
  [[ -n $NODE_ADDRESS ]] ||
    die "this machine has no non-loopback IPv4 address (set PARLEY_NODE_ADDRESS): pods reach the API server and the back ends there"
  [[ -w /proc/sys/net/ipv4/ip_forward ]] || die "cannot write /proc/sys/net/ipv4/ip_forward (pods need forwarding)"
}

control_plane_up() {
  PARLEY_INFRA_DIR="$CLUSTER_DIR" PARLEY_KUBE_ADVERTISE_ADDRESS="$NODE_ADDRESS" \
    PARLEY_KUBE_ETCD_PORT=$ETCD_PORT PARLEY_KUBE_ETCD_PEER_PORT=$ETCD_PEER_PORT \
    PARLEY_KUBE_APISERVER_PORT=$APISERVER_PORT PARLEY_KUBE_CONTROLLER_MANAGER_PORT=$KCM_PORT \
    "$HACK_DIR/servers/kube.sh" "$@"
}

# node_pki: client certificates for kubelet (system:node:NODE_NAME in system:nodes),
# kube-proxy and kube-scheduler (the users their default RBAC bindings name), from the
# control plane's CA; made once.
node_pki() {
  local name subject
  for name in kubelet kube-proxy kube-scheduler; do
    [[ -f "$PKI/$name.crt" ]] && continue
    case $name in
      kubelet) subject="/O=system:nodes/CN=system:node:$NODE_NAME" ;;
      *) subject="/CN=system:$name" ;;
    esac
    openssl req -new -newkey rsa:2048 -nodes -subj "$subject" -config "$PKI/openssl.cnf" \
      -keyout "$PKI/$name.key" -out "$PKI/$name.csr" 2>/dev/null
    openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
      -days 3650 -extfile "$PKI/openssl.cnf" -extensions client -out "$PKI/$name.crt" 2>/dev/null
    rm -f "$PKI/$name.csr"
  done
}

# kubeconfig NAME: a kubeconfig for NAME's certificate, to the API server on loopback.
kubeconfig() {
  local name=$1 file="$CLUSTER_DIR/$1.kubeconfig"
  cat >"$file.tmp" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: parley
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority: $PKI/ca.crt
users:
- name: $name
  user:
    client-certificate: $PKI/$name.crt
    client-key: $PKI/$name.key
contexts:
- name: parley
  context: { cluster: parley, user: $name }
current-context: parley
YAML
  mv -f "$file.tmp" "$file"
}

# write_file FILE: stdin into FILE, unless FILE holds it already (kube-proxy exits when its
# configuration file is written, even with the same content).
write_file() {
  local file=$1
  cat >"$file.new"
  if cmp -s "$file.new" "$file"; then rm -f "$file.new"; else mv -f "$file.new" "$file"; fi
}

write_configs() {
  mkdir -p "$CLUSTER_DIR/cni/net.d" "$CLUSTER_DIR/containerd" "$KUBELET_DIR"
  # restrict_oom_score_adj: root here lacks CAP_SYS_RESOURCE, and lowering a score needs it
  # (without it every sandbox fails: "can't get final child's PID from pipe: EOF").
  write_file "$CLUSTER_DIR/containerd/config.toml" <<TOML
version = 2
root = "$CLUSTER_DIR/containerd/root"
state = "$RUN_DIR/containerd"
[grpc]
  address = "$CONTAINERD_SOCKET"
[ttrpc]
  address = "$RUN_DIR/containerd.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "$STREAM_PORT"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$BIN/cni"
    conf_dir = "$CLUSTER_DIR/cni/net.d"
TOML
  # ipMasq: pods reach beyond the node with its address; hairpinMode: a pod reaches itself
  # through a Service.
  write_file "$CLUSTER_DIR/cni/net.d/10-parley.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "parley",
  "plugins": [
    {
      "type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": true, "hairpinMode": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$POD_CIDR", "gateway": "$BRIDGE_ADDRESS" }]],
                "routes": [{ "dst": "0.0.0.0/0" }], "dataDir": "$CLUSTER_DIR/cni/ipam" }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
JSON
  # failCgroupV1: this kernel may mount cgroup v1 only. Image GC off: images are imported,
  # never pulled, so a collected one could not come back. Eviction thresholds low: the disk
  # is shared with everything else on the machine.
  write_file "$KUBELET_DIR/config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_ADDRESS
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $PKI/ca.crt }
authorization: { mode: Webhook }
cgroupDriver: cgroupfs
failCgroupV1: false
containerRuntimeEndpoint: unix://$CONTAINERD_SOCKET
imageServiceEndpoint: unix://$CONTAINERD_SOCKET
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: { memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1% }
failSwapOn: false
resolvConf: /etc/resolv.conf
clusterDomain: cluster.local
maxPods: 110
podPidsLimit: 4096
serializeImagePulls: false
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
YAML
  write_file "$CLUSTER_DIR/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: { kubeconfig: $CLUSTER_DIR/kube-proxy.kubeconfig }
mode: iptables
clusterCIDR: $POD_CIDR
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:$PROXY_HEALTHZ_PORT
metricsBindAddress: 127.0.0.1:$PROXY_METRICS_PORT
nodePortAddresses: ["$NODE_ADDRESS/32"]
conntrack: { maxPerCore: 0 }
YAML
  write_file "$CLUSTER_DIR/kube-scheduler.yaml" <<YAML
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection: { kubeconfig: $CLUSTER_DIR/kube-scheduler.kubeconfig }
leaderElection: { leaderElect: false }
YAML
}

# kubelet_serving_cert: the kubelet's HTTPS certificate for the node address, from the CA
# (the API server dials it by InternalIP); made once.
kubelet_serving_cert() {
  [[ -f "$PKI/kubelet-serving.crt" ]] && return 0
  local cnf="$PKI/kubelet-serving.cnf"
  printf '[req]\ndistinguished_name = dn\n[dn]\n[server]\nbasicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\nsubjectAltName = IP:%s, DNS:%s\n' \
    "$NODE_ADDRESS" "$NODE_NAME" >"$cnf"
  openssl req -new -newkey rsa:2048 -nodes -subj "/CN=$NODE_NAME" -config "$cnf" \
    -keyout "$PKI/kubelet-serving.key" -out "$PKI/kubelet-serving.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/kubelet-serving.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
    -days 3650 -extfile "$cnf" -extensions server -out "$PKI/kubelet-serving.crt" 2>/dev/null
  rm -f "$PKI/kubelet-serving.csr"
}

# network: forwarding, the bridge (made here so its sysctls can be set before the first
# pod), FORWARD accepts for pod traffic (dockerd or a host firewall may default to DROP),
# and the DNAT from the node address to the host's back ends on loopback.
network() {
  sysctl -qw net.ipv4.ip_forward=1
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
    ip addr add "$BRIDGE_ADDRESS/${POD_CIDR#*/}" dev "$BRIDGE"
  fi
  ip link set "$BRIDGE" up
  sysctl -qw "net.ipv4.conf.$BRIDGE.route_localnet=1"
  [[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]] && sysctl -qw net.bridge.bridge-nf-call-iptables=1
  ensure_chain filter "$FORWARD_CHAIN" FORWARD
  iptables -w -F "$FORWARD_CHAIN"
  iptables -w -A "$FORWARD_CHAIN" -s "$POD_CIDR" -j ACCEPT
  iptables -w -A "$FORWARD_CHAIN" -d "$POD_CIDR" -j ACCEPT
  ensure_chain nat "$DNAT_CHAIN" PREROUTING
  ensure_chain nat "$DNAT_CHAIN" OUTPUT
  iptables -w -t nat -F "$DNAT_CHAIN"
  # From pods, and from this host (a presigned S3 URL names the node address too).
  iptables -w -t nat -A "$DNAT_CHAIN" -d "$NODE_ADDRESS/32" -p tcp -m multiport --dports "$HOST_SERVER_PORTS" \
    -j DNAT --to-destination 127.0.0.1
  # ...and from 127.0.0.1 as those servers see it: Redis, bound to loopback without a
  # password, runs in protected mode and resets connections from any other source.
  ensure_chain nat "$SNAT_CHAIN" INPUT
  iptables -w -t nat -F "$SNAT_CHAIN"
  iptables -w -t nat -A "$SNAT_CHAIN" -s "$POD_CIDR" -d 127.0.0.1/32 -p tcp -j SNAT --to-source 127.0.0.1
}

# ensure_chain TABLE CHAIN PARENT: CHAIN exists and PARENT jumps to it first.
ensure_chain() {
  local table=$1 chain=$2 parent=$3
  iptables -w -t "$table" -N "$chain" 2>/dev/null || true
  iptables -w -t "$table" -C "$parent" -j "$chain" 2>/dev/null || iptables -w -t "$table" -I "$parent" 1 -j "$chain"
}

KUBELET_ARGS=() PROXY_ARGS=() SCHEDULER_ARGS=() CONTAINERD_ARGS=() DOCKERD_ARGS=()
set_args() {
  CONTAINERD_ARGS=(--config "$CLUSTER_DIR/containerd/config.toml")
  # dockerd only builds images: no bridge, no iptables rules, no forwarding changes; its
  # containers (RUN steps) share its containerd.
  DOCKERD_ARGS=(
    --host "unix://$DOCKER_SOCKET" --containerd "$CONTAINERD_SOCKET" --data-root "$CLUSTER_DIR/docker"
    --exec-root "$RUN_DIR/docker" --pidfile "$RUN_DIR/docker.pid" --bridge none --iptables=false
    --ip-forward=false --ip-masq=false --storage-driver overlay2
  )
  KUBELET_ARGS=(
    --config="$KUBELET_DIR/config.yaml" --kubeconfig="$CLUSTER_DIR/kubelet.kubeconfig"
    --root-dir="$KUBELET_DIR/root" --cert-dir="$KUBELET_DIR/pki" --node-ip="$NODE_ADDRESS"
    --hostname-override="$NODE_NAME"
  )
  PROXY_ARGS=(--config="$CLUSTER_DIR/kube-proxy.yaml" --hostname-override="$NODE_NAME")
  SCHEDULER_ARGS=(--config="$CLUSTER_DIR/kube-scheduler.yaml" --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT")
}

# running_as NAME BINARY ARGS...: true when NAME's pid runs BINARY ARGS... exactly.
running_as() {
  local name=$1 pidfile="$CLUSTER_DIR/$1.pid" want have
  shift
  is_running "$pidfile" || return 1
  want=$(printf '%s\n' "$@")
  have=$(tr '\0' '\n' <"/proc/$(cat "$pidfile")/cmdline" 2>/dev/null) || return 0
  [[ $have == "$want" ]]
}

# start NAME BINARY ARGS...: runs BINARY ARGS... detached unless it runs so already.
start() {
  local name=$1 pidfile="$CLUSTER_DIR/$1.pid"
  shift
  running_as "$name" "$@" && return 0
  if is_running "$pidfile"; then
    log "restarting $name: its binary or flags changed"
    stop_pidfile "$pidfile"
  fi
  log "starting $name"
  setsid nohup "$@" >>"$CLUSTER_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
}

# wait_until NAME SECONDS DESCRIPTION COMMAND...: until COMMAND succeeds while NAME runs.
wait_until() {
  local name=$1 seconds=$2 what=$3 i
  shift 3
  for ((i = 0; i < seconds * 5; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    if ! is_running "$CLUSTER_DIR/$name.pid"; then
      tail -n 30 "$CLUSTER_DIR/$name.log" >&2 || true
      die "$name exited before $what; log: $CLUSTER_DIR/$name.log"
    fi
    sleep 0.2
  done
  tail -n 30 "$CLUSTER_DIR/$name.log" >&2 || true
  die "no $what within ${seconds}s; log: $CLUSTER_DIR/$name.log"
}

# The checks below run through wait_until.
# shellcheck disable=SC2317
containerd_ready() { ctr --address "$CONTAINERD_SOCKET" version; }
# shellcheck disable=SC2317
dockerd_ready() { docker_cli version; }
# shellcheck disable=SC2317
healthz() { [[ $(curl -fsSk --max-time 2 "$1") == ok ]]; }
# shellcheck disable=SC2317
node_ready() {
  [[ $(cluster_kubectl get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') == True ]]
}

cmd_up() {
  local start_time=$SECONDS
  require_machine
  mkdir -p "$CLUSTER_DIR" "$RUN_DIR"
  # The base image's debootstrap (network and disk) overlaps the node binaries' build (CPU);
  # both are cached, so after the first run neither does anything.
  "$HACK_DIR/cluster/images.sh" rootfs >"$CLUSTER_DIR/rootfs.log" 2>&1 &
  local rootfs=$!
  "$HACK_DIR/kube/build.sh" node >/dev/null || die "building kubelet, kube-scheduler, kube-proxy or the CNI plugins failed (hack/kube/build.sh node)"
  wait "$rootfs" || { tail -n 20 "$CLUSTER_DIR/rootfs.log" >&2; die "making the base image's Debian root file system failed (hack/cluster/images.sh rootfs)"; }
  control_plane_up up >"$CLUSTER_DIR/control-plane.up.log" 2>&1 ||
    { tail -n 30 "$CLUSTER_DIR/control-plane.up.log" >&2; die "the cluster's control plane did not start (hack/servers/kube.sh)"; }
  node_pki
  kubelet_serving_cert
  for name in kubelet kube-proxy kube-scheduler; do kubeconfig "$name"; done
  write_configs
  set_args
  network

  start containerd "$(command -v containerd)" "${CONTAINERD_ARGS[@]}"
  wait_until containerd 30 "containerd answering on $CONTAINERD_SOCKET" containerd_ready
  start dockerd "$(command -v dockerd)" "${DOCKERD_ARGS[@]}"
  wait_until dockerd 60 "dockerd answering on $DOCKER_SOCKET" dockerd_ready
  "$HACK_DIR/cluster/images.sh" node || die "building or importing the pause image failed (hack/cluster/images.sh node)"

  # The node's own RBAC: kubelet's user gets the system:node role (no Node authorizer here).
  cluster_kubectl apply -f - >/dev/null <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: parley-node }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:node }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: "system:node:$NODE_NAME" }]
YAML
  start kubelet "$BIN/kubelet" "${KUBELET_ARGS[@]}"
  wait_until kubelet 60 "kubelet healthy" healthz "http://127.0.0.1:$KUBELET_HEALTHZ_PORT/healthz"
  start kube-proxy "$BIN/kube-proxy" "${PROXY_ARGS[@]}"
  wait_until kube-proxy 60 "kube-proxy healthy" curl -fsS --max-time 2 "http://127.0.0.1:$PROXY_HEALTHZ_PORT/healthz"
  start kube-scheduler "$BIN/kube-scheduler" "${SCHEDULER_ARGS[@]}"
  wait_until kube-scheduler 60 "kube-scheduler healthy" healthz "https://127.0.0.1:$SCHEDULER_PORT/healthz"
  wait_until kubelet 120 "node $NODE_NAME Ready" node_ready
  echo "cluster: node $NODE_NAME ($NODE_ADDRESS) Ready in $((SECONDS - start_time))s; kubeconfig $CLUSTER_KUBECONFIG; logs in $CLUSTER_DIR"
}

# remove_pods: every container and sandbox the kubelet left in containerd, their shims and
# mounts. The kubelet is stopped first, so nothing starts them again.
remove_pods() {
  local id shim
  containerd_ready >/dev/null 2>&1 || return 0
  for id in $(ctr --address "$CONTAINERD_SOCKET" -n k8s.io tasks ls -q 2>/dev/null); do
    ctr --address "$CONTAINERD_SOCKET" -n k8s.io tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
  done
  for id in $(ctr --address "$CONTAINERD_SOCKET" -n k8s.io tasks ls -q 2>/dev/null); do
    ctr --address "$CONTAINERD_SOCKET" -n k8s.io tasks delete -f "$id" >/dev/null 2>&1 || true
  done
  for id in $(ctr --address "$CONTAINERD_SOCKET" -n k8s.io containers ls -q 2>/dev/null); do
    ctr --address "$CONTAINERD_SOCKET" -n k8s.io containers delete "$id" >/dev/null 2>&1 || true
  done
  # Shims this containerd started (they name its socket), one by one.
  for shim in $(pgrep -f -- "-address $CONTAINERD_SOCKET" || true); do kill "$shim" 2>/dev/null || true; done
}

unmount_under() {
  local dir=$1 mount
  [[ -d $dir ]] || return 0
  # Deepest first.
  for mount in $(awk -v d="$dir" '$2 ~ "^"d { print $2 }' /proc/self/mounts | sort -r); do umount -l "$mount" 2>/dev/null || true; done
}

cmd_down() {
  set_args
  local name
  for name in kube-scheduler kube-proxy kubelet; do stop_pidfile "$CLUSTER_DIR/$name.pid"; done
  remove_pods
  stop_pidfile "$CLUSTER_DIR/dockerd.pid"
  stop_pidfile "$CLUSTER_DIR/containerd.pid"
  unmount_under "$KUBELET_DIR/root"
  unmount_under "$RUN_DIR"
  # kube-proxy's rules and the node's own.
  if [[ -x "$BIN/kube-proxy" ]]; then "$BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true; fi
  iptables -w -D FORWARD -j "$FORWARD_CHAIN" 2>/dev/null || true
  iptables -w -F "$FORWARD_CHAIN" 2>/dev/null && iptables -w -X "$FORWARD_CHAIN" 2>/dev/null || true
  iptables -w -t nat -D PREROUTING -j "$DNAT_CHAIN" 2>/dev/null || true
  iptables -w -t nat -D OUTPUT -j "$DNAT_CHAIN" 2>/dev/null || true
  iptables -w -t nat -F "$DNAT_CHAIN" 2>/dev/null && iptables -w -t nat -X "$DNAT_CHAIN" 2>/dev/null || true
  iptables -w -t nat -D INPUT -j "$SNAT_CHAIN" 2>/dev/null || true
  iptables -w -t nat -F "$SNAT_CHAIN" 2>/dev/null && iptables -w -t nat -X "$SNAT_CHAIN" 2>/dev/null || true
  ip link del "$BRIDGE" 2>/dev/null || true
  rm -rf "$CLUSTER_DIR/cni/ipam"
  control_plane_up down >/dev/null
  echo "cluster: stopped (state kept in $CLUSTER_DIR)"
}

cmd_status() {
  local name healthy=0
  for name in containerd dockerd kubelet kube-proxy kube-scheduler; do
    if is_running "$CLUSTER_DIR/$name.pid"; then
      echo "cluster $name: running (pid $(cat "$CLUSTER_DIR/$name.pid")), log $CLUSTER_DIR/$name.log"
    else
      echo "cluster $name: stopped"
      healthy=1
    fi
  done
  control_plane_up status || healthy=1
  if [[ $healthy -eq 0 ]] && node_ready 2>/dev/null; then
    echo "cluster: node $NODE_NAME Ready; kubeconfig $CLUSTER_KUBECONFIG"
  else
    echo "cluster: not ready"
    healthy=1
  fi
  return "$healthy"
}

main() {
  case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    env) cluster_env ;;
    *)
      echo "usage: $0 up|down|status|env" >&2
      exit 2
      ;;
  esac
}

main "$@"; exit # one line: bash has read it all before it runs (safe to edit meanwhile)
