// The overview (#/): every service's health as a card, the newest open
// anomalies, and the call graph as a live service map.
//
// The first paint waits only for /services/health; sparklines, anomalies,
// the map and the aggregator's own health fill in as they answer. Anomaly
// and incident events update the cards and the list at once; request rates
// and the map (which no event carries) refresh on a 10 s timer, and the
// sparklines (one call per service) every minute, to stay well inside the
// per-key rate limit.

import { h, badge, empty, fmt } from '../dom.js';
import { sparkline } from '../charts.js';

export const title = 'Overview';

const REFRESH_MS = 10000;
const SPARK_EVERY = 6;        // the slow part on every 6th refresh: once a minute
const TOPOLOGY_SINCE = '1m'; // the map shows the last minute of calls: rates as they are now

/*
 * The status a card and a node show: the aggregator's, from fixed thresholds
 * of error rate and p99, but at least "warning" while the service has an open
 * anomaly (a p99 ten times its baseline can still be under the thresholds).
 */
function shownStatus(s) {
  const status = s.status || 'unknown';
  return (s.anomalies_detected || 0) > 0 && status === 'healthy' ? 'warning' : status;
}
const BAD_EDGE = 0.05;        // errors/requests from which an edge is drawn as failing
const ANOMALY_LIMIT = 5;
const LIVE_EVENTS = ['anomaly.detected', 'anomaly.resolved', 'incident.started', 'incident.resolved'];

const enc = encodeURIComponent;
const svcHref = (name) => '#/services/' + enc(name);

