// One policy in YAML: a new one from a template, or an existing one
// written from its JSON record (the API does not give back the text it was
// sent). Saved as YAML, so the aggregator's parser reports errors at their
// line and column in this very text; the editor marks that line.

import { h, badge, empty, fmt } from '../dom.js';

export function title(params) {
  return params.id === 'new' ? 'New policy' : 'Policy';
}

const TEMPLATE = `# A new policy. Lines starting with # are comments.
name: my_policy                 # unique: 1 to 63 of A-Z a-z 0-9 . _ -
service: payments               # or services: ["*"] for every service, or [orders, users]
# metrics: request_rate, error_rate, latency_p50/p95/p99, syscall_error_rate,
# tcp_retransmits, tcp_resets, tcp_connect_failures; also anomaly(latency_p99),
# severity >= warning, predicted_breach < 5m; combine with and, or, not, ( )
condition: "error_rate > 5% and latency_p99 > 500ms"
for: 30s                        # the condition must hold this long
actions:                        # restart, scale, circuit_breaker, rate_limit, alert, webhook, exec
  - type: alert
    parameters: {channel: log, severity: warning, message: "{service}: {reason}"}
cooldown: 5m                    # at most one decision per service in this span
enabled: true
dry_run: true                   # record what it would do, run nothing; false to act
description: what this policy is for
`;

// ---- a small YAML writer for the policy record ----

const RESERVED = /^(true|false|yes|no|on|off|y|n|null|~)$/i;

// A string as a YAML scalar: plain when nothing in it could be read as
// anything else, else double-quoted (a JSON string is a valid YAML one).
function scalar(s) {
  if (/^[A-Za-z_][A-Za-z0-9_./-]*$/.test(s) && !RESERVED.test(s)) return s;
  return JSON.stringify(s);
}

