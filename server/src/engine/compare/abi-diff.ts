// Compares an old and a new version of a uapi header, ABI by ABI: types by name, members by
// name and position, macros and enumerators by name. Every change is classified (compatible,
// API break, incompatible) per ABI, and ABIs with the same outcome are named together, so a
// verdict reads "incompatible on i386 and arm only" or "compatible on every ABI".
import type { AbiName, Finding, MemberLayout, Range, Severity, TypeLayout } from '../types';
import type { Value } from '../preprocess/expr';
import { compareRuleIds } from '../rules/rule';

/** What one version of the header looks like on one ABI. */
export interface VersionFacts {
  types: TypeLayout[];
  /** Object-like macros defined in the header, with their value when it evaluates. */
  macros: Map<string, { body: string; value?: Value; line: number; character: number }>;
  enumerators: Map<string, { value?: Value; enumName: string; line: number; character: number }>;
  /** Signedness of a type as written (`__u32` -> false), undefined when unknown. */
  signed(typeText: string): boolean | undefined;
  /** The type with typedefs and type macros resolved (`__aligned_u64` -> `unsigned long long`). */
  canonical(typeText: string): string | undefined;
}

export interface CompareContext {
  file: string;
  /** Where related locations point (the old version). */
  baseLocation: string;
  baseLabel: string;
  arches: AbiName[];
  severityOf(rule: string): Severity | 'off';
}

interface Change {
  rule: string;
  /** Identity across ABIs: the same change on several ABIs is one finding. */
  key: string;
  /** The message without the ABI list; details that differ per ABI go in `detail`. */
  subject: string;
  detail: string;
  at: { line: number; character: number; length: number };
  old?: { line: number; character: number };
  /** Overrides the rule's default where the same rule covers a milder and a harsher case. */
  severity?: Severity;
}

/** Names that mark explicit padding: a new member taking their place is compatible. */
const PADDING_NAME = /(^|_)(pad|padding|reserved|resv|rsvd|unused|spare)\d*$|^__?(pad|reserved|resv|rsvd)/i;

export const ABI_RULES: { id: string; defaultSeverity: Severity; summary: string }[] = [
  { id: 'abi-type-removed', defaultSeverity: 'error', summary: 'A uapi struct or union was removed.' },
  { id: 'abi-member-removed', defaultSeverity: 'error', summary: 'A member of a uapi struct was removed.' },
  { id: 'abi-member-offset-changed', defaultSeverity: 'error', summary: 'A member moved (offset or bit position) on some ABI.' },
  { id: 'abi-member-size-changed', defaultSeverity: 'error', summary: 'A member changed size on some ABI.' },
  { id: 'abi-member-inserted', defaultSeverity: 'error', summary: 'A member was inserted before existing ones, or into implicit padding.' },
  { id: 'abi-member-reordered', defaultSeverity: 'error', summary: 'Members of a uapi struct changed order.' },
  { id: 'abi-member-type-changed', defaultSeverity: 'warning', summary: 'A member changed type: signedness (error) or only its spelling (API break).' },
  { id: 'abi-size-changed', defaultSeverity: 'error', summary: 'A uapi struct changed size, and it is not an extensible (argsz) struct growing at the end.' },
  { id: 'abi-alignment-changed', defaultSeverity: 'error', summary: 'A uapi struct changed alignment.' },
  { id: 'abi-macro-value-changed', defaultSeverity: 'error', summary: 'A uapi macro (flag, constant) changed value.' },
  { id: 'abi-ioctl-changed', defaultSeverity: 'error', summary: 'An ioctl number changed (its size, direction, type or number).' },
  { id: 'abi-enum-value-changed', defaultSeverity: 'error', summary: 'An enumerator changed value.' },
  { id: 'abi-macro-removed', defaultSeverity: 'warning', summary: 'A uapi macro or enumerator was removed: userspace that uses it no longer builds.' },
  { id: 'abi-member-renamed', defaultSeverity: 'warning', summary: 'A member was renamed with the same layout: API break, ABI compatible.' },
  { id: 'abi-union-wrap', defaultSeverity: 'info', summary: 'Compatible: members now share a union with the same offset, size and type.' },
  { id: 'abi-member-appended', defaultSeverity: 'info', summary: 'Compatible: a member appended to an extensible struct.' },
  { id: 'abi-padding-used', defaultSeverity: 'info', summary: 'Compatible: a new member takes the place of explicit padding of the same size.' },
  { id: 'abi-flexible-renamed', defaultSeverity: 'info', summary: 'Compatible: a flexible array member changed only its name.' },
];

