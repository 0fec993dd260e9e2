import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, inject } from "vitest";
import { startDevPlatform, type RunningPlatform } from "../../../app/dev-platform.js";
import { loadConfig } from "../../../runtime/config.js";
import { createLogger } from "../../../runtime/logger.js";

/**
 * Flags for a headless Chromium on a machine without internet: with background networking
 * on, it keeps opening connections that the closed network refuses, and fails to look up
 * its vendor's hosts at every start.
 */
const CHROMIUM_ARGS = ["--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-gpu"];

export interface WebTestBed {
  /** http://127.0.0.1:<port>, the app at `/`. */
  readonly url: string;
  readonly platform: RunningPlatform;
  readonly browser: Browser;
  /** A new browser profile (its own storage and network) signed in as `name`, showing the messenger. */
  signIn(name: string, options?: { viewport?: { width: number; height: number } }): Promise<{ context: BrowserContext; page: Page }>;
}

/**
 * One `parley dev` (serving this run's build of the app) and one Chromium for the tests
 * of a file; each signIn is a fresh profile, closed after the file.
 */
export function webTestBed(): WebTestBed {
  let platform: RunningPlatform | undefined;
  let browser: Browser | undefined;
  let dataDir = "";
  const contexts: BrowserContext[] = [];
  /** Uncaught exceptions of the app and what the page's security policy blocked: each is a bug. */
  const pageFaults: string[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "parley-web-test-"));
    const config = { ...loadConfig({ port: "0", dataDir, logLevel: "silent" }, {}), framesPerSecond: 10_000, frameBurst: 10_000 };
    platform = await startDevPlatform(config, createLogger(config.logLevel), { webRoot: inject("webRoot") });
    browser = await chromium.launch({ executablePath: inject("chromium"), args: CHROMIUM_ARGS });
  });

  afterAll(async () => {
    expect(pageFaults).toEqual([]);
    await Promise.all(contexts.map((context) => context.close()));
    await browser?.close();
    await platform?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const bed: WebTestBed = {
    get url() {
      if (!platform) throw new Error("the test bed starts in beforeAll");
      return platform.url;
    },
    get platform() {
      if (!platform) throw new Error("the test bed starts in beforeAll");
      return platform;
    },
    get browser() {
      if (!browser) throw new Error("the test bed starts in beforeAll");
      return browser;
    },
    async signIn(name, options = {}) {
      const context = await bed.browser.newContext({ viewport: options.viewport ?? { width: 1100, height: 720 } });
      contexts.push(context);
      const page = await context.newPage();
      page.on("pageerror", (error) => pageFaults.push(`${name}: ${error.message}`));
      page.on("console", (message) => {
        if (message.text().includes("Content Security Policy")) pageFaults.push(`${name}: ${message.text()}`);
      });
      await page.goto(bed.url);
      await page.getByLabel("Your name").fill(name);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("navigation", { name: "Conversations" }).waitFor();
      return { context, page };
    },
  };
  return bed;
}
