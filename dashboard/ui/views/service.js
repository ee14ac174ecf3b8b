// One service (#/services/{name}) over the header's time range: its RED
// charts and figures, syscalls and errnos, TCP trouble, its anomalies
// (live), its SLO predictions with forecasts, and its calls in and out.
//
// The first paint waits only for the summary (which also says whether the
// service exists); every other section fills in as its call answers, and
// shows its own error. Anomaly events for this service re-read its
// anomalies; the figures and charts, which no event carries, refresh once
// a minute for the short ranges.

import { h, badge, empty, table, fmt, rangeSeconds } from '../dom.js';
import { lineChart } from '../charts.js';

export const title = (p) => p.name;

const enc = encodeURIComponent;
const RED = ['request_rate', 'error_rate', 'latency_p50', 'latency_p95', 'latency_p99'];
const TCP = [['tcp_retransmits', 'retransmits'], ['tcp_resets', 'resets'], ['tcp_connect_failures', 'connect failures']];
const REFRESH_MS = 60000;
const SYSCALLS_SHOWN = 10;
const REFRESH_MAX_RANGE_S = 6 * 3600; // longer ranges hardly move in a minute
const FORECAST = { periods: 30, step: 60 }; // 30 min ahead, next to the last 30 min
const LABELS = { request_rate: 'request rate', error_rate: 'error rate', latency_p50: 'p50 latency',
  latency_p95: 'p95 latency', latency_p99: 'p99 latency', syscall_error_rate: 'syscall error rate',
  tcp_retransmits: 'TCP retransmits', tcp_resets: 'TCP resets' };

// At most 300 points over the range, at least 5 s apart; past a minute, whole
// minutes, so steps line up with the store's minute rows (no saw-tooth rates).
export function stepFor(rangeS) {
  let s = Math.max(5, Math.ceil(rangeS / 300));
  if (s > 60) s = Math.ceil(s / 60) * 60;
  return s;
}

function unitOf(metric) {
  if (/^latency/.test(metric)) return 'ms';
  if (/error_rate$/.test(metric)) return '%';
  if (metric === 'request_rate') return '/s';
  return '';
}

function fmtUnit(metric, v) {
  const u = unitOf(metric);
  if (u === 'ms') return fmt.ms(v);
  if (u === '%') return fmt.pct(v);
  if (u === '/s' || /^tcp_/.test(metric)) return fmt.rate(v);
  return fmt.n(v);
}

const isAbort = (e) => e && e.name === 'AbortError';
// fmt.rate with one decimal shows a trickle as "0/s"
const rate = (v) => (v > 0 && v < 0.1 ? '<0.1/s' : fmt.rate(v));

// Re-renders @el's content with @fn, then puts the focus back on the same
// row or link, so a timed or live refresh does not throw a keyboard user out.
function keepFocus(el, fn) {
  const a = document.activeElement;
  let sel = null;
  if (a && el.contains(a)) {
    if (a.dataset && a.dataset.anomalyId) sel = `[data-anomaly-id="${CSS.escape(a.dataset.anomalyId)}"]`;
    else if (a.getAttribute('href')) sel = `a[href="${CSS.escape(a.getAttribute('href'))}"]`;
  }
  fn();
  const b = sel && el.querySelector(sel);
  if (b) b.focus();
}
const errorLine = (what, e) => h('p', { class: 'error', role: 'alert' }, `Could not load ${what}: ${e.message}`);
const stat = (k, v, title) => h('div', { class: 'stat', title }, h('span', { class: 'k' }, k), h('span', { class: 'v' }, v));