export async function render(root, params, ctx) {
  const ctl = new AbortController();
  const get = (path) => ctx.api.get(path, { signal: ctl.signal });
  let alive = true;
  let health = new Map();     // service -> /services/health item
  let topology = null;
  let known = null;           // names of the watched services (the map's other nodes are addresses)
  let anomalies = [];
  let anomaliesMore = false;
  let ticks = 0;
  let busy = false;

  const aggPart = h('span', {}, 'Checking the aggregator…');
  const ratesAt = h('span', { class: 'muted' });
  const meta = h('p', { class: 'ov-meta', id: 'ov-meta' }, aggPart, ratesAt);
  const stamp = () => { ratesAt.textContent = ` · rates at ${fmt.time(Date.now())}`; };
  const stale = h('p', { class: 'ov-stale error', role: 'status', hidden: true });
  const cards = h('div', { class: 'grid', id: 'service-cards' });
  const cardsNote = h('div', {});
  const anomCount = h('span', { class: 'badge', id: 'open-anomalies-count' }, '…');
  const anomBody = h('div', { id: 'open-anomalies' }, h('p', { class: 'loading' }, 'Loading…'));
  const mapSvg = h('svg', { id: 'service-map', class: 'map', role: 'group',
                            'aria-label': 'Service map: who calls whom in the last minute' });
  const mapNote = h('div', {}, h('p', { class: 'loading' }, 'Loading the call graph…'));

  root.replaceChildren(
    h('div', { class: 'row spread ov-head' }, h('h1', {}, 'Overview'), meta),
    stale,
    h('section', { 'aria-labelledby': 'ov-services' },
      h('h2', { id: 'ov-services' }, 'Services'), cardsNote, cards),
    h('div', { class: 'ov-lower' },
      h('section', { class: 'panel ov-map', 'aria-labelledby': 'ov-map-title' },
        h('h2', { id: 'ov-map-title' }, 'Service map ', h('span', { class: 'muted' }, '(last minute)')),
        mapNote, h('div', { class: 'map-scroll' }, mapSvg)),
      h('section', { class: 'panel ov-anomalies', 'aria-labelledby': 'ov-anom-title' },
        h('h2', { id: 'ov-anom-title', class: 'row spread' },
          h('span', {}, 'Open anomalies ', anomCount),
          h('a', { href: '#/anomalies', class: 'small' }, 'All anomalies')),
        anomBody)));

  // ---- cards ----

  function stat(k, v) {
    return h('div', { class: 'stat' }, h('span', { class: 'k' }, k), h('span', { class: 'v' }, v));
  }

  function fillCard(card, s) {
    const m = s.metrics || {};
    const open = s.anomalies_detected || 0;
    const status = shownStatus(s);
    card.dataset.status = status;
    card.querySelector('.card-head').replaceChildren(
      h('span', { class: 'card-name' }, s.service), badge(status));
    card.querySelector('.stats').replaceChildren(
      stat('requests', fmt.rate(m.request_rate)),
      stat('errors', fmt.pct(m.error_rate)),
      stat('p99', fmt.ms(m.latency_p99)));
    card.querySelector('.card-foot').replaceChildren(
      open ? h('span', { class: 'card-anoms' }, `${open} open ${open === 1 ? 'anomaly' : 'anomalies'}`)
           : h('span', { class: 'muted' }, 'no open anomaly'));
  }

  function newCard(name) {
    return h('a', { class: ['card', 'service-card'], href: svcHref(name), dataset: { service: name } },
      h('h2', { class: 'card-head' }),
      h('div', { class: 'stats' }),
      h('div', { class: 'spark-slot' }, h('span', { class: 'spark-empty muted' }, ' ')),
      h('p', { class: 'card-foot' }));
  }

  function cardOf(name) {
    for (const c of cards.children) if (c.dataset.service === name) return c;
    return null;
  }

  // Updates the cards in place (focus and sparklines stay), in name order.
  function renderCards(list) {
    const fresh = [];
    const want = list.slice().sort((a, b) => a.service.localeCompare(b.service));
    const keep = new Set(want.map((s) => s.service));
    for (const c of [...cards.children]) if (!keep.has(c.dataset.service)) c.remove();
    want.forEach((s, i) => {
      let c = cardOf(s.service);
      if (!c) { c = newCard(s.service); fresh.push(s.service); }
      fillCard(c, s);
      if (cards.children[i] !== c) cards.insertBefore(c, cards.children[i] || null);
    });
    cardsNote.replaceChildren(list.length ? '' :
      empty('No service has reported in the last minute. Services appear here once an agent sees their traffic.'));
    return fresh;
  }

  async function loadSpark(name) {
    try {
      const r = await get(`/services/${enc(name)}/series?metric=request_rate&since=15m&step=30s`);
      const c = alive && cardOf(name);
      if (!c) return;
      const vals = (r.points || []).map((p) => p[1]);
      const last = vals.length ? vals[vals.length - 1] : null;
      c.querySelector('.spark-slot').replaceChildren(
        sparkline(vals, `${name}: request rate over the last 15 minutes, now ${fmt.rate(last)}`),
        h('span', { class: 'spark-cap muted' }, 'requests/s, 15 min'));
    } catch (e) {
      if (e.name === 'AbortError' || !alive) return;
      const c = cardOf(name);
      if (c) c.querySelector('.spark-slot').replaceChildren(
        h('span', { class: 'spark-empty muted' }, 'trend unavailable: ' + e.message));
    }
  }

  function setHealth(doc) {
    health = new Map((doc.services || []).map((s) => [s.service, s]));
    return renderCards(doc.services || []);
  }

  // ---- anomalies ----

  function renderAnomalies() {
    const sum = [...health.values()].reduce((n, s) => n + (s.anomalies_detected || 0), 0);
    // the list is capped at 5: past that, the per-service open counts give the total
    const total = anomaliesMore ? Math.max(sum, anomalies.length + 1) : anomalies.length;
    anomCount.textContent = anomaliesMore && sum <= anomalies.length ? `${anomalies.length}+` : String(total);
    anomCount.className = 'badge' + (total ? ' b-open' : ' b-ok');
    if (!anomalies.length) {
      anomBody.replaceChildren(empty('No open anomaly. All quiet.'));
      return;
    }
    anomBody.replaceChildren(h('ul', { class: 'anom-list' }, anomalies.map((a) =>
      h('li', { dataset: { anomalyId: a.id, service: a.service } },
        h('a', { href: '#/anomalies/' + enc(a.id) },
          h('span', { class: 'anom-top' }, badge(a.severity || 'info'),
            h('b', {}, a.service), ' ', h('span', {}, a.metric)),
          h('span', { class: 'anom-sub muted' },
            `${fmtMetric(a.metric, a.current_value)} (expected ≤ ${fmtMetric(a.metric, a.expected_range && a.expected_range.max)}) · `,
            h('time', { datetime: a.started_at, title: fmt.dateTime(a.started_at) }, 'since ' + fmt.ago(a.started_at))))))));
  }

  function setAnomalies(doc) {
    anomalies = doc.anomalies || [];
    anomaliesMore = Boolean(doc.next_cursor);
    renderAnomalies();
  }

  // ---- the map ----

  function renderMap() {
    if (!topology) return;
    const focused = document.activeElement && document.activeElement.closest &&
      document.activeElement.closest('#service-map g.node');
    const keepFocus = focused ? focused.dataset.service : null;
    const span = Math.max(1, (Date.parse(topology.until) - Date.parse(topology.since)) / 1000) || 300;
    const nodes = (topology.nodes || []).map((n) => ({
      name: n.service, status: health.has(n.service) ? shownStatus(health.get(n.service)) : n.status || 'unknown',
      external: Boolean(known && !known.has(n.service) && !health.has(n.service)) }));
    drawMap(mapSvg, nodes, topology.edges || [], span, (name) => ctx.navigate(svcHref(name)));
    mapSvg.hidden = !nodes.length;
    mapNote.replaceChildren(nodes.length ? '' : empty('No service or call seen in the last minute.'));
    if (keepFocus) {
      for (const g of mapSvg.querySelectorAll('g.node')) if (g.dataset.service === keepFocus) g.focus();
    }
  }

  // ---- the aggregator's health ----

  function setMeta(doc) {
    const c = doc.components || {};
    const ing = c.ingest || {};
    const agents = c.agents_connected;
    aggPart.replaceChildren(
      h('span', { class: agents ? '' : 'warn-text' },
        `${fmt.n(agents)} ${agents === 1 ? 'agent' : 'agents'} connected`), ' · ',
      h('span', { class: ing.status === 'running' ? '' : 'error' }, `ingest ${ing.status || 'unknown'}`),
      ing.frames_received !== undefined ? ` (${fmt.n(ing.frames_received)} frames` +
        (ing.frames_rejected ? `, ${fmt.n(ing.frames_rejected)} rejected)` : ')') : '',
      c.store && c.store !== 'ok' ? h('span', { class: 'error' }, ` · store ${c.store}`) : '');
  }

  function failed(what, e) {
    if (e.name === 'AbortError' || !alive) return;
    stale.hidden = false;
    stale.textContent = `Could not refresh ${what}: ${e.message}. Showing the last figures.`;
  }

  // ---- loading and refreshing ----

  const pHealth = get('/services/health');
  const pAnoms = get(`/anomalies?status=open&limit=${ANOMALY_LIMIT}`);
  const pTopo = get(`/topology?since=${TOPOLOGY_SINCE}`);
  const pAgg = get('/health');
  // each one is shown, or its error, where it belongs: none may reject unheard
  pAnoms.catch(() => {});
  pTopo.catch(() => {});
  pAgg.catch(() => {});
  // Which map nodes are services: without the answer every node stays a link (harmless), so a failure is left unsaid.
  const loadKnown = () => get('/services?limit=1000').then((d) => {
    if (!alive) return;
    known = new Set((d.services || []).map((s) => s.service));
    renderMap();
  }, () => {});
  loadKnown();

  try {
    const fresh = setHealth(await pHealth);
    stamp();
    fresh.forEach(loadSpark);
  } catch (e) {
    if (e.name === 'AbortError') return () => {};
    if (e.status === 401) throw e;
    cardsNote.replaceChildren(h('p', { class: 'view-error', role: 'alert' }, 'Could not load the services: ' + e.message));
  }

  pAnoms.then((d) => { if (alive) setAnomalies(d); }, (e) => {
    if (e.name !== 'AbortError' && alive) anomBody.replaceChildren(h('p', { class: 'error' }, 'Could not load the anomalies: ' + e.message));
  });
  pTopo.then((d) => { if (alive) { topology = d; renderMap(); } }, (e) => {
    if (e.name !== 'AbortError' && alive) mapNote.replaceChildren(h('p', { class: 'error' }, 'Could not load the call graph: ' + e.message));
  });
  pAgg.then((d) => { if (alive) setMeta(d); }, (e) => {
    if (e.name !== 'AbortError' && alive) aggPart.replaceChildren(h('span', { class: 'error' }, 'aggregator health unknown: ' + e.message));
  });

  async function refresh() {
    if (busy || document.hidden) return; // a hidden tab spends none of the key's rate limit
    busy = true;
    ticks++;
    // once a minute: the aggregator's health, and the sparklines (one call per
    // service, so no more often than one service per tick)
    const slow = ticks % Math.max(SPARK_EVERY, health.size) === 0;
    try {
      const [hd, td, ad] = await Promise.all([get('/services/health'), get(`/topology?since=${TOPOLOGY_SINCE}`),
        ticks % SPARK_EVERY === 0 ? get('/health') : null]);
      if (!alive) return;
      const fresh = setHealth(hd);
      topology = td;
      renderMap();
      renderAnomalies();
      if (ad) { setMeta(ad); loadKnown(); }
      stamp();
      stale.hidden = true;
      (slow ? [...health.keys()] : fresh).forEach(loadSpark);
    } catch (e) {
      failed('the rates and the map', e);
    } finally {
      busy = false;
    }
  }
  const timer = setInterval(refresh, REFRESH_MS);

  // Live: what the event says is shown at once, then health and the list
  // are re-read once for every burst of events (1 s).
  let liveTimer = null;
  async function refreshLive() {
    liveTimer = null;
    try {
      const [hd, ad] = await Promise.all([get('/services/health'), get(`/anomalies?status=open&limit=${ANOMALY_LIMIT}`)]);
      if (!alive) return;
      setHealth(hd).forEach(loadSpark);
      stamp();
      setAnomalies(ad);
      renderMap();
    } catch (e) {
      failed('the anomalies', e);
    }
  }
  function onEvent(ev) {
    const a = ev.data || {};
    if (ev.event === 'anomaly.detected' && a.id !== undefined && !anomalies.some((x) => x.id === a.id)) {
      if (anomalies.length >= ANOMALY_LIMIT) anomaliesMore = true;
      anomalies = [a, ...anomalies].slice(0, ANOMALY_LIMIT);
      bump(a.service, 1);
      renderAnomalies();
    } else if (ev.event === 'anomaly.resolved' && a.id !== undefined) {
      const before = anomalies.length;
      anomalies = anomalies.filter((x) => x.id !== a.id);
      bump(a.service, -1);
      if (anomalies.length !== before) renderAnomalies();
    }
    if (a.service) {
      const c = cardOf(a.service);
      if (c) { c.classList.remove('fresh'); void c.offsetWidth; c.classList.add('fresh'); }
    }
    if (!liveTimer) liveTimer = setTimeout(refreshLive, 1000);
  }
  function bump(service, d) {
    const s = health.get(service);
    if (!s) return;
    s.anomalies_detected = Math.max(0, (s.anomalies_detected || 0) + d);
    const c = cardOf(service);
    if (c) fillCard(c, s);
  }
  const offs = LIVE_EVENTS.map((t) => ctx.live.on(t, onEvent));

  return () => {
    alive = false;
    clearInterval(timer);
    clearTimeout(liveTimer);
    offs.forEach((off) => off());
    ctl.abort();
  };
}

