// #/anomalies: the anomalies of the selected range, filtered and paged,
// with new ones inserted live from the event stream (never by reloading:
// a new row must show within seconds of detection).

import { h, fmt, badge, empty, toDate } from '../dom.js';
import { qs } from '../api.js';

// The services' names, sorted, for a filter; [] with a toast when they cannot be listed.
export async function serviceNames(ctx) {
  try {
    return ((await ctx.api.get('/services')).services || []).map((s) => s.service).sort();
  } catch (e) {
    if (e.status === 401) throw e;
    ctx.toast(`Services could not be listed: ${e.message}`, 'error');
    return [];
  }
}

export const title = 'Anomalies';

export const SEVERITIES = ['info', 'warning', 'critical'];
// The detector's signals (aggregator/detect/signals.c): the metrics an anomaly can be on.
export const METRICS = ['latency_p99', 'latency_p50', 'error_rate', 'request_rate',
  'syscall_error_rate', 'tcp_retransmits', 'tcp_resets'];
const STATUSES = ['open', 'resolved'];
const FILTERS = ['service', 'severity', 'status', 'metric'];
const PAGE = 50;

// The unit of a metric, as charts.js names it: latencies in ms, *_rate
// fractions (except request_rate), the rest counts per second.
export function unitOf(metric) {
  if (/^latency/.test(metric)) return 'ms';
  if (/_rate$/.test(metric) && metric !== 'request_rate') return '%';
  return '/s';
}

export function fmtValue(metric, v) {
  const u = unitOf(metric);
  return u === 'ms' ? fmt.ms(v) : u === '%' ? fmt.pct(v) : fmt.rate(v);
}

export function fmtRange(metric, r) {
  if (!r) return '–';
  return `${fmtValue(metric, r.min)} – ${fmtValue(metric, r.max)}`;
}

// The filters kept after '?' in the fragment: the router matches only the path.
function readFilters() {
  const q = (location.hash.split('?')[1]) || '';
  const p = new URLSearchParams(q);
  const f = {};
  for (const k of FILTERS) f[k] = p.get(k) || '';
  return f;
}

function writeFilters(f) {
  const q = qs(f);
  // replaceState: no hashchange, so the router does not re-render and focus stays put
  history.replaceState(null, '', '#/anomalies' + q);
}

function passes(a, f) {
  if (f.service && a.service !== f.service) return false;
  if (f.metric && a.metric !== f.metric) return false;
  if (f.status && a.status !== f.status) return false;
  if (f.severity && SEVERITIES.indexOf(a.severity) < SEVERITIES.indexOf(f.severity)) return false;
  return true;
}

// Today's times as a clock time, older ones with their date.
export function when(t) {
  const d = toDate(t);
  return d && d.toDateString() === new Date().toDateString() ? fmt.time(d) : fmt.dateTime(d);
}

function timeCell(t) {
  return h('td', {},
    h('time', { datetime: t || '', title: fmt.dateTime(t) }, when(t)),
    h('span', { class: 'ago', dataset: { t: t || '' } }, fmt.ago(t)));
}

function rowFor(a, open, fresh) {
  const tr = h('tr', {
    tabindex: 0, class: fresh ? 'fresh' : null,
    dataset: { anomalyId: a.id, service: a.service, status: a.status },
    title: `Open anomaly ${a.id}`,
    onclick: () => open(a.id),
    onkeydown: (e) => { if (e.key === 'Enter') { e.preventDefault(); open(a.id); } },
  },
  timeCell(a.started_at),
  h('td', {}, h('span', { class: 'svc' }, a.service), h('code', { class: 'metric' }, a.metric)),
  h('td', { class: 'num' }, h('b', {}, fmtValue(a.metric, a.current_value)),
    h('span', { class: 'expected' }, 'expected ', fmtRange(a.metric, a.expected_range))),
  h('td', {}, badge(a.severity)),
  h('td', { class: 'status-cell' }, badge(a.status)),
  h('td', { class: 'num col-conf' }, fmt.pct(a.confidence)));
  return tr;
}

function select(id, label, options, value, onchange) {
  const sel = h('select', { id, onchange },
    options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)));
  return h('div', { class: 'field' }, h('label', { for: id }, label), sel);
}

