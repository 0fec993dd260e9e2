import { SETTINGS } from "../../services/runtime/config.js";
import { SERVICES, type Service } from "../api/v1alpha1/messagingcluster.js";
import { settingEnv } from "../api/v1alpha1/settings.js";
import type { ConfigMap, Deployment, PodDisruptionBudget, Service as KubeService, ServiceAccount } from "../kube/types.js";
import {
  CONFIG_HASH_ANNOTATION,
  HTTP_PORT,
  names,
  ownerReference,
  selectorLabels,
  serviceReplicas,
  standardLabels,
  type ClusterView,
} from "./cluster.js";
import { containerEnv, digest, sharedSettings } from "./environment.js";
import { podPlacement, serviceAccountAnnotations } from "./pod-template.js";

/** An object the operator applies: plain JSON with apiVersion, kind and a namespaced name. */
export interface DesiredObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; labels: Record<string, string>; ownerReferences: unknown[]; annotations?: Record<string, string> };
  [field: string]: unknown;
}

function metadata(view: ClusterView, name: string, component: string) {
  return { name, namespace: view.namespace, labels: standardLabels(view, component), ownerReferences: [ownerReference(view)] };
}

export function buildConfigMap(view: ClusterView): ConfigMap & DesiredObject {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: metadata(view, names.configMap(view), "config"), data: sharedSettings(view) };
}

export function buildServiceAccount(view: ClusterView): ServiceAccount & DesiredObject {
  const annotations = serviceAccountAnnotations(view);
  return {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { ...metadata(view, names.serviceAccount(view), "services"), ...(annotations ? { annotations } : {}) },
    // The services never call the Kubernetes API.
    automountServiceAccountToken: false,
  };
}

const SECONDS = 1000;

/** Seconds a pod gets between SIGTERM and SIGKILL: the gateway's reconnect grace plus time to close. */
function terminationGraceSeconds(view: ClusterView, service: Service): number {
  if (service !== "gateway") return 30;
  const configured = view.spec.gateway.settings?.[settingEnv("shutdownGraceMs")];
  const graceMs = configured === undefined ? SETTINGS.shutdownGraceMs.default : Number(configured);
  return Math.ceil(graceMs / SECONDS) + 20;
}

export function buildDeployment(view: ClusterView, service: Service): Deployment & DesiredObject {
  const { spec } = view;
  const placement = podPlacement(view, service);
  const env = containerEnv(view, service);
  const configHash = digest({ shared: sharedSettings(view), env });
  const labels = standardLabels(view, service);
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: metadata(view, names.deployment(view, service), service),
    spec: {
      replicas: serviceReplicas(spec, service),
      revisionHistoryLimit: 5,
      selector: { matchLabels: selectorLabels(view, service) },
      // Never below the wanted count during a rollout: a gateway's clients reconnect elsewhere.
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: service === "gateway" ? 1 : "25%" } },
      template: {
        metadata: {
          labels: { ...placement.labels, ...labels },
          annotations: {
            ...placement.annotations,
            [CONFIG_HASH_ANNOTATION]: configHash,
            "prometheus.io/scrape": "true",
            "prometheus.io/port": String(HTTP_PORT),
            "prometheus.io/path": "/metrics",
          },
        },
        spec: {
          serviceAccountName: names.serviceAccount(view),
          automountServiceAccountToken: false,
          ...(spec.image.pullSecrets ? { imagePullSecrets: spec.image.pullSecrets.map((s) => ({ name: s.name })) } : {}),
          terminationGracePeriodSeconds: terminationGraceSeconds(view, service),
          securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, seccompProfile: { type: "RuntimeDefault" } },
          ...(placement.priorityClassName !== undefined ? { priorityClassName: placement.priorityClassName } : {}),
          ...(placement.nodeSelector ? { nodeSelector: placement.nodeSelector } : {}),
          ...(placement.tolerations ? { tolerations: placement.tolerations } : {}),
          affinity: placement.affinity,
          ...(placement.topologySpreadConstraints ? { topologySpreadConstraints: placement.topologySpreadConstraints } : {}),
          containers: [
            {
              name: service,
              image: `${spec.image.repository}:${spec.image.tag}`,
              imagePullPolicy: spec.image.pullPolicy,
              command: ["parley"],
              args: ["serve", service],
              ports: [{ name: "http", containerPort: HTTP_PORT, protocol: "TCP" }],
              envFrom: [{ configMapRef: { name: names.configMap(view) } }],
              env,
              ...(placement.resources ? { resources: placement.resources } : {}),
              livenessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
              readinessProbe: { httpGet: { path: "/readyz", port: "http" }, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
              startupProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 2, failureThreshold: 60 },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
              volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
            },
          ],
          volumes: [{ name: "tmp", emptyDir: {} }],
        },
      },
    },
  };
}

/**
 * The gateways' Service (port 80 → http, WebSocket on /ws), the assets API's Service, and
 * headless Services for the other services (their pods' /metrics, found through DNS).
 */
export function buildService(view: ClusterView, service: Service): KubeService & DesiredObject {
  const exposed = service === "gateway" || service === "assets";
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: metadata(view, names.service(view, service), service),
    spec: {
      type: service === "gateway" ? view.spec.gateway.serviceType : "ClusterIP",
      ...(exposed ? {} : { clusterIP: "None" }),
      selector: selectorLabels(view, service),
      ports: [{ name: "http", port: exposed ? 80 : HTTP_PORT, targetPort: "http", protocol: "TCP" }],
    },
  };
}

/** At most one gateway down at a time by eviction (a drain): its clients reconnect elsewhere. */
export function buildGatewayPdb(view: ClusterView): PodDisruptionBudget & DesiredObject {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: metadata(view, names.gatewayPdb(view), "gateway"),
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(view, "gateway") } },
  };
}

/** Every object a cluster should have, in apply order (what pods reference comes first). */
export function desiredObjects(view: ClusterView): DesiredObject[] {
  return [
    buildServiceAccount(view),
    buildConfigMap(view),
    ...SERVICES.map((service) => buildService(view, service)),
    buildGatewayPdb(view),
    ...SERVICES.map((service) => buildDeployment(view, service)),
  ];
}

/** The kinds desiredObjects makes, for pruning: apiVersion, kind, plural. */
export const OWNED_KINDS = [
  { apiVersion: "v1", kind: "ServiceAccount", plural: "serviceaccounts" },
  { apiVersion: "v1", kind: "ConfigMap", plural: "configmaps" },
  { apiVersion: "v1", kind: "Service", plural: "services" },
  { apiVersion: "policy/v1", kind: "PodDisruptionBudget", plural: "poddisruptionbudgets" },
  { apiVersion: "apps/v1", kind: "Deployment", plural: "deployments" },
] as const;
