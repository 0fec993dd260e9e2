import { afterEach, describe, expect, it, vi } from "vitest";
import { TypedEmitter } from "./emitter.js";

class Source extends TypedEmitter<{ error: [Error]; tick: [] }> {
  fire<K extends "error" | "tick">(event: K, ...args: K extends "error" ? [Error] : []): void {
    (this.emit as (event: K, ...args: unknown[]) => void)(event, ...args);
  }
}

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

describe("SDK event emitter", () => {
  it("reports an error listener that throws without throwing into the code that emitted, and still runs the other listeners", () => {
    const reported = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const source = new Source();
    const seen: string[] = [];
    source.on("error", () => {
      throw new Error("bug in the app's error listener");
    });
    source.on("error", (error) => seen.push(error.message));
    expect(() => { source.fire("error", new Error("connection failed")); }).not.toThrow();
    expect(seen).toEqual(["connection failed"]);
    expect(reported).toHaveBeenCalledWith(expect.any(String), expect.objectContaining({ message: "bug in the app's error listener" }));
  });

  it("hands it to reportError where there is one (browsers: window.onerror)", () => {
    const reportError = vi.fn();
    vi.stubGlobal("reportError", reportError);
    const source = new Source();
    source.on("tick", () => {
      throw new Error("bug in a tick listener");
    });
    source.on("error", () => {
      throw new Error("bug in the error listener");
    });
    expect(() => { source.fire("tick"); }).not.toThrow();
    expect(reportError).toHaveBeenCalledWith(expect.objectContaining({ message: "bug in the error listener" }));
  });
});
