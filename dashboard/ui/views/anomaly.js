// #/anomalies/{id}: one anomaly: what it is, its evidence, the metric
// around it against the expected range, related metrics, earlier incidents
// like it, the analyst's advice, and a root-cause analysis on demand.

import { h, fmt, badge, empty, toDate } from '../dom.js';
import { lineChart } from '../charts.js';
import { fmtValue, fmtRange, unitOf } from './anomalies.js';

export const title = (p) => `Anomaly ${p.id}`;

const LEAD_MS = 10 * 60 * 1000;   // the chart starts this long before the anomaly
const TAIL_MS = 2 * 60 * 1000;    // and ends this long after it resolved
const REFRESH_MS = 15000;         // the series of an open anomaly: no event carries it

// **bold**, *emphasis* and `code` inside a line of the analyst's Markdown, as nodes (never HTML).
function inline(text) {
  const out = [];
  const re = /\*\*([^*]+)\*\*|`([^`]+)`|\*([^*\s][^*]*)\*/g;
  let last = 0, m;
  while ((m = re.exec(text))) {
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(m[1] !== undefined ? h('strong', {}, m[1]) : m[2] !== undefined ? h('code', {}, m[2]) : h('em', {}, m[3]));
    last = re.lastIndex;
  }
  out.push(text.slice(last));
  return out;
}

// The small Markdown the analyst writes: paragraphs, lists, headings.
function md(text) {
  const box = h('div', { class: 'md' });
  let para = null, list = null;
  for (const line of String(text || '').split('\n')) {
    const item = /^\s*(?:([-*])|\d+[.)]) (.*)$/.exec(line);
    const head = /^#{1,6} (.*)$/.exec(line);
    if (!line.trim()) { para = list = null; continue; }
    if (item) {
      para = null;
      const tag = item[1] ? 'ul' : 'ol';
      if (!list || list.tagName.toLowerCase() !== tag) box.append(list = h(tag, {}));
      list.append(h('li', {}, inline(item[2])));
      continue;
    }
    list = null;
    if (head) { para = null; box.append(h('p', {}, h('strong', {}, inline(head[1])))); continue; }
    if (para) para.append(h('br', {}), ...inline(line));
    else box.append(para = h('p', {}, inline(line)));
  }
  return box;
}

// YAML-ish text of a value, for the suggested policy (read, or copied into the editor).
function yaml(v, indent = '') {
  const scalar = (x) => {
    if (typeof x !== 'string') return JSON.stringify(x);
    const plain = (/^[A-Za-z_][\w.\-/ ]*$/.test(x) && !/^(true|false|null|yes|no|on|off)$/i.test(x) && !/\s$/.test(x))
      || /^\d+(\.\d+)?(ms|s|m|h|d)$/.test(x); // names, and durations as policies write them
    return plain ? x : JSON.stringify(x);
  };
  if (Array.isArray(v)) {
    if (!v.length) return ' []';
    return v.map((x) => {
      if (x && typeof x === 'object' && !Array.isArray(x)) {
        const body = yaml(x, indent + '  ').replace(/^\n\s*/, '');
        return `\n${indent}- ${body}`;
      }
      return `\n${indent}- ${scalar(x)}`;
    }).join('');
  }
  if (v && typeof v === 'object') {
    const keys = Object.keys(v);
    if (!keys.length) return ' {}';
    // small flat objects (parameters) read best inline
    if (indent && keys.length <= 4 && keys.every((k) => v[k] === null || typeof v[k] !== 'object')) {
      return ' {' + keys.map((k) => `${k}: ${scalar(v[k])}`).join(', ') + '}';
    }
    return keys.map((k) => {
      const x = v[k];
      const rest = x && typeof x === 'object' ? yaml(x, indent + '  ') : ' ' + scalar(x);
      return `\n${indent}${k}:${rest}`;
    }).join('');
  }
  return ' ' + scalar(v);
}

function policyYaml(rec) {
  const p = rec.policy || {
    name: rec.name, service: rec.service, condition: rec.condition,
    actions: [{ type: rec.action, parameters: rec.parameters || {} }],
  };
  const doc = { ...p };
  // durations in seconds read better with their unit, as the policy files write them
  for (const k of ['for', 'cooldown']) if (typeof doc[k] === 'number') doc[k] = doc[k] + 's';
  if (doc.for === '0s') delete doc.for;
  return 'policies:' + yaml([doc], '  ');
}

function kv(pairs) {
  return h('dl', { class: 'kv' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function notFound(root, id, message) {
  root.replaceChildren(h('div', { class: 'view-error', role: 'alert' },
    h('h1', {}, `Anomaly ${id} not found`),
    h('p', {}, message || 'There is no anomaly with this id (it may have been purged, or belong to another tenant).'),
    h('p', {}, h('a', { href: '#/anomalies' }, 'All anomalies'))));
}

function evidenceItem(a, e) {
  if (!e || typeof e !== 'object') return h('li', {}, String(e));
  if (e.type === 'slo') {
    return h('li', {}, badge('slo'), ' ', h('code', {}, e.metric), ' at ', fmtValue(e.metric, e.value),
      ' is past its SLO of ', fmtValue(e.metric, e.threshold));
  }
  return h('li', {}, badge(e.type || 'evidence'), ' ',
    e.text || `${e.metric}: ${fmtValue(e.metric || a.metric, e.value)}, expected ${fmtValue(e.metric || a.metric, e.expected)}`);
}

function relatedTable(list) {
  if (!list || !list.length) return empty('No other metric of this service moved with it.');
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('thead', {}, h('tr', {}, ['Metric', 'Value', 'Expected', 'Deviation'].map((c, i) =>
      h('th', { scope: 'col', class: i ? 'num' : null }, c)))),
    h('tbody', {}, list.map((r) => h('tr', {},
      h('td', {}, h('code', {}, r.metric)),
      h('td', { class: 'num' }, fmtValue(r.metric, r.value)),
      h('td', { class: 'num' }, fmtRange(r.metric, { min: r.lower, max: r.upper })),
      h('td', { class: 'num' }, Number.isFinite(r.deviation) ? fmt.n(r.deviation) + ' σ' : '–'))))));
}

function similarTable(a, list) {
  if (!list || !list.length) return empty('No earlier anomaly of this service on this metric.');
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('thead', {}, h('tr', {}, ['Anomaly', 'Started', 'Severity', 'Status', 'Peak'].map((c, i) =>
      h('th', { scope: 'col', class: i === 4 ? 'num' : null }, c)))),
    h('tbody', {}, list.map((s) => h('tr', {},
      h('td', {}, h('a', { href: `#/anomalies/${s.id}` }, `#${s.id}`)),
      h('td', {}, fmt.dateTime(s.started_at)),
      h('td', {}, badge(s.severity)),
      h('td', {}, badge(s.status)),
      h('td', { class: 'num' }, fmtValue(a.metric, s.peak_value)))))));
}

