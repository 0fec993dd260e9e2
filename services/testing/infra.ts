/**
 * Endpoints of the real back ends started by `hack/infra.sh up` (run by `make test`):
 * the reader lives in services/bench/infra-endpoints.ts, which the build includes.
 */
export { infraEndpoint } from "../bench/infra-endpoints.js";
