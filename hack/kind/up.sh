#!/usr/bin/env bash
# The kind path (hack/kind/README.md): a one-node kind cluster with Kafka, Cassandra, Redis
# and S3Proxy, the parley image built and loaded, the chart installed, the sample
# MessagingCluster applied and `parley smoke` run against it. Needs docker, kind, kubectl,
# helm and Node.js 26 (for the smoke client); exits non-zero when any step fails.
#   hack/kind/up.sh            # create (or reuse) the cluster and run everything
#   KEEP=0 hack/kind/up.sh     # delete the cluster at the end
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cluster="${KIND_CLUSTER:-parley}"
namespace="${NAMESPACE:-parley}"
image="parley:kind"

log() { printf '\n== %s\n' "$*" >&2; }

cleanup() {
  # shellcheck disable=SC2086 # two pids
  if [[ -n "${forward_pid:-}" ]]; then kill $forward_pid 2>/dev/null || true; fi
  if [[ "${KEEP:-1}" == "0" ]]; then kind delete cluster --name "$cluster"; fi
}
trap cleanup EXIT

if ! kind get clusters | grep -qx "$cluster"; then
  log "creating kind cluster $cluster"
  kind create cluster --name "$cluster" --config "$here/kind-config.yaml" --wait 120s
fi
kubectl config use-context "kind-$cluster" >/dev/null

log "building and loading $image"
docker build -t "$image" -f "$root/images/Dockerfile" "$root"
kind load docker-image "$image" --name "$cluster"

log "back ends in namespace $namespace"
kubectl create namespace "$namespace" --dry-run=client -o yaml | kubectl apply -f -
kubectl apply -n "$namespace" -f "$here/backends/"
for backend in kafka cassandra redis s3; do
  kubectl rollout status -n "$namespace" "deployment/$backend" --timeout=300s
done

log "installing the chart"
helm upgrade --install parley "$root/charts/parley" -n "$namespace" \
  --set image.repository=parley --set image.tag=kind --set image.pullPolicy=Never --wait --timeout 180s

log "applying the sample MessagingCluster"
kubectl apply -n "$namespace" -f "$here/messagingcluster.yaml"
kubectl wait -n "$namespace" mc/kind --for=condition=Ready --timeout=600s

log "parley smoke"
kubectl port-forward -n "$namespace" service/kind-gateway 18080:80 >/dev/null &
forward_pid=$!
kubectl port-forward -n "$namespace" service/kind-assets 18081:80 >/dev/null &
forward_pid="$forward_pid $!"
# The port-forwards listen once kubectl has connected; the smoke client retries nothing.
for _ in $(seq 1 30); do
  if (exec 3<>/dev/tcp/127.0.0.1/18080) 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/18081) 2>/dev/null; then break; fi
  sleep 1
done
jwt="$(kubectl get secret -n "$namespace" parley-kind-jwt -o jsonpath='{.data.jwt-secret}' | base64 -d)"
cd "$root"
npm run build --silent
PARLEY_JWT_SECRET="$jwt" node dist/services/cli/parley.js smoke --url ws://127.0.0.1:18080/ws --assets-url http://127.0.0.1:18081 --timeout 60s
