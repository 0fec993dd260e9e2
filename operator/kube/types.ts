import type {
  V1ConfigMap,
  V1Deployment,
  V1EnvVar,
  V1OwnerReference,
  V1PodDisruptionBudget,
  V1Service,
  V1ServiceAccount,
} from "@kubernetes/client-node";

/**
 * A Kubernetes model as the API's JSON has it: plain objects (not the client's model
 * classes) and timestamps as strings. The operator builds and reads objects as JSON.
 */
export type Plain<T> = T extends Date
  ? string
  : T extends readonly (infer U)[]
    ? Plain<U>[]
    : T extends object
      ? // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- dropping methods of the model classes
        { [K in keyof T as T[K] extends Function ? never : K]: Plain<T[K]> }
      : T;

export type Deployment = Plain<V1Deployment>;
export type Service = Plain<V1Service>;
export type ConfigMap = Plain<V1ConfigMap>;
export type ServiceAccount = Plain<V1ServiceAccount>;
export type PodDisruptionBudget = Plain<V1PodDisruptionBudget>;
export type EnvVar = Plain<V1EnvVar>;
export type OwnerReference = Plain<V1OwnerReference>;
