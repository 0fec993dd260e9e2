# Shared by hack/cluster/*.sh (sourced after ../lib.sh): where the one-node cluster keeps
# its state, its ports, addresses and names. Sourced, not run.

CLUSTER_DIR="$PARLEY_INFRA_DIR/cluster"
# Sockets and runtime state: a short path (a unix socket path has at most 107 bytes).
RUN_DIR=/run/parley-cluster
BIN="$PARLEY_CACHE/kube-$KUBE_VERSION/bin"
KUBELET_DIR="$CLUSTER_DIR/kubelet"
# The control plane hack/servers/kube.sh runs for this cluster (its KUBE_DIR).
PKI="$CLUSTER_DIR/kube/pki"
CLUSTER_KUBECONFIG="$CLUSTER_DIR/kube/admin.kubeconfig"
CONTAINERD_SOCKET="$RUN_DIR/containerd.sock"
DOCKER_SOCKET="$RUN_DIR/docker.sock"

# Ports, all below the ephemeral range (32768-60999), in 23xxx beside the other servers'.
ETCD_PORT=${PARLEY_CLUSTER_ETCD_PORT:-23379}
ETCD_PEER_PORT=${PARLEY_CLUSTER_ETCD_PEER_PORT:-23380}
APISERVER_PORT=${PARLEY_CLUSTER_APISERVER_PORT:-23443}
KCM_PORT=${PARLEY_CLUSTER_CONTROLLER_MANAGER_PORT:-23257}
SCHEDULER_PORT=23259
KUBELET_PORT=23250
KUBELET_HEALTHZ_PORT=23248
PROXY_HEALTHZ_PORT=23256
PROXY_METRICS_PORT=23249
STREAM_PORT=23010

NODE_NAME=parley-node
NODE_ADDRESS=${PARLEY_NODE_ADDRESS:-$(node_address)}
POD_CIDR=10.244.0.0/24
BRIDGE=cni0
BRIDGE_ADDRESS=10.244.0.1
FORWARD_CHAIN=PARLEY-CLUSTER-FORWARD
DNAT_CHAIN=PARLEY-HOST-SERVERS
SNAT_CHAIN=PARLEY-HOST-SERVERS-SNAT
# The shared back ends' ports pods reach at NODE_ADDRESS (hack/infra.sh): Redis, its
# cluster, S3Proxy, Cassandra, and Kafka's listener for pods (which advertises NODE_ADDRESS).
HOST_SERVER_PORTS=${PARLEY_CLUSTER_HOST_SERVER_PORTS:-26379,27001:27003,28080,29042,29094}

# Images are named in a registry that does not exist, so that nothing ever pulls them.
PAUSE_IMAGE=parley.local/pause:1
BASE_IMAGE=parley.local/debian:bookworm
NODE_IMAGE=parley.local/node:$NODE_VERSION

cluster_kubectl() { "$BIN/kubectl" --kubeconfig "$CLUSTER_KUBECONFIG" "$@"; }
docker_cli() { DOCKER_HOST="unix://$DOCKER_SOCKET" /usr/bin/docker "$@"; }

# The variables the cluster's end-to-end tests read.
cluster_env() {
  echo "PARLEY_CLUSTER_KUBECONFIG=$CLUSTER_KUBECONFIG"
  echo "PARLEY_CLUSTER_KUBECTL=$BIN/kubectl"
  echo "PARLEY_CLUSTER_HELM=$BIN/helm"
  echo "PARLEY_CLUSTER_NODE_ADDRESS=$NODE_ADDRESS"
  echo "PARLEY_CLUSTER_DOCKER_HOST=unix://$DOCKER_SOCKET"
}
