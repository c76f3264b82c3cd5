// Editor settings (section "vfioReview"): their shape, defaults and validation. Pure: no
// connection, no file system. A bad value never throws; it is reported and left out, so the
// rest of the settings still apply.
import * as path from 'node:path';
import type { AbiName, EngineOptions, SeveritySetting } from './engine/api';
import picomatch from 'picomatch';

export const SETTINGS_SECTION = 'vfioReview';
export const DEFAULT_DEBOUNCE_MS = 150;
export const MAX_DEBOUNCE_MS = 10_000;
export const SEVERITY_SETTINGS: readonly SeveritySetting[] = ['off', 'hint', 'info', 'warning', 'error'];

/** The settings as the user writes them (every field optional, nothing trusted). */
export interface RawSettings {
  arches?: unknown;
  includePaths?: unknown;
  uapiGlobs?: unknown;
  severities?: unknown;
  root?: unknown;
  debounceMs?: unknown;
  baseRef?: unknown;
  inlayHints?: unknown;
}

/** Validated settings. Absent engine fields mean "engine default". */
export interface Settings {
  engine: Omit<EngineOptions, 'docsBase'>;
  debounceMs: number;
  /**
   * The git revision uapi headers are compared with; '' turns the comparison off. Absent when
   * the client sent none: then there is no comparison either, since a client that does not know
   * the setting cannot have asked the user whether git may run in the workspace. VS Code always
   * sends it (its default, "HEAD", comes from package.json).
   */
  baseRef?: string;
  /** Member offsets as inlay hints (vfioReview.inlayHints); absent means false. */
  inlayHints?: boolean;
}

export interface ValidationContext {
  /** ABI names the engine knows. */
  abis: readonly string[];
  /** Rule ids the engine knows; when given, severities for other ids are reported. */
  rules?: readonly string[];
  /** Base for a relative `root`; without it a relative root is reported. */
  workspaceFolder?: string;
}

export interface ValidationResult {
  options: Settings;
  errors: string[];
}

export function defaultSettings(): Settings {
  return { engine: {}, debounceMs: DEFAULT_DEBOUNCE_MS };
}

// Keys VS Code may hand back in the section besides ours (vscode-languageclient's trace level).
const KNOWN_KEYS = new Set(['arches', 'includePaths', 'uapiGlobs', 'severities', 'root', 'debounceMs', 'baseRef', 'inlayHints', 'trace']);

/** What vfioReview.baseRef accepts: any revision git can parse, but nothing it would take for an option. */
export function checkBaseRef(value: unknown): string | undefined {
  if (typeof value !== 'string') return `expected a git revision such as "HEAD" or "@{upstream}" ('' for none), got ${describe(value)}`;
  const ref = value.trim();
  if (ref.startsWith('-')) return `'${ref}' starts with '-' and would be read as an option`;
  if (/[\s\0]/.test(ref)) return `'${ref}' contains white space or control characters`;
  return undefined;
}

