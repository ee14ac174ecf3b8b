// The policies: the list with each one's switch, the auto-remediation
// switch and "evaluate now". The list is re-read on every policy.changed
// event, so changes made elsewhere (another operator, a file at start)
// show at once.

import { h, table, badge, empty, fmt, confirmDialog } from '../dom.js';

export const title = 'Policies';

// Seconds as a policy writes them: "30 s", "5 min", "1 h", "–" for none.
export function seconds(s) {
  if (typeof s !== 'number' || !Number.isFinite(s)) return '–';
  if (s === 0) return '0 s';
  if (s % 3600 === 0) return s / 3600 + ' h';
  if (s % 60 === 0) return s / 60 + ' min';
  return s + ' s';
}

// The actions of a policy in one line: "circuit_breaker (open, 15 s), alert".
function actionsText(actions) {
  return (actions || []).map((a) => {
    const p = a.parameters || {};
    const bits = Object.entries(p).filter(([k]) => k !== 'message')
      .map(([k, v]) => (k === 'duration' || k === 'window' ? seconds(v) : `${k} ${v}`));
    return bits.length ? `${a.type} (${bits.join(', ')})` : a.type;
  }).join(', ');
}

// "file" with the path as a hint, or "API".
function origin(p) {
  const o = p.origin || '';
  if (o.startsWith('file:')) return h('span', { title: o.slice(5) }, 'file');
  if (o === 'api') return 'API';
  return o || '–';
}

