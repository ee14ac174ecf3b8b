// #/actions: what prp did (and was asked to do), filtered and paged; rows
// change live as actions end, and unfinished ones are followed until they
// do. Operators and admins can run an action by hand, after a confirmation
// that says exactly what will run where.

import { h, fmt, badge, empty, toDate } from '../dom.js';
import { qs } from '../api.js';
import { serviceNames, when } from './anomalies.js';

export const title = 'Actions';

const TYPES = ['restart', 'scale', 'circuit_breaker', 'rate_limit', 'alert', 'webhook', 'exec'];
const STATUSES = ['pending', 'running', 'succeeded', 'failed', 'timed_out', 'skipped'];
const ACTIVE = new Set(['pending', 'running']);
const FILTERS = ['service', 'action', 'status'];
const PAGE = 50;
const POLL_MS = 2000; // unfinished actions: their start is not an event
const POLL_MAX = 3;   // rows followed per round: each is a request, and keys are rate-limited
const BACKOFF_MS = 15000; // after a 429
const COLS = 9;

const DURATION_RE = /^\d+(\.\d+)?(ms|s|m|h|d)?$/;

// The parameter fields of each type (docs/policies.md, "Actions"); `via`
// fields are not parameters themselves but decide how others are sent.
const PARAMS = {
  restart: [],
  scale: [
    { name: 'mode', via: true, label: 'How', kind: 'select', options: [['scale_up_by', 'Add replicas'], ['replicas', 'Set the replica count']] },
    { name: 'count', via: true, label: 'Replicas', kind: 'number', min: 0, max: 1000, value: '1', required: true },
    { name: 'min', label: 'Minimum (optional)', kind: 'number', min: 0, max: 1000 },
    { name: 'max', label: 'Maximum (optional)', kind: 'number', min: 1, max: 1000 },
  ],
  circuit_breaker: [
    { name: 'state', label: 'State', kind: 'select', options: [['open', 'open'], ['closed', 'closed']] },
    { name: 'duration', label: 'Open for (60s, 5m…)', kind: 'duration', value: '60s' },
  ],
  rate_limit: [
    { name: 'limit', label: 'New connections per window', kind: 'number', min: 0.001, step: 'any', required: true },
    { name: 'window', label: 'Window (1s, 1m…)', kind: 'duration', value: '1s' },
  ],
  alert: [
    { name: 'channel', label: 'Channel', kind: 'text', value: 'log' },
    { name: 'severity', label: 'Severity', kind: 'select', options: [['info', 'info'], ['warning', 'warning'], ['critical', 'critical']], value: 'warning' },
    { name: 'message', label: 'Message (optional; {service}, {reason} are filled in)', kind: 'text' },
  ],
  webhook: [
    { name: 'webhook_id', label: 'Registered webhook id', kind: 'text', list: 'action-webhooks' },
    { name: 'url', label: 'or a URL (http:// or https://)', kind: 'url' },
  ],
  exec: [
    { name: 'command', label: 'Command (exactly as on the allow-list)', kind: 'text', required: true },
  ],
};

function readFilters() {
  const p = new URLSearchParams(location.hash.split('?')[1] || '');
  const f = {};
  for (const k of FILTERS) f[k] = p.get(k) || '';
  return f;
}

function passes(a, f) {
  return (!f.service || a.service === f.service) && (!f.action || a.action === f.action)
    && (!f.status || a.status === f.status);
}