function value(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return scalar(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return '[' + v.map(value).join(', ') + ']';
  return '{' + Object.entries(v).map(([k, x]) => `${scalar(k)}: ${value(x)}`).join(', ') + '}';
}

// Seconds as a policy duration: 30s, 5m, 1h; fractions as 0.5s.
function duration(s) {
  if (typeof s !== 'number') return value(s);
  if (s > 0 && s % 3600 === 0) return s / 3600 + 'h';
  if (s > 0 && s % 60 === 0) return s / 60 + 'm';
  return s + 's';
}

// The YAML of an API policy record: the keys a policy file has, in the
// order the docs write them; id, origin and times are not part of it.
export function policyYaml(p) {
  const out = [`name: ${scalar(p.name)}`];
  const svcs = p.services || (p.service ? [p.service] : []);
  if (svcs.length === 1 && svcs[0] !== '*') out.push(`service: ${scalar(svcs[0])}`);
  else out.push(`services: ${value(svcs)}`);
  out.push(`condition: ${JSON.stringify(p.condition || '')}`);
  out.push(`for: ${duration(p.for || 0)}`);
  out.push('actions:');
  for (const a of p.actions || []) {
    out.push(`  - type: ${scalar(a.type)}`);
    const params = Object.entries(a.parameters || {});
    if (params.length) {
      out.push('    parameters:');
      for (const [k, v] of params) {
        const d = (k === 'duration' || k === 'window') && typeof v === 'number';
        out.push(`      ${scalar(k)}: ${d ? duration(v) : value(v)}`);
      }
    }
  }
  out.push(`cooldown: ${duration(p.cooldown ?? 300)}`);
  out.push(`enabled: ${p.enabled !== false}`);
  out.push(`dry_run: ${Boolean(p.dry_run)}`);
  if (p.description) out.push(`description: ${JSON.stringify(p.description)}`);
  return out.join('\n') + '\n';
}

// ---- the editor: a textarea with a gutter of line numbers ----

function editor(text, readOnly) {
  const ta = h('textarea', { id: 'policy-yaml', class: 'code pol-yaml', spellcheck: 'false',
    autocomplete: 'off', autocapitalize: 'off', wrap: 'off', readonly: readOnly || null,
    'aria-label': 'Policy (YAML)', 'aria-describedby': readOnly ? null : 'policy-yaml-hint' });
  ta.value = text;
  const gutter = h('div', { class: 'pol-gutter', 'aria-hidden': 'true' });
  let bad = 0;
  let escaped = false;

  function lines() {
    const n = ta.value.split('\n').length;
    const frag = [];
    for (let i = 1; i <= n; i++) frag.push(h('span', { class: i === bad ? 'bad' : null }, String(i)));
    gutter.replaceChildren(...frag);
    // the bad line is also tinted in the text: a band in the background that scrolls with it
    ta.classList.toggle('has-bad', bad > 0);
    if (bad > 0) {
      const cs = getComputedStyle(ta);
      const lh = parseFloat(cs.lineHeight) || 20;
      ta.style.setProperty('--bad-top', `${parseFloat(cs.paddingTop) + (bad - 1) * lh}px`);
      ta.style.setProperty('--bad-h', `${lh}px`);
    }
    // tall enough for every line: the page scrolls, not the textarea, so the gutter stays aligned
    ta.rows = Math.max(14, n + 1);
    gutter.scrollTop = ta.scrollTop;
  }

  function indent(shift) {
    const v = ta.value;
    const s = ta.selectionStart;
    const e = ta.selectionEnd;
    if (!shift && !v.slice(s, e).includes('\n')) {
      ta.setRangeText('  ', s, e, 'end');
      return;
    }
    // several lines (or Shift+Tab): indent or outdent each line of the selection
    const from = v.lastIndexOf('\n', s - 1) + 1;
    const block = v.slice(from, e);
    const next = block.split('\n').map((l) => (shift ? l.replace(/^ {1,2}/, '') : '  ' + l)).join('\n');
    ta.setRangeText(next, from, e, 'select');
  }

  ta.addEventListener('input', () => { lines(); });
  ta.addEventListener('scroll', () => { gutter.scrollTop = ta.scrollTop; });
  ta.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') { escaped = true; return; }
    // Tab indents; Escape then Tab leaves the editor, so a keyboard is never trapped in it
    if (ev.key === 'Tab' && !readOnly && !escaped && !ev.ctrlKey && !ev.altKey && !ev.metaKey) {
      ev.preventDefault();
      indent(ev.shiftKey);
      lines();
    }
    escaped = false;
  });
  lines();

  return {
    el: h('div', { class: 'pol-editor' }, gutter, ta),
    ta,
    mark(line) { bad = line; lines(); },
    // puts the caret at line:column and shows it
    goTo(line, column) {
      const rows = ta.value.split('\n');
      let at = 0;
      for (let i = 0; i < Math.min(line - 1, rows.length); i++) at += rows[i].length + 1;
      at += Math.max(0, Math.min((column || 1) - 1, (rows[line - 1] || '').length));
      ta.focus();
      ta.setSelectionRange(at, at);
      gutter.children[line - 1]?.scrollIntoView({ block: 'center' });
    },
  };
}

// ---- the dry run's answer ----

function dryRunResult(r) {
  const yes = Boolean(r.would_trigger);
  const services = r.services || [];
  return h('section', { class: 'panel pol-dry', 'aria-label': 'Dry run result' },
    h('p', {}, h('b', {}, 'Would trigger now: '),
      h('span', { class: ['badge', yes ? 'b-warning' : 'b-ok'], id: 'dry-run-verdict' }, yes ? 'yes' : 'no'),
      services.length ? ` (checked against ${services.length} service${services.length === 1 ? '' : 's'})`
        : ' (no live service it covers has reported: nothing to test against)'),
    h('h3', {}, 'Matched conditions'),
    r.matched_conditions?.length
      ? h('ul', {}, r.matched_conditions.map((c) => h('li', {}, h('code', {}, c))))
      : empty('None.'),
    h('h3', {}, 'Actions it would take'),
    r.actions_to_execute?.length
      ? h('ul', {}, r.actions_to_execute.map((a) => h('li', {}, h('b', {}, a.type), ' ',
        h('code', {}, JSON.stringify(a.parameters || {})))))
      : empty('None.'),
    services.length ? h('details', {}, h('summary', {}, 'Per service'),
      h('ul', {}, services.map((s) => h('li', {},
        h('a', { href: '#/services/' + encodeURIComponent(s.service) }, s.service), ': ',
        s.would_trigger ? 'would trigger' : 'would not trigger',
        s.matched_conditions?.length ? ` (${s.matched_conditions.join('; ')})` : '')))) : null);
}