export async function render(root, _params, ctx) {
  const f = readFilters();
  const open = (id) => ctx.navigate('#/anomalies/' + id);
  let cursor = null;
  let loading = null;  // events seen while a page loads, applied once it is in
  let seq = 0;
  let failed = false;

  const services = await serviceNames(ctx);
  if (f.service && !services.includes(f.service)) services.push(f.service);

  const tbody = h('tbody', {});
  const status = h('p', { class: 'anom-count', id: 'anomalies-count' });
  const errorBox = h('div', { role: 'alert' });
  const more = h('button', { type: 'button', id: 'anomalies-more', hidden: true, onclick: () => load(true) }, 'Load more');
  const announce = h('p', { class: 'sr-only', role: 'status', 'aria-live': 'polite' });

  const onFilter = (key) => (e) => {
    f[key] = e.target.value;
    writeFilters(f);
    load(false);
  };
  const filters = h('form', { class: 'row filters', 'aria-label': 'Filter anomalies', onsubmit: (e) => e.preventDefault() },
    select('filter-service', 'Service', [['', 'All services'], ...services.map((s) => [s, s])], f.service, onFilter('service')),
    select('filter-severity', 'Severity (at least)', [['', 'Any'], ...SEVERITIES.map((s) => [s, s])], f.severity, onFilter('severity')),
    select('filter-status', 'Status', [['', 'Any'], ...STATUSES.map((s) => [s, s])], f.status, onFilter('status')),
    select('filter-metric', 'Metric', [['', 'Any'], ...METRICS.map((m) => [m, m])], f.metric, onFilter('metric')));

  root.replaceChildren(
    h('div', { class: 'row spread' }, h('h1', {}, 'Anomalies'), status),
    filters,
    errorBox,
    h('div', { class: 'table-wrap' },
      h('table', { class: 'anomalies' },
        h('caption', { class: 'sr-only' }, 'Anomalies, newest first'),
        h('thead', {}, h('tr', {}, ['Started', 'Service, metric', 'Value', 'Severity', 'Status', 'Confidence']
          .map((c, i) => h('th', { scope: 'col', class: [i === 2 || i === 5 ? 'num' : null, i === 5 ? 'col-conf' : null] }, c)))),
        tbody)),
    h('div', { class: 'pager' }, more),
    announce);

  function count() {
    const n = tbody.querySelectorAll('tr[data-anomaly-id]').length;
    status.textContent = `${n} shown, ${f.status === 'open' ? 'open now' : 'started in the last ' + ctx.range}${cursor ? ' (more below)' : ''}`;
    if (!n && !failed && !tbody.firstChild) {
      tbody.append(h('tr', { class: 'empty-row' }, h('td', { colspan: 6 },
        empty(Object.values(f).some(Boolean) ? 'No anomaly matches these filters in this range.'
                                             : 'No anomalies in this range.'))));
    }
  }

  async function load(append) {
    const my = ++seq;
    loading = loading || [];
    more.disabled = true;
    tbody.parentNode?.setAttribute('aria-busy', 'true');
    try {
      // open ones are open now whenever they started: the range does not hide them
      const since = f.status === 'open' ? '' : ctx.range;
      const doc = await ctx.api.get('/anomalies' + qs({ ...f, since, limit: PAGE,
                                                         cursor: append ? cursor : '' }));
      if (my !== seq) return;
      failed = false;
      errorBox.replaceChildren();
      if (!append) tbody.replaceChildren();
      tbody.querySelector('.empty-row')?.remove();
      for (const a of doc.anomalies || []) {
        if (!tbody.querySelector(`tr[data-anomaly-id="${a.id}"]`)) tbody.append(rowFor(a, open, false));
      }
      cursor = doc.next_cursor || null;
    } catch (e) {
      if (my !== seq) return;
      if (e.status === 401) return;
      failed = true;
      if (!append) { tbody.replaceChildren(); cursor = null; }
      errorBox.replaceChildren(h('p', { class: 'view-error' }, `Anomalies could not be loaded: ${e.message}`));
    }
    more.hidden = !cursor;
    more.disabled = false;
    tbody.parentNode.removeAttribute('aria-busy');
    const queued = loading;
    loading = null;
    for (const ev of queued) handle(ev);
    count();
  }

  function handle(ev) {
    if (loading) { loading.push(ev); return; }
    const a = ev.data || {};
    if (ev.event === 'anomaly.detected') {
      if (!passes(a, f) || tbody.querySelector(`tr[data-anomaly-id="${a.id}"]`)) return;
      tbody.querySelector('.empty-row')?.remove();
      tbody.prepend(rowFor(a, open, true));
      announce.textContent = `New ${a.severity} anomaly: ${a.metric} on ${a.service}`;
      count();
    } else if (ev.event === 'anomaly.resolved') {
      const tr = tbody.querySelector(`tr[data-anomaly-id="${a.id}"]`);
      if (!tr) return;
      tr.dataset.status = 'resolved';
      tr.querySelector('.status-cell').replaceChildren(badge('resolved'));
    }
  }

  const offs = [ctx.live.on('anomaly.detected', handle), ctx.live.on('anomaly.resolved', handle)];
  // "3 min ago" goes stale; no event carries it, so a slow timer refreshes it
  const agoTimer = setInterval(() => {
    for (const s of root.querySelectorAll('.ago')) s.textContent = fmt.ago(s.dataset.t);
  }, 30000);

  await load(false);
  return () => { offs.forEach((off) => off()); clearInterval(agoTimer); seq++; };
}