export function validateSettings(raw: unknown, ctx: ValidationContext): ValidationResult {
  const options = defaultSettings();
  const errors: string[] = [];
  const bad = (key: string, what: string) => errors.push(`${SETTINGS_SECTION}.${key}: ${what}; ignored.`);

  if (raw === undefined || raw === null) return { options, errors };
  if (!isPlainObject(raw)) {
    errors.push(`${SETTINGS_SECTION}: expected an object of settings, got ${describe(raw)}; using defaults.`);
    return { options, errors };
  }
  const s = raw as RawSettings & Record<string, unknown>;

  for (const key of Object.keys(s)) {
    if (!KNOWN_KEYS.has(key)) bad(key, 'unknown setting');
  }

  if (s.arches !== undefined && s.arches !== null) {
    const arches = stringList(s.arches, 'arches', bad);
    if (arches) {
      const known = new Set(ctx.abis);
      const kept: AbiName[] = [];
      for (const a of arches) {
        if (!known.has(a)) bad('arches', `'${a}' is not a known ABI (one of ${ctx.abis.join(', ')})`);
        else if (!kept.includes(a as AbiName)) kept.push(a as AbiName);
      }
      if (kept.length > 0) options.engine.arches = kept;
      else if (arches.length === 0) bad('arches', 'the list is empty (leave it unset for every ABI)');
    }
  }

  if (s.includePaths !== undefined && s.includePaths !== null) {
    const list = stringList(s.includePaths, 'includePaths', bad);
    if (list) {
      const kept = list.filter((p) => p.trim() !== '');
      if (kept.length !== list.length) bad('includePaths', 'empty entries');
      if (kept.length > 0) options.engine.includePaths = kept;
    }
  }

  if (s.uapiGlobs !== undefined && s.uapiGlobs !== null) {
    const list = stringList(s.uapiGlobs, 'uapiGlobs', bad);
    if (list) {
      const kept = list.filter((g) => g.trim() !== '');
      if (kept.length !== list.length) bad('uapiGlobs', 'empty entries');
      // An empty list means the engine's defaults, not "no uapi headers".
      if (kept.length > 0) options.engine.uapiGlobs = kept;
    }
  }

  if (s.severities !== undefined && s.severities !== null) {
    if (!isPlainObject(s.severities)) {
      bad('severities', `expected an object mapping rule ids to one of ${SEVERITY_SETTINGS.join('|')}, got ${describe(s.severities)}`);
    } else {
      const rules = ctx.rules ? new Set(ctx.rules) : undefined;
      const kept: Record<string, SeveritySetting> = {};
      for (const [rule, value] of Object.entries(s.severities as Record<string, unknown>)) {
        if (rules && !rules.has(rule)) bad(`severities.${rule}`, 'unknown rule');
        else if (typeof value !== 'string' || !SEVERITY_SETTINGS.includes(value as SeveritySetting)) {
          bad(`severities.${rule}`, `${describe(value)} is not one of ${SEVERITY_SETTINGS.join('|')}`);
        } else kept[rule] = value as SeveritySetting;
      }
      if (Object.keys(kept).length > 0) options.engine.severities = kept;
    }
  }

  if (s.root !== undefined && s.root !== null) {
    if (typeof s.root !== 'string') bad('root', `expected a path, got ${describe(s.root)}`);
    else if (s.root.trim() !== '') {
      const root = s.root.trim();
      if (path.isAbsolute(root)) options.engine.root = path.normalize(root);
      else if (ctx.workspaceFolder) options.engine.root = path.resolve(ctx.workspaceFolder, root);
      else bad('root', `'${root}' is relative and there is no workspace folder to resolve it against`);
    }
  }

  if (s.debounceMs !== undefined && s.debounceMs !== null) {
    const d = s.debounceMs;
    if (typeof d !== 'number' || !Number.isFinite(d) || d < 0 || d > MAX_DEBOUNCE_MS) {
      bad('debounceMs', `expected a number of milliseconds from 0 to ${MAX_DEBOUNCE_MS}, got ${describe(d)}`);
    } else options.debounceMs = Math.round(d);
  }

  if (s.baseRef !== undefined && s.baseRef !== null) {
    const problem = checkBaseRef(s.baseRef);
    if (problem) bad('baseRef', problem);
    else options.baseRef = (s.baseRef as string).trim();
  }

  if (s.inlayHints !== undefined && s.inlayHints !== null) {
    if (typeof s.inlayHints !== 'boolean') bad('inlayHints', `expected true or false, got ${describe(s.inlayHints)}`);
    else options.inlayHints = s.inlayHints;
  }

  return { options, errors };
}

const uapiMatchers = new Map<string, (p: string) => boolean>();

/**
 * Whether `file` is a uapi header as the engine decides it: under one of `globs` relative to the
 * kernel `root`, or, with no root or outside it, under an include/uapi folder.
 */
export function isUapiHeader(file: string, root: string | undefined, globs: readonly string[]): boolean {
  if (path.extname(file).toLowerCase() !== '.h') return false;
  const rel = root ? path.relative(root, file) : '';
  if (!root || rel.startsWith('..') || path.isAbsolute(rel)) return /(^|\/)include\/uapi\//.test(file.split(path.sep).join('/'));
  const norm = rel.split(path.sep).join('/');
  return globs.some((glob) => {
    let matcher = uapiMatchers.get(glob);
    if (!matcher) uapiMatchers.set(glob, (matcher = picomatch(glob, { dot: true })));
    return matcher(norm);
  });
}

function stringList(value: unknown, key: string, bad: (key: string, what: string) => void): string[] | undefined {
  if (!Array.isArray(value)) {
    bad(key, `expected a list of strings, got ${describe(value)}`);
    return undefined;
  }
  const out: string[] = [];
  for (const v of value) {
    if (typeof v === 'string') out.push(v);
    else bad(key, `${describe(v)} is not a string`);
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  return String(v);
}
