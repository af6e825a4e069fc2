/**
 * Where the app's settings come from: a JSON or YAML file named by the context key `rejuv:config`,
 * and individual context keys `rejuv:<setting>` (from `cdk deploy -c` or cdk.json), which override the
 * file's top-level settings. A bad value fails synthesis with its key path, its source and the value.
 */
import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ValidationError } from '../shared/domain/errors.js';
import { AppSettingsSchema, type AppSettings } from './app-settings.js';

export const CONTEXT_PREFIX = 'rejuv:';
export const CONFIG_CONTEXT_KEY = `${CONTEXT_PREFIX}config`;

/**
 * Settings whose values are text: a context string is taken as it is. A context string for any other
 * setting is read as YAML (JSON is YAML), so `-c rejuv:defaultMaxHostsInMaintenance=2` is a number and
 * `-c 'rejuv:pools={"web":{"maxHostsInMaintenance":2}}'` an object.
 */
const TEXT_SETTINGS: ReadonlySet<string> = new Set([
  'stackName',
  'agingAlarmNamePrefix',
  'hostIdDimension',
  'alarmReloadLevel',
  'notification',
]);

const SETTING_NAMES: ReadonlySet<string> = new Set(Object.keys(AppSettingsSchema.shape));

export interface ReadAppSettingsOptions {
  /** Reads the config file; relative paths are resolved against `cwd`. */
  readonly readFile?: (path: string) => string;
  /** @default process.cwd() (where `cdk` runs: the project root) */
  readonly cwd?: string;
}

/** The settings from the app's context (`app.node.getAllContext()`); no settings at all is valid. */
export function readAppSettings(
  context: Readonly<Record<string, unknown>>,
  options: ReadAppSettingsOptions = {},
): AppSettings {
  const readFile = options.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  const cwd = options.cwd ?? process.cwd();
  const issues: string[] = [];
  const merged: Record<string, unknown> = {};
  const origin: Record<string, string> = {};

  const configPath = context[CONFIG_CONTEXT_KEY];
  if (configPath !== undefined) {
    const file = readConfigFile(configPath, cwd, readFile);
    if (typeof file === 'string') issues.push(file);
    else {
      for (const [key, value] of Object.entries(file.settings)) {
        merged[key] = value;
        origin[key] = file.path;
      }
    }
  }

  for (const [contextKey, raw] of Object.entries(context)) {
    if (!contextKey.startsWith(CONTEXT_PREFIX) || contextKey === CONFIG_CONTEXT_KEY) continue;
    const name = contextKey.slice(CONTEXT_PREFIX.length);
    if (!SETTING_NAMES.has(name)) {
      issues.push(
        `context key ${contextKey}: not a rejuv setting (settings: ${CONFIG_CONTEXT_KEY}, ${[...SETTING_NAMES].map((s) => CONTEXT_PREFIX + s).join(', ')})`,
      );
      continue;
    }
    origin[name] = `context ${contextKey}`;
    if (typeof raw !== 'string' || TEXT_SETTINGS.has(name)) {
      merged[name] = raw;
      continue;
    }
    try {
      merged[name] = parseYaml(raw);
    } catch (error) {
      issues.push(
        `${name} (context ${contextKey}): not valid JSON or YAML (${firstLine(error)}), got ${show(raw)}`,
      );
    }
  }
  if (issues.length > 0) throw new ValidationError('rejuv settings', issues);

  const result = AppSettingsSchema.safeParse(merged);
  if (!result.success) {
    throw new ValidationError(
      'rejuv settings',
      result.error.issues.flatMap((issue) => describe(issue, merged, origin)),
      { cause: result.error },
    );
  }
  return result.data;
}

function readConfigFile(
  configPath: unknown,
  cwd: string,
  readFile: (path: string) => string,
): string | { path: string; settings: Record<string, unknown> } {
  if (typeof configPath !== 'string' || configPath.trim() === '')
    return `${CONFIG_CONTEXT_KEY}: must be the path of a JSON or YAML file, got ${show(configPath)}`;
  const extension = extname(configPath).toLowerCase();
  if (!['.json', '.yaml', '.yml'].includes(extension))
    return `${CONFIG_CONTEXT_KEY}: ${configPath} must end in .json, .yaml or .yml`;
  let text: string;
  try {
    text = readFile(resolve(cwd, configPath));
  } catch (error) {
    return `${CONFIG_CONTEXT_KEY}: cannot read ${configPath} (${firstLine(error)})`;
  }
  let parsed: unknown;
  try {
    parsed = extension === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    return `${CONFIG_CONTEXT_KEY}: ${configPath} is not valid ${extension === '.json' ? 'JSON' : 'YAML'} (${firstLine(error)})`;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return `${CONFIG_CONTEXT_KEY}: ${configPath} must hold an object of settings, got ${show(parsed)}`;
  return { path: configPath, settings: parsed as Record<string, unknown> };
}

/** One line per bad value: its key path, where it came from, what is wrong, and the value itself. */
function describe(
  issue: z.core.$ZodIssue,
  settings: Record<string, unknown>,
  origin: Readonly<Record<string, string>>,
): string[] {
  const paths = issue.code === 'unrecognized_keys' ? issue.keys.map((k) => [...issue.path, k]) : [issue.path];
  return paths.map((path) => {
    const top = path[0];
    const source = typeof top === 'string' && origin[top] !== undefined ? ` (${origin[top]})` : '';
    // A bad record key is shown as the key itself, not the value under it.
    const value = issue.code === 'invalid_key' ? path.at(-1) : valueAt(settings, path);
    if (issue.code === 'invalid_type' && value === undefined)
      return `${formatPath(path)}${source}: is required`;
    const message = issue.code === 'unrecognized_keys' ? 'unknown key' : issue.message;
    return `${formatPath(path)}${source}: ${message}, got ${show(value)}`;
  });
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(settings)';
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`))
    .join('');
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}