export async function render(root, params, ctx) {
  const name = params.name;
  const base = `/services/${enc(name)}`;
  const range = ctx.range;
  const rangeS = rangeSeconds(range);
  const step = stepFor(rangeS);
  const ctl = new AbortController();
  const get = (path) => ctx.api.get(path, { signal: ctl.signal });
  const post = (path, body) => ctx.api.post(path, body, { signal: ctl.signal });
  let alive = true;
  const seenAnomalies = new Set();
  let anomLoaded = false;
  let sysAll = false; // the whole syscall table, or its top rows
  let knownNames = null; // the watched services' names (the other call peers are addresses)
  let predictions = null; // the last GET /predictions answer (thresholds for the latency chart)

  const series = (metric, since = range, st = step) =>
    get(`${base}/series?metric=${metric}&since=${since}&step=${st}s`);
  const quiet = (p) => { p.catch(() => {}); return p; }; // shown where it belongs, never unheard

  // The reads that cannot 404 start with the summary; the per-service series
  // wait for it to say the service exists (no dozen 404s for a wrong name).
  // Only the summary is awaited before the first paint.
  const pSummary = get(`${base}?since=${range}`);
  const pHealth = quiet(get('/services/health'));
  const pList = quiet(get('/services?limit=1000'));
  const pAnoms = quiet(get(`/anomalies?service=${enc(name)}&limit=20`));
  const pPred = quiet(getPredictions());
  const pTopo = quiet(get(`/topology?since=${range}`));

  // GET /predictions/{name} answers 404 until detection has predicted
  // anything for the service, which the browser logs as an error: the list
  // of all (in memory, a few items per service) says the same without one.
  async function getPredictions() {
    const d = await get('/predictions/all');
    const list = (d.predictions || []).filter((p) => p.service === name);
    return { service: name, predictions: list, count: list.length };
  }

  let summary;
  try {
    summary = await pSummary;
  } catch (e) {
    ctl.abort();
    if (e.status === 404) {
      root.replaceChildren(h('div', { class: 'view-error', role: 'alert' },
        h('h1', {}, 'No service ', h('code', {}, name)),
        h('p', {}, 'The agents have never seen a service by this name. ',
          h('a', { href: '#/' }, 'Back to the overview'), '.')));
      return () => {};
    }
    throw e;
  }

  const pRed = Object.fromEntries(RED.map((m) => [m, quiet(series(m))]));
  const pTcp = Object.fromEntries(TCP.map(([m]) => [m, quiet(series(m))]));

  // ---- the page ----

  const statusSlot = h('span', { class: 'svc-status' });
  const hostsLine = h('p', { class: 'svc-hosts muted' }, 'Hosts: …');
  const figures = h('div', { class: 'stats svc-figures' });
  const redBody = h('div', { class: 'grid wide' }, h('p', { class: 'loading' }, 'Loading the charts…'));
  const anomBody = h('div', {}, h('p', { class: 'loading' }, 'Loading…'));
  const predBody = h('div', {}, h('p', { class: 'loading' }, 'Loading…'));
  const callsBody = h('div', {}, h('p', { class: 'loading' }, 'Loading…'));
  const sysBody = h('div', {});
  const tcpFigures = h('div', { class: 'stats' });
  const tcpChart = h('div', {}, h('p', { class: 'loading' }, 'Loading…'));
  const asOf = h('span', { class: 'muted' });

  const sec = (id, heading, ...body) =>
    h('section', { class: 'svc-section', 'aria-labelledby': id }, h('h2', { id }, heading), ...body);

  root.replaceChildren(
    h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Overview'), ' / ', name),
    h('div', { class: 'row svc-head' }, h('h1', {}, name), statusSlot),
    hostsLine,
    h('div', { class: 'panel' }, h('div', { class: 'row spread' },
      h('h2', { class: 'inline' }, `Last ${rangeLabel(range)}`), asOf), figures),
    sec('svc-red', 'Requests, errors, latency', redBody),
    sec('svc-anoms', 'Anomalies', anomBody),
    sec('svc-pred', 'Predictions', predBody),
    sec('svc-calls', 'Calls in and out', callsBody),
    sec('svc-sys', 'Syscalls and errors', sysBody),
    sec('svc-tcp', 'TCP trouble', h('div', { class: 'grid wide' }, h('div', { class: 'panel' }, tcpFigures, tcpChart))));

  // ---- summary, status, hosts ----

  function setSummary(s) {
    figures.replaceChildren(
      stat('requests', fmt.n(s.requests), 'exact count of requests the agents saw'),
      stat('request rate', rate(s.request_rate)),
      stat('errors', fmt.n(s.errors)),
      stat('error rate', fmt.pct(s.error_rate)),
      stat('p50', fmt.ms(s.latency_p50)),
      stat('p95', fmt.ms(s.latency_p95)),
      stat('p99', fmt.ms(s.latency_p99)),
      stat('max', fmt.ms(s.latency_max)),
      stat('syscall errors', fmt.pct(s.syscalls && s.syscalls.error_rate)));
    asOf.textContent = `${fmt.dateTime(s.since)} – ${fmt.time(s.until)}`;
    renderSyscalls(s.syscalls);
    const t = s.tcp || {};
    tcpFigures.replaceChildren(stat('retransmits', fmt.n(t.retransmits)), stat('resets', fmt.n(t.resets)),
      stat('connect failures', fmt.n(t.connect_failures)));
  }

  function setStatus(doc) {
    const s = (doc.services || []).find((x) => x.service === name);
    statusSlot.replaceChildren(s ? badge(s.status)
      : h('span', { class: 'badge', title: 'no traffic in the last minute' }, 'idle'));
  }

  setSummary(summary);
  pHealth.then((d) => alive && setStatus(d), (e) => !isAbort(e) && alive && statusSlot.replaceChildren(
    h('span', { class: 'badge', title: e.message }, 'status unknown')));
  pList.then((d) => {
    if (!alive) return;
    const s = (d.services || []).find((x) => x.service === name);
    hostsLine.replaceChildren(...(s
      ? [`Hosts: ${(s.hosts || []).join(', ') || '–'} · first seen ${fmt.dateTime(s.first_seen)} · last seen `,
        h('time', { datetime: s.last_seen, title: fmt.dateTime(s.last_seen) }, fmt.ago(s.last_seen))]
      : ['Hosts: –']));
  }, (e) => !isAbort(e) && alive && hostsLine.replaceChildren(errorLine('the hosts', e)));

  // ---- syscalls ----

  function renderSyscalls(sc) {
    const rows = Object.entries((sc && sc.by_name) || {}).map(([n, v]) => ({ name: n, ...v }))
      .sort((a, b) => (b.errors || 0) - (a.errors || 0) || (b.count || 0) - (a.count || 0));
    if (!rows.length) { sysBody.replaceChildren(empty('No syscall seen in this range.')); return; }
    // the failing and the busiest first; the long tail on request
    const shown = sysAll ? rows : rows.slice(0, SYSCALLS_SHOWN);
    const more = rows.length > SYSCALLS_SHOWN ? h('button', { type: 'button', class: 'sys-more', 'aria-expanded': String(sysAll),
      onclick: () => { sysAll = !sysAll; renderSyscalls(sc); sysBody.querySelector('.sys-more').focus(); } },
      sysAll ? `Show the top ${SYSCALLS_SHOWN}` : `Show all ${rows.length} syscalls`) : '';
    sysBody.replaceChildren(
      h('p', { class: 'muted' }, `${fmt.n(sc.count)} calls, ${fmt.n(sc.errors)} failed (${fmt.pct(sc.error_rate)}).`),
      table([
        { label: 'syscall', value: (r) => h('code', {}, r.name) },
        { label: 'calls', class: 'num', value: (r) => fmt.n(r.count) },
        { label: 'errors', class: 'num', value: (r) => fmt.n(r.errors) },
        { label: 'error %', class: 'num', value: (r) => fmt.pct(r.count ? r.errors / r.count : null) },
        { label: 'p50', class: 'num', value: (r) => fmt.ms(r.latency_p50) },
        { label: 'p99', class: 'num', value: (r) => fmt.ms(r.latency_p99) },
        { label: 'errnos', value: (r) => errnos(r.errnos) },
      ], shown, (r) => ({ class: r.errors ? 'has-errors' : null }), { id: 'syscalls-table' }), more);
  }

  function errnos(obj) {
    const list = Object.entries(obj || {}).sort((a, b) => b[1] - a[1]);
    if (!list.length) return '–';
    return h('span', { class: 'errnos' }, list.map(([e, n]) =>
      h('span', { class: 'errno', title: e === 'other' ? 'errnos past the 16 kept per syscall' : null },
        h('code', {}, e), ' ', fmt.n(n))));
  }

  // ---- charts ----

  const chartOf = (doc) => ({ from: doc.since, to: doc.until });
  // A line needs two points: say why a chart with a single step of data is blank.
  const onePoint = (docs) => (docs.every((d) => pts(d).length < 2) && docs.some((d) => pts(d).length === 1)
    ? h('p', { class: 'muted small' }, `Only one ${fmt.duration(step)} step has data in this range: choose a shorter range to see a line.`) : '');
  const pts = (doc) => (doc && doc.points) || [];

  async function loadCharts(p) {
    const r = await Promise.allSettled(RED.map((m) => p.red[m]));
    if (!alive) return;
    const doc = Object.fromEntries(RED.map((m, i) => [m, r[i]]));
    const chart = (ms, opts) => {
      const failedOne = ms.map((m) => doc[m]).find((x) => x.status === 'rejected');
      if (failedOne) {
        if (isAbort(failedOne.reason)) return null;
        return h('div', { class: 'panel' }, h('p', { class: 'chart-title' }, opts.title), errorLine('this chart', failedOne.reason));
      }
      const first = doc[ms[0]].value;
      return h('div', { class: 'panel' }, lineChart({ ...chartOf(first), ...opts,
        series: ms.map((m, i) => ({ name: opts.names ? opts.names[i] : LABELS[m], points: pts(doc[m].value), cls: opts.cls ? opts.cls[i] : 'c' + i })) }),
        onePoint(ms.map((m) => doc[m].value)));
    };
    const slo = ((predictions && predictions.predictions) || []).find((x) => x.metric === 'latency_p99' && x.threshold > 0);
    const every = `requests/s, ${fmt.duration(step)} steps`;
    redBody.replaceChildren(...[
      chart(['request_rate'], { title: `Request rate (${every})`, unit: '/s', label: `${name} request rate` }),
      chart(['error_rate'], { title: 'Error rate (failed fraction of requests)', unit: '%', cls: ['c1'], label: `${name} error rate` }),
      chart(['latency_p50', 'latency_p95', 'latency_p99'], { title: 'Latency', unit: 'ms', names: ['p50', 'p95', 'p99'],
        cls: ['c0', 'c2', 'c1'], label: `${name} latency p50, p95 and p99`,
        threshold: slo ? { value: slo.threshold, label: `p99 SLO ${fmt.ms(slo.threshold)}` } : undefined }),
    ].filter(Boolean));
    const t = await Promise.allSettled(TCP.map(([m]) => p.tcp[m]));
    if (!alive) return;
    const bad = t.find((x) => x.status === 'rejected');
    if (bad) {
      if (!isAbort(bad.reason)) tcpChart.replaceChildren(errorLine('the TCP chart', bad.reason));
      return;
    }
    tcpChart.replaceChildren(lineChart({ ...chartOf(t[0].value), unit: '',
      title: `Count per ${fmt.duration(step)} step`, label: `${name} TCP retransmits, resets and connect failures`,
      series: TCP.map(([, label], i) => ({ name: label, points: pts(t[i].value), cls: ['c1', 'c2', 'c0'][i] })) }),
      onePoint(t.map((x) => x.value)));
  }

  // The latency chart waits for the predictions too (a fast, in-memory read): its SLO line.
  pPred.then((d) => { predictions = d; }, () => {}).finally(() => loadCharts({ red: pRed, tcp: pTcp }));

  // ---- anomalies (live) ----

  function renderAnomalies(doc) {
    const list = doc.anomalies || [];
    if (!list.length) { anomBody.replaceChildren(empty(`No anomaly recorded for ${name}.`)); return; }
    const first = !anomLoaded; // rows new since the last render flash, not the first ones
    anomLoaded = true;
    const open = (a) => ctx.navigate('#/anomalies/' + enc(a.id));
    keepFocus(anomBody, () => anomBody.replaceChildren(table([
      { label: 'id', value: (a) => h('a', { href: '#/anomalies/' + enc(a.id) }, '#' + a.id) },
      { label: 'started', value: (a) => h('time', { datetime: a.started_at }, fmt.dateTime(a.started_at)) },
      { label: 'metric', value: (a) => a.metric },
      { label: 'severity', value: (a) => badge(a.severity) },
      { label: 'status', value: (a) => badge(a.status) },
      { label: 'value', class: 'num', value: (a) => fmtUnit(a.metric, a.current_value) },
      { label: 'expected', class: 'num', value: (a) => a.expected_range
        ? `${fmtUnit(a.metric, a.expected_range.min)} – ${fmtUnit(a.metric, a.expected_range.max)}` : '–' },
      { label: 'lasted', class: 'num', value: (a) => fmt.duration(a.duration_s) },
    ], list, (a) => ({
      dataset: { anomalyId: a.id, service: a.service }, tabindex: 0,
      class: !first && !seenAnomalies.has(a.id) ? 'fresh' : null,
      onclick: (ev) => { if (!ev.target.closest('a')) open(a); },
      onkeydown: (ev) => { if (ev.key === 'Enter' && ev.target === ev.currentTarget) open(a); },
    }), { id: 'service-anomalies' })));
    for (const a of list) seenAnomalies.add(a.id);
  }

  pAnoms.then((d) => alive && renderAnomalies(d),
    (e) => !isAbort(e) && alive && anomBody.replaceChildren(errorLine('the anomalies', e)));

  let anomTimer = null;
  const reloadAnomalies = () => {
    anomTimer = null;
    get(`/anomalies?service=${enc(name)}&limit=20`).then((d) => alive && renderAnomalies(d),
      (e) => !isAbort(e) && alive && anomBody.prepend(errorLine('the new anomalies', e)));
    get('/services/health').then((d) => alive && setStatus(d), () => {});
  };
  const onAnomaly = (ev) => {
    if (!ev.data || ev.data.service !== name) return;
    if (!anomTimer) anomTimer = setTimeout(reloadAnomalies, 1000); // one read per burst of events
  };

  // ---- predictions and forecasts ----

  function renderPredictions(doc) {
    const list = (doc && doc.predictions) || [];
    if (!list.length) { predBody.replaceChildren(empty('No prediction for this service yet.')); return; }
    predBody.replaceChildren(h('div', { class: 'grid wide' }, list.map(predictionPanel)));
  }

  function predictionPanel(p) {
    const state = p.breached ? h('span', { class: 'badge b-critical' }, 'SLO breached')
      : p.will_breach ? h('span', { class: 'badge b-warning' }, 'breach forecast')
      : !p.ready ? h('span', { class: 'badge' }, 'learning')
      : h('span', { class: 'badge b-ok' }, 'within SLO');
    const chartSlot = h('div', {}, h('p', { class: 'loading' }, 'Loading the forecast…'));
    const breach = h('p', { class: 'breach' });
    if (p.will_breach && p.estimated_breach_time) {
      breach.replaceChildren(h('b', {}, 'Estimated breach: '), h('time', { datetime: p.estimated_breach_time },
        fmt.dateTime(p.estimated_breach_time)), ` (in about ${fmt.duration(p.breach_in_s)})`);
    }
    const panel = h('div', { class: 'panel prediction', dataset: { metric: p.metric } },
      h('h3', { class: 'row spread' }, h('span', {}, LABELS[p.metric] || p.metric), state),
      h('div', { class: 'stats' },
        stat('now', fmtUnit(p.metric, p.current)),
        stat('SLO', p.threshold > 0 ? fmtUnit(p.metric, p.threshold) : 'none'),
        stat('trend', trend(p)),
        stat('confidence', fmt.pct(p.confidence))),
      breach, chartSlot,
      h('p', { class: 'muted small' }, 'Predicted at ', h('time', { datetime: p.updated_at }, fmt.time(p.updated_at))));
    if (p.ready) loadForecast(p, chartSlot, breach);
    else chartSlot.replaceChildren(empty('No forecast yet: the model is still learning this signal.'));
    return panel;
  }

  function trend(p) {
    if (!Number.isFinite(p.trend_per_s)) return '–';
    const perMin = p.trend_per_s * 60;
    return (perMin > 0 ? '+' : perMin < 0 ? '−' : '') + fmtUnit(p.metric, Math.abs(perMin)) + ' /min';
  }

  async function loadForecast(p, slot, breach) {
    const histStep = 10;
    let f, hist;
    try {
      [f, hist] = await Promise.all([
        post('/forecast', { service: name, metric: p.metric, ...FORECAST }),
        series(p.metric, '30m', histStep)]);
    } catch (e) {
      if (!isAbort(e) && alive) slot.replaceChildren(errorLine('the forecast', e));
      return;
    }
    if (!alive) return;
    // TCP counts come per step from the store, and as a rate from the forecast
    const per = /^tcp_/.test(p.metric) ? histStep : 1;
    const recent = pts(hist).map(([t, v]) => [t, v / per]);
    const ahead = (f.forecast || []).map(([t, v]) => [t, Math.max(0, v)]); // a damped trend may dip below 0
    if (recent.length && ahead.length) ahead.unshift(recent[recent.length - 1]); // one line, no gap
    const threshold = Number(f.threshold) > 0 ? f.threshold : p.threshold;
    // The interval of a young or noisy model can be wide enough to flatten
    // everything else: it is cut at 0 (no metric here is negative) and at a
    // height that keeps the recent line, the forecast and the SLO readable.
    const seen = Math.max(0, ...recent.map((x) => x[1]), ...ahead.map((x) => x[1]));
    const cap = Math.max(seen * 1.5, (threshold > 0 ? threshold : 0) * 1.2) || 1;
    let clipped = false;
    const band = (f.interval || []).map(([t, lo, hi]) => {
      if (hi > cap || lo < 0) clipped = true;
      return [t, Math.max(0, lo), Math.min(cap, hi)];
    });
    slot.replaceChildren(lineChart({
      unit: unitOf(p.metric), label: `${name} ${p.metric}: the last 30 minutes and the forecast`,
      title: `Last 30 min and ${FORECAST.periods * FORECAST.step / 60} min ahead (${f.method || 'forecast'})`,
      series: [{ name: 'recent', points: recent, cls: 'c0' }, { name: 'forecast', points: ahead, cls: 'forecast' }],
      band: band.length ? { points: band, name: 'forecast interval' + (clipped ? ' (clipped)' : '') } : undefined,
      threshold: threshold > 0 ? { value: threshold, label: `SLO ${fmtUnit(p.metric, threshold)}` } : undefined,
    }), clipped ? h('p', { class: 'muted small' }, 'The shaded interval is wider than shown: the model is unsure.') : '');
    if (f.will_breach && f.breach_time && !breach.childNodes.length) {
      breach.replaceChildren(h('b', {}, 'Forecast breach: '), h('time', { datetime: f.breach_time }, fmt.dateTime(f.breach_time)),
        ` (in about ${fmt.duration((Date.parse(f.breach_time) - Date.now()) / 1000)})`);
    }
  }

  function predictionsFailed(e) {
    if (isAbort(e) || !alive) return;
    if (e.status === 404) predBody.replaceChildren(empty('No prediction for this service yet: detection needs a few minutes of its traffic.'));
    else if (e.status === 503) predBody.replaceChildren(empty('Detection is not running on this aggregator, so nothing is predicted.'));
    else predBody.replaceChildren(errorLine('the predictions', e));
  }
  pPred.then((d) => alive && renderPredictions(d), predictionsFailed);

  let predTimer = null;
  const onBreach = (ev) => {
    if (!ev.data || ev.data.service !== name || predTimer) return;
    predTimer = setTimeout(() => {
      predTimer = null;
      getPredictions().then((d) => { if (alive) { predictions = d; renderPredictions(d); } }, predictionsFailed);
    }, 1000);
  };

  // ---- calls in and out ----

  function renderCalls(doc) {
    const span = Math.max(1, (Date.parse(doc.until) - Date.parse(doc.since)) / 1000) || rangeS;
    const edges = doc.edges || [];
    const callers = edges.filter((e) => e.to === name);
    const callees = edges.filter((e) => e.from === name);
    const tbl = (rows, other, label, id) => rows.length ? table([
      { label, value: (e) => !knownNames || knownNames.has(e[other]) ? h('a', { href: '#/services/' + enc(e[other]) }, e[other])
        : h('span', { title: 'an address, not a watched service' }, e[other]) },
      { label: 'requests', class: 'num', value: (e) => fmt.n(e.requests) },
      { label: 'rate', class: 'num', value: (e) => rate(e.requests / span) },
      { label: 'errors', class: 'num', value: (e) => `${fmt.n(e.errors)} (${fmt.pct(e.requests ? e.errors / e.requests : null)})` },
      { label: 'p99', class: 'num', value: (e) => fmt.ms(e.latency_p99) },
    ], rows.sort((a, b) => b.requests - a.requests), (e) => ({ dataset: { from: e.from, to: e.to } }), { id })
      : empty(label === 'caller' ? 'No caller seen in this range.' : 'Calls no other service in this range.');
    keepFocus(callsBody, () => callsBody.replaceChildren(h('div', { class: 'grid wide' },
      h('div', {}, h('h3', {}, 'Called by'), tbl(callers, 'from', 'caller', 'calls-in')),
      h('div', {}, h('h3', {}, 'Calls'), tbl(callees, 'to', 'callee', 'calls-out')))));
  }
  // the peers that are watched services are links; the list is awaited (or its failure) first
  Promise.all([pTopo, pList.catch(() => null)]).then(([d, l]) => {
    if (l) knownNames = new Set((l.services || []).map((x) => x.service));
    if (alive) renderCalls(d);
  }, (e) => !isAbort(e) && alive && callsBody.replaceChildren(errorLine('the calls', e)));

  // ---- refresh (figures no event carries) ----

  let busy = false;
  async function refresh() {
    if (busy || document.hidden) return; // a hidden tab spends none of the key's rate limit
    busy = true;
    try {
      const p = { red: Object.fromEntries(RED.map((m) => [m, quiet(series(m))])),
                  tcp: Object.fromEntries(TCP.map(([m]) => [m, quiet(series(m))])) };
      const [s, hd, topo] = await Promise.all([get(`${base}?since=${range}`), get('/services/health'), get(`/topology?since=${range}`)]);
      if (!alive) return;
      setSummary(s);
      setStatus(hd);
      renderCalls(topo);
      await loadCharts(p);
    } catch (e) {
      if (!isAbort(e) && alive) ctx.toast(`${name}: could not refresh the figures: ${e.message}`, 'warning');
    } finally {
      busy = false;
    }
  }
  const timer = rangeS <= REFRESH_MAX_RANGE_S ? setInterval(refresh, REFRESH_MS) : null;

  const offs = [
    ctx.live.on('anomaly.detected', onAnomaly),
    ctx.live.on('anomaly.resolved', onAnomaly),
    ctx.live.on('prediction.breach', onBreach),
  ];
  return () => {
    alive = false;
    clearInterval(timer);
    clearTimeout(anomTimer);
    clearTimeout(predTimer);
    offs.forEach((off) => off());
    ctl.abort();
  };
}

function rangeLabel(r) {
  const m = /^(\d+)([smhd])$/.exec(r || '');
  if (!m) return r;
  const n = Number(m[1]);
  const unit = { s: 'second', m: 'minute', h: 'hour', d: 'day' }[m[2]];
  return n === 1 ? unit : `${n} ${unit}s`;
}