function adviceBlock(adv) {
  const pr = adv.policy_recommendation || {};
  const text = policyYaml(pr);
  const copy = h('button', { type: 'button', onclick: async () => {
    try { await navigator.clipboard.writeText(text); copy.textContent = 'Copied'; } catch { copy.textContent = 'Copy failed: select the text'; }
  } }, 'Copy YAML');
  return [
    adv.headline ? h('p', { class: 'advice-headline' }, h('strong', {}, adv.headline)) : null,
    kv([
      ['Action', h('code', {}, adv.action || '–'), adv.target_service && adv.target_service !== adv.service
        ? [' on ', h('a', { href: `#/services/${encodeURIComponent(adv.target_service)}` }, adv.target_service)] : null],
      ['Risk', adv.risk_level ? badge(adv.risk_level) : '–'],
      ['Confidence', fmt.pct(adv.confidence)],
      ['Rationale', adv.rationale || '–'],
      ['Expected impact', adv.expected_impact || '–'],
      ['Automation', [adv.automation_available ? 'prp can run it. ' : 'prp cannot run it here. ', adv.automation_note || '']],
    ].map(([k, ...v]) => [k, v])),
    adv.advice ? h('details', {}, h('summary', {}, 'The analyst’s write-up'), md(adv.advice)) : null,
    h('h3', {}, 'Suggested policy'),
    h('pre', { class: 'policy-yaml', tabindex: 0, 'aria-label': 'Suggested policy (YAML)' }, text),
    h('div', { class: 'row' }, copy),
  ];
}

function rcaBlock(r) {
  const rc = r.root_cause || {};
  return [
    h('h2', {}, 'Root-cause analysis'),
    h('p', {}, rc.service
      ? ['Most likely cause: ', h('a', { href: `#/services/${encodeURIComponent(rc.service)}` }, h('strong', {}, rc.service)), rc.reason ? ` — ${rc.reason}` : '']
      : ['No single cause found', rc.reason ? ` — ${rc.reason}` : '.'],
    ' ', h('span', { class: 'muted' }, `(confidence ${fmt.pct(r.confidence)})`)),
    md(r.rca),
    h('h3', {}, 'Suspected services'),
    r.suspected_services && r.suspected_services.length
      ? h('div', { class: 'table-wrap' }, h('table', {},
        h('thead', {}, h('tr', {}, ['Service', 'Role', 'Score', 'Evidence'].map((c, i) =>
          h('th', { scope: 'col', class: i === 2 ? 'num' : null }, c)))),
        h('tbody', {}, r.suspected_services.map((s) => h('tr', {},
          h('td', {}, h('a', { href: `#/services/${encodeURIComponent(s.service)}` }, s.service)),
          h('td', {}, s.role || '–'),
          h('td', { class: 'num' }, Number.isFinite(s.score) ? s.score.toFixed(2) : '–'),
          h('td', {}, (s.evidence || []).length
            ? h('ul', { class: 'compact' }, s.evidence.map((e) => h('li', {}, e))) : '–'))))))
      : empty('No service stood out.'),
    h('h3', {}, 'Correlated events'),
    r.correlated_events && r.correlated_events.length
      ? h('ul', { class: 'timeline' }, r.correlated_events.map((e) => h('li', {},
        h('time', { datetime: e.timestamp, title: fmt.dateTime(e.timestamp) }, fmt.time(e.timestamp)), ' ',
        e.service ? h('strong', {}, e.service) : null, ' ', e.event)))
      : empty('No events in the span.'),
  ];
}