export async function render(root, params, ctx) {
  const operator = ctx.can('operator');
  let status = null;
  let policies = [];
  let alive = true;

  const statusBox = h('div', { class: 'pol-status' });
  const listBox = h('div', {});
  const evalBox = h('div', { 'aria-live': 'polite' });
  const listError = h('p', { class: 'error', role: 'alert', hidden: true });

  // ---- the engine's state: auto-remediation and its counters ----
  function drawStatus() {
    if (!status) { statusBox.replaceChildren(); return; }
    const on = Boolean(status.auto_remediation_enabled);
    const sw = operator
      ? h('button', { id: 'auto-remediation', type: 'button', class: ['pol-switch', on && 'on'],
        'aria-pressed': String(on), title: on ? 'Policies act. Press to only record their decisions.'
          : 'Policies only record their decisions. Press to let them act.',
        onclick: toggle }, 'Auto-remediation: ', h('b', {}, on ? 'on' : 'off'))
      : h('span', { id: 'auto-remediation-state', class: 'pol-state' }, 'Auto-remediation: ',
        badge(on ? 'enabled' : 'disabled'));
    statusBox.replaceChildren(
      h('div', { class: 'row' }, sw,
        operator && h('button', { id: 'policy-evaluate', type: 'button', onclick: evaluate }, 'Evaluate now')),
      h('p', { class: 'pol-facts' },
        `${fmt.n(status.policies_loaded)} policies, ${fmt.n(status.policies_enabled)} enabled · `,
        `remedies in the last hour ${fmt.n(status.actions_last_hour)} of ${fmt.n(status.max_actions_per_hour)} allowed · `,
        `last evaluation ${status.last_check ? fmt.time(status.last_check) : 'never'}`,
        on ? '' : h('span', { class: 'pol-warn' }, ' · decisions are recorded as skipped, nothing runs')));
  }

  async function loadStatus() {
    try {
      status = await ctx.api.get('/status');
    } catch (e) {
      if (!alive) return;
      statusBox.replaceChildren(h('p', { class: 'error', role: 'alert' }, 'Engine status: ' + e.message));
      return;
    }
    if (alive) drawStatus();
  }

  async function toggle(ev) {
    const btn = ev.currentTarget;
    const want = !status.auto_remediation_enabled;
    btn.disabled = true;
    try {
      // the state asked for, not a flip: two operators pressing at once agree
      const r = await ctx.api.post('/toggle', { enabled: want });
      status.auto_remediation_enabled = r.auto_remediation_enabled;
      ctx.toast(`Auto-remediation is ${r.auto_remediation_enabled ? 'on' : 'off'}.`, 'ok');
    } catch (e) {
      ctx.toast('Auto-remediation: ' + e.message, 'error');
    }
    if (!alive) return;
    drawStatus();
    document.getElementById('auto-remediation')?.focus();
  }

  async function evaluate(ev) {
    const btn = ev.currentTarget;
    btn.disabled = true;
    evalBox.replaceChildren(h('p', { class: 'loading' }, 'Evaluating every policy…'));
    try {
      const r = await ctx.api.post('/evaluate', {});
      if (!alive) return;
      const acts = r.actions || [];
      evalBox.replaceChildren(h('section', { class: 'panel pol-eval', 'aria-label': 'Evaluation result' },
        h('p', {}, h('b', {}, 'Evaluated: '), r.message || ''),
        acts.length ? table([
          { label: 'Action', value: (a) => h('a', { href: '#/actions' }, '#' + a.action_id) },
          { label: 'Policy', value: (a) => a.policy_name },
          { label: 'Service', value: (a) => h('a', { href: '#/services/' + encodeURIComponent(a.service) }, a.service) },
          { label: 'Type', value: (a) => a.action },
          { label: 'Status', value: (a) => badge(a.status) },
          { label: 'Reason', value: (a) => a.reason },
        ], acts) : null));
      loadStatus();
    } catch (e) {
      if (alive) evalBox.replaceChildren(h('p', { class: 'error', role: 'alert' }, 'Evaluation failed: ' + e.message));
    }
    btn.disabled = false;
  }

  // ---- the list ----
  async function setEnabled(p, enabled, btn) {
    btn.disabled = true;
    try {
      await ctx.api.put('/policies/' + p.id, { enabled });
      ctx.toast(`${p.name} ${enabled ? 'enabled' : 'disabled'}.`, 'ok');
      await loadList();
      loadStatus();
    } catch (e) {
      btn.disabled = false;
      ctx.toast(`${p.name}: ${e.message}`, 'error');
    }
  }

  async function remove(p, btn) {
    const file = (p.origin || '').startsWith('file:');
    const yes = await confirmDialog(`Delete the policy ${p.name}? It stops acting at once.` +
      (file ? ` It comes from ${p.origin.slice(5)}: it comes back at the next start unless that file changes.` : ''),
    'Delete');
    if (!yes) { btn.focus(); return; }
    btn.disabled = true;
    try {
      await ctx.api.del('/policies/' + p.id);
      ctx.toast(`${p.name} deleted.`, 'ok');
      await loadList();
      loadStatus();
    } catch (e) {
      btn.disabled = false;
      ctx.toast(`${p.name}: ${e.message}`, 'error');
    }
  }

  function open(p) { ctx.navigate('#/policies/' + p.id); }

  function drawList() {
    if (!policies.length) {
      listBox.replaceChildren(empty(operator
        ? 'No policies yet. Create one, or put YAML files in the aggregator\'s policy directory.'
        : 'No policies yet.'));
      return;
    }
    const cols = [
      { label: 'Name', value: (p) => h('a', { href: '#/policies/' + p.id, class: 'pol-name' }, p.name) },
      { label: 'Services', value: (p) => (p.services || []).map((s) => (s === '*' ? 'all' : s)).join(', ') },
      { label: 'Condition', value: (p) => h('code', {}, p.condition) },
      { label: 'Actions', value: (p) => actionsText(p.actions) },
      { label: 'For', class: 'num', value: (p) => seconds(p.for) },
      { label: 'Cooldown', class: 'num', value: (p) => seconds(p.cooldown) },
      { label: 'State', value: (p) => [badge(p.enabled ? 'enabled' : 'disabled'), ' ',
        p.dry_run ? h('span', { class: 'badge b-info', title: 'Decisions are recorded, nothing runs' }, 'dry run') : null] },
      { label: 'Source', value: origin },
    ];
    if (operator) {
      cols.push({ label: 'Manage', class: 'pol-ops', value: (p) => h('div', { class: 'row pol-ops' },
        h('button', { type: 'button', 'aria-label': `${p.enabled ? 'Disable' : 'Enable'} ${p.name}`,
          onclick: (e) => setEnabled(p, !p.enabled, e.currentTarget) }, p.enabled ? 'Disable' : 'Enable'),
        h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${p.name}`,
          onclick: (e) => remove(p, e.currentTarget) }, 'Delete')) });
    }
    const t = table(cols, policies, (p) => ({
      dataset: { policyName: p.name, policyId: p.id },
      class: ['pol-row', !p.enabled && 'pol-off'],
      // the name is the link for keyboards; a click anywhere else on the row opens it too
      onclick: (e) => { if (!e.target.closest('a, button')) open(p); },
    }), { id: 'policies-table', class: 'pas-stack' });
    // each cell names its column, for the stacked layout of narrow screens (app.css)
    for (const tr of t.querySelectorAll('tbody tr')) {
      [...tr.children].forEach((td, i) => { if (i > 0 && cols[i].label !== 'Manage') td.dataset.label = cols[i].label; });
    }
    listBox.replaceChildren(t);
  }

  async function loadList() {
    let r;
    try {
      r = await ctx.api.get('/policies');
    } catch (e) {
      if (!alive) return;
      listError.textContent = 'The policies could not be read: ' + e.message;
      listError.hidden = false;
      return;
    }
    if (!alive) return;
    listError.hidden = true;
    policies = (r.policies || []).slice().sort((a, b) => a.name.localeCompare(b.name));
    drawList();
  }

  root.replaceChildren(
    h('div', { class: 'row spread' },
      h('h1', {}, 'Policies'),
      operator && h('a', { id: 'policy-new', class: 'pol-button primary', href: '#/policies/new' }, 'New policy')),
    statusBox, evalBox, listError, listBox);
  await Promise.all([loadStatus(), loadList()]);

  // policy.changed comes in bursts (a file load, a script): one re-read per burst
  let pending = null;
  const off = ctx.live.on('policy.changed', () => {
    clearTimeout(pending);
    pending = setTimeout(() => { loadList(); loadStatus(); }, 250);
  });
  // the switch and the counters have no event of their own: a slow re-read
  const timer = setInterval(loadStatus, 15000);
  return () => { alive = false; off(); clearTimeout(pending); clearInterval(timer); };
}
