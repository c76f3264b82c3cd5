// `.vfio-review.json` at the root of a kernel tree: facts the code cannot say for itself (which
// member a flag belongs to, which flag selects a union member, which flag needs another), rule
// severities and paths to ignore. It only declares facts: nothing in it is ever run.
// Validation is hand-written against schemas/vfio-review.schema.json (the tests check both agree):
// a schema validator would be the only reason for a runtime dependency (see docs/configuration.md).
import path from 'node:path';
import { macroGlobMatches } from './macro-glob';
import type { SeveritySetting } from './types';
import type { SourceStore } from './workspace';

export interface ProjectConfig {
  flags?: {
    /** macro name or glob → `struct x.member`. */
    bindings?: Record<string, string>;
    /** flag → the flag(s) it requires. */
    dependencies?: Record<string, string | string[]>;
  };
  unions?: {
    discriminants?: { union: string; member: string; flag: string; field: string; when?: 'set' | 'clear' }[];
  };
  rules?: Record<string, SeveritySetting>;
  ignore?: string[];
}

export interface ConfigProblem {
  file: string;
  /** Dotted path of the offending key: `flags.bindings.VFIO_X_*`, `unions.discriminants[0].when`. */
  key: string;
  message: string;
  line: number;
}

export interface LoadedConfig {
  file: string;
  /** Undefined when there is no file or it is not valid JSON; otherwise the valid parts. */
  config?: ProjectConfig;
  problems: ConfigProblem[];
}

export const CONFIG_FILE = '.vfio-review.json';
const SEVERITIES = ['error', 'warning', 'info', 'hint', 'off'];
const FIELD_REF = /^(struct|union) [A-Za-z_]\w*\.[A-Za-z_][\w.]*$/;
const MACRO = /^[A-Za-z_*][A-Za-z0-9_*]*$/;
const IDENT = /^[A-Za-z_]\w*$/;
const TYPE_REF = /^(struct|union) [A-Za-z_]\w*$/;

/** Reads and validates `<root>/.vfio-review.json`. Never throws; an absent file is no problem. */
export function loadProjectConfig(root: string, store: SourceStore): LoadedConfig {
  const file = path.join(root, CONFIG_FILE);
  const src = store.read(file);
  if (!src) return { file, problems: [] };
  return parseProjectConfig(src.text, file);
}

