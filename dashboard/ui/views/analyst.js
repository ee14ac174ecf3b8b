// A conversation with the built-in analyst (POST /chat), with summaries and
// root cause analyses put into it as answers. The transcript and the
// conversation id are kept in session storage, so the conversation
// survives leaving the view and reloading the tab, and goes with the tab.

import { h, empty, fmt } from '../dom.js';

export const title = 'Analyst';

const STORE = 'prp.analyst';
const KEEP = 100; // messages kept; older ones drop off the top

function load() {
  try {
    const s = JSON.parse(sessionStorage.getItem(STORE) || 'null');
    if (s && Array.isArray(s.messages)) return s;
  } catch { /* a damaged transcript: start afresh */ }
  return { conversation_id: null, messages: [] };
}

function save(state) {
  state.messages = state.messages.slice(-KEEP);
  try {
    sessionStorage.setItem(STORE, JSON.stringify(state));
  } catch {
    // over the storage quota: keep the newest half rather than nothing
    state.messages = state.messages.slice(-Math.floor(KEEP / 2));
    try { sessionStorage.setItem(STORE, JSON.stringify(state)); } catch { /* in memory only */ }
  }
}

// ---- the answers' Markdown, as elements (text stays text) ----

// **bold**, *emphasis* and `code` inside a line.
function inline(text) {
  const out = [];
  const re = /(\*\*[^*]+\*\*|`[^`]+`|\*[^*\s][^*]*\*)/g;
  let last = 0;
  let m;
  while ((m = re.exec(text))) {
    if (m.index > last) out.push(text.slice(last, m.index));
    const t = m[0];
    if (t.startsWith('**')) out.push(h('strong', {}, t.slice(2, -2)));
    else if (t.startsWith('*')) out.push(h('em', {}, t.slice(1, -1)));
    else out.push(h('code', {}, t.slice(1, -1)));
    last = m.index + t.length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

// Headings, lists and paragraphs: what the analyst writes, nothing more.
function markdown(src) {
  const blocks = [];
  let list = null;
  let para = [];
  const flush = () => {
    if (para.length) blocks.push(h('p', {}, inline(para.join(' '))));
    para = [];
  };
  for (const raw of String(src || '').split('\n')) {
    const line = raw.trimEnd();
    const head = /^(#{1,6})\s+(.*)$/.exec(line);
    const item = /^\s*(?:[-*]|\d+\.)\s+(.*)$/.exec(line);
    if (head) {
      flush(); list = null;
      blocks.push(h('p', { class: 'an-head' }, inline(head[2])));
    } else if (item) {
      flush();
      if (!list) { list = h(/^\s*\d/.test(line) ? 'ol' : 'ul', {}); blocks.push(list); }
      list.append(h('li', {}, inline(item[1])));
    } else if (!line.trim()) {
      flush(); list = null;
    } else if (list && /^\s+/.test(raw) && list.lastChild) {
      list.lastChild.append(' ', ...inline(line.trim())); // a list item's continuation
    } else {
      list = null;
      para.push(line.trim());
    }
  }
  flush();
  return h('div', { class: 'an-md' }, blocks);
}

// "series:payments" → a link to the service; "anomaly:12" → to the anomaly.
function sourceLink(s) {
  const i = String(s).indexOf(':');
  const kind = i < 0 ? '' : s.slice(0, i);
  const what = i < 0 ? String(s) : s.slice(i + 1);
  if (kind === 'series' || kind === 'service') return h('a', { href: '#/services/' + encodeURIComponent(what) }, what);
  if (kind === 'anomaly' && /^\d+$/.test(what)) return h('a', { href: '#/anomalies/' + what }, 'anomaly #' + what);
  if (kind === 'action') return h('a', { href: '#/actions', title: 'Action ' + what }, 'action #' + what);
  return String(s);
}

function serviceLink(name) {
  return name ? h('a', { href: '#/services/' + encodeURIComponent(name) }, name) : '–';
}

function joined(items) {
  const out = [];
  items.forEach((x, i) => { if (i) out.push(', '); out.push(x); });
  return out;
}

function confidence(c) {
  return typeof c === 'number' ? h('span', { class: 'an-conf' }, `confidence ${Math.round(c * 100)}%`) : null;
}

// ---- messages ----

function messageEl(m) {
  const at = h('time', { class: 'an-time', datetime: m.ts }, fmt.time(m.ts));
  if (m.from === 'user') {
    return h('div', { class: 'chat-msg', dataset: { from: 'user' } }, h('div', { class: 'an-text' }, m.text), at);
  }
  const body = [];
  if (m.kind === 'error') {
    body.push(h('p', { class: 'error' }, m.text));
  } else if (m.kind === 'summary') {
    const sb = m.severity || {};
    body.push(h('p', { class: 'an-head' }, `Summary of the last ${m.range}`),
      h('p', { class: 'an-facts' },
        `${m.incidents} incident${m.incidents === 1 ? '' : 's'} · affected: `,
        m.affected?.length ? joined(m.affected.map(serviceLink)) : 'none',
        ` · critical ${sb.critical || 0}, warning ${sb.warning || 0}, info ${sb.info || 0}`),
      markdown(m.text));
  } else if (m.kind === 'rca') {
    body.push(h('p', { class: 'an-head' }, `Root cause analysis, last ${m.range}`),
      h('p', { class: 'an-facts' }, 'Root cause: ', m.cause?.service ? h('strong', {}, serviceLink(m.cause.service)) : 'not found',
        m.cause?.reason ? ` (${m.cause.reason})` : ''),
      m.suspects?.length ? h('div', {}, h('p', { class: 'an-sub' }, 'Suspected services'),
        h('ul', {}, m.suspects.map((s) => h('li', {}, serviceLink(s.service),
          ` score ${fmt.n(s.score)}`, s.role ? `, ${s.role}` : '',
          s.evidence?.length ? h('ul', {}, s.evidence.map((x) => h('li', {}, x))) : null)))) : null,
      m.events?.length ? h('div', {}, h('p', { class: 'an-sub' }, 'Correlated events'),
        h('ul', {}, m.events.map((e) => h('li', {}, h('time', { datetime: e.timestamp }, fmt.time(e.timestamp)), ' ',
          e.service ? [serviceLink(e.service), ': '] : '', e.event)))) : null,
      h('details', {}, h('summary', {}, 'The analysis'), markdown(m.text)));
  } else {
    body.push(markdown(m.text));
  }
  const foot = [confidence(m.confidence)];
  if (m.sources?.length) foot.push(h('span', { class: 'sources' }, 'Sources: ', joined(m.sources.map(sourceLink))));
  return h('div', { class: ['chat-msg', m.kind === 'error' && 'an-error'], dataset: { from: 'analyst', kind: m.kind || 'answer' } },
    body, h('div', { class: 'an-foot' }, foot, at));
}

// ---- the view ----

export async function render(root, params, ctx) {
  let state = load();
  let busy = false;
  let alive = true;

  const log = h('div', { class: 'chat an-log', role: 'log', 'aria-label': 'Conversation', 'aria-live': 'polite' });
  const input = h('textarea', { id: 'chat-input', rows: 2, 'aria-label': 'Ask the analyst',
    placeholder: 'Ask about your services: "why is payments slow?"  (Enter sends, Shift+Enter: new line)' });
  const send = h('button', { id: 'chat-send', type: 'submit', class: 'primary' }, 'Send');
  const summarizeBtn = h('button', { id: 'summarize', type: 'button' }, 'Summarize');
  const rcaBtn = h('button', { id: 'rca-run', type: 'button' }, 'Root cause analysis');
  const newConv = h('button', { id: 'chat-new', type: 'button' }, 'New conversation');
  const suggestions = h('div', { class: 'an-suggest', 'aria-label': 'Suggested questions' });
  const base = ['How are my services?', 'What happened in the last hour?', 'What did prp do?',
    'Will anything breach its SLO?'];
  const live = []; // questions about what just happened, newest first

  function draw() {
    log.replaceChildren(...(state.messages.length ? state.messages.map(messageEl)
      : [empty('Ask a question, or summarize the selected time range.')]));
  }
  function scrollDown() { log.scrollTop = log.scrollHeight; }
  function drawSuggestions() {
    suggestions.replaceChildren(...[...live, ...base].slice(0, 6).map((q) =>
      h('button', { type: 'button', class: 'an-chip', disabled: busy, onclick: () => ask(q) }, q)));
  }
  function setBusy(b) {
    busy = b;
    send.disabled = summarizeBtn.disabled = rcaBtn.disabled = newConv.disabled = b;
    drawSuggestions();
  }
  function add(m, conversationId) {
    m.ts = m.ts || new Date().toISOString();
    // storage is the transcript: re-read it, so an answer that came in after an
    // earlier visit of the view (or of a view left before its answer) is kept
    const s = load();
    const shown = state.messages.length;
    if (conversationId) s.conversation_id = conversationId;
    s.messages.push(m);
    save(s);
    if (!alive) return;
    const caughtUp = s.messages.length === shown + 1;
    state = s;
    if (!caughtUp) { draw(); scrollDown(); return; }
    if (s.messages.length === 1) log.replaceChildren();
    log.append(messageEl(m));
    scrollDown();
  }

  // One request at a time: the pending line says so, and the buttons wait.
  async function run(userText, call) {
    if (busy) return;
    if (userText) add({ from: 'user', text: userText });
    setBusy(true);
    const pending = h('div', { class: 'an-pending', role: 'status' }, 'thinking…');
    log.append(pending);
    scrollDown();
    let m;
    try {
      m = await call();
    } catch (e) {
      m = { from: 'analyst', kind: 'error', text: e.message || String(e) };
    }
    pending.remove();
    const conv = m.conversation_id;
    delete m.conversation_id;
    add(m, conv);
    if (alive) setBusy(false);
  }

  function ask(q) {
    const query = q.trim();
    if (!query) return;
    run(query, async () => {
      const body = { query };
      const conv = load().conversation_id;
      if (conv) body.conversation_id = conv;
      const r = await ctx.api.post('/chat', body);
      return { from: 'analyst', kind: 'answer', text: r.answer, confidence: r.confidence,
        sources: r.sources || [], ts: r.timestamp, conversation_id: r.conversation_id };
    });
  }

  function submit() {
    if (busy) return;
    const q = input.value;
    if (!q.trim()) { input.focus(); return; }
    input.value = '';
    ask(q);
  }

  summarizeBtn.addEventListener('click', () => {
    const range = ctx.range;
    run(`Summarize the last ${range}.`, async () => {
      const r = await ctx.api.post('/summarize', { time_range: range });
      return { from: 'analyst', kind: 'summary', range, text: r.summary, incidents: r.incident_count,
        affected: r.affected_services || [], severity: r.severity_breakdown || {}, ts: r.timestamp };
    });
  });

  rcaBtn.addEventListener('click', () => {
    const range = ctx.range;
    run(`Find the root cause of the last ${range}.`, async () => {
      const r = await ctx.api.post('/rca', { time_range: range });
      return { from: 'analyst', kind: 'rca', range, text: r.rca, confidence: r.confidence,
        cause: r.root_cause || {},
        suspects: (r.suspected_services || []).slice(0, 5).map((s) => ({ service: s.service, score: s.score,
          role: s.role, evidence: (s.evidence || []).slice(0, 4) })),
        events: (r.correlated_events || []).slice(0, 12), ts: r.timestamp };
    });
  });

  const form = h('form', { class: 'an-form', onsubmit: (e) => { e.preventDefault(); submit(); } },
    input, send);
  input.addEventListener('keydown', (e) => {
    // Enter sends, Shift+Enter is a new line; an IME's Enter only ends the composition
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
  });

  newConv.addEventListener('click', () => {
    state = { conversation_id: null, messages: [] };
    save(state);
    draw();
    input.focus();
  });

  root.replaceChildren(
    h('div', { class: 'row spread' }, h('h1', {}, 'Analyst'),
      h('div', { class: 'row' }, summarizeBtn, rcaBtn, newConv)),
    h('p', { class: 'an-hint' }, `Summaries and root cause analyses cover the selected time range (${ctx.range}).`),
    log, suggestions, form);
  draw();
  drawSuggestions();
  scrollDown();

  // a new anomaly suggests the question an operator would ask next
  const off = ctx.live.on('anomaly.detected', (ev) => {
    const s = ev.data?.service;
    if (!s) return;
    const q = `Why is ${s} ${/latency/.test(ev.data.metric || '') ? 'slow' : 'failing'}?`;
    const i = live.indexOf(q);
    if (i >= 0) live.splice(i, 1);
    live.unshift(q);
    live.length = Math.min(live.length, 3);
    drawSuggestions();
  });
  return () => { alive = false; off(); };
}
