/**
 * A small typed builder for structural OpenAPI v3 schemas (what a CustomResourceDefinition
 * takes). The schema objects keep their literal types, so `FromSchema` derives the
 * TypeScript type of what the API server stores from the very object that is written into
 * the CRD: one source of truth for the YAML, the types and the docs.
 */

/** A CEL rule (x-kubernetes-validations entry). */
export interface CelRule {
  readonly rule: string;
  /** Shown when messageExpression is absent or fails. */
  readonly message: string;
  /** A CEL expression for the message, to name the offending key or value. */
  readonly messageExpression?: string;
  readonly fieldPath?: string;
  readonly reason?: "FieldValueInvalid" | "FieldValueForbidden" | "FieldValueRequired" | "FieldValueDuplicate";
}

export interface SchemaNode {
  readonly type?: "object" | "array" | "string" | "integer" | "boolean" | "number";
  readonly description: string;
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: SchemaNode;
  readonly items?: SchemaNode;
  readonly enum?: readonly (string | number)[];
  readonly default?: unknown;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly maxProperties?: number;
  readonly pattern?: string;
  readonly format?: string;
  readonly nullable?: boolean;
  readonly anyOf?: readonly { readonly type: "integer" | "string" }[];
  readonly "x-kubernetes-int-or-string"?: true;
  readonly "x-kubernetes-validations"?: readonly CelRule[];
  readonly "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  readonly "x-kubernetes-list-map-keys"?: readonly string[];
  readonly "x-kubernetes-map-type"?: "atomic" | "granular";
  /** Kept as given (a Kubernetes type too large to restate, checked where it is used). */
  readonly "x-kubernetes-preserve-unknown-fields"?: true;
}

type Options = Omit<SchemaNode, "type" | "description" | "properties" | "items" | "additionalProperties">;

export function str<const O extends Options>(description: string, options?: O): { type: "string"; description: string } & O {
  return { type: "string", description, ...(options as O) };
}

export function int<const O extends Options>(description: string, options?: O): { type: "integer"; description: string } & O {
  return { type: "integer", description, ...(options as O) };
}

export function bool<const O extends Options>(description: string, options?: O): { type: "boolean"; description: string } & O {
  return { type: "boolean", description, ...(options as O) };
}

export function obj<const P extends Readonly<Record<string, SchemaNode>>, const O extends Options>(
  description: string,
  properties: P,
  options?: O,
): { type: "object"; description: string; properties: P } & O {
  return { type: "object", description, properties, ...(options as O) };
}

export function arr<const I extends SchemaNode, const O extends Options>(
  description: string,
  items: I,
  options?: O,
): { type: "array"; description: string; items: I } & O {
  return { type: "array", description, items, ...(options as O) };
}

export function map<const V extends SchemaNode, const O extends Options>(
  description: string,
  values: V,
  options?: O,
): { type: "object"; description: string; additionalProperties: V } & O {
  return { type: "object", description, additionalProperties: values, ...(options as O) };
}

/** A Kubernetes quantity ("500m", "1Gi", 2): an int-or-string. */
export function quantity(description: string) {
  return {
    description,
    "x-kubernetes-int-or-string": true,
    anyOf: [{ type: "integer" }, { type: "string" }],
    pattern: "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$",
  } as const;
}

type Simplify<T> = { [K in keyof T]: T[K] } & {};

type RequiredKeys<S> = S extends { required: readonly (infer R)[] } ? R : never;
/** Keys the API server always fills in: required ones and those with a default. */
type PresentKeys<P, S> = { [K in keyof P]: K extends RequiredKeys<S> ? K : P[K] extends { default: unknown } ? K : never }[keyof P];

type ObjectOf<P, S> = Simplify<
  { -readonly [K in PresentKeys<P, S>]: FromSchema<P[K]> } & { -readonly [K in Exclude<keyof P, PresentKeys<P, S>>]?: FromSchema<P[K]> }
>;

/** The TypeScript type of a value the API server stores for schema S (defaults applied). */
export type FromSchema<S> = S extends { "x-kubernetes-int-or-string": true }
  ? number | string
  : S extends { enum: readonly (infer E)[] }
    ? E
    : S extends { type: "string" }
      ? string
      : S extends { type: "integer" | "number" }
        ? number
        : S extends { type: "boolean" }
          ? boolean
          : S extends { type: "array"; items: infer I }
            ? FromSchema<I>[]
            : S extends { type: "object"; properties: infer P }
              ? ObjectOf<P, S>
              : S extends { type: "object"; additionalProperties: infer V }
                ? Record<string, FromSchema<V>>
                : unknown;