function fmtMetric(metric, v) {
  if (/^latency/.test(metric || '')) return fmt.ms(v);
  if (/error_rate$/.test(metric || '')) return fmt.pct(v);
  if (metric === 'request_rate') return fmt.rate(v);
  return fmt.n(v);
}

// ---- map layout ----

const NODE_W = 150, NODE_H = 36, COL_W = 280, ROW_H = 66, PAD = 14;

/*
 * Layers by longest path from the callers: a depth-first walk marks the
 * edges that close a cycle, which are left out of the layering (and drawn
 * as loops below the nodes), so a cycle cannot stop the layout. Within a
 * layer, nodes sit at the mean position of their callers (two sweeps).
 */
function layout(names, edges) {
  const out = new Map(names.map((n) => [n, []]));
  const indeg = new Map(names.map((n) => [n, 0]));
  for (const e of edges) {
    if (e.from === e.to || !out.has(e.from) || !out.has(e.to)) continue;
    out.get(e.from).push(e.to);
    indeg.set(e.to, indeg.get(e.to) + 1);
  }
  const state = new Map(), order = [], dag = new Map(names.map((n) => [n, []]));
  const visit = (n) => {
    state.set(n, 1);
    for (const m of out.get(n)) {
      if (state.get(m) === 1) continue; // closes a cycle
      dag.get(n).push(m);
      if (!state.get(m)) visit(m);
    }
    state.set(n, 2);
    order.push(n);
  };
  const roots = names.filter((n) => !indeg.get(n)).concat(names.filter((n) => indeg.get(n)));
  for (const n of roots) if (!state.get(n)) visit(n);
  const layer = new Map(names.map((n) => [n, 0]));
  for (const n of order.reverse()) for (const m of dag.get(n)) layer.set(m, Math.max(layer.get(m), layer.get(n) + 1));
  const nl = Math.max(0, ...layer.values()) + 1;
  const cols = Array.from({ length: nl }, () => []);
  for (const n of names) cols[layer.get(n)].push(n);
  const preds = new Map(names.map((n) => [n, []]));
  for (const [n, ms] of dag) for (const m of ms) preds.get(m).push(n);
  const pos = new Map();
  cols.forEach((c) => c.forEach((n, i) => pos.set(n, i)));
  for (let sweep = 0; sweep < 2; sweep++) {
    for (let l = 1; l < nl; l++) {
      const bary = (n) => { const p = preds.get(n); return p.length ? p.reduce((s, q) => s + pos.get(q), 0) / p.length : pos.get(n); };
      cols[l].sort((a, b) => bary(a) - bary(b) || a.localeCompare(b));
      cols[l].forEach((n, i) => pos.set(n, i));
    }
  }
  const rows = Math.max(...cols.map((c) => c.length));
  const at = new Map();
  cols.forEach((c, l) => c.forEach((n, i) => at.set(n, {
    x: PAD + l * COL_W, y: PAD + (i + (rows - c.length) / 2) * ROW_H, layer: l, above: i, below: c.length - 1 - i })));
  return { at, width: PAD * 2 + (nl - 1) * COL_W + NODE_W, height: PAD * 2 + (rows - 1) * ROW_H + NODE_H };
}

