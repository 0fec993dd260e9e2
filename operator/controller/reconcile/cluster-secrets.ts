import type { SecretKeyRef } from "../../api/v1alpha1/messagingcluster.js";
import type { ClusterView } from "../../builders/cluster.js";
import type { Credentials } from "../../external/external-state.js";
import { RESOURCES, type KubeApi } from "../../kube/kube-api.js";
import type { Backend } from "./step.js";

export interface SecretsReading {
  credentials: Credentials;
  /** What is missing, per back end that needs it (and for the JWT secret). */
  missing: Partial<Record<Backend | "jwt", string>>;
}

/**
 * Reads the back-end credentials from the Secrets a spec names, and remembers the last
 * ones read: a namespace deletion can remove the Secrets before the cleanup runs.
 */
export class ClusterSecrets {
  private readonly last = new Map<string, Credentials>();

  constructor(private readonly kube: KubeApi) {}

  async read(view: ClusterView): Promise<SecretsReading> {
    const { spec } = view;
    const secrets = new Map<string, Promise<Record<string, string> | undefined>>();
    const read = async (ref: SecretKeyRef | undefined): Promise<{ value?: string; problem?: string }> => {
      if (ref === undefined) return {};
      const { name, key } = ref.secretKeyRef;
      let pending = secrets.get(name);
      if (pending === undefined) {
        pending = this.kube.get<{ data?: Record<string, string> }>({ ...RESOURCES.secrets, namespace: view.namespace, name }).then((s) => s?.data ?? (s ? {} : undefined));
        secrets.set(name, pending);
      }
      const data = await pending;
      if (data === undefined) return { problem: `Secret ${name} not found` };
      const encoded = data[key];
      if (encoded === undefined) return { problem: `Secret ${name} has no key ${key}` };
      return { value: Buffer.from(encoded, "base64").toString("utf8") };
    };
    const [jwt, cassandraUsername, cassandraPassword, redisPassword, s3AccessKey, s3SecretKey] = await Promise.all([
      read(spec.jwtSecret),
      read(spec.cassandra.username),
      read(spec.cassandra.password),
      read(spec.redis.password),
      read(spec.objectStorage.accessKey),
      read(spec.objectStorage.secretKey),
    ]);
    const credentials: Credentials = {
      cassandraUsername: cassandraUsername.value,
      cassandraPassword: cassandraPassword.value,
      redisPassword: redisPassword.value,
      s3AccessKey: s3AccessKey.value,
      s3SecretKey: s3SecretKey.value,
    };
    const missing: SecretsReading["missing"] = {};
    const cassandraProblem = cassandraUsername.problem ?? cassandraPassword.problem;
    if (cassandraProblem !== undefined) {
      missing.cassandra = cassandraProblem;
      if (spec.kafka.groupTopics.deleteWithGroup) missing.kafka = `kafka.groupTopics.deleteWithGroup reads the group store: ${cassandraProblem}`;
    }
    const s3Problem = s3AccessKey.problem ?? s3SecretKey.problem;
    if (s3Problem !== undefined) missing.storage = s3Problem;
    if (jwt.problem !== undefined) missing.jwt = jwt.problem;
    else if (jwt.value !== undefined && jwt.value.length < 32) missing.jwt = `the secret in ${spec.jwtSecret.secretKeyRef.name}/${spec.jwtSecret.secretKeyRef.key} is shorter than 32 characters`;
    if (Object.keys(missing).length === 0 || this.last.get(view.uid) === undefined) {
      this.last.set(view.uid, { ...this.last.get(view.uid), ...definedOnly(credentials) });
    }
    return { credentials, missing };
  }

  /** The credentials readable now, completed by those read earlier (what cleanup can use). */
  async known(view: ClusterView): Promise<Credentials> {
    const { credentials } = await this.read(view);
    return { ...this.last.get(view.uid), ...definedOnly(credentials) };
  }

  forget(uid: string): void {
    this.last.delete(uid);
  }
}

function definedOnly(credentials: Credentials): Credentials {
  return Object.fromEntries(Object.entries(credentials).filter(([, v]) => v !== undefined));
}
