import { z } from "zod";
import { ConfigError, loadConfig, SETTING_GROUPS, SETTINGS, type SettingName } from "../runtime/config.js";
import { COMMANDS } from "../cli/commands.js";
import { parseDuration } from "../cli/durations.js";
import { parleyProgram } from "../cli/program.js";
import { envNames } from "../runtime/config.js";
import { selectedSettings, shownDefault } from "../cli/settings-options.js";
import { GROUP_DOCS, SETTING_NOTES } from "./setting-notes.js";

/**
 * docs/configuration.md, whole: hand-written prose around tables and examples generated
 * from the settings table, the command specs and the configuration loader itself, so that
 * the page cannot say what the code does not do (a unit test compares the committed file).
 */
export function configurationDoc(): string {
  return [HEADER, settingsSections(), commandTables(), invalidValues()].join("\n");
}

const code = (text: string): string => `\`${text}\``;
const cell = (text: string): string => text.replace(/\|/g, "\\|").replace(/\n/g, " ");
const sentence = (text: string): string => `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;

interface JsonSchema {
  type?: string;
  enum?: readonly string[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  pattern?: string;
  format?: string;
}

/** What a setting accepts, read from its zod schema (as the loader checks it). */
export function acceptedValues(name: SettingName): string {
  const schema = z.toJSONSchema(SETTINGS[name].schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  if (schema.enum) return `one of ${schema.enum.map(code).join(", ")}`;
  if (schema.type === "integer" || schema.type === "number") {
    const kind = schema.type === "integer" ? "an integer" : "a number";
    const low = schema.exclusiveMinimum !== undefined ? `above ${schema.exclusiveMinimum}` : schema.minimum !== undefined ? `${schema.minimum}` : undefined;
    const high = schema.maximum !== undefined && schema.maximum < Number.MAX_SAFE_INTEGER ? schema.maximum : undefined;
    if (low !== undefined && high !== undefined) return low.startsWith("above") ? `${kind} ${low}, at most ${high}` : `${kind}, ${low} to ${high}`;
    if (low !== undefined) return low.startsWith("above") ? `${kind} ${low}` : `${kind}, at least ${low}`;
    return kind;
  }
  if (schema.format === "uri") return "a URL";
  if (schema.pattern !== undefined) return `text matching ${code(schema.pattern)}`;
  if (schema.minLength !== undefined && schema.minLength > 1) return `at least ${schema.minLength} characters`;
  return "text";
}

/** Setting name → the commands that read it, e.g. `dev`, `serve`. */
function readers(): Map<SettingName, string[]> {
  const byName = new Map<SettingName, string[]>();
  for (const spec of COMMANDS) for (const name of selectedSettings(spec.reads)) byName.set(name, [...(byName.get(name) ?? []), spec.name]);
  return byName;
}

function settingRow(name: SettingName, readBy: readonly string[]): string {
  const setting = SETTINGS[name];
  const fallback = shownDefault(name);
  const secret = "secret" in setting ? " A secret: never echoed in error messages." : "";
  const notes = SETTING_NOTES[name];
  const meaning = `${sentence(setting.description)}${notes === undefined ? "" : ` ${notes}`}${secret}`;
  return `| ${[
    name,
    envNames(name).map(code).join(", "),
    "flag" in setting ? code(setting.flag) : "none",
    fallback === undefined ? "unset" : code(fallback),
    acceptedValues(name),
    readBy.length === 0 ? "none" : readBy.map(code).join(", "),
    meaning,
  ]
    .map(cell)
    .join(" | ")} |`;
}

function settingsSections(): string {
  const readBy = readers();
  const sections = SETTING_GROUPS.map((group) => {
    const { title, intro } = GROUP_DOCS[group];
    const rows = (Object.keys(SETTINGS) as SettingName[]).filter((name) => SETTINGS[name].group === group).map((name) => settingRow(name, readBy.get(name) ?? []));
    return [
      `### ${title}`,
      "",
      ...(intro === "" ? [] : [intro, ""]),
      "| Setting | Environment variable | Flag | Default | Accepted values | Read by `parley` | Meaning |",
      "|---|---|---|---|---|---|---|",
      ...rows,
      "",
    ].join("\n");
  });
  const secrets = (Object.keys(SETTINGS) as SettingName[]).filter((name) => "secret" in SETTINGS[name]).flatMap(envNames).map(code);
  return `${sections.join("\n")}
Settings marked as secrets (${secrets.join(", ")}) are never echoed: an invalid value is
reported as \`a value that is hidden\`.

Numeric settings accept any text that JavaScript reads as a number (\`65536\`, \`6.5e4\`)
and must then satisfy the bounds above; integer settings reject fractions.
`;
}

