// Never drop code silently: where tree-sitter could not parse (after the kernel annotations were
// blanked), say which function or declaration is not analysed.
import { lineRange, type Rule } from './rule';

export const parseIncomplete: Rule = {
  id: 'parse-incomplete',
  defaultSeverity: 'info',
  summary: 'A region vfio-review could not parse or preprocess, and so did not analyse.',
  scope: 'all',
  run(ctx, report) {
    // One finding per function or declaration, however many errors it holds.
    const byContext = new Map<string, typeof ctx.parseProblems>();
    for (const p of ctx.parseProblems) {
      const key = p.context === 'top level' ? `top level:${p.pos.line}` : p.context;
      const list = byContext.get(key) ?? [];
      list.push(p);
      byContext.set(key, list);
    }
    for (const [, problems] of byContext) {
      const first = problems[0];
      const last = problems[problems.length - 1];
      const what = first.missing ? `expected ${first.missing.replace(/_/g, ' ')}` : 'syntax not understood';
      const where = first.context === 'top level' ? 'this top-level declaration' : first.context;
      const lines = first.pos.line === last.end.line ? `line ${first.pos.line + 1}` : `lines ${first.pos.line + 1}-${last.end.line + 1}`;
      report({
        range: { start: first.pos, end: first.end.line === first.pos.line ? first.end : { line: first.pos.line, character: first.pos.character + 1 } },
        message: `could not parse ${where} (${what}, ${lines}); it is not analysed${problems.length > 1 ? ` (${problems.length} regions)` : ''}.`,
      });
    }
    for (const p of ctx.unitProblems) {
      report({ range: lineRange(p.line), message: `preprocessor: ${p.message}; layouts may be incomplete.` });
    }
  },
};
