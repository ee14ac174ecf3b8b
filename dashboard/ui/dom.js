// Building the page: h() makes elements (text always as text, never as
// HTML, so nothing from the API can inject markup), and fmt formats
// figures and times (times in the browser's own zone).

const SVG_NS = 'http://www.w3.org/2000/svg';
const SVG_TAGS = new Set(['svg', 'g', 'path', 'line', 'rect', 'circle', 'text', 'polyline',
                          'polygon', 'title', 'defs', 'marker', 'tspan']);

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else if (k === 'checked' || k === 'disabled' || k === 'selected') el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// h('tr', {dataset: {id: 3}, onclick: f}, h('td', {}, 'x'), ...)
export function h(tag, attrs, ...children) {
  const el = SVG_TAGS.has(tag) ? document.createElementNS(SVG_NS, tag) : document.createElement(tag);
  return build(el, attrs, children);
}

// A table from column specs [{label, value: (row) => node|text, class?}] and rows.
export function table(columns, rows, rowAttrs = () => ({}), attrs = {}) {
  return h('div', { class: 'table-wrap' },
    h('table', attrs,
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)))),
      h('tbody', {}, rows.map((r) => h('tr', rowAttrs(r),
        columns.map((c) => h('td', { class: c.class }, c.value(r))))))));
}

export function empty(text) {
  return h('p', { class: 'empty' }, text);
}

// A badge for a status or a severity (the class picks the colour).
export function badge(text) {
  return h('span', { class: ['badge', 'b-' + String(text).replace(/[^a-z_]/gi, '')] }, text);
}

const numberFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dateTimeFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric',
  hour: '2-digit', minute: '2-digit', second: '2-digit' });

function num(v) { return typeof v === 'number' && Number.isFinite(v); }

export const fmt = {
  n: (v) => (num(v) ? numberFmt.format(v) : '–'),
  rate: (v) => (num(v) ? numberFmt.format(v) + '/s' : '–'),
  pct: (v) => (num(v) ? (v * 100 < 0.1 && v > 0 ? '<0.1' : numberFmt.format(v * 100)) + '%' : '–'),
  ms: (v) => (num(v) ? (v >= 1000 ? numberFmt.format(v / 1000) + ' s'
                                  : (v === 0 ? '0' : v < 10 ? v.toFixed(2) : numberFmt.format(v)) + ' ms') : '–'),
  // An ISO time (or epoch seconds/ms) in the browser's zone.
  time: (t) => { const d = toDate(t); return d ? timeFmt.format(d) : '–'; },
  dateTime: (t) => { const d = toDate(t); return d ? dateTimeFmt.format(d) : '–'; },
  ago: (t) => {
    const d = toDate(t);
    if (!d) return '–';
    const s = Math.round((Date.now() - d.getTime()) / 1000);
    if (s < 5) return 'just now';
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.round(s / 60) + ' min ago';
    if (s < 86400) return Math.round(s / 3600) + ' h ago';
    return Math.round(s / 86400) + ' d ago';
  },
  duration: (s) => {
    if (!num(s)) return '–';
    if (s < 60) return Math.round(s) + ' s';
    if (s < 3600) return Math.round(s / 60) + ' min';
    return numberFmt.format(s / 3600) + ' h';
  },
};

// A Date from an ISO string, epoch seconds (< 1e11) or epoch ms.
export function toDate(t) {
  if (t === null || t === undefined || t === '') return null;
  const d = typeof t === 'number' ? new Date(t < 1e11 ? t * 1000 : t) : new Date(t);
  return Number.isNaN(d.getTime()) ? null : d;
}

// Seconds of a range like "15m", "2h", "7d".
export function rangeSeconds(r) {
  const m = /^(\d+)([smhd])$/.exec(r || '');
  if (!m) return 900;
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2]];
}

// A modal yes/no question; resolves true for yes. Escape or Cancel: false.
export function confirmDialog(text, yes) {
  return new Promise((resolve) => {
    const ok = h('button', { type: 'button', class: 'danger' }, yes);
    const dlg = h('dialog', { 'aria-labelledby': 'confirm-text' },
      h('p', { id: 'confirm-text' }, text),
      h('div', { class: 'row' }, ok,
        h('button', { type: 'button', autofocus: true, onclick: () => dlg.close('no') }, 'Cancel')));
    ok.addEventListener('click', () => dlg.close('yes'));
    dlg.addEventListener('close', () => { dlg.remove(); resolve(dlg.returnValue === 'yes'); });
    document.body.append(dlg);
    dlg.showModal();
  });
}
