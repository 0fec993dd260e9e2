import { crc32, deflateSync } from "node:zlib";

/**
 * Small, valid media files built in code for the asset tests: no binary fixtures in the
 * repository, and a test can ask for exactly the size it needs.
 */

/**
 * An RGB PNG of `width` x `height`. Plain fill compresses to almost nothing; `noiseSeed`
 * fills it with deterministic noise instead, so the file is about 3 bytes per pixel
 * (and a different seed gives different bytes).
 */
export function png(width = 1, height = 1, noiseSeed?: number): Uint8Array {
  const row = 1 + width * 3;
  const raw = Buffer.alloc(row * height);
  let state = noiseSeed ?? 0;
  for (let y = 0; y < height; y++) {
    raw[y * row] = 0; // filter: none
    for (let i = 1; i < row; i++) {
      if (noiseSeed === undefined) {
        raw[y * row + i] = i % 3 === 1 ? 0xff : 0x00;
      } else {
        // xorshift32
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        raw[y * row + i] = state & 0xff;
      }
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit, truecolour, deflate, adaptive filtering, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", header),
    pngChunk("IDAT", deflateSync(raw, { level: 9 })),
    pngChunk("IEND", Buffer.alloc(0)),
  ]);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.byteLength);
  const typeAndData = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData));
  return Buffer.concat([length, typeAndData, crc]);
}

/**
 * A 1x1 mid-grey baseline JPEG: one 8x8 block whose only coefficient is a DC difference
 * of 0, coded with one-symbol Huffman tables (DC category 0, AC end-of-block).
 */
export function jpeg(): Uint8Array {
  const segment = (marker: number, body: number[]): number[] => [0xff, marker, ((body.length + 2) >> 8) & 0xff, (body.length + 2) & 0xff, ...body];
  const oneSymbolTable = (tableClassAndId: number): number[] => [tableClassAndId, 1, ...new Array<number>(15).fill(0), 0x00];
  return Uint8Array.from([
    0xff, 0xd8, // SOI
    ...segment(0xe0, [0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]), // APP0 JFIF
    ...segment(0xdb, [0x00, ...new Array<number>(64).fill(1)]), // DQT 0: all ones
    ...segment(0xc0, [0x08, 0x00, 0x01, 0x00, 0x01, 0x01, 0x01, 0x11, 0x00]), // SOF0 1x1, one component
    ...segment(0xc4, oneSymbolTable(0x00)), // DHT DC 0
    ...segment(0xc4, oneSymbolTable(0x10)), // DHT AC 0
    ...segment(0xda, [0x01, 0x01, 0x00, 0x00, 0x3f, 0x00]), // SOS
    0x3f, // "0" (DC diff category 0), "0" (EOB), padded with ones
    0xff, 0xd9, // EOI
  ]);
}

/** A one-page PDF 1.4 with a correct cross-reference table. */
export function pdf(): Uint8Array {
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 72 72] >>",
  ];
  let text = "%PDF-1.4\n";
  const offsets: number[] = [];
  objects.forEach((body, index) => {
    offsets.push(Buffer.byteLength(text, "latin1"));
    text += `${index + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = Buffer.byteLength(text, "latin1");
  text += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) text += `${String(offset).padStart(10, "0")} 00000 n \n`;
  text += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(text, "latin1");
}

/** The classic 1x1 transparent GIF89a. */
export function gif(): Uint8Array {
  return Buffer.from("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==", "base64");
}

/** An ISO BMFF `ftyp` box with the given major brand: the start of an MP4/M4A file. */
export function ftyp(majorBrand: string): Uint8Array {
  const box = Buffer.alloc(24);
  box.writeUInt32BE(24, 0);
  box.write("ftyp", 4, "latin1");
  box.write(majorBrand.padEnd(4, " "), 8, "latin1");
  box.writeUInt32BE(0, 12);
  box.write("isomiso2", 16, "latin1");
  return Buffer.concat([box, freeBox(64)]);
}

function freeBox(size: number): Buffer {
  const box = Buffer.alloc(size);
  box.writeUInt32BE(size, 0);
  box.write("free", 4, "latin1");
  return box;
}

/** The first Ogg page of an Ogg Opus stream (OpusHead). */
export function oggOpus(): Uint8Array {
  const page = Buffer.alloc(28 + 19);
  page.write("OggS", 0, "latin1");
  page[5] = 0x02; // beginning of stream
  page[26] = 1; // one segment
  page[27] = 19;
  page.write("OpusHead", 28, "latin1");
  page[36] = 1; // version
  page[37] = 2; // channels
  return page;
}

/** An MPEG-1 Layer III frame header (128 kbit/s, 44.1 kHz) followed by a silent frame. */
export function mp3(): Uint8Array {
  const frame = Buffer.alloc(417);
  frame.set([0xff, 0xfb, 0x90, 0x64]);
  return Buffer.concat([frame, frame]);
}

/** The EBML header of a WebM file. */
export function webm(): Uint8Array {
  return Buffer.from([
    0x1a, 0x45, 0xdf, 0xa3, 0x9f, // EBML, size 31
    0x42, 0x86, 0x81, 0x01, // EBMLVersion 1
    0x42, 0xf7, 0x81, 0x01, // EBMLReadVersion 1
    0x42, 0xf2, 0x81, 0x04, // EBMLMaxIDLength 4
    0x42, 0xf3, 0x81, 0x08, // EBMLMaxSizeLength 8
    0x42, 0x82, 0x84, 0x77, 0x65, 0x62, 0x6d, // DocType "webm"
    0x42, 0x87, 0x81, 0x04, // DocTypeVersion 4
    0x42, 0x85, 0x81, 0x02, // DocTypeReadVersion 2
  ]);
}

/** A RIFF WebP container holding a lossless (VP8L) 1x1 image. */
export function webp(): Uint8Array {
  return Buffer.from("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==", "base64");
}
