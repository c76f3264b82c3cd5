// The VFIO convention: an ioctl handler that copies a struct from userspace rejects flag bits it
// does not know (`if (x.flags & ~KNOWN) return -EINVAL;`), so that the bits stay usable for
// future flags. A handler that tests flags without that check accepts garbage forever.
import type { Node } from 'web-tree-sitter';
import { declaredStruct, enclosingFunction, kernelFlagIndex } from '../analyses/flags/kernel';
import { fieldKey } from '../analyses/flags/model';
import type { Rule } from './rule';

function copiedVariable(call: Node): string | undefined {
  const args = call.childForFieldName('arguments')?.namedChildren ?? [];
  const first = args[0];
  if (!first) return undefined;
  if (first.type === 'pointer_expression' && first.text.startsWith('&')) {
    const a = first.childForFieldName('argument');
    return a?.type === 'identifier' ? a.text : undefined;
  }
  return first.type === 'identifier' ? first.text : undefined;
}

export const flagUnvalidated: Rule = {
  id: 'flag-unvalidated',
  defaultSeverity: 'warning',
  summary: 'An ioctl handler tests the flags of a struct copied from userspace without rejecting unknown bits.',
  scope: 'kernel',
  run(ctx, report) {
    const index = kernelFlagIndex(ctx);
    if (!index.fields.size) return;
    // Only handlers that copy from userspace: from each `copy_from_user(` call to the functions
    // around it, instead of reading every function of the file.
    const copies: { fn: Node; call: Node }[] = [];
    for (const name of index.tokens('copy_from_user')) {
      for (let c: Node = name, p = name.parent; p; c = p, p = p.parent) {
        if (p.type === 'call_expression' && p.childForFieldName('function')?.id === c.id) {
          const fn = enclosingFunction(p);
          if (fn) copies.push({ fn, call: p });
          break;
        }
        if (p.startIndex !== name.startIndex || p.endIndex !== name.endIndex) break;
      }
    }
    copies.sort((a, b) => a.fn.startIndex - b.fn.startIndex || a.call.startIndex - b.call.startIndex);
    // `x.flags` from the member's name; the calls of a function walked once for all its copies.
    const flagMembers = index.tokens('flags').filter((n) => n.type === 'field_identifier' && n.parent?.type === 'field_expression' && n.parent.childForFieldName('field')?.id === n.id).map((n) => n.parent!);
    const callsOf = new Map<number, Node[]>();
    for (const { fn, call } of copies) {
      const v = copiedVariable(call);
      const owner = v && declaredStruct(call, v);
      if (!v || !owner || index.fields.get(fieldKey(owner, 'flags'))?.kind !== 'flags') continue;
      let tested = false;
      let validated = false;
      for (const fe of flagMembers) {
        if (fe.startIndex < fn.startIndex || fe.endIndex > fn.endIndex || fe.childForFieldName('argument')?.text !== v) continue;
        const p = fe.parent;
        const op = p?.type === 'binary_expression' ? p.childForFieldName('operator')?.type : undefined;
        const other = p?.type === 'binary_expression' ? (p.childForFieldName('left')?.id === fe.id ? p.childForFieldName('right') : p.childForFieldName('left')) : undefined;
        if (op === '&' && other && (other.type === 'unary_expression' && other.text.startsWith('~'))) validated = true;
        else if (op === '&' && other?.type === 'identifier' && !index.macros.get(other.text)?.field) validated = true;
        else if (op === '!=' || op === '==' || op === '>' || op === '>=') validated = true;
        else if (p?.type === 'argument_list' || p?.type === 'parenthesized_expression' && p.parent?.type === 'if_statement') validated = true;
        else if (p?.type === 'unary_expression' && p.text.startsWith('!')) validated = true;
        else if (op === '&') tested = true;
      }
      // Only a test without a check is reported: the helper calls below can only add a check.
      if (!tested || validated) continue;
      // The whole struct handed to a helper (other than the copy): it may validate there.
      let calls = callsOf.get(fn.id);
      if (!calls) callsOf.set(fn.id, (calls = fn.descendantsOfType('call_expression').filter((c): c is Node => !!c)));
      for (const c of calls) {
        if (!c || /^copy_(from|to)_user$/.test(c.childForFieldName('function')?.text ?? '')) continue;
        if ((c.childForFieldName('arguments')?.namedChildren ?? []).some((a) => a && (a.text === `&${v}` || a.text === v))) validated = true;
      }
      if (!tested || validated) continue;
      report({
        range: { start: { line: call.startPosition.row, character: call.startPosition.column }, end: { line: call.startPosition.row, character: call.startPosition.column + 14 } },
        message: `${v}.flags (${owner}) is copied from userspace and tested, but unknown bits are never rejected: add \`if (${v}.flags & ~(<known flags>)) return -EINVAL;\` so the other bits stay free for future flags.`,
      });
    }
  },
};