export async function render(root, params, ctx) {
  const id = params.id;
  let a;
  try {
    a = await ctx.api.get(`/anomalies/${encodeURIComponent(id)}`);
  } catch (e) {
    if (e.status === 404) { notFound(root, id, e.message); return undefined; }
    throw e;
  }
  const d = a.details || {};
  let timer = null;
  let gone = false;

  // the status shows twice (title and summary): both change when it resolves
  const statusHead = h('span', { class: 'status-now' }, badge(a.status));
  const statusDd = h('span', { class: 'status-now' }, badge(a.status));
  const resolvedDd = h('span', {});
  const durationDd = h('span', {});
  const chartBox = h('div', { class: 'chart-box' }, h('p', { class: 'loading' }, 'Loading the series…'));
  const adviceBox = h('section', { class: 'panel advice', 'aria-labelledby': 'advice-h', 'aria-busy': 'true' },
    h('h2', { id: 'advice-h' }, 'Advice'), h('p', { class: 'loading' }, 'Asking the analyst…'));
  const rcaBox = h('section', { id: 'rca', class: 'panel', hidden: true, 'aria-live': 'polite' });
  const announce = h('p', { class: 'sr-only', role: 'status', 'aria-live': 'polite' });
  const explain = h('button', { type: 'button', id: 'explain', class: 'primary', onclick: runRca }, 'Explain (root cause)');

  function times() {
    resolvedDd.replaceChildren(a.resolved_at
      ? h('time', { datetime: a.resolved_at }, fmt.dateTime(a.resolved_at)) : 'still open');
    const end = a.resolved_at ? toDate(a.resolved_at) : new Date();
    const start = toDate(a.started_at);
    durationDd.textContent = start ? fmt.duration((end - start) / 1000) + (a.resolved_at ? '' : ' so far') : fmt.duration(a.duration_s);
  }
  times();

  const dev = d.deviation || {};
  root.replaceChildren(
    h('p', { class: 'crumbs' }, h('a', { href: '#/anomalies' }, '← Anomalies')),
    h('div', { class: 'row spread' },
      h('h1', {}, h('code', {}, a.metric), ' on ', a.service, ' ', badge(a.severity), ' ', statusHead),
      explain),
    h('section', { class: 'panel', 'aria-label': 'Summary' }, kv([
      ['Service', h('a', { href: `#/services/${encodeURIComponent(a.service)}` }, a.service)],
      ['Metric', h('code', {}, a.metric)],
      ['Severity', badge(a.severity)],
      ['Status', statusDd],
      ['Started', [h('time', { datetime: a.started_at }, fmt.dateTime(a.started_at)), ` (${fmt.ago(a.started_at)})`]],
      ['Resolved', resolvedDd],
      ['Duration', durationDd],
      ['Value', [fmtValue(a.metric, a.current_value), ' (peak ', fmtValue(a.metric, a.peak_value), ')']],
      ['Expected', [fmtRange(a.metric, a.expected_range), a.expected_range ? ` (mean ${fmtValue(a.metric, a.expected_range.mean)})` : '']],
      Number.isFinite(dev.absolute) ? ['Deviation', [fmtValue(a.metric, dev.absolute),
        Number.isFinite(dev.relative) ? `, ${dev.relative >= 0 ? '+' : ''}${fmt.pct(dev.relative)}` : '',
        Number.isFinite(dev.sigma) ? `, ${fmt.n(dev.sigma)} σ` : '']] : null,
      ['Confidence', fmt.pct(a.confidence)],
      ['Score', fmt.n(a.score)],
      d.detector ? ['Detector', d.detector.method || '–'] : null,
    ])),
    h('h2', {}, 'Evidence'),
    a.evidence && a.evidence.length
      ? h('ul', { class: 'evidence' }, a.evidence.map((e) => evidenceItem(a, e)))
      : empty('No evidence was recorded.'),
    h('h2', {}, `${a.metric} around the anomaly`),
    h('section', { class: 'panel' }, chartBox),
    h('div', { class: 'grid wide anomaly-more' },
      h('section', { 'aria-labelledby': 'related-h' }, h('h2', { id: 'related-h' }, 'Related metrics'), relatedTable(d.related_metrics)),
      h('section', { 'aria-labelledby': 'similar-h' }, h('h2', { id: 'similar-h' }, 'Similar incidents'), similarTable(a, d.similar_incidents))),
    adviceBox,
    rcaBox,
    announce);

  async function chart() {
    const now = Date.now();
    const start = toDate(a.started_at)?.getTime() ?? now - LEAD_MS;
    const from = start - LEAD_MS;
    const to = a.resolved_at ? Math.min(toDate(a.resolved_at).getTime() + TAIL_MS, now) : now;
    // a step giving about 300 points: the API's default is a coarse minute
    const step = Math.max(1, Math.ceil((to - from) / 1000 / 300));
    try {
      const s = await ctx.api.get(`/services/${encodeURIComponent(a.service)}/series?metric=${encodeURIComponent(a.metric)}`
        + `&since=${new Date(from).toISOString()}&until=${new Date(to).toISOString()}&step=${step}s`);
      if (gone) return;
      const r = a.expected_range || {};
      chartBox.replaceChildren(lineChart({
        series: [{ name: a.metric, points: s.points || [] }],
        band: Number.isFinite(r.min) && Number.isFinite(r.max)
          ? { points: [[from, r.min, r.max], [to, r.min, r.max]], name: 'expected range' } : null,
        unit: unitOf(a.metric), from, to,
        label: `${a.metric} of ${a.service} from ${fmt.dateTime(from)} to ${fmt.dateTime(to)}, with the expected range`,
      }), h('p', { class: 'chart-note' }, h('span', { class: 'swatch band-swatch', 'aria-hidden': 'true' }),
        `expected range ${fmtRange(a.metric, r)}; the anomaly started at ${fmt.time(a.started_at)}`,
        a.resolved_at ? ` and resolved at ${fmt.time(a.resolved_at)}` : ''));
    } catch (e) {
      if (gone || e.status === 401) return;
      chartBox.replaceChildren(h('p', { class: 'error', role: 'alert' }, `The series could not be loaded: ${e.message}`));
    }
  }

  async function advice() {
    const { details, ...record } = a; // the analyst ignores details: keep the body small
    try {
      const adv = await ctx.api.post('/advice', { service: a.service, anomaly: record });
      if (gone) return;
      adviceBox.replaceChildren(h('h2', { id: 'advice-h' }, 'Advice'), ...adviceBlock({ service: a.service, ...adv }).filter(Boolean));
    } catch (e) {
      if (gone || e.status === 401) return;
      adviceBox.replaceChildren(h('h2', { id: 'advice-h' }, 'Advice'),
        h('p', { class: 'error', role: 'alert' }, `No advice: ${e.message}`));
    }
    adviceBox.removeAttribute('aria-busy');
  }

  async function runRca() {
    explain.disabled = true;
    explain.textContent = 'Analysing…';
    rcaBox.hidden = false;
    rcaBox.setAttribute('aria-busy', 'true');
    rcaBox.replaceChildren(h('p', { class: 'loading' }, 'Looking for the root cause…'));
    try {
      const r = await ctx.api.post('/rca', { anomaly_id: Number(a.id), service: a.service, time_range: ctx.range });
      if (gone) return;
      rcaBox.replaceChildren(...rcaBlock(r));
    } catch (e) {
      if (gone || e.status === 401) return;
      rcaBox.replaceChildren(h('h2', {}, 'Root-cause analysis'),
        h('p', { class: 'error', role: 'alert' }, `The analysis failed: ${e.message}`));
    }
    rcaBox.removeAttribute('aria-busy');
    explain.disabled = false;
    explain.textContent = 'Explain again';
  }

  function resolved(ev) {
    const r = ev.data || {};
    if (String(r.id) !== String(a.id)) return;
    Object.assign(a, { status: 'resolved', resolved_at: r.resolved_at || ev.timestamp,
                       duration_s: r.duration_s ?? a.duration_s });
    for (const el of [statusHead, statusDd]) el.replaceChildren(badge('resolved'));
    times();
    clearInterval(timer);
    timer = null;
    announce.textContent = `This anomaly resolved at ${fmt.time(a.resolved_at)}.`;
    chart();
  }

  const off = ctx.live.on('anomaly.resolved', resolved);
  if (a.status === 'open') {
    timer = setInterval(() => { times(); chart(); }, REFRESH_MS);
  }
  advice();
  await chart();
  return () => { gone = true; off(); clearInterval(timer); };
}
