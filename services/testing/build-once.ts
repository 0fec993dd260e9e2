import { execFileSync } from "node:child_process";

/**
 * Some tests run the built CLI as a child process (a crash must be a real process dying),
 * so the build must be current before any test starts.
 */
export default function setup(): void {
  execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
}
