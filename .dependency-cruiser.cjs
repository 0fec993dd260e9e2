// Layout rules for `make layout` (run by `make test` before the unit tests): which folders
// may import which. The rules are about production code, i.e. what `npm run build` puts in
// dist/ and the image runs: everything except *.test.ts files and the testing/, contract/
// and e2e/ folders. Test code may import anything, so its own imports are not followed
// (doNotFollow below): a test file in one folder importing another folder neither makes a
// cycle nor breaks a layer, while production code importing test code still shows up.

/** Test code: *.test.ts, shared test helpers, port contract suites, end-to-end tests. */
const TEST_CODE = ["\\.test\\.ts$", "(^|/)testing/", "(^|/)contract/", "(^|/)e2e/"];

module.exports = {
  forbidden: [
    {
      name: "no-folder-cycles",
      comment:
        "Folders form layers (protocol < events/ports < adapters/services < app < cli): a cycle " +
        "between two folders means neither can be understood, tested or moved without the other, " +
        "and usually that a type or helper sits in the wrong folder.",
      severity: "error",
      scope: "folder",
      from: {},
      to: { circular: true },
    },
    {
      name: "only-cli-uses-app",
      comment:
        "services/app is the composition root (it wires every service to its back ends) and " +
        "services/cli the entry point on top of it: a service or adapter that imported either " +
        "would depend on every other service, and the composition would no longer be swappable. " +
        "services/tools (generators of docs from the CLI's own specs) is an entry point on top " +
        "of the CLI as well, so it may read it; the next rule keeps anything from building on it.",
      severity: "error",
      from: { path: "^services/", pathNot: "^services/(app|cli|tools)/" },
      to: { path: "^services/(app|cli)/" },
    },
    {
      name: "tools-are-entry-points",
      comment:
        "services/tools holds developer tools run by npm scripts (docs generated from the CLI): " +
        "they sit above the CLI, so production code importing one would pull the CLI into it.",
      severity: "error",
      from: { pathNot: "^services/tools/" },
      to: { path: "^services/tools/" },
    },
    {
      name: "operator-uses-only-shared-services",
      comment:
        "The operator runs in its own Deployment and manages the services from outside: it may " +
        "share the runtime (config, logging, metrics, HTTP), the event contracts, the ports and " +
        "their adapters, but not a service's internals, so services change without the operator.",
      severity: "error",
      from: { path: "^operator/" },
      to: { path: "^services/", pathNot: "^services/(runtime|events|ports|adapters)/" },
    },
    {
      name: "sdk-runs-in-browsers",
      comment:
        "services/sdk is the client SDK (@parley/sdk) that apps bundle for browsers: it may use " +
        "only the wire protocol's types and values (services/protocol), and no Node.js module " +
        "outside node.ts (its `@parley/sdk/node` entry). A test bundles it for the browser too.",
      severity: "error",
      from: { path: "^services/sdk/", pathNot: ["^services/sdk/node\\.ts$", ...TEST_CODE] },
      to: { path: "^services/", pathNot: "^services/(sdk|protocol)/" },
    },
    {
      name: "sdk-has-no-node-modules",
      comment: "See sdk-runs-in-browsers: Node.js built-ins fail in a browser bundle.",
      severity: "error",
      from: { path: "^services/sdk/", pathNot: ["^services/sdk/node\\.ts$", ...TEST_CODE] },
      to: { dependencyTypes: ["core"] },
    },
    {
      name: "no-test-code-in-production",
      comment:
        "Production code is compiled into dist/ and the image without test files: an import " +
        "of a test, a test helper or a contract suite would fail at run time there (or drag " +
        "test-only code and dependencies into production).",
      severity: "error",
      from: { pathNot: TEST_CODE },
      to: { path: TEST_CODE },
    },
  ],
  options: {
    // Test code's imports are not followed (see the top of this file); node_modules is not ours.
    doNotFollow: { path: ["node_modules", ...TEST_CODE] },
    exclude: { path: "^dist/" },
    // Type-only imports count: a type imported from another layer couples the two as much
    // as a value does, even though TypeScript erases it.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js"] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