export async function render(root, params, ctx) {
  const isNew = params.id === 'new';
  const operator = ctx.can('operator');
  if (isNew && !operator) {
    root.replaceChildren(h('div', { class: 'view-error' }, h('h1', {}, 'Not allowed'),
      h('p', {}, `Creating a policy needs the operator role; this key is ${ctx.role}. `,
        h('a', { href: '#/policies' }, 'Back to the policies'))));
    return undefined;
  }
  if (!isNew && !/^\d+$/.test(params.id)) throw new Error(`"${params.id}" is not a policy id`);

  let policy = null;
  if (!isNew) {
    try {
      policy = await ctx.api.get('/policies/' + params.id);
    } catch (e) {
      if (e.status !== 404) throw e;
      root.replaceChildren(h('div', { class: 'view-error' }, h('h1', {}, 'No such policy'),
        h('p', {}, e.message, '. ', h('a', { href: '#/policies' }, 'Back to the policies'))));
      return undefined;
    }
  }
  const original = isNew ? TEMPLATE : policyYaml(policy);
  const ed = editor(original, !operator);
  const errors = h('div', { id: 'policy-errors', 'aria-live': 'assertive' });
  const dryBox = h('div', { 'aria-live': 'polite' });
  const notice = h('div', { 'aria-live': 'polite' });
  let alive = true;
  let saving = false; // our own save's policy.changed is no news

  function showError(e) {
    const err = e.body?.error || {};
    if (e.status === 422 && Number.isInteger(err.line) && err.line > 0) {
      const line = err.line;
      const col = err.column || 1;
      ed.mark(line);
      errors.replaceChildren(h('div', { class: 'yaml-error', role: 'alert', dataset: { line, column: col } },
        h('button', { type: 'button', class: 'pol-goto', onclick: () => ed.goTo(line, col) },
          `Line ${line}, column ${col}`), ' ',
        err.field ? h('code', {}, err.field) : null, err.field ? ': ' : '',
        err.detail || e.message));
      ed.goTo(line, col);
    } else {
      ed.mark(0);
      errors.replaceChildren(h('p', { class: 'error', role: 'alert' }, 'Not saved: ' + e.message));
    }
  }

  async function save(ev) {
    const btn = ev.currentTarget;
    btn.disabled = true;
    saving = true;
    errors.replaceChildren();
    try {
      // YAML both ways: PUT with a YAML body replaces the whole policy
      if (isNew) await ctx.api.post('/policies', ed.ta.value, { yaml: true });
      else await ctx.api.put('/policies/' + policy.id, ed.ta.value, { yaml: true });
      ctx.toast(isNew ? 'Policy created.' : 'Policy saved.', 'ok');
      ctx.navigate('#/policies');
    } catch (e) {
      saving = false;
      if (!alive) return;
      btn.disabled = false;
      showError(e);
    }
  }

  async function dryRun(ev) {
    const btn = ev.currentTarget;
    btn.disabled = true;
    dryBox.replaceChildren(h('p', { class: 'loading' }, 'Testing against the live data…'));
    try {
      const r = await ctx.api.post(`/policies/${policy.id}/test`, {});
      if (!alive) return;
      dryBox.replaceChildren(...[
        ed.ta.value !== original && h('p', { class: 'pol-note' }, 'This tested the saved policy, not your unsaved changes.'),
        !policy.enabled && h('p', { class: 'pol-note' }, 'The policy is disabled: the engine does not evaluate it.'),
        policy.enabled && policy.dry_run && h('p', { class: 'pol-note' }, 'The policy is a dry run: it records its decisions as skipped and runs nothing.'),
        dryRunResult(r)].filter(Boolean));
    } catch (e) {
      if (alive) dryBox.replaceChildren(h('p', { class: 'error', role: 'alert' }, 'Dry run failed: ' + e.message));
    }
    btn.disabled = false;
  }

  const fromFile = policy && (policy.origin || '').startsWith('file:');
  const meta = policy ? h('p', { class: 'pol-meta' },
    badge(policy.enabled ? 'enabled' : 'disabled'), ' ',
    policy.dry_run ? h('span', { class: 'badge b-info' }, 'dry run') : null, ' ',
    `id ${policy.id} · from ${fromFile ? 'the file ' + policy.origin.slice(5) : 'the API'} · `,
    `created ${fmt.dateTime(policy.created_at)} · changed ${fmt.dateTime(policy.updated_at)}`) : null;

  root.replaceChildren(...[
    h('p', { class: 'pol-back' }, h('a', { href: '#/policies' }, '← Policies')),
    h('h1', {}, isNew ? 'New policy' : policy.name),
    meta,
    fromFile && operator ? h('p', { class: 'pol-note' },
      'This policy comes from a file. Once saved here, the API\'s version is kept and the file\'s is ignored at the next start.') : null,
    !operator ? h('p', { class: 'pol-note' }, 'Read-only: changing a policy needs the operator role.') : null,
    notice,
    ed.el,
    operator ? h('p', { id: 'policy-yaml-hint', class: 'pol-hint' },
      'Tab indents (Shift+Tab outdents); press Esc, then Tab, to leave the editor. Ctrl+S saves.') : null,
    errors,
    operator ? h('div', { class: 'row pol-bar' },
      h('button', { id: 'policy-save', type: 'button', class: 'primary', onclick: save }, isNew ? 'Create policy' : 'Save'),
      isNew
        ? h('button', { id: 'policy-dry-run', type: 'button', disabled: true, 'aria-describedby': 'dry-run-why' }, 'Dry run')
        : h('button', { id: 'policy-dry-run', type: 'button', onclick: dryRun }, 'Dry run'),
      isNew ? h('span', { id: 'dry-run-why', class: 'pol-hint' },
        'Save it first to test it against live data, or keep dry_run: true to watch what it would do.') : null,
      h('a', { href: '#/policies' }, 'Cancel')) : null,
    dryBox].filter(Boolean)); // replaceChildren would write a null as the text "null"

  // Ctrl+S (Cmd+S) saves, as in any editor, rather than saving the page
  if (operator) {
    ed.ta.addEventListener('keydown', (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 's') {
        e.preventDefault();
        const btn = document.getElementById('policy-save');
        if (btn && !btn.disabled) btn.click();
      }
    });
  }

  // someone else changing this policy while it is open: say so, never overwrite the text
  const off = isNew ? () => {} : ctx.live.on('policy.changed', (ev) => {
    const d = ev.data || {};
    if (saving || String(d.id) !== String(policy.id)) return;
    notice.replaceChildren(h('p', { class: 'pol-note', role: 'status' },
      d.change === 'deleted' ? `This policy was deleted by ${d.actor || 'someone'} at ${fmt.time(ev.timestamp)}.`
        : `This policy was ${d.change || 'changed'} by ${d.actor || 'someone'} at ${fmt.time(ev.timestamp)}. `,
      d.change === 'deleted' ? '' : h('a', { href: '#/policies/' + policy.id, onclick: (e) => {
        e.preventDefault();
        // the same fragment again fires no hashchange: step off it quietly, then back
        history.replaceState(null, '', '#/policies');
        ctx.navigate('#/policies/' + policy.id);
      } }, 'Load the new version')));
  });
  return () => { alive = false; off(); };
}