function short(name) {
  return name.length > 18 ? name.slice(0, 17) + '…' : name;
}

function drawMap(svg, nodes, edges, span, open) {
  const names = nodes.map((n) => n.name);
  if (!names.length) { svg.replaceChildren(); return; }
  const { at, width, height } = layout(names, edges);
  let top = 0, bottom = height, right = width;
  const marker = (id, cls) => h('marker', { id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7,
    markerHeight: 7, orient: 'auto-start-reverse' }, h('path', { class: cls, d: 'M0,0L10,5L0,10z' }));
  const parts = [h('defs', {}, marker('map-arrow', 'arrow'), marker('map-arrow-bad', 'arrow bad'))];
  const labels = [];
  for (const e of edges) {
    const a = at.get(e.from), b = at.get(e.to);
    if (!a || !b) continue;
    const rate = (e.requests || 0) / span;
    const errRate = e.requests ? (e.errors || 0) / e.requests : 0;
    const bad = errRate >= BAD_EDGE;
    let d, lx, ly, anchor = 'middle';
    if (e.from === e.to) { // a service calling itself: a small loop under its left end
      const x = a.x + 18, y = a.y + NODE_H;
      d = `M${x},${y}C${x - 14},${y + 24} ${x + 30},${y + 24} ${x + 18},${y + 2}`;
      lx = x + 30; ly = y + 20; anchor = 'start';
    } else if (b.layer > a.layer) { // caller left, callee right
      const x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2, x2 = b.x - 2, y2 = b.y + NODE_H / 2, dx = (x2 - x1) / 2;
      d = `M${x1},${y1}C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`;
      // the label just before the arrow, above the line: two edges out of
      // one caller end at different callees, so their labels never overlap
      lx = x2 - 10; ly = y2 - 7; anchor = 'end';
    } else {
      // Closes a cycle: out of the caller's right end, along the gap between
      // columns (where no node is) to a lane above or below the map, back to
      // the gap left of the callee, and into its left end.
      const up = a.y + b.y + NODE_H < height;
      const cy = up ? PAD - 24 : height - PAD + 24, s = up ? -1 : 1, r = 8;
      const x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2 + 8, g1 = x1 + 16;
      const x2 = b.x - 2, y2 = b.y + NODE_H / 2 + 8, g2 = b.x - 16;
      d = `M${x1},${y1}H${g1 - r}Q${g1},${y1} ${g1},${y1 + s * r}V${cy - s * r}Q${g1},${cy} ${g1 - r},${cy}` +
          `H${g2 + r}Q${g2},${cy} ${g2},${cy - s * r}V${y2 + s * r}Q${g2},${y2} ${g2 + r},${y2}H${x2}`;
      lx = (g1 + g2) / 2; ly = cy - 5;
      if (up) top = Math.min(top, cy - 16); else bottom = Math.max(bottom, cy + 4);
      right = Math.max(right, g1 + PAD);
    }
    // requests/s (a count when too few for a rate) and p99; the error rate only when it is what makes the edge red
    const text = `${rate >= 0.1 ? fmt.n(rate) + '/s' : fmt.n(e.requests) + ' req'} · p99 ${fmt.ms(e.latency_p99)}` + (bad ? ` · ${fmt.pct(errRate)} err` : '');
    parts.push(h('path', { class: ['edge', bad && 'bad'], d, dataset: { from: e.from, to: e.to },
      'marker-end': `url(#${bad ? 'map-arrow-bad' : 'map-arrow'})` },
      h('title', {}, `${e.from} → ${e.to}: ${fmt.n(e.requests)} requests (${fmt.rate(rate)}), ` +
        `${fmt.n(e.errors)} errors (${fmt.pct(errRate)}), p99 ${fmt.ms(e.latency_p99)}`)));
    labels.push(h('text', { class: ['edge-label', bad && 'bad'], x: lx, y: ly, 'text-anchor': anchor }, text));
  }
  for (const n of nodes) {
    const p = at.get(n.name);
    if (n.external) { // an address the services call, not a watched service: nothing to open
      parts.push(h('g', { class: ['node', 'external'], dataset: { service: n.name, status: 'external' },
        transform: `translate(${p.x},${p.y})` },
        h('title', {}, `${n.name}: called by a watched service, not watched itself`),
        h('rect', { width: NODE_W, height: NODE_H, rx: 8 }),
        h('text', { x: 12, y: NODE_H / 2 + 4.5 }, short(n.name))));
      continue;
    }
    const go = () => open(n.name);
    parts.push(h('g', { class: 'node', tabindex: 0, role: 'link', dataset: { service: n.name, status: n.status },
      'aria-label': `${n.name}, ${n.status}: open the service`, transform: `translate(${p.x},${p.y})`,
      onclick: go, onkeydown: (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); go(); } } },
      h('title', {}, `${n.name} (${n.status})`),
      h('rect', { width: NODE_W, height: NODE_H, rx: 8 }),
      h('circle', { class: 'dot', cx: 14, cy: NODE_H / 2, r: 5 }),
      h('text', { x: 26, y: NODE_H / 2 + 4.5 }, short(n.name))));
  }
  svg.replaceChildren(...parts, ...labels); // labels last: drawn over the edges
  const w = Math.max(right, 300);
  svg.setAttribute('viewBox', `0 ${top} ${w} ${bottom + PAD - top}`);
  svg.style.setProperty('--map-w', String(w)); // app.css: on a phone, scroll the map rather than shrink its text
  svg.style.maxWidth = w * 1.15 + 'px'; // a small graph is not blown up to the panel's width
}
