import { describe, expect, it } from "vitest";
import { createLogger } from "../../services/runtime/logger.js";
import { RESOURCES } from "../kube/kube-api.js";
import { FakeKubeApi } from "../testing/fake-kube-api.js";
import { LeaderElector } from "./leader-election.js";

const logger = createLogger("silent");

function elector(kube: FakeKubeApi, identity: string) {
  const instance = new LeaderElector({ kube, logger, namespace: "ops", name: "parley-operator", identity, leaseDurationSeconds: 1, retryPeriodMs: 20, renewDeadlineMs: 500 });
  const started = new Promise<void>((resolve) => {
    instance.run(resolve, () => undefined);
  });
  return { instance, started };
}

describe("LeaderElector", () => {
  it("lets one replica lead; a released lease passes to the other at once", async () => {
    const kube = new FakeKubeApi();
    const a = elector(kube, "a");
    await a.started;
    const b = elector(kube, "b");
    let bLeads = false;
    void b.started.then(() => (bLeads = true));
    // b keeps trying while a renews: it must not win.
    const lease = () => kube.object({ ...RESOURCES.leases, namespace: "ops", name: "parley-operator" }) as { spec: { holderIdentity?: string; leaseTransitions?: number } };
    const renewals = kube.writes.length;
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (kube.writes.length >= renewals + 3) resolve();
        else setTimeout(check, 5);
      };
      check();
    });
    expect(bLeads).toBe(false);
    expect(a.instance.isLeader).toBe(true);
    expect(lease().spec.holderIdentity).toBe("a");
    await a.instance.stop();
    await b.started;
    expect(b.instance.isLeader).toBe(true);
    expect(lease().spec).toMatchObject({ holderIdentity: "b", leaseTransitions: 1 });
    await b.instance.stop();
  });
});
