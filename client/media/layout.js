// Draws a struct layout in the webview (see client/src/layout-view.ts): a byte ruler, one row per
// 8 bytes (64 bit columns, so bit-fields are drawn to the bit), members as boxes, holes and tail
// padding hatched, one tab per ABI with members that differ from the first ABI highlighted, and
// the base version's layout beside it when there is one. Only DOM APIs and textContent: no HTML
// is built from strings, so names from the header cannot inject markup.
(function () {
  const vscode = acquireVsCodeApi();
  const root = document.getElementById('root');
  const note = document.getElementById('note');
  const BYTES_PER_ROW = 8;
  const PALETTE = 6;
  let state = vscode.getState() || {};

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /** Members drawn as boxes: leaves only (a named nested struct is drawn as its members). */
  function leaves(members) {
    return members.filter((m) => !members.some((o) => o !== m && o.path.startsWith(m.path + '.')));
  }

  function key(m) {
    return m.path;
  }

  /** Paths of members whose offset, size or bits differ from those in `ref`. */
  function differing(type, ref) {
    const out = new Set();
    if (!ref) return out;
    const byPath = new Map(ref.members.map((m) => [key(m), m]));
    for (const m of type.members) {
      const r = byPath.get(key(m));
      if (!r || r.offset !== m.offset || r.size !== m.size || r.bitOffset !== m.bitOffset) out.add(key(m));
    }
    return out;
  }

  /** Splits [startBit, endBit) into per-row pieces: { row, from, to } in bit columns. */
  function pieces(startBit, endBit) {
    const out = [];
    const rowBits = BYTES_PER_ROW * 8;
    let b = startBit;
    while (b < endBit) {
      const row = Math.floor(b / rowBits);
      const to = Math.min(endBit, (row + 1) * rowBits);
      out.push({ row, from: b - row * rowBits, to: to - row * rowBits });
      b = to;
    }
    return out;
  }

  function drawType(type, diff) {
    const box = el('section', 'type');
    const size = type.size === null ? '?' : type.size;
    box.append(el('h2', '', `${type.name}`), el('p', 'summary', `size ${size} · align ${type.align ?? '?'}${type.packed ? ' · packed' : ''} · ${type.holes.length ? `${type.holes.length} hole(s)` : 'no holes'}`));

    if (type.unknown.length) {
      const why = el('div', 'unknown');
      why.append(el('strong', '', 'This layout cannot be completed:'));
      const ul = el('ul');
      for (const r of type.unknown) ul.append(el('li', '', r));
      why.append(ul);
      box.append(why);
    }

    const items = [];
    leaves(type.members).forEach((m, i) => {
      if (m.offset === null) return;
      const start = m.bitSize !== undefined ? m.bitOffset : m.offset * 8;
      const bits = m.bitSize !== undefined ? m.bitSize : (m.size ?? 0) * 8;
      const label = `${m.path}: ${m.type}`;
      const where = m.bitSize !== undefined ? `bit ${m.bitOffset} (byte ${m.offset}), ${m.bitSize} bit${m.bitSize === 1 ? '' : 's'}` : `offset ${m.offset}, size ${m.size ?? '?'}`;
      items.push({ start, end: start + Math.max(bits, 0), cls: `member c${i % PALETTE}${diff.has(key(m)) ? ' differs' : ''}${m.flexible ? ' flexible' : ''}`, label, where, path: m.path });
    });
    for (const h of type.holes) {
      items.push({ start: h.offset * 8, end: (h.offset + h.size) * 8, cls: h.tail ? 'hole tail' : 'hole', label: h.tail ? 'tail padding' : 'hole', where: `offset ${h.offset}, size ${h.size}` });
    }
    const total = Math.max(type.size ?? 0, ...items.map((it) => Math.ceil(it.end / 8)), 1);
    const rows = Math.ceil(total / BYTES_PER_ROW);

    const grid = el('div', 'layout');
    const ruler = el('div', 'row ruler');
    ruler.append(el('span', 'offset', ''));
    const rulerCells = el('div', 'cells');
    for (let b = 0; b < BYTES_PER_ROW; b++) {
      const c = el('span', 'tick', `+${b}`);
      c.style.gridColumn = `${b * 8 + 1} / span 8`;
      rulerCells.append(c);
    }
    ruler.append(rulerCells);
    grid.append(ruler);

    for (let r = 0; r < rows; r++) {
      const row = el('div', 'row');
      row.append(el('span', 'offset', String(r * BYTES_PER_ROW)));
      const cells = el('div', 'cells');
      if ((r + 1) * BYTES_PER_ROW > total) {
        // Past the end of the type: grey out the bytes the type does not have.
        const beyond = el('span', 'beyond');
        beyond.style.gridColumn = `${(total - r * BYTES_PER_ROW) * 8 + 1} / -1`;
        beyond.style.gridRow = '1';
        cells.append(beyond);
      }
      for (const it of items) {
        const ps = it.end > it.start ? pieces(it.start, it.end) : [{ row: Math.floor(it.start / 64), from: it.start % 64, to: (it.start % 64) + 8 }];
        for (const p of ps) {
          if (p.row !== r) continue;
          const b = el('div', `box ${it.cls}`);
          b.style.gridColumn = `${p.from + 1} / ${p.to + 1}`;
          b.title = `${it.label}\n${it.where}`;
          if (it.path) b.dataset.member = it.path;
          b.append(el('span', 'name', it.label), el('span', 'where', it.where));
          cells.append(b);
        }
      }
      row.append(cells);
      grid.append(row);
    }
    box.append(grid);

    const unknownMembers = type.members.filter((m) => m.offset === null || m.unknown);
    if (unknownMembers.length) {
      const ul = el('ul', 'unknown-members');
      for (const m of unknownMembers) ul.append(el('li', '', `${m.path}: ${m.type} — ${m.unknown ?? 'offset unknown'}`));
      box.append(ul);
    }
    return box;
  }

  function firstType(report) {
    if (!report) return undefined;
    const arches = Object.keys(report.arches);
    return arches.length ? report.arches[arches[0]].types[0] : undefined;
  }

  function render() {
    const data = state.data;
    root.textContent = '';
    if (!data) {
      root.append(el('p', 'empty', state.message ?? 'Put the cursor in a struct or union of a header.'));
      return;
    }
    root.append(el('h1', '', data.typeName));
    if (!data.report) {
      root.append(el('p', 'error', data.message ?? 'No layout.'));
      return;
    }
    const arches = Object.keys(data.report.arches);
    const ref = firstType(data.report);
    const active = arches.includes(state.arch) ? state.arch : arches[0];
    const tabs = el('div', 'tabs');
    tabs.setAttribute('role', 'tablist');
    for (const a of arches) {
      const t = data.report.arches[a].types[0];
      const n = a === arches[0] ? 0 : differing(t, ref).size;
      const b = el('button', `tab${a === active ? ' active' : ''}${n ? ' has-diff' : ''}`, n ? `${a} (${n} differ)` : a);
      b.setAttribute('role', 'tab');
      b.setAttribute('aria-selected', String(a === active));
      b.dataset.arch = a;
      b.addEventListener('click', () => {
        state.arch = a;
        vscode.setState(state);
        render();
      });
      tabs.append(b);
    }
    root.append(tabs);
    if (active !== arches[0]) root.append(el('p', 'legend', `Highlighted: members placed differently than on ${arches[0]}.`));

    const panes = el('div', 'panes');
    const cur = data.report.arches[active].types[0];
    const left = el('div', 'pane');
    if (data.base) left.append(el('h3', '', 'Now'));
    left.append(drawType(cur, active === arches[0] ? new Set() : differing(cur, ref)));
    panes.append(left);
    if (data.base) {
      const right = el('div', 'pane base');
      right.append(el('h3', '', `Base: ${data.base.label}`));
      const old = data.base.report && data.base.report.arches[active] && data.base.report.arches[active].types[0];
      if (old) right.append(drawType(old, differing(old, cur)));
      else right.append(el('p', 'error', data.base.message ?? 'Not in the base version.'));
      panes.append(right);
    }
    root.append(panes);
  }

  window.addEventListener('message', (event) => {
    const msg = event.data;
    if (!msg || typeof msg !== 'object') return;
    if (msg.kind === 'layout') {
      note.hidden = true;
      state = { ...state, data: msg.data, message: undefined };
    } else if (msg.kind === 'message') {
      note.hidden = true;
      state = { ...state, data: undefined, message: msg.text };
    } else if (msg.kind === 'closed') {
      note.textContent = msg.text;
      note.hidden = false;
      return;
    } else return;
    vscode.setState(state);
    render();
  });

  render();
})();