export function parseProjectConfig(text: string, file: string): LoadedConfig {
  const problems: ConfigProblem[] = [];
  const lineOfKey = (key: string) => {
    const last = key.split(/[.[\]]/).filter(Boolean).pop() ?? '';
    const i = text.indexOf(`"${last}"`);
    return i < 0 ? 0 : text.slice(0, i).split('\n').length - 1;
  };
  const problem = (key: string, message: string) => problems.push({ file, key, message, line: lineOfKey(key) });
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    problems.push({ file, key: '', message: `not valid JSON: ${(e as Error).message}`, line: 0 });
    return { file, problems };
  }
  for (const dup of duplicateKeys(text)) problem(dup, `'${dup}' is given twice; the values conflict, keep one`);
  if (!isObject(raw)) {
    problem('', 'the configuration must be a JSON object');
    return { file, problems };
  }
  const config: ProjectConfig = {};
  for (const k of Object.keys(raw)) if (!['$schema', 'flags', 'unions', 'rules', 'ignore'].includes(k)) problem(k, `unknown key '${k}' (known: flags, unions, rules, ignore)`);

  if (raw.flags !== undefined) {
    if (!isObject(raw.flags)) problem('flags', 'must be an object with bindings and dependencies');
    else {
      config.flags = {};
      for (const k of Object.keys(raw.flags)) if (!['bindings', 'dependencies'].includes(k)) problem(`flags.${k}`, `unknown key '${k}' (known: bindings, dependencies)`);
      const b = raw.flags.bindings;
      if (b !== undefined) {
        if (!isObject(b)) problem('flags.bindings', 'must map macro names or globs to "struct name.member"');
        else {
          config.flags.bindings = {};
          for (const [macro, field] of Object.entries(b)) {
            if (!MACRO.test(macro)) problem(`flags.bindings.${macro}`, `'${macro}' is not a macro name or a glob of one`);
            else if (typeof field !== 'string' || !FIELD_REF.test(field)) problem(`flags.bindings.${macro}`, 'must be "struct name.member" (or "union name.member")');
            else config.flags.bindings[macro] = field;
          }
          // An exact name also matched by a glob that names another member: which one is meant?
          const entries = Object.entries(config.flags.bindings);
          for (const [exact, f1] of entries.filter(([m]) => !m.includes('*'))) {
            const clash = entries.find(([g, f2]) => g.includes('*') && f2 !== f1 && macroGlobMatches(g, exact));
            if (clash) problem(`flags.bindings.${exact}`, `conflicts with '${clash[0]}': one binds it to ${f1}, the other to ${clash[1]}`);
          }
        }
      }
      const d = raw.flags.dependencies;
      if (d !== undefined) {
        if (!isObject(d)) problem('flags.dependencies', 'must map a flag to the flag (or list of flags) it requires');
        else {
          config.flags.dependencies = {};
          for (const [flag, req] of Object.entries(d)) {
            const list = Array.isArray(req) ? req : [req];
            if (!IDENT.test(flag) || !list.length || list.some((r) => typeof r !== 'string' || !IDENT.test(r))) problem(`flags.dependencies.${flag}`, 'must be a macro name mapped to a macro name or a list of them');
            else if (list.includes(flag)) problem(`flags.dependencies.${flag}`, `'${flag}' cannot require itself`);
            else config.flags.dependencies[flag] = req as string | string[];
          }
          for (const [flag, req] of Object.entries(config.flags.dependencies)) {
            for (const r of Array.isArray(req) ? req : [req]) {
              const back = config.flags.dependencies[r];
              if (back && (Array.isArray(back) ? back : [back]).includes(flag) && flag < r) problem(`flags.dependencies.${flag}`, `conflicts with flags.dependencies.${r}: each flag requires the other`);
            }
          }
        }
      }
    }
  }

  if (raw.unions !== undefined) {
    if (!isObject(raw.unions)) problem('unions', 'must be an object with discriminants');
    else {
      for (const k of Object.keys(raw.unions)) if (k !== 'discriminants') problem(`unions.${k}`, `unknown key '${k}' (known: discriminants)`);
      const list = raw.unions.discriminants;
      if (list !== undefined) {
        if (!Array.isArray(list)) problem('unions.discriminants', 'must be a list');
        else {
          config.unions = { discriminants: [] };
          list.forEach((d, i) => {
            const key = `unions.discriminants[${i}]`;
            if (!isObject(d)) return problem(key, 'must be an object with union, member, flag, field (and when)');
            let ok = true;
            for (const k of Object.keys(d)) if (!['union', 'member', 'flag', 'field', 'when'].includes(k)) { problem(`${key}.${k}`, `unknown key '${k}' (known: union, member, flag, field, when)`); ok = false; }
            if (typeof d.union !== 'string' || !TYPE_REF.test(d.union)) { problem(`${key}.union`, 'must be "struct name" or "union name": the type that holds the union'); ok = false; }
            if (typeof d.member !== 'string' || !IDENT.test(d.member)) { problem(`${key}.member`, 'must be the union member\'s name'); ok = false; }
            if (typeof d.flag !== 'string' || !IDENT.test(d.flag)) { problem(`${key}.flag`, 'must be a flag macro name'); ok = false; }
            if (typeof d.field !== 'string' || !FIELD_REF.test(d.field)) { problem(`${key}.field`, 'must be "struct name.member": where the flag is stored'); ok = false; }
            if (d.when !== undefined && d.when !== 'set' && d.when !== 'clear') { problem(`${key}.when`, 'must be "set" or "clear"'); ok = false; }
            if (!ok) return;
            const prev = config.unions!.discriminants!.findIndex((p) => p.union === d.union && p.member === d.member);
            if (prev >= 0) {
              const p = config.unions!.discriminants![prev];
              if (p.flag !== d.flag || (p.when ?? 'set') !== (d.when ?? 'set') || p.field !== d.field) {
                return problem(key, `conflicts with unions.discriminants[${prev}]: ${d.union}.${d.member} cannot be selected both by ${p.flag} ${p.when ?? 'set'} and by ${d.flag} ${d.when ?? 'set'}`);
              }
            }
            config.unions!.discriminants!.push(d as NonNullable<NonNullable<ProjectConfig['unions']>['discriminants']>[number]);
          });
        }
      }
    }
  }

  if (raw.rules !== undefined) {
    if (!isObject(raw.rules)) problem('rules', 'must map rule ids to a severity');
    else {
      config.rules = {};
      for (const [rule, sev] of Object.entries(raw.rules)) {
        if (typeof sev !== 'string' || !SEVERITIES.includes(sev)) problem(`rules.${rule}`, `must be one of ${SEVERITIES.join(', ')}`);
        else config.rules[rule] = sev as SeveritySetting;
      }
    }
  }

  if (raw.ignore !== undefined) {
    if (!Array.isArray(raw.ignore) || raw.ignore.some((g) => typeof g !== 'string' || g === '')) problem('ignore', 'must be a list of globs relative to the tree root');
    else config.ignore = raw.ignore as string[];
  }
  return { file, config, problems };
}

/** Severities of the rules section for EngineOptions.severities, under the user's own settings. */
export function severitiesFrom(config: ProjectConfig | undefined, user: Record<string, SeveritySetting> = {}): Record<string, SeveritySetting> {
  return { ...(config?.rules ?? {}), ...user };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Keys given twice in one object (JSON.parse silently keeps the last), as dotted paths. */
function duplicateKeys(text: string): string[] {
  const out: string[] = [];
  const stack: { keys: Set<string>; path: string; array: boolean; index: number }[] = [];
  let pendingKey: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const s = JSON.parse(text.slice(i, j + 1)) as string;
      const top = stack[stack.length - 1];
      let k = j + 1;
      while (/\s/.test(text[k] ?? '')) k++;
      if (top && !top.array && text[k] === ':') {
        const p = top.path ? `${top.path}.${s}` : s;
        if (top.keys.has(s)) out.push(p);
        top.keys.add(s);
        pendingKey = p;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      const top = stack[stack.length - 1];
      const p = top?.array ? `${top.path}[${top.index}]` : (pendingKey ?? '');
      stack.push({ keys: new Set(), path: p, array: c === '[', index: 0 });
      pendingKey = undefined;
    } else if (c === '}' || c === ']') stack.pop();
    else if (c === ',' && stack[stack.length - 1]?.array) stack[stack.length - 1].index++;
  }
  return out;
}
