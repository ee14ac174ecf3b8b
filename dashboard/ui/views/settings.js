// Administration: API keys, webhooks and the audit log (admins only; the
// router refuses the view to others). A new key is shown once, here, and
// never again: the aggregator keeps only its hash.

import { h, table, badge, fmt, confirmDialog } from '../dom.js';

export const title = 'Settings';

const EVENTS = ['anomaly.detected', 'anomaly.resolved', 'incident.started', 'incident.resolved',
  'prediction.breach', 'action.executed', 'action.failed', 'policy.changed', 'webhook.test'];

function field(label, control, hint) {
  return h('label', { class: 'field' }, h('span', {}, label), control, hint ? h('small', { class: 'set-hint' }, hint) : null);
}

// A table that stays in the page when it has no rows (its id is a hook for
// scripts), saying so in its one row.
function tableOf(columns, rows, rowAttrs, attrs, none) {
  const wrap = table(columns, rows, rowAttrs, { ...attrs, class: 'pas-stack' });
  // each cell names its column, for the stacked layout of narrow screens (app.css)
  for (const tr of wrap.querySelectorAll('tbody tr')) {
    [...tr.children].forEach((td, i) => {
      if (i > 0 && typeof columns[i].label === 'string' && !columns[i].bare) td.dataset.label = columns[i].label;
    });
  }
  if (!rows.length) {
    wrap.querySelector('tbody').append(h('tr', { class: 'set-none' },
      h('td', { colspan: columns.length, class: 'empty' }, none)));
  }
  return wrap;
}

function errorLine(msg) {
  return h('p', { class: 'error', role: 'alert' }, msg);
}

// A time cell: the time in the browser's zone, the full date as a hint.
function when(t, none = '–') {
  return t ? h('time', { datetime: t, title: fmt.dateTime(t) }, fmt.ago(t)) : none;
}

// Copies @text; the Clipboard API needs a secure context, so fall back to a selection.
async function copy(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    input.select();
    return document.execCommand('copy');
  }
}

