// Charts in plain SVG: a time-series line chart (several lines, an
// optional band such as a forecast interval or an expected range, an
// optional threshold such as an SLO) and sparklines. Sized by a viewBox
// so they scale with the page; colours come from CSS variables, so both
// themes work.

import { h, toDate, fmt } from './dom.js';

const DEFAULT_W = 640, H = 200, PAD = { l: 48, r: 12, t: 10, b: 22 };

function ms(t) {
  const d = toDate(t);
  return d ? d.getTime() : NaN;
}

// Three or four round numbers spanning [lo, hi].
function ticks(lo, hi, n = 4) {
  if (!(hi > lo)) return [lo];
  const step0 = (hi - lo) / n, mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0) || step0;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(v);
  return out;
}

const timeTick = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayTick = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit' });

function yFormat(v, unit) {
  if (unit === 'ms') return fmt.ms(v);
  if (unit === '%') return fmt.pct(v);
  if (unit === '/s') return fmt.n(v);
  return fmt.n(v);
}

/*
 * lineChart({series: [{name, points: [[t, v], ...], cls}], band: {points:
 * [[t, lo, hi]], cls}, threshold: {value, label}, unit: 'ms'|'%'|'/s'|'',
 * label, from, to}) -> a <figure> with the SVG and a legend. @label names the
 * chart for screen readers; each series' last value is in the legend.
 */
export function lineChart(o) {
  const series = (o.series || []).map((s) => ({
    ...s, pts: (s.points || []).map(([t, v]) => [ms(t), v]).filter(([t, v]) => Number.isFinite(t) && Number.isFinite(v)),
  }));
  const band = o.band ? o.band.points.map(([t, lo, hi]) => [ms(t), lo, hi])
    .filter(([t, lo, hi]) => Number.isFinite(t) && Number.isFinite(lo) && Number.isFinite(hi)) : [];
  let t0 = o.from ? ms(o.from) : Infinity, t1 = o.to ? ms(o.to) : -Infinity;
  let v0 = 0, v1 = -Infinity;
  for (const s of series) for (const [t, v] of s.pts) {
    if (!o.from) t0 = Math.min(t0, t);
    if (!o.to) t1 = Math.max(t1, t);
    v1 = Math.max(v1, v); v0 = Math.min(v0, v);
  }
  for (const [t, lo, hi] of band) {
    t0 = Math.min(t0, t); t1 = Math.max(t1, t); v1 = Math.max(v1, hi); v0 = Math.min(v0, lo);
  }
  if (o.threshold && Number.isFinite(o.threshold.value)) v1 = Math.max(v1, o.threshold.value * 1.05);
  const fig = h('figure', { class: 'chart' });
  if (o.title) fig.append(h('figcaption', {}, o.title));
  if (!Number.isFinite(t0) || !Number.isFinite(t1) || !Number.isFinite(v1)) {
    fig.append(h('p', { class: 'empty' }, 'No data in this range.'));
    return fig;
  }
  if (t1 === t0) t1 = t0 + 1000;
  if (v1 <= v0) v1 = v0 + 1;
  v1 *= 1.08;
  // Drawn at the width it has on the page, so text and lines keep their
  // shape: first at a default, then again whenever its width changes.
  const draw = (W) => {
    const x = (t) => PAD.l + ((t - t0) / (t1 - t0)) * (W - PAD.l - PAD.r);
    const y = (v) => H - PAD.b - ((v - v0) / (v1 - v0)) * (H - PAD.t - PAD.b);
    const svg = h('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img',
                           'aria-label': o.label || o.title || 'chart', class: 'chart-svg' });
    for (const v of ticks(v0, v1 / 1.08)) {
      svg.append(h('line', { class: 'grid', x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v) }),
                 h('text', { class: 'axis', x: PAD.l - 4, y: y(v) + 3, 'text-anchor': 'end' }, yFormat(v, o.unit)));
    }
    // times of day, with the date once the chart spans more than a day
    const tickFmt = t1 - t0 > 86400e3 ? dayTick : timeTick;
    for (const t of ticks(t0, t1, 4)) {
      svg.append(h('text', { class: 'axis', x: x(t), y: H - 6, 'text-anchor': 'middle' }, tickFmt.format(new Date(t))));
    }
    if (band.length > 1) {
      const top = band.map(([t, , hi]) => `${x(t).toFixed(1)},${y(hi).toFixed(1)}`);
      const bottom = band.slice().reverse().map(([t, lo]) => `${x(t).toFixed(1)},${y(lo).toFixed(1)}`);
      svg.append(h('polygon', { class: ['band', o.band.cls], points: top.concat(bottom).join(' ') },
                   h('title', {}, o.band.name || 'expected range')));
    }
    if (o.threshold && Number.isFinite(o.threshold.value)) {
      const ty = y(o.threshold.value);
      svg.append(h('line', { class: 'threshold', x1: PAD.l, x2: W - PAD.r, y1: ty, y2: ty }),
                 h('text', { class: 'axis threshold-label', x: W - PAD.r - 2, y: ty - 3, 'text-anchor': 'end' },
                   o.threshold.label || 'threshold'));
    }
    series.forEach((s, i) => {
      if (!s.pts.length) return;
      if (s.pts.length === 1) { // one point draws no line: a dot
        const [[t, v]] = s.pts;
        svg.append(h('circle', { class: ['dot', s.cls || 'c' + i], cx: x(t), cy: y(v), r: 3 }, h('title', {}, s.name)));
        return;
      }
      const d = s.pts.map(([t, v], j) => `${j ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join('');
      svg.append(h('path', { class: ['line', s.cls || 'c' + i], d }, h('title', {}, s.name)));
    });
    return svg;
  };
  let svg = draw(DEFAULT_W), drawnW = DEFAULT_W;
  fig.append(svg);
  if (typeof ResizeObserver === 'function') {
    new ResizeObserver(() => {
      const w = Math.round(svg.getBoundingClientRect().width);
      if (w > 80 && Math.abs(w - drawnW) > 2) {
        drawnW = w;
        const next = draw(w);
        svg.replaceWith(next);
        svg = next;
      }
    }).observe(fig);
  }
  const legend = h('ul', { class: 'legend' });
  series.forEach((s, i) => {
    const last = s.pts.length ? s.pts[s.pts.length - 1][1] : null;
    legend.append(h('li', {}, h('span', { class: ['swatch', s.cls || 'c' + i], 'aria-hidden': 'true' }),
                    s.name, ' ', h('b', {}, last === null ? '–' : yFormat(last, o.unit))));
  });
  if (series.length) fig.append(legend);
  return fig;
}

// A small line of @values (numbers), no axes; @label for screen readers.
export function sparkline(values, label, cls = '') {
  const w = 120, hgt = 28;
  const vs = values.filter(Number.isFinite);
  const svg = h('svg', { viewBox: `0 0 ${w} ${hgt}`, class: ['spark', cls], role: 'img',
                         'aria-label': label, preserveAspectRatio: 'none' });
  if (vs.length < 2) return svg;
  const lo = Math.min(...vs), hi = Math.max(...vs), span = hi - lo || 1;
  const d = vs.map((v, i) => `${i ? 'L' : 'M'}${((i / (vs.length - 1)) * w).toFixed(1)},${(hgt - 2 - ((v - lo) / span) * (hgt - 4)).toFixed(1)}`).join('');
  svg.append(h('path', { class: 'line', d }));
  return svg;
}
