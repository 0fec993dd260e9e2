/**
 * The suite's chart: one row per compared figure, Parley's ratio to the bare `ws`
 * baseline as a bar (median) with a whisker (min to max of the repetitions), and the
 * target as a line. Plain SVG written by hand: no chart library for a dozen bars.
 */
export interface ChartRow {
  label: string;
  /** Parley ÷ ws per repetition. */
  ratios: readonly number[];
  target: number;
  /** "atLeast": the ratio should reach the target; "atMost": it should stay under it. */
  direction: "atLeast" | "atMost";
}

const WIDTH = 760;
const ROW = 34;
const LEFT = 270;
const RIGHT = 40;
const TOP = 48;

export function chartSvg(title: string, subtitle: string, rows: readonly ChartRow[]): string {
  const finite = rows.flatMap((row) => [...row.ratios, row.target]).filter((v) => Number.isFinite(v));
  const max = Math.max(1.2, ...finite) * 1.08;
  const x = (value: number): number => LEFT + (Math.min(value, max) / max) * (WIDTH - LEFT - RIGHT);
  const height = TOP + rows.length * ROW + 40;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${String(WIDTH)}" height="${String(height)}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="12" y="20" font-size="15" font-weight="bold">${escape(title)}</text>`,
    `<text x="12" y="38" fill="#555">${escape(subtitle)}</text>`,
    `<line x1="${String(x(1))}" y1="${String(TOP - 6)}" x2="${String(x(1))}" y2="${String(height - 30)}" stroke="#999" stroke-dasharray="2,3"/>`,
    `<text x="${String(x(1))}" y="${String(height - 16)}" text-anchor="middle" fill="#555">1.0 = bare ws</text>`,
  ];
  rows.forEach((row, i) => {
    const y = TOP + i * ROW;
    const sorted = row.ratios.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    parts.push(`<text x="${String(LEFT - 8)}" y="${String(y + 16)}" text-anchor="end">${escape(row.label)}</text>`);
    if (median !== undefined) {
      const met = row.direction === "atLeast" ? median >= row.target : median <= row.target;
      parts.push(`<rect x="${String(LEFT)}" y="${String(y + 5)}" width="${String(x(median) - LEFT)}" height="16" fill="${met ? "#4c9a5b" : "#c8553d"}"/>`);
      const low = sorted[0] ?? median;
      const high = sorted[sorted.length - 1] ?? median;
      parts.push(`<line x1="${String(x(low))}" y1="${String(y + 13)}" x2="${String(x(high))}" y2="${String(y + 13)}" stroke="black"/>`);
      parts.push(`<text x="${String(Math.min(x(high), WIDTH - RIGHT - 40) + 6)}" y="${String(y + 17)}">${median.toFixed(2)}×</text>`);
    }
    parts.push(`<line x1="${String(x(row.target))}" y1="${String(y + 1)}" x2="${String(x(row.target))}" y2="${String(y + 25)}" stroke="#1f4e9c" stroke-width="2"/>`);
  });
  parts.push(`<text x="${String(WIDTH - RIGHT)}" y="${String(height - 16)}" text-anchor="end" fill="#1f4e9c">blue: target · green: met · red: missed · whisker: min–max</text>`);
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
