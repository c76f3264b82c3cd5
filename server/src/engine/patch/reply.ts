// A review reply drafted from the findings: the patch quoted with `> `, trimmed to the hunks
// that have findings, each finding written under the line it is about. The reviewer edits it
// and sends it with their own mail client; nothing here sends mail.
import { ruleDocUrl } from '../rules/rule';
import type { Finding } from '../types';
import type { PatchInput, PatchMail } from './types';
import { PATCH_HUNKS_ONLY_RULE, PATCH_INPUT_RULE, type PatchFinding } from './review';

export interface ReplyOptions {
  /** `From:` of the reply; left out (for the mail client to fill in) when absent. */
  from?: string;
  /** Base URI of the rule pages, linked from each comment. */
  docsBase?: string;
}

/** The mail `findings` belong to that a reply is drafted for: `patch` (1-based, as in `[PATCH n/m]`), else the first mail with findings. */
export function replyTarget(input: PatchInput, findings: PatchFinding[], patch?: number): PatchMail | undefined {
  const patches = input.mails.filter((m) => !m.isCover && m.files.length > 0);
  if (patch !== undefined) return patches.find((m) => m.tag?.number === patch) ?? patches[patch - 1];
  const withFindings = new Set(findings.filter(isReviewComment).map((f) => f.mail));
  return patches.find((m) => withFindings.has(m.index)) ?? patches[0];
}

function isReviewComment(f: PatchFinding): boolean {
  return f.rule !== PATCH_INPUT_RULE && f.rule !== PATCH_HUNKS_ONLY_RULE;
}

/** RFC 2822 reply text (CRLF-free; mail clients convert). */
export function draftReply(mail: PatchMail, allFindings: PatchFinding[], options: ReplyOptions = {}): string {
  const findings = allFindings.filter((f) => f.mail === mail.index && isReviewComment(f));
  const headers: string[] = [];
  if (options.from) headers.push(`From: ${oneLine(options.from)}`);
  if (mail.from) headers.push(`To: ${oneLine(mail.from)}`);
  headers.push(`Subject: ${/^re:/i.test(mail.subject) ? '' : 'Re: '}${oneLine(mail.subject)}`);
  if (mail.messageId) {
    headers.push(`In-Reply-To: <${mail.messageId}>`);
    const refs = [...mail.references.filter((r) => r !== mail.messageId), mail.messageId];
    headers.push(`References: ${refs.map((r) => `<${r}>`).join('\n ')}`);
  }
  headers.push('MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit');

  const byLine = new Map<number, Finding[]>();
  for (const f of findings) {
    const list = byLine.get(f.range.start.line) ?? [];
    list.push(f);
    byLine.set(f.range.start.line, list);
  }
  const lines: string[] = [];
  lines.push(`On ${mail.date ? oneLine(mail.date) : 'an earlier date'}, ${mail.from ? oneLine(mail.from) : 'the author'} wrote:`);
  // The commit message, up to the `---` that starts the diffstat.
  const firstDiff = Math.min(...mail.files.map((f) => f.headerLine), mail.endLine);
  let inMessage = true;
  for (const b of mail.body) {
    if (b.docLine >= firstDiff) break;
    if (b.text === '---') inMessage = false;
    if (inMessage) lines.push(quote(b.text));
  }
  if (findings.length === 0) {
    lines.push('', 'vfio-review found nothing this patch introduces.', '');
    return `${headers.join('\n')}\n\n${lines.join('\n')}\n`;
  }
  lines.push('', '[...]', '');
  // Each file with findings: its header, then the hunks with findings, the others elided.
  for (const fp of mail.files) {
    const hunkEnds = fp.hunks.map((h) => h.lines.length ? h.lines[h.lines.length - 1].docLine : h.headerLine);
    const fileEnd = hunkEnds.length ? Math.max(...hunkEnds) : fp.headerLine;
    const inFile = findings.filter((f) => f.range.start.line >= fp.headerLine && f.range.start.line <= fileEnd);
    if (inFile.length === 0) continue;
    const firstHunk = fp.hunks[0]?.headerLine ?? fileEnd + 1;
    const region = (from: number, to: number) => mail.body.filter((b) => b.docLine >= from && b.docLine <= to);
    emit(region(fp.headerLine, firstHunk - 1));
    let elided = false;
    fp.hunks.forEach((h, i) => {
      const has = inFile.some((f) => f.range.start.line >= h.headerLine && f.range.start.line <= hunkEnds[i]);
      if (!has) {
        if (!elided) lines.push('[...]');
        elided = true;
        return;
      }
      elided = false;
      emit(region(h.headerLine, hunkEnds[i]));
    });
    lines.push('');
  }
  return `${headers.join('\n')}\n\n${lines.join('\n').replace(/\n{3,}/g, '\n\n')}\n`;

  function emit(body: { text: string; docLine: number }[]): void {
    const done = new Set<number>();
    for (const b of body) {
      lines.push(quote(b.text));
      const here = byLine.get(b.docLine);
      if (!here || done.has(b.docLine)) continue;
      done.add(b.docLine);
      lines.push('');
      for (const f of here) {
        // `(?<!\/)`: only the first slash of a run is tried, so a long run is not rescanned from each slash.
        const link = options.docsBase ? ` (${ruleDocUrl(options.docsBase, f.rule)})` : '';
        lines.push(`${f.message}`, `[vfio-review ${f.rule}, ${f.severity}${link}]`, '');
      }
    }
  }
}

function quote(text: string): string {
  return text === '' ? '>' : `> ${text}`;
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]+\s*/g, ' ');
}
