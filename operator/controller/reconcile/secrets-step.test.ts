import { describe, expect, it } from "vitest";
import { viewOf } from "../../builders/cluster.js";
import { RESOURCES } from "../../kube/kube-api.js";
import { defaultedSpec } from "../../testing/fixtures.js";
import { stepHarness } from "../../testing/step-harness.js";
import { ClusterSecrets } from "./cluster-secrets.js";
import { SecretsStep } from "./secrets-step.js";

const cassandraLogin = {
  ...defaultedSpec().cassandra,
  username: { secretKeyRef: { name: "cass", key: "user" } },
  password: { secretKeyRef: { name: "cass", key: "password" } },
};

describe("SecretsStep", () => {
  it("reads the credentials the spec names and goes on", async () => {
    const { kube, context } = stepHarness();
    const ctx = context();
    await expect(new SecretsStep(new ClusterSecrets(kube)).run(ctx)).resolves.toEqual({ outcome: "continue" });
    expect(ctx.credentials).toMatchObject({ s3AccessKey: "ak", s3SecretKey: "sk" });
    expect(ctx.missing).toEqual({});
  });

  it("reports a missing Secret against the back end that needs it, and Kafka too when deleteWithGroup reads the group store", async () => {
    const spec = defaultedSpec({ cassandra: cassandraLogin, kafka: { ...defaultedSpec().kafka, groupTopics: { retentionMs: 1000, deleteWithGroup: true } } });
    const { kube, context } = stepHarness(spec);
    const ctx = context();
    await new SecretsStep(new ClusterSecrets(kube)).run(ctx);
    expect(ctx.missing).toEqual({
      cassandra: "Secret cass not found",
      kafka: "kafka.groupTopics.deleteWithGroup reads the group store: Secret cass not found",
    });
  });

  it("reports a JWT secret shorter than 32 characters", async () => {
    const { kube, context } = stepHarness(defaultedSpec({ jwtSecret: { secretKeyRef: { name: "creds", key: "access" } } }));
    const ctx = context();
    await new SecretsStep(new ClusterSecrets(kube)).run(ctx);
    expect(ctx.missing).toEqual({ jwt: "the secret in creds/access is shorter than 32 characters" });
  });
});

describe("ClusterSecrets", () => {
  it("still knows the credentials after their Secret is deleted, until the cluster is forgotten", async () => {
    const { kube, stored } = stepHarness();
    const secrets = new ClusterSecrets(kube);
    const view = viewOf(stored());
    await secrets.read(view);
    await kube.delete({ ...RESOURCES.secrets, namespace: "team", name: "creds" });
    expect(await secrets.known(view)).toMatchObject({ s3AccessKey: "ak", s3SecretKey: "sk" });
    secrets.forget(view.uid);
    expect(await secrets.known(view)).toEqual({});
  });
});