function listAbis(abis: AbiName[], all: AbiName[]): string {
  if (abis.length === all.length && all.length > 1) return 'every ABI';
  if (abis.length <= 1) return abis.join('');
  return `${abis.slice(0, -1).join(', ')} and ${abis[abis.length - 1]}`;
}

const topLevel = (m: MemberLayout) => !m.path.includes('.');

/** VFIO's convention: a struct whose first member is `__u32 argsz` is read up to argsz bytes. */
function extensible(t: TypeLayout): boolean {
  const first = t.members[0];
  return !!first && first.offset === 0 && /^(argsz|size|struct_size)$/.test(first.path) && first.size === 4;
}

function typeChanges(o: TypeLayout, n: TypeLayout, facts: { old: VersionFacts; new: VersionFacts }): Change[] {
  const out: Change[] = [];
  const name = n.name;
  const at = (m: MemberLayout) => ({ line: m.line, character: m.character, length: m.path.split('.').pop()!.length });
  const typeAt = { line: n.line, character: n.character, length: name.replace(/^(struct|union) /, '').length };
  const newByPath = new Map(n.members.map((m) => [m.path, m]));
  const oldByPath = new Map(o.members.map((m) => [m.path, m]));
  const usedNew = new Set<string>();
  let moved = false;

  for (const om of o.members) {
    const nm = newByPath.get(om.path);
    if (!nm) continue;
    usedNew.add(nm.path);
    if (om.offset !== nm.offset || om.bitOffset !== nm.bitOffset) {
      moved = true;
      const where = (m: MemberLayout) => (m.bitOffset !== undefined ? `bit ${m.bitOffset}` : `offset ${m.offset}`);
      out.push({ rule: 'abi-member-offset-changed', key: `${name}.${om.path}`, subject: `${name}: member '${om.path}' moved`, detail: `from ${where(om)} to ${where(nm)}`, at: at(nm), old: om });
    }
    // A flexible array has no size of its own; its element type decides the stride.
    const flexibleElementChanged = !!om.flexible && !!nm.flexible && facts.old.canonical(om.type) !== facts.new.canonical(nm.type)
      && facts.old.canonical(om.type) !== undefined;
    if (flexibleElementChanged) {
      out.push({ rule: 'abi-member-size-changed', key: `${name}.${om.path}`, subject: `${name}: flexible array '${om.path}' changed element type (${om.type} -> ${nm.type}), so the stride of its elements changes`, detail: '', at: at(nm), old: om });
      moved = true;
    }
    if (om.size !== nm.size || om.bitSize !== nm.bitSize) {
      const sz = (m: MemberLayout) => (m.bitSize !== undefined ? `${m.bitSize} bits` : `${m.size} bytes`);
      out.push({ rule: 'abi-member-size-changed', key: `${name}.${om.path}`, subject: `${name}: member '${om.path}' changed size`, detail: `from ${sz(om)} to ${sz(nm)}`, at: at(nm), old: om });
    }
    const sameLayout = om.offset === nm.offset && om.size === nm.size && om.bitOffset === nm.bitOffset && om.bitSize === nm.bitSize;
    // Another spelling of the same type (a typedef, `__aligned_u64` for `__u64`) changes nothing.
    const sameType = om.type === nm.type || (facts.old.canonical(om.type) !== undefined && facts.old.canonical(om.type) === facts.new.canonical(nm.type));
    if (!sameType && sameLayout && !flexibleElementChanged) {
      const so = facts.old.signed(om.type);
      const sn = facts.new.signed(nm.type);
      const signedness = so !== undefined && sn !== undefined && so !== sn;
      out.push({
        rule: 'abi-member-type-changed', key: `${name}.${om.path}`,
        subject: signedness
          ? `${name}: member '${om.path}' changed signedness (${om.type} -> ${nm.type}): comparisons and sign extension change for userspace`
          : `${name}: member '${om.path}' changed type from ${om.type} to ${nm.type} with the same layout (API break, ABI compatible)`,
        detail: '', at: at(nm), old: om,
      });
    }
    if (sameLayout && sameType && om.anonymous !== 'union' && nm.anonymous === 'union') {
      const partners = n.members.filter((x) => x.anonymous === 'union' && x.path !== nm.path && x.offset === nm.offset && !oldByPath.has(x.path)).map((x) => `'${x.path}'`);
      out.push({
        rule: 'abi-union-wrap', key: `${name}.${om.path}`,
        subject: `${name}: '${om.path}' is now in an anonymous union${partners.length ? ` with ${partners.join(', ')}` : ''}: compatible, same offset, size and type`,
        detail: '', at: at(nm), old: om,
      });
    }
  }

  // Old members with no namesake: renamed, padding put to use, or removed.
  for (const om of o.members) {
    if (newByPath.has(om.path)) continue;
    const parentGone = om.path.includes('.') && !newByPath.has(om.path.slice(0, om.path.lastIndexOf('.')));
    const twin = n.members.find((x) => !usedNew.has(x.path) && !oldByPath.has(x.path) && x.offset === om.offset && x.size === om.size && x.bitOffset === om.bitOffset && x.bitSize === om.bitSize && x.depth === om.depth
      && (!om.flexible || facts.old.canonical(om.type) === facts.new.canonical(x.type)));
    if (twin) {
      usedNew.add(twin.path);
      if (PADDING_NAME.test(om.path.split('.').pop()!)) {
        out.push({ rule: 'abi-padding-used', key: `${name}.${om.path}`, subject: `${name}: '${twin.path}' takes the place of padding '${om.path}' (same offset and size): compatible if the kernel required it to be zero`, detail: '', at: at(twin), old: om });
      } else if (om.flexible && twin.flexible) {
        out.push({ rule: 'abi-flexible-renamed', key: `${name}.${om.path}`, subject: `${name}: flexible array '${om.path}' renamed to '${twin.path}': compatible, the layout is the same`, detail: '', at: at(twin), old: om });
      } else {
        out.push({ rule: 'abi-member-renamed', key: `${name}.${om.path}`, subject: `${name}: member '${om.path}' renamed to '${twin.path}' with the same layout (API break, ABI compatible)`, detail: '', at: at(twin), old: om });
      }
      continue;
    }
    if (parentGone) continue; // reported on the parent
    out.push({ rule: 'abi-member-removed', key: `${name}.${om.path}`, subject: `${name}: member '${om.path}' was removed`, detail: `it was at offset ${om.offset}`, at: typeAt, old: om });
  }

  // New members: appended, union alternatives, or inserted.
  const oldSize = o.size ?? 0;
  // Growing at the end is fine for an argsz struct passed by pointer, not for one that is an
  // array element or embedded in another uapi struct: there every later byte moves.
  const embeddedIn = facts.new.types.filter((t) => t.members.some((m) => m.type === name || m.type.startsWith(`${name}[`))).map((t) => t.name);
  for (const nm of n.members) {
    if (usedNew.has(nm.path) || oldByPath.has(nm.path)) continue;
    if (nm.path.includes('.') && !oldByPath.has(nm.path.slice(0, nm.path.lastIndexOf('.')))) {
      // Inside a new named aggregate: reported with it.
      if (!topLevel(nm)) continue;
    }
    const inUnion = nm.anonymous === 'union' || (nm.path.includes('.') && o.members.some((x) => x.path === nm.path.slice(0, nm.path.lastIndexOf('.')) && x.type.startsWith('union')));
    if (inUnion && nm.offset !== null && nm.size !== null && nm.offset + nm.size <= oldSize && !moved) {
      const partner = n.members.find((x) => x !== nm && x.offset === nm.offset && oldByPath.has(x.path));
      if (partner && !out.some((c) => c.rule === 'abi-union-wrap' && c.key === `${name}.${partner.path}`)) {
        out.push({ rule: 'abi-union-wrap', key: `${name}.${nm.path}`, subject: `${name}: '${nm.path}' added as a union alternative of '${partner.path}' within the old size: compatible`, detail: '', at: at(nm) });
      }
      continue;
    }
    if (nm.offset !== null && nm.offset >= oldSize) {
      if (extensible(o) && embeddedIn.length === 0) out.push({ rule: 'abi-member-appended', key: `${name}.${nm.path}`, subject: `${name}: '${nm.path}' appended to an extensible (argsz) struct: compatible, the kernel reads only argsz bytes from old userspace`, detail: '', at: at(nm) });
      continue; // otherwise the size change is the finding
    }
    if (!moved && PADDING_NAME.test(nm.path.split('.').pop()!)) {
      out.push({ rule: 'abi-padding-used', key: `${name}.${nm.path}`, subject: `${name}: implicit padding is now spelled out as '${nm.path}': compatible`, detail: `at offset ${nm.offset}`, at: at(nm) });
      continue;
    }
    out.push({
      rule: 'abi-member-inserted', key: `${name}.${nm.path}`,
      subject: moved ? `${name}: member '${nm.path}' inserted before existing members, which move` : `${name}: member '${nm.path}' placed in what was implicit padding: old userspace leaves garbage there, so the kernel must not read it unless a new flag says it is set`,
      detail: `at offset ${nm.offset}`, at: at(nm), severity: moved ? undefined : 'warning',
    });
  }

  // Order of the members both versions have.
  const common = o.members.filter((m) => topLevel(m) && newByPath.has(m.path));
  const order = common.map((m) => newByPath.get(m.path)!.offset ?? 0);
  if (o.kind === 'struct' && order.some((v, i) => i > 0 && v < order[i - 1])) {
    const now = [...common].sort((a, b) => (newByPath.get(a.path)!.offset ?? 0) - (newByPath.get(b.path)!.offset ?? 0));
    out.push({ rule: 'abi-member-reordered', key: name, subject: `${name}: members changed order`, detail: `was ${common.map((m) => m.path).join(', ')}, now ${now.map((m) => m.path).join(', ')}`, at: typeAt });
  }

  const grewAtEnd = !moved && (n.size ?? 0) >= oldSize && extensible(o) && embeddedIn.length === 0 && !out.some((c) => c.rule === 'abi-member-removed' || c.rule === 'abi-member-inserted');
  if (o.size !== n.size && !grewAtEnd) {
    const why = embeddedIn.length ? ` and is embedded in or an array element of ${embeddedIn.join(', ')}` : extensible(o) ? '' : ' and is not extensible (no leading __u32 argsz)';
    out.push({ rule: 'abi-size-changed', key: name, subject: `${name} changed size${why}`, detail: `from ${o.size} to ${n.size}`, at: typeAt });
  }
  if (o.align !== n.align && !grewAtEnd) {
    // Only with its size does the kernel ABI move (structs embedding it report their own moves);
    // otherwise only userspace's own structs that embed it change.
    const kernelVisible = o.size !== n.size;
    out.push({
      rule: 'abi-alignment-changed', key: name,
      subject: `${name} changed alignment${kernelVisible ? '' : ' (size and offsets unchanged: only userspace structs that embed it move)'}`,
      detail: `from ${o.align} to ${n.align}`, at: typeAt, severity: kernelVisible ? undefined : 'warning',
    });
  }
  return out;
}