function commandTables(): string {
  const flagRows = COMMANDS.filter((spec) => spec.flags.length > 0).map(
    (spec) => `| ${code(spec.synopsis)} | ${spec.flags.map((name) => code((SETTINGS[name] as { flag?: string }).flag?.split(" ")[0] ?? name)).join(", ")} |`,
  );
  const program = parleyProgram();
  const optionRows = COMMANDS.flatMap((spec) => {
    const command = program.commands.find((candidate) => candidate.name() === spec.name);
    return (command?.options ?? []).map((option) => {
      const fallback: unknown = option.defaultValue;
      const shown =
        option.defaultValueDescription !== undefined
          ? code(option.defaultValueDescription)
          : fallback === undefined
            ? "none"
            : code(typeof fallback === "string" ? fallback : JSON.stringify(fallback));
      return `| ${[code(spec.synopsis), code(option.flags), shown, sentence(option.description)].map(cell).join(" | ")} |`;
    });
  });
  return `The flags exist only on the commands that use them:

| Command | Setting flags |
|---|---|
${flagRows.join("\n")}

Every command but \`parley operator\` checks **all** settings from the environment,
including those it does not use, so an invalid \`PORT\` also stops \`parley token\`. \`parley <command> --help\`
lists the environment variables of the settings that command uses.

## Command options that are not settings

| Command | Option | Default | Meaning |
|---|---|---|---|
${optionRows.join("\n")}

\`parley token\` and \`parley connect\` sign tokens with \`PARLEY_JWT_SECRET\` when it is set,
otherwise with \`<data-dir>/dev-jwt-secret\` (created if missing). They must therefore use
the same secret, or the same \`--data-dir\`, as the server; otherwise the server answers
401 \`invalid token (ERR_JWS_SIGNATURE_VERIFICATION_FAILED)\`.
`;
}

interface Example {
  readonly env: Record<string, string>;
  readonly flags: Partial<Record<SettingName, string>>;
  readonly command: string;
}

const EXAMPLES: readonly Example[] = [
  { env: { PORT: "abc" }, flags: {}, command: "dev" },
  { env: { PARLEY_LOG_LEVEL: "loud" }, flags: { port: "70000" }, command: "dev --port 70000" },
  { env: { PARLEY_CLUSTER: "Prod", PARLEY_MAX_FRAME_BYTES: "10" }, flags: {}, command: "dev" },
  {
    env: { PARLEY_MAX_GROUP_MEMBERS: "200000", PARLEY_IDLE_BATCH_MAX_MESSAGES: "500", PARLEY_NOTIFY_WEBHOOK_URL: "ftp://push.example.com" },
    flags: {},
    command: "dev",
  },
  { env: { PARLEY_JWT_SECRET: "short" }, flags: {}, command: "token alice" },
];

/** What `parley` prints for an example, from the loader itself. */
function exampleOutput(example: Example): string {
  try {
    loadConfig(example.flags, example.env);
  } catch (error) {
    if (error instanceof ConfigError) return `parley: ${error.message}`;
    throw error;
  }
  throw new Error(`the example ${JSON.stringify(example.env)} is valid configuration`);
}

function invalidValues(): string {
  const examples = EXAMPLES.map((example) => {
    const env = Object.entries(example.env).map(([name, value]) => `${name}=${value}`).join(" ");
    return `\`\`\`console\n$ ${env} node dist/services/cli/parley.js ${example.command}\n${exampleOutput(example)}\n\`\`\`\n`;
  });
  let ttlError = "";
  try {
    parseDuration("5x");
  } catch (error) {
    ttlError = (error as Error).message;
  }
  return `## Invalid values

All settings are checked at start. Every invalid value is reported at once, with where it
came from and what was given; the command then exits with status 2 without starting
anything.

${examples.join("\n")}
The value of a secret setting is never printed, so a rejected secret does not end up on
the terminal or in a log.

Invalid command arguments (rather than settings) are reported by the command-line
parser, followed by the command's help, with exit status 1:

\`\`\`console
$ node dist/services/cli/parley.js token alice --ttl 5x
error: option '--ttl <duration>' argument '5x' is invalid. ${ttlError}
\`\`\`
`;
}

const HEADER = `# Configuration

<!-- Generated by services/tools/generate-config-docs.ts (npm run generate:config-docs) from
     services/runtime/config.ts and the parley command specs; do not edit: change the
     settings table, or the prose in services/tools/. -->

Every setting is defined once, in the \`SETTINGS\` table in
\`services/runtime/config.ts\`: its environment variable, its command-line flag (only some
settings have one), its group, its type, its default and its meaning. The \`--help\` output
of the \`parley\` commands and this page are generated from the same table.

## Where a value comes from

For each setting, the first of these that is present wins:

1. the command-line flag, if the setting has one and the command accepts it;
2. the environment variable (an empty value counts as unset; where a setting has two,
   the first listed is read first);
3. the default.

\`\`\`sh
PARLEY_PORT=9000 npx parley dev --port 9100   # listens on 9100: the flag wins
PARLEY_PORT=9000 npx parley dev               # listens on 9000
npx parley dev                                # listens on 8080, the default
make dev ARGS="--port 9000"                   # flags through make
\`\`\`

## Settings

The settings fall into groups: the server and its gateway, groups and their
activity-paced fan-out, notifications, assets, and the production back ends that only
\`parley serve\` uses. The "Read by" column names the commands that use a setting;
under \`parley serve <service>\` each process uses what its service needs, and every
process checks all of them (see below).
`;