function compact(params) {
  const parts = Object.entries(params || {}).map(([k, v]) =>
    `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return parts.join(', ');
}

function duration(a) {
  const from = toDate(a.started_at || a.created_at);
  if (!from) return '–';
  const to = toDate(a.completed_at);
  if (to) return fmt.duration(Math.max(0, (to - from) / 1000));
  return ACTIVE.has(a.status) && a.started_at ? fmt.duration((Date.now() - from) / 1000) + '…' : '–';
}

function select(id, label, options, value, onchange) {
  return h('div', { class: 'field' }, h('label', { for: id }, label),
    h('select', { id, name: id, onchange },
      options.map(([v, t]) => h('option', { value: v, selected: v === value }, t))));
}

function pre(v) {
  if (v === null || v === undefined || v === '') return empty('None.');
  return h('pre', { class: 'action-out', tabindex: 0 }, typeof v === 'string' ? v : JSON.stringify(v, null, 2));
}

export async function render(root, _params, ctx) {
  const f = readFilters();
  const expanded = new Set();
  let cursor = null;
  let seq = 0;
  let poll = null;
  let gone = false;

  const services = await serviceNames(ctx);
  const filterServices = f.service && !services.includes(f.service) ? [...services, f.service] : services;

  const tbody = h('tbody', {});
  const count = h('p', { class: 'anom-count' });
  const errorBox = h('div', { role: 'alert' });
  const more = h('button', { type: 'button', hidden: true, onclick: () => load(true) }, 'Load more');
  const announce = h('p', { class: 'sr-only', role: 'status', 'aria-live': 'polite' });

  const onFilter = (key) => (e) => {
    f[key] = e.target.value;
    history.replaceState(null, '', '#/actions' + qs(f)); // no hashchange: no re-render
    load(false);
  };

  const rowOf = (id) => tbody.querySelector(`tr[data-action-id="${id}"]`);

  function rowFor(a, fresh) {
    const id = a.action_id;
    const open = expanded.has(String(id));
    const btn = h('button', { type: 'button', class: 'expand', 'aria-expanded': String(open),
      'aria-controls': `action-detail-${id}`, 'aria-label': `Details of action ${id}`,
      onclick: () => toggle(String(id)) }, open ? '▾' : '▸');
    const reason = a.reason || '';
    const params = compact(a.parameters);
    return h('tr', { class: fresh ? 'fresh' : null, dataset: { actionId: id, status: a.status } },
      h('td', {}, h('time', { datetime: a.created_at || '', title: fmt.dateTime(a.created_at) }, when(a.created_at))),
      h('td', { class: 'col-opt' }, a.policy_name ? a.policy_name : h('em', {}, 'manual')),
      h('td', {}, a.service),
      h('td', {}, h('code', {}, a.action)),
      h('td', { class: 'clip col-opt', title: params }, params ? h('code', {}, params) : '–'),
      h('td', { class: 'clip col-opt', title: reason }, reason || '–'),
      h('td', {}, badge(a.status)),
      h('td', { class: 'num' }, duration(a)),
      h('td', {}, btn));
  }

  function detailRow(id, content) {
    return h('tr', { class: 'action-detail', id: `action-detail-${id}`, dataset: { detailFor: id } },
      h('td', { colspan: COLS }, content));
  }

  function detailBody(a) {
    return h('div', { class: 'grid wide' },
      h('section', {}, h('h3', {}, 'Result'), pre(a.result)),
      h('section', {}, h('h3', {}, 'Logs'), pre(a.logs)),
      h('dl', { class: 'kv' },
        h('dt', {}, 'Action id'), h('dd', {}, String(a.action_id)),
        h('dt', {}, 'Policy'), h('dd', {}, a.policy_name || 'manual'),
        h('dt', {}, 'Started'), h('dd', {}, fmt.dateTime(a.started_at)),
        h('dt', {}, 'Completed'), h('dd', {}, fmt.dateTime(a.completed_at)),
        h('dt', {}, 'Parameters'), h('dd', {}, h('code', {}, JSON.stringify(a.parameters || {}))),
        h('dt', {}, 'Reason'), h('dd', {}, a.reason || '–')));
  }

  // Replaces a row (and its open detail) with the record @a; inserts it when new.
  function put(a, { fresh = false, detail = null } = {}) {
    const id = String(a.action_id);
    const old = rowOf(id);
    const tr = rowFor(a, fresh && !old);
    if (old) {
      // a keyboard user on this row's button stays there across the 2 s refreshes
      const focused = old.contains(document.activeElement);
      old.replaceWith(tr);
      if (focused) tr.querySelector('button.expand').focus();
    } else {
      tbody.querySelector('.empty-row')?.remove();
      tbody.prepend(tr);
    }
    if (expanded.has(id)) {
      const d = tbody.querySelector(`tr[data-detail-for="${id}"]`);
      const body = detail ? detailBody(detail) : null;
      if (d && body) d.firstChild.replaceChildren(body);
      else if (!d) tr.after(detailRow(id, body || h('p', { class: 'loading' }, 'Loading…')));
    }
  }

  async function fetchDetail(id) {
    try {
      const a = await ctx.api.get(`/actions/${id}/status`);
      if (gone || !expanded.has(id)) return;
      put(a, { detail: a });
    } catch (e) {
      if (gone || e.status === 401) return;
      const d = tbody.querySelector(`tr[data-detail-for="${id}"]`);
      d?.firstChild.replaceChildren(h('p', { class: 'error', role: 'alert' }, `Could not load action ${id}: ${e.message}`));
    }
  }

  function toggle(id) {
    const tr = rowOf(id);
    if (expanded.has(id)) {
      expanded.delete(id);
      tbody.querySelector(`tr[data-detail-for="${id}"]`)?.remove();
      const b = tr?.querySelector('button.expand');
      if (b) { b.setAttribute('aria-expanded', 'false'); b.textContent = '▸'; }
      return;
    }
    expanded.add(id);
    const b = tr.querySelector('button.expand');
    b.setAttribute('aria-expanded', 'true');
    b.textContent = '▾';
    tr.after(detailRow(id, h('p', { class: 'loading' }, 'Loading…')));
    fetchDetail(id);
  }

  function summary() {
    const n = tbody.querySelectorAll('tr[data-action-id]').length;
    count.textContent = `${n} shown, created in the last ${ctx.range}${cursor ? ' (more below)' : ''}`;
  }

  // Follows the newest pending and running rows every 2 s, and stops once
  // none is left; the action.* events end them too.
  function follow(delay = POLL_MS) {
    if (poll || gone) return;
    const ids = [...tbody.querySelectorAll('tr[data-action-id]')]
      .filter((tr) => ACTIVE.has(tr.dataset.status)).map((tr) => tr.dataset.actionId);
    if (!ids.length) return;
    poll = setTimeout(async () => {
      let next = POLL_MS;
      await Promise.all(ids.slice(0, POLL_MAX).map(async (id) => {
        try {
          const a = await ctx.api.get(`/actions/${id}/status`);
          if (!gone && rowOf(id)) put(a, { detail: a });
        } catch (e) {
          if (e.status === 429) next = BACKOFF_MS; // else the next round tries again
        }
      }));
      poll = null;
      follow(next);
    }, delay);
  }

  async function load(append) {
    const my = ++seq;
    more.disabled = true;
    try {
      const doc = await ctx.api.get('/actions/history' + qs({ ...f, since: ctx.range, limit: PAGE,
                                                                cursor: append ? cursor : '' }));
      if (my !== seq || gone) return;
      errorBox.replaceChildren();
      if (!append) { tbody.replaceChildren(); expanded.clear(); }
      for (const a of doc.actions || []) {
        if (!rowOf(a.action_id)) tbody.append(rowFor(a, false));
      }
      cursor = doc.next_cursor || null;
      if (!tbody.querySelector('tr[data-action-id]')) {
        tbody.replaceChildren(h('tr', { class: 'empty-row' }, h('td', { colspan: COLS },
          empty(Object.values(f).some(Boolean) ? 'No action matches these filters in this range.'
                                               : 'No actions in this range.'))));
      }
    } catch (e) {
      if (my !== seq || gone || e.status === 401) return;
      if (!append) { tbody.replaceChildren(); cursor = null; }
      errorBox.replaceChildren(h('p', { class: 'view-error' }, `Actions could not be loaded: ${e.message}`));
    }
    more.hidden = !cursor;
    more.disabled = false;
    summary();
    follow();
  }

  function onEvent(ev) {
    const a = ev.data || {};
    if (a.action_id === undefined) return;
    const id = String(a.action_id);
    if (rowOf(id)) {
      put(a);
      if (expanded.has(id)) fetchDetail(id); // events carry no logs
    } else if (passes(a, f)) {
      put(a, { fresh: true });
      announce.textContent = `Action ${a.action} on ${a.service} ${a.status}`;
      summary();
    }
  }

  const head = h('div', { class: 'row actions-head' }, h('h1', {}, 'Actions'), count);
  const filters = h('form', { class: 'row filters', 'aria-label': 'Filter actions', onsubmit: (e) => e.preventDefault() },
    select('actions-filter-service', 'Service', [['', 'All services'], ...filterServices.map((s) => [s, s])], f.service, onFilter('service')),
    select('actions-filter-action', 'Action', [['', 'Any'], ...TYPES.map((t) => [t, t])], f.action, onFilter('action')),
    select('actions-filter-status', 'Status', [['', 'Any'], ...STATUSES.map((s) => [s, s])], f.status, onFilter('status')));

  const parts = [head, filters];
  if (ctx.can('operator')) {
    const dialog = executeDialog(ctx, services, f.service, async (res, what) => {
      ctx.toast(`Action ${res.action_id} (${what}) ${res.status === 'failed' ? 'failed at once' : 'queued'}.`,
                res.status === 'failed' ? 'error' : 'ok');
      try {
        const a = await ctx.api.get(`/actions/${res.action_id}/status`);
        if (gone) return;
        if (passes(a, f)) { put(a, { fresh: true }); summary(); follow(); }
        else ctx.toast('The filters hide it: clear them to see it.', 'info');
      } catch (e) {
        if (!gone && e.status !== 401) ctx.toast(`Action ${res.action_id}: ${e.message}`, 'error');
      }
    });
    head.append(h('button', { type: 'button', id: 'action-execute', class: 'primary', onclick: () => dialog.open() },
      'Run an action…'));
    parts.push(dialog.el);
  }

  root.replaceChildren(...parts, errorBox,
    h('div', { class: 'table-wrap' }, h('table', { class: 'actions' },
      h('caption', { class: 'sr-only' }, 'Actions, newest first'),
      h('thead', {}, h('tr', {}, ['Created', 'Policy', 'Service', 'Action', 'Parameters', 'Reason', 'Status', 'Duration', 'Details']
        .map((c, i) => h('th', { scope: 'col', class: [i === 7 ? 'num' : null, [1, 4, 5].includes(i) ? 'col-opt' : null] },
          i === 8 ? h('span', { class: 'sr-only' }, c) : c)))),
      tbody)),
    h('div', { class: 'pager' }, more),
    announce);

  const offs = [ctx.live.on('action.executed', onEvent), ctx.live.on('action.failed', onEvent)];
  await load(false);
  return () => { gone = true; seq++; offs.forEach((off) => off()); clearTimeout(poll); };
}

// The manual execution dialog: the form, then a confirmation naming what
// will run on which service. @done(response, "type on service") after a 202.
function executeDialog(ctx, services, preset, done) {
  const err = h('p', { id: 'action-error', class: 'error', role: 'alert' });
  const type = h('select', { id: 'action-type', name: 'action', required: true },
    TYPES.map((t) => h('option', { value: t }, t)));
  // no service chosen by default: running on the first of a list by mistake is too easy
  const service = h('select', { id: 'action-service', name: 'service', required: true },
    h('option', { value: '' }, services.length ? 'Choose a service…' : 'no service reported yet'),
    services.map((s) => h('option', { value: s, selected: s === preset }, s)));
  const reason = h('input', { id: 'action-reason', name: 'reason', type: 'text', maxlength: 500,
    placeholder: 'why: kept with the action and in the audit log' });
  const fields = h('fieldset', { class: 'action-params' });
  const webhooks = h('datalist', { id: 'action-webhooks' });

  function buildFields() {
    const defs = PARAMS[type.value];
    fields.replaceChildren(h('legend', {}, 'Parameters'),
      ...(defs.length ? [] : [h('p', { class: 'empty' }, `${type.value} takes no parameters.`)]),
      ...defs.map((d) => {
        const id = `param-${d.name}`;
        const input = d.kind === 'select'
          ? h('select', { id, name: d.name }, d.options.map(([v, t]) => h('option', { value: v, selected: v === d.value }, t)))
          : h('input', { id, name: d.name, type: d.kind === 'number' ? 'number' : d.kind === 'url' ? 'url' : 'text',
            min: d.min, max: d.max, step: d.step || (d.kind === 'number' ? '1' : null), value: d.value || '',
            list: d.list, required: d.required, spellcheck: 'false', autocomplete: 'off' });
        return h('div', { class: 'field' }, h('label', { for: id }, d.label), input);
      }));
    const mode = fields.querySelector('[name="mode"]');
    if (mode) { // scale: the count means "add" or "set"
      const label = () => { fields.querySelector('label[for="param-count"]').textContent = mode.value === 'replicas' ? 'Replica count' : 'Replicas to add'; };
      mode.addEventListener('change', label);
      label();
    }
  }
  type.addEventListener('change', () => { err.textContent = ''; buildFields(); });
  buildFields();

  // The parameters as the API takes them, or an Error saying which field is wrong.
  function params() {
    const out = {};
    const val = (n) => fields.querySelector(`[name="${n}"]`)?.value.trim() ?? '';
    for (const d of PARAMS[type.value]) {
      const v = val(d.name);
      if (d.via) continue;
      if (v === '') { if (d.required) throw new Error(`${d.label}: required`); continue; }
      if (d.kind === 'number') {
        const n = Number(v);
        if (!Number.isFinite(n) || (d.min !== undefined && n < d.min) || (d.max !== undefined && n > d.max)) {
          throw new Error(`${d.name}: a number${d.max !== undefined ? ` from ${d.min} to ${d.max}` : ' above 0'}`);
        }
        out[d.name] = n;
      } else if (d.kind === 'duration') {
        if (!DURATION_RE.test(v)) throw new Error(`${d.name}: a duration such as 30s, 5m or 1h`);
        out[d.name] = v;
      } else out[d.name] = v;
    }
    if (type.value === 'scale') {
      const n = Number(val('count'));
      const mode = val('mode');
      if (!Number.isInteger(n) || n < (mode === 'replicas' ? 0 : 1) || n > 1000) {
        throw new Error(`replicas: a whole number from ${mode === 'replicas' ? 0 : 1} to 1000`);
      }
      out[mode] = n;
      if (out.min !== undefined && out.max !== undefined && out.min > out.max) throw new Error('min is above max');
    }
    if (type.value === 'webhook' && !out.url === !out.webhook_id) {
      throw new Error('webhook: give either a registered webhook id or a URL (one of them)');
    }
    if (out.url && !/^https?:\/\/./.test(out.url)) throw new Error('url: http:// or https://');
    return out;
  }

  const form = h('form', { id: 'action-form', novalidate: true },
    h('div', { class: 'action-grid' },
      h('div', { class: 'field' }, h('label', { for: 'action-type' }, 'Action'), type),
      h('div', { class: 'field' }, h('label', { for: 'action-service' }, 'Service'), service)),
    h('div', { class: 'field' }, h('label', { for: 'action-reason' }, 'Reason'), reason),
    fields, webhooks, err,
    h('div', { class: 'row dialog-buttons' },
      h('button', { type: 'button', onclick: () => dlg.close() }, 'Cancel'),
      h('button', { type: 'submit', class: 'primary', id: 'action-review' }, 'Review…')));

  const what = h('div', { class: 'confirm-what' });
  const confirmHead = h('h3', { id: 'action-confirm-title', tabindex: -1 }, 'Run this action?');
  const confirmBtn = h('button', { type: 'button', id: 'action-confirm', class: 'danger' }, 'Run');
  const back = h('button', { type: 'button' }, 'Back');
  const step2 = h('div', { class: 'confirm-step', hidden: true, 'aria-labelledby': 'action-confirm-title', role: 'group' },
    confirmHead, what, h('div', { class: 'row dialog-buttons' }, back, confirmBtn));

  const dlg = h('dialog', { id: 'action-dialog', 'aria-labelledby': 'action-dialog-title' },
    h('h2', { id: 'action-dialog-title' }, 'Run an action'), form, step2);

  let body = null;
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    err.textContent = '';
    if (!service.value) {
      err.textContent = services.length ? 'Service: choose one.' : 'Service: no service has been reported by the agents yet.';
      service.focus();
      return;
    }
    let p;
    try { p = params(); } catch (x) { err.textContent = x.message; return; }
    body = { action: type.value, service: service.value, parameters: p };
    if (reason.value.trim()) body.reason = reason.value.trim();
    const ps = Object.keys(p).length ? JSON.stringify(p) : null;
    what.replaceChildren(
      h('p', {}, 'This runs ', h('code', {}, body.action), ' on ', h('strong', {}, body.service), ' now',
        ps ? [' with ', h('code', {}, ps)] : ' with no parameters', '.'),
      h('p', {}, 'Reason: ', body.reason || h('em', {}, 'manual (none given)')),
      body.action === 'restart' || body.action === 'circuit_breaker' || body.action === 'exec'
        ? h('p', { class: 'warn-text' }, 'This affects live traffic.') : '');
    confirmBtn.textContent = `Run ${body.action} on ${body.service}`;
    form.hidden = true;
    step2.hidden = false;
    confirmHead.focus();
  });
  back.addEventListener('click', () => { step2.hidden = true; form.hidden = false; type.focus(); });
  confirmBtn.addEventListener('click', async () => {
    confirmBtn.disabled = back.disabled = true;
    confirmBtn.textContent = 'Running…';
    try {
      const res = await ctx.api.post('/actions/execute', body);
      dlg.close();
      done(res, `${body.action} on ${body.service}`);
    } catch (e) {
      if (e.status === 401) return;
      // back to the form, with the API's word on what is wrong
      step2.hidden = true;
      form.hidden = false;
      err.textContent = `${e.status ? e.status + ': ' : ''}${e.message}`;
    } finally {
      confirmBtn.disabled = back.disabled = false;
    }
  });
  dlg.addEventListener('close', () => { step2.hidden = true; form.hidden = false; });

  return {
    el: dlg,
    open() {
      err.textContent = '';
      form.hidden = false;
      step2.hidden = true;
      dlg.showModal();
      type.focus();
      // registered hooks as suggestions for the webhook id; not needed for anything else
      ctx.api.get('/webhooks').then((d) => {
        webhooks.replaceChildren(...(d.webhooks || []).map((w) => h('option', { value: w.id }, w.url || w.name || w.id)));
      }, () => {});
    },
  };
}
