import type { Backends } from "./backends.js";

// Interim: the Kafka, Cassandra and Redis adapters are being wired in this change series.
export function openProductionBackends(): Promise<Backends> {
  return Promise.reject(new Error("parley serve: the production back ends are not wired in this build yet; use parley dev"));
}