/** ioctl numbers as include/uapi/asm-generic/ioctl.h packs them (powerpc: 3 direction bits, 13 size bits). */
function describeIoctl(v: bigint, abi: AbiName): string {
  const ppc = abi === 'ppc64le';
  const sizeBits = ppc ? 13n : 14n;
  const nr = v & 0xffn;
  const type = (v >> 8n) & 0xffn;
  const size = (v >> 16n) & ((1n << sizeBits) - 1n);
  const dir = v >> (16n + sizeBits);
  const names: Record<number, string> = ppc ? { 1: 'none', 2: 'read', 4: 'write', 6: 'read/write' } : { 0: 'none', 1: 'write', 2: 'read', 3: 'read/write' };
  const dirName = names[Number(dir)] ?? `dir ${dir}`;
  const ch = type >= 32n && type < 127n ? `'${String.fromCharCode(Number(type))}'` : `0x${type.toString(16)}`;
  return `type ${ch} nr ${nr} size ${size} ${dirName}`;
}

function macroChanges(abi: AbiName, o: VersionFacts, n: VersionFacts): Change[] {
  const out: Change[] = [];
  for (const [name, om] of o.macros) {
    const nm = n.macros.get(name);
    if (!nm) {
      out.push({ rule: 'abi-macro-removed', key: name, subject: `macro ${name} was removed: userspace that uses it no longer builds`, detail: '', at: { line: 0, character: 0, length: 0 }, old: om });
      continue;
    }
    if (om.value === undefined || nm.value === undefined || om.value.v === nm.value.v) continue;
    const ioctl = /^\(?\s*_IO(R|W|WR)?(_BAD)?\s*\(/.test(nm.body) || /^\(?\s*_IO(R|W|WR)?(_BAD)?\s*\(/.test(om.body);
    const hex = (v: Value) => `0x${(v.v < 0n ? v.v + (1n << 64n) : v.v).toString(16)}`;
    out.push(ioctl
      ? { rule: 'abi-ioctl-changed', key: name, subject: `ioctl ${name} changed number`, detail: `${hex(om.value)} (${describeIoctl(om.value.v, abi)}) -> ${hex(nm.value)} (${describeIoctl(nm.value.v, abi)})`, at: { line: nm.line, character: nm.character, length: name.length }, old: om }
      : { rule: 'abi-macro-value-changed', key: name, subject: `macro ${name} changed value`, detail: `from ${hex(om.value)} to ${hex(nm.value)}`, at: { line: nm.line, character: nm.character, length: name.length }, old: om });
  }
  for (const [name, oe] of o.enumerators) {
    const ne = n.enumerators.get(name);
    if (!ne) {
      out.push({ rule: 'abi-macro-removed', key: name, subject: `enumerator ${name} of ${oe.enumName} was removed`, detail: '', at: { line: 0, character: 0, length: 0 }, old: oe });
    } else if (oe.value && ne.value && oe.value.v !== ne.value.v) {
      out.push({ rule: 'abi-enum-value-changed', key: name, subject: `enumerator ${name} of ${ne.enumName} changed value`, detail: `from ${oe.value.v} to ${ne.value.v}`, at: { line: ne.line, character: ne.character, length: name.length }, old: oe });
    }
  }
  return out;
}

export function compareVersions(oldFacts: Map<AbiName, VersionFacts>, newFacts: Map<AbiName, VersionFacts>, ctx: CompareContext): Finding[] {
  // Changes per ABI, then merged by identity so one finding names every ABI it holds for.
  const merged = new Map<string, { change: Change; abis: AbiName[]; details: Map<string, AbiName[]> }>();
  const add = (abi: AbiName, c: Change) => {
    const id = `${c.rule}\0${c.key}\0${c.subject}`;
    let m = merged.get(id);
    if (!m) merged.set(id, (m = { change: c, abis: [], details: new Map() }));
    m.abis.push(abi);
    const d = m.details.get(c.detail) ?? [];
    d.push(abi);
    m.details.set(c.detail, d);
  };
  for (const abi of ctx.arches) {
    const o = oldFacts.get(abi);
    const n = newFacts.get(abi);
    if (!o || !n) continue;
    for (const ot of o.types) {
      const nt = n.types.find((t) => t.name === ot.name);
      if (!nt) {
        add(abi, { rule: 'abi-type-removed', key: ot.name, subject: `${ot.name} was removed`, detail: '', at: { line: 0, character: 0, length: 0 }, old: ot });
        continue;
      }
      if (ot.size === null || nt.size === null) continue; // unknown layouts are not judged
      for (const c of typeChanges(ot, nt, { old: o, new: n })) add(abi, c);
    }
    for (const c of macroChanges(abi, o, n)) add(abi, c);
  }
  const findings: Finding[] = [];
  for (const { change, abis, details } of merged.values()) {
    const severity = ctx.severityOf(change.rule);
    if (severity === 'off') continue;
    // Signedness changes are errors whatever the rule's default for spelling changes.
    const sev: Severity = change.rule === 'abi-member-type-changed' && change.subject.includes('signedness') ? 'error' : change.severity ?? severity;
    const where = [...details].map(([d, a]) => (d ? `${d} on ${listAbis(a, ctx.arches)}` : '')).filter(Boolean).join('; ');
    const verdictAbis = where ? '' : ` on ${listAbis(abis, ctx.arches)}`;
    const verdict = sev === 'error'
      ? `incompatible on ${listAbis(abis, ctx.arches)}${abis.length < ctx.arches.length ? ' only' : ''}`
      : sev === 'warning' ? `${/renamed|type-changed|removed/.test(change.rule) ? 'API break' : 'review'} on ${listAbis(abis, ctx.arches)}` : `compatible${verdictAbis}`;
    const range: Range = { start: { line: change.at.line, character: change.at.character }, end: { line: change.at.line, character: change.at.character + change.at.length } };
    findings.push({
      file: ctx.file, range, severity: sev, rule: change.rule,
      message: `${change.subject}${where ? `: ${where}` : ''} (${verdict}; compared with ${ctx.baseLabel})`,
      related: change.old ? [{ file: ctx.baseLocation, range: { start: { line: change.old.line, character: change.old.character }, end: { line: change.old.line, character: change.old.character } }, message: `in ${ctx.baseLabel}` }] : undefined,
    });
  }
  return findings.sort((a, b) => a.range.start.line - b.range.start.line || compareRuleIds(a.rule, b.rule));
}
