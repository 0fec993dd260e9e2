import { describe, expect, it } from "vitest";
import { assetLimitsFromConfig, detectContentType, largestLimit } from "./content-type.js";
import { ftyp, gif, jpeg, mp3, oggOpus, pdf, png, webm, webp } from "./testing/media-fixtures.js";

describe("detectContentType", () => {
  it.each([
    ["PNG", png(), "image/png", "image"],
    ["PNG with noise", png(16, 16, 1), "image/png", "image"],
    ["JPEG", jpeg(), "image/jpeg", "image"],
    ["GIF", gif(), "image/gif", "image"],
    ["WebP", webp(), "image/webp", "image"],
    ["MP3", mp3(), "audio/mpeg", "audio"],
    ["Ogg Opus", oggOpus(), "audio/ogg", "audio"],
    ["M4A", ftyp("M4A "), "audio/mp4", "audio"],
    ["MP4", ftyp("isom"), "video/mp4", "video"],
    ["WebM", webm(), "video/webm", "video"],
    ["PDF", pdf(), "application/pdf", "document"],
  ])("recognises %s from its bytes", async (_name, bytes, contentType, kind) => {
    expect(await detectContentType(bytes)).toEqual({ allowed: true, contentType, kind });
  });

  it("refuses bytes of no recognised type", async () => {
    expect(await detectContentType(new TextEncoder().encode("just some text, claiming to be an image"))).toEqual({ allowed: false, detected: null });
    expect(await detectContentType(new Uint8Array(0))).toEqual({ allowed: false, detected: null });
  });

  it("refuses recognised types that are not allowed, naming them", async () => {
    const elf = Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, ...new Array<number>(57).fill(0)]);
    expect(await detectContentType(elf)).toEqual({ allowed: false, detected: "application/x-elf" });
    // QuickTime is MP4's sibling but not on the list.
    expect(await detectContentType(ftyp("qt"))).toEqual({ allowed: false, detected: "video/quicktime" });
  });

  it("goes by the bytes: a PNG signature with a PDF after it is still a PNG", async () => {
    const mixed = Buffer.concat([png(), pdf()]);
    expect(await detectContentType(mixed)).toMatchObject({ allowed: true, contentType: "image/png" });
  });

  it("calls bytes that make the detector throw unrecognised, not an error", async () => {
    // A zip local file header cut short: file-type's zip reader runs off the end.
    const truncatedZip = Uint8Array.from([0x50, 0x4b, 0x03, 0x04, ...new Array<number>(26).fill(0)]);
    expect(await detectContentType(truncatedZip)).toEqual({ allowed: false, detected: null });
  });

  it("does not take a truncated signature for the real thing", async () => {
    expect((await detectContentType(png().subarray(0, 4))).allowed).toBe(false);
  });
});

describe("limits", () => {
  it("come from the configuration, per kind", () => {
    const limits = assetLimitsFromConfig({ assetMaxImageBytes: 1, assetMaxAudioBytes: 2, assetMaxVideoBytes: 4, assetMaxDocumentBytes: 3 });
    expect(limits).toEqual({ image: 1, audio: 2, video: 4, document: 3 });
    expect(largestLimit(limits)).toBe(4);
  });
});