export async function render(root, params, ctx) {
  let alive = true;
  const timers = new Set();
  const keyNames = new Map(); // "key:3" → "ops-bot", for the audit log's actors
  let myKeyId = null;

  // ================= keys =================
  const keysBox = h('div', {});
  const keyShown = h('div', { 'aria-live': 'polite' });
  const showRevoked = h('input', { type: 'checkbox', id: 'keys-revoked' });
  let allKeys = [];

  function drawKeys() {
    const keys = showRevoked.checked ? allKeys : allKeys.filter((k) => !k.revoked_at);
    keysBox.replaceChildren(tableOf([
      { label: 'Name', value: (k) => [h('b', {}, k.name), k.id === myKeyId ? h('span', { class: 'set-me' }, ' (this key)') : '',
        k.description ? h('div', { class: 'set-muted' }, k.description) : null] },
      { label: 'Role', value: (k) => h('span', { class: 'badge' }, k.role) },
      { label: 'Created', value: (k) => when(k.created_at) },
      { label: 'Last used', value: (k) => when(k.last_used_at, 'never') },
      { label: 'Access', bare: true, class: 'set-opscell', value: (k) => (k.revoked_at
        ? h('span', { class: 'badge b-disabled', title: fmt.dateTime(k.revoked_at) }, 'revoked')
        : h('button', { type: 'button', class: 'danger', 'aria-label': `Revoke ${k.name}`,
          onclick: (e) => revokeKey(k, e.currentTarget) }, 'Revoke')) },
    ], keys, (k) => ({ dataset: { keyId: k.id }, class: k.revoked_at ? 'set-revoked' : null }), { id: 'keys-table' }, 'No keys.'));
  }

  async function loadKeys() {
    try {
      // revoked ones too, always: the audit log names their past acts by them
      const r = await ctx.api.get('/keys?include_revoked=true');
      if (!alive) return;
      allKeys = r.keys || [];
      for (const k of allKeys) keyNames.set('key:' + k.id, k.name);
      drawKeys();
    } catch (e) {
      if (alive) keysBox.replaceChildren(errorLine('The keys could not be read: ' + e.message));
    }
  }

  async function revokeKey(k, btn) {
    const mine = k.id === myKeyId;
    const yes = await confirmDialog(`Revoke the key ${k.name} (${k.role})? Every client using it is refused from now on.` +
      (mine ? ' It is the key this dashboard is signed in with: you will be signed out.' : ''), 'Revoke');
    if (!yes) { btn.focus(); return; }
    btn.disabled = true;
    try {
      await ctx.api.del('/keys/' + k.id);
      ctx.toast(`Key ${k.name} revoked.`, 'ok');
      if (keyShown.firstChild?.dataset.keyId === String(k.id)) keyShown.replaceChildren();
      loadKeys();
      loadAudit(true);
    } catch (e) {
      btn.disabled = false;
      ctx.toast(`Revoking ${k.name}: ${e.message}`, 'error');
    }
  }

  function showNewKey(r) {
    const out = h('input', { id: 'key-created-value', class: 'set-secret', readonly: true, value: r.key,
      'aria-label': 'The new key', spellcheck: 'false' });
    const copyBtn = h('button', { type: 'button', id: 'key-copy', onclick: async () => {
      const ok = await copy(r.key, out);
      copyBtn.textContent = ok ? 'Copied' : 'Copy failed: select and copy by hand';
    } }, 'Copy');
    const box = h('div', { id: 'key-created', class: 'panel set-newkey', role: 'region', 'aria-label': 'New key', tabindex: '-1',
      dataset: { keyId: r.id } },
      h('p', {}, h('b', {}, `Key ${r.name} (${r.role}) created.`)),
      h('p', { class: 'set-warn' }, 'Copy it now: it is not shown again. prp keeps only its hash.'),
      h('div', { class: 'row' }, out, copyBtn,
        h('button', { type: 'button', onclick: () => keyShown.replaceChildren() }, 'Done')));
    keyShown.replaceChildren(box);
    box.focus();
    out.select();
  }

  const keyForm = h('form', { id: 'key-create', class: 'panel set-form', 'aria-label': 'Create a key' },
    h('h3', {}, 'New key'),
    h('div', { class: 'row' },
      field('Name', h('input', { name: 'name', required: true, maxlength: 63, autocomplete: 'off' })),
      field('Description', h('input', { name: 'description', maxlength: 255, autocomplete: 'off' })),
      field('Role', h('select', { name: 'role' },
        h('option', { value: 'viewer' }, 'viewer (reads)'),
        h('option', { value: 'operator' }, 'operator (reads, acts, changes policies)'),
        h('option', { value: 'admin' }, 'admin (everything, keys)'))),
      h('button', { type: 'submit', class: 'primary set-submit' }, 'Create key')),
    h('div', { class: 'set-form-error', 'aria-live': 'assertive' }));
  keyForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = keyForm.elements;
    const btn = keyForm.querySelector('button[type=submit]');
    const errBox = keyForm.querySelector('.set-form-error');
    const body = { name: f.name.value.trim(), role: f.role.value };
    if (f.description.value.trim()) body.description = f.description.value.trim();
    errBox.replaceChildren();
    if (!body.name) { errBox.replaceChildren(errorLine('Give the key a name.')); f.name.focus(); return; }
    btn.disabled = true;
    try {
      const r = await ctx.api.post('/keys', body);
      if (!alive) return;
      keyForm.reset();
      showNewKey(r);
      loadKeys();
      loadAudit(true);
    } catch (err) {
      if (alive) errBox.replaceChildren(errorLine(err.message));
    }
    btn.disabled = false;
  });
  showRevoked.addEventListener('change', drawKeys);

  // ================= webhooks =================
  const hooksBox = h('div', {});
  const deliveriesBox = h('div', { 'aria-live': 'polite' });
  let hooks = [];
  let openHook = null; // the hook whose deliveries are shown

  function drawHooks() {
    hooksBox.replaceChildren(tableOf([
      { label: 'URL', value: (w) => h('span', { class: 'set-url' }, w.url) },
      { label: 'Events', value: (w) => ((w.events || []).includes('*') ? 'all events' : (w.events || []).join(', ')) },
      { label: 'Format', value: (w) => w.format || 'json' },
      { label: 'Signed', value: (w) => (w.has_secret ? 'yes' : 'no') },
      { label: 'State', value: (w) => badge(w.enabled ? 'enabled' : 'disabled') },
      { label: 'Manage', bare: true, class: 'set-opscell', value: (w) => h('div', { class: 'row set-ops' },
        h('button', { type: 'button', 'aria-label': `${w.enabled ? 'Disable' : 'Enable'} ${w.url}`,
          onclick: (e) => setHookEnabled(w, !w.enabled, e.currentTarget) }, w.enabled ? 'Disable' : 'Enable'),
        h('button', { type: 'button', disabled: !w.enabled, title: w.enabled ? null : 'Enable it to test it',
          'aria-label': `Send a test to ${w.url}`, onclick: (e) => testHook(w, e.currentTarget) }, 'Test'),
        h('button', { type: 'button', 'aria-label': `Deliveries of ${w.url}`, 'aria-expanded': String(openHook?.id === w.id),
          onclick: () => showDeliveries(w) }, 'Deliveries'),
        h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${w.url}`,
          onclick: (e) => deleteHook(w, e.currentTarget) }, 'Delete')) },
    ], hooks, (w) => ({ dataset: { webhookId: w.id } }), { id: 'webhooks-table' }, 'No webhooks yet.'));
  }

  async function loadHooks() {
    try {
      const r = await ctx.api.get('/webhooks');
      if (!alive) return;
      hooks = r.webhooks || [];
      drawHooks();
    } catch (e) {
      if (alive) hooksBox.replaceChildren(errorLine('The webhooks could not be read: ' + e.message));
    }
  }

  async function setHookEnabled(w, enabled, btn) {
    btn.disabled = true;
    try {
      await ctx.api.put('/webhooks/' + w.id, { enabled });
      ctx.toast(`Webhook ${w.url} ${enabled ? 'enabled' : 'disabled'}.`, 'ok');
      await loadHooks();
      loadAudit(true);
    } catch (e) {
      btn.disabled = false;
      ctx.toast(e.message, 'error');
    }
  }

  async function testHook(w, btn) {
    btn.disabled = true;
    try {
      const r = await ctx.api.post(`/webhooks/${w.id}/test`, {});
      ctx.toast(`Test delivery ${r.delivery_id} queued to ${w.url}.`, 'ok');
      showDeliveries(w);
    } catch (e) {
      ctx.toast(e.message, 'error');
    }
    btn.disabled = false;
  }

  async function deleteHook(w, btn) {
    if (!(await confirmDialog(`Delete the webhook to ${w.url}? Its pending deliveries fail; its log stays.`, 'Delete'))) {
      btn.focus();
      return;
    }
    btn.disabled = true;
    try {
      await ctx.api.del('/webhooks/' + w.id);
      ctx.toast('Webhook deleted.', 'ok');
      if (openHook?.id === w.id) closeDeliveries();
      await loadHooks();
      loadAudit(true);
    } catch (e) {
      btn.disabled = false;
      ctx.toast(e.message, 'error');
    }
  }

  // Deliveries: read on demand, paged by cursor, re-read every 10 s while
  // shown (their progress has no event of its own).
  let delTimer = null;
  function closeDeliveries() {
    openHook = null;
    clearInterval(delTimer);
    timers.delete(delTimer);
    deliveriesBox.replaceChildren();
    drawHooks();
  }

  async function showDeliveries(w, cursor) {
    const first = openHook?.id !== w.id;
    openHook = w;
    if (first) drawHooks();
    let r;
    try {
      r = await ctx.api.get(`/webhooks/${w.id}/deliveries?limit=20` + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
    } catch (e) {
      if (alive && openHook?.id === w.id) {
        deliveriesBox.replaceChildren(h('section', { class: 'panel' }, errorLine('Deliveries: ' + e.message),
          h('button', { type: 'button', onclick: closeDeliveries }, 'Close')));
      }
      return;
    }
    if (!alive || openHook?.id !== w.id) return;
    const list = r.deliveries || [];
    deliveriesBox.replaceChildren(h('section', { class: 'panel set-deliveries', id: 'webhook-deliveries', dataset: { webhookId: w.id } },
      h('div', { class: 'row spread' }, h('h3', {}, 'Deliveries to ', h('span', { class: 'set-url' }, w.url)),
        h('button', { type: 'button', onclick: closeDeliveries }, 'Close')),
      tableOf([
        { label: 'Time', value: (d) => h('time', { datetime: d.timestamp }, fmt.dateTime(d.timestamp)) },
        { label: 'Event', value: (d) => d.event },
        { label: 'Status', value: (d) => badge(d.status) },
        { label: 'HTTP', class: 'num', value: (d) => (d.status_code ?? '–') },
        { label: 'Attempts', class: 'num', value: (d) => fmt.n(d.attempts) },
        { label: 'Detail', value: (d) => d.last_error || (d.next_attempt_at ? 'next attempt ' + fmt.time(d.next_attempt_at)
          : d.completed_at ? 'done ' + fmt.time(d.completed_at) : '') },
      ], list, () => ({}), {}, 'No deliveries yet.'),
      h('div', { class: 'row pager' },
        cursor ? h('button', { type: 'button', onclick: () => showDeliveries(w) }, 'Newest') : null,
        r.next_cursor ? h('button', { type: 'button', onclick: () => showDeliveries(w, r.next_cursor) }, 'Older') : null)));
    clearInterval(delTimer);
    timers.delete(delTimer);
    if (!cursor) { // the newest page follows along; an older page stays still
      delTimer = setInterval(() => { if (openHook?.id === w.id) showDeliveries(w); }, 10000);
      timers.add(delTimer);
    }
  }

  const allEvents = h('input', { type: 'checkbox', name: 'all', checked: true });
  allEvents.defaultChecked = true; // what the form's reset() goes back to
  const eventBoxes = EVENTS.map((ev) => h('input', { type: 'checkbox', name: 'event', value: ev, disabled: true }));
  allEvents.addEventListener('change', () => { for (const b of eventBoxes) b.disabled = allEvents.checked; });
  const format = h('select', { name: 'format' }, ['json', 'slack', 'pagerduty'].map((f) => h('option', { value: f }, f)));
  const routing = field('PagerDuty routing key', h('input', { name: 'routing_key', autocomplete: 'off', spellcheck: 'false' }));
  routing.hidden = true;
  format.addEventListener('change', () => { routing.hidden = format.value !== 'pagerduty'; });

  const enabledBox = h('input', { type: 'checkbox', name: 'enabled', checked: true });
  enabledBox.defaultChecked = true;
  const hookForm = h('form', { id: 'webhook-create', class: 'panel set-form', 'aria-label': 'Add a webhook' },
    h('h3', {}, 'New webhook'),
    h('div', { class: 'row' },
      field('URL', h('input', { name: 'url', type: 'url', required: true, pattern: 'https?://.+', title: 'An http:// or https:// URL', placeholder: 'https://hooks.example.com/prp', class: 'set-wide' })),
      field('Format', format),
      field('Secret (signs each delivery)', h('input', { name: 'secret', autocomplete: 'off', spellcheck: 'false' }),
        'The receiver checks X-Webhook-Signature with it; it is never shown again'),
      routing),
    h('fieldset', { class: 'set-events' }, h('legend', {}, 'Events'),
      h('label', { class: 'set-check' }, allEvents, ' every event, also types added later'),
      eventBoxes.map((b) => h('label', { class: 'set-check' }, b, ' ', b.value))),
    h('div', { class: 'row' },
      h('label', { class: 'set-check' }, enabledBox, ' enabled'),
      h('button', { type: 'submit', class: 'primary' }, 'Add webhook')),
    h('div', { class: 'set-form-error', 'aria-live': 'assertive' }));
  hookForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = hookForm.elements;
    const btn = hookForm.querySelector('button[type=submit]');
    const errBox = hookForm.querySelector('.set-form-error');
    const events = allEvents.checked ? ['*'] : eventBoxes.filter((b) => b.checked).map((b) => b.value);
    errBox.replaceChildren();
    if (!events.length) { errBox.replaceChildren(errorLine('Pick at least one event, or every event.')); return; }
    const body = { url: f.url.value.trim(), events, enabled: f.enabled.checked, format: format.value };
    if (f.secret.value) body.secret = f.secret.value;
    if (format.value === 'pagerduty' && f.routing_key.value) body.routing_key = f.routing_key.value;
    btn.disabled = true;
    try {
      await ctx.api.post('/webhooks', body);
      if (!alive) return;
      hookForm.reset();
      for (const b of eventBoxes) b.disabled = allEvents.checked;
      routing.hidden = true;
      ctx.toast('Webhook added.', 'ok');
      loadHooks();
      loadAudit(true);
    } catch (err) {
      if (alive) errBox.replaceChildren(errorLine(err.message));
    }
    btn.disabled = false;
  });

  // ================= audit =================
  const auditBox = h('div', {});
  const limit = h('select', { id: 'audit-limit', 'aria-label': 'Entries per page' },
    [25, 50, 100, 200].map((n) => h('option', { value: n, selected: n === 50 }, `${n} per page`)));
  const cursors = []; // the cursors of the pages before this one, for "newer"
  let cursor = null;

  // The details of an entry in one line: "name=x, role=viewer".
  function details(d) {
    if (d === null || d === undefined) return '';
    if (typeof d !== 'object') return String(d);
    const skip = new Set(['created_at', 'updated_at', 'last_used_at', 'revoked_at', 'rate_limit', 'tenant']);
    const text = Object.entries(d).filter(([k, v]) => !skip.has(k) && v !== null && v !== '' &&
        !(Array.isArray(v) && !v.length))
      .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`).join(', ');
    return h('span', { class: 'set-details', title: JSON.stringify(d) }, text);
  }

  // policy:6 → a link to that policy (it may be gone: the editor then says so)
  function target(t) {
    const m = /^policy:(\d+)$/.exec(t || '');
    if (m) return h('a', { href: '#/policies/' + m[1] }, t);
    return keyNames.has(t) ? h('span', { title: t }, `key ${keyNames.get(t)}`) : t;
  }

  function actor(a) {
    const name = keyNames.get(a);
    return name ? h('span', { title: a }, name) : a;
  }

  async function loadAudit(reset) {
    if (reset) { cursors.length = 0; cursor = null; }
    let r;
    try {
      r = await ctx.api.get(`/audit?limit=${limit.value}` + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
    } catch (e) {
      if (alive) auditBox.replaceChildren(errorLine('The audit log could not be read: ' + e.message));
      return;
    }
    if (!alive) return;
    const list = r.entries || [];
    auditBox.replaceChildren(
      tableOf([
        { label: 'Time', class: 'set-nowrap', value: (a) => h('time', { datetime: a.timestamp }, fmt.dateTime(a.timestamp)) },
        { label: 'Actor', value: (a) => actor(a.actor) },
        { label: 'Action', value: (a) => h('code', {}, a.action) },
        { label: 'Target', value: (a) => target(a.target) },
        { label: 'Details', value: (a) => details(a.details) },
      ], list, (a) => ({ dataset: { auditId: a.id } }), { id: 'audit-table' }, 'No entries.'),
      h('div', { class: 'row pager' },
        cursors.length ? h('button', { type: 'button', onclick: () => { cursor = cursors.pop(); loadAudit(); } }, 'Newer') : null,
        r.next_cursor ? h('button', { type: 'button', onclick: () => { cursors.push(cursor); cursor = r.next_cursor; loadAudit(); } }, 'Older') : null));
  }
  limit.addEventListener('change', () => loadAudit(true));

  // ================= the page =================
  root.replaceChildren(
    h('h1', {}, 'Settings'),
    h('nav', { class: 'row set-nav', 'aria-label': 'Sections' },
      h('a', { href: '#/settings', onclick: jump('set-keys') }, 'API keys'),
      h('a', { href: '#/settings', onclick: jump('set-hooks') }, 'Webhooks'),
      h('a', { href: '#/settings', onclick: jump('set-audit') }, 'Audit log')),
    h('section', { id: 'set-keys', 'aria-labelledby': 'set-keys-h' },
      h('div', { class: 'row spread' }, h('h2', { id: 'set-keys-h', tabindex: '-1' }, 'API keys'),
        h('label', { class: 'set-check' }, showRevoked, ' show revoked')),
      keyShown, keysBox, keyForm),
    h('section', { id: 'set-hooks', 'aria-labelledby': 'set-hooks-h' },
      h('h2', { id: 'set-hooks-h', tabindex: '-1' }, 'Webhooks'), hooksBox, deliveriesBox, hookForm),
    h('section', { id: 'set-audit', 'aria-labelledby': 'set-audit-h' },
      h('div', { class: 'row spread' }, h('h2', { id: 'set-audit-h', tabindex: '-1' }, 'Audit log'), limit),
      auditBox));

  // which key this dashboard uses, to warn before revoking it (no harm if unknown)
  try { myKeyId = (await ctx.api.post('/validate', {})).key_id ?? null; } catch { /* shown as unknown */ }
  await loadKeys(); // first: the audit log names actors by their keys
  await Promise.all([loadHooks(), loadAudit(true)]);

  // policy changes are audited: the newest page follows them
  const off = ctx.live.on('policy.changed', () => { if (!cursor) loadAudit(); });
  return () => { alive = false; off(); for (const t of timers) clearInterval(t); };
}

// Section links that scroll without changing the route.
function jump(id) {
  return (e) => {
    e.preventDefault();
    const el = document.getElementById(id);
    el?.scrollIntoView({ behavior: 'smooth', block: 'start' });
    el?.querySelector('h2')?.focus({ preventScroll: true });
  };
}
