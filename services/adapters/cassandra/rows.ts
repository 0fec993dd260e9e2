import { types } from "cassandra-driver";

/** Typed access to driver rows (the driver types every value as any). */

export function textOf(row: types.Row, column: string): string {
  const value: unknown = row.get(column);
  if (typeof value !== "string") throw new Error(`column ${column}: expected text, got ${typeof value}`);
  return value;
}

export function optionalTextOf(row: types.Row, column: string): string | null {
  const value: unknown = row.get(column);
  if (value === null || value === undefined) return null;
  if (typeof value !== "string") throw new Error(`column ${column}: expected text, got ${typeof value}`);
  return value;
}

/** A bigint column as a number (sequence numbers and cursors stay far below 2^53). */
export function bigintOf(row: types.Row, column: string): number {
  const value = optionalBigintOf(row, column);
  if (value === null) throw new Error(`column ${column}: expected a bigint, got null`);
  return value;
}

export function optionalBigintOf(row: types.Row, column: string): number | null {
  return toNumber(row.get(column), column);
}

export function intOf(row: types.Row, column: string): number {
  const value: unknown = row.get(column);
  if (typeof value !== "number") throw new Error(`column ${column}: expected an int, got ${typeof value}`);
  return value;
}

export function timestampOf(row: types.Row, column: string): Date {
  const value: unknown = row.get(column);
  if (!(value instanceof Date)) throw new Error(`column ${column}: expected a timestamp`);
  return value;
}

/** A map<text, bigint> column (null when empty). */
export function bigintMapOf(row: types.Row, column: string): Map<string, number> {
  const value: unknown = row.get(column);
  const map = new Map<string, number>();
  if (value === null || value === undefined) return map;
  if (typeof value !== "object") throw new Error(`column ${column}: expected a map`);
  for (const [key, entry] of Object.entries(value as Record<string, unknown>)) {
    const number = toNumber(entry, column);
    if (number !== null) map.set(key, number);
  }
  return map;
}

function toNumber(value: unknown, column: string): number | null {
  if (value === null || value === undefined) return null;
  if (value instanceof types.Long) return value.toNumber();
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  throw new Error(`column ${column}: expected a number`);
}

/** The `[applied]` outcome of a lightweight transaction and the row it saw. */
export function lwtOutcome(result: types.ResultSet): { applied: boolean; row: types.Row | undefined } {
  const row = result.rows[0];
  return { applied: result.wasApplied(), row };
}
