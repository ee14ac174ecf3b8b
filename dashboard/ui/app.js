// Start-up: sign-in, the router, the live indicator, the theme and the
// time range. Each view is a module of views/, loaded when first shown.

import { api, key, setKey, whenUnauthorized } from './api.js';
import { live } from './live.js';
import { h } from './dom.js';

const ROLES = ['viewer', 'operator', 'admin'];
const $ = (id) => document.getElementById(id);

const routes = [
  [/^\/?$/, 'overview'],
  [/^\/services\/([^/]+)$/, 'service', ['name']],
  [/^\/anomalies$/, 'anomalies'],
  [/^\/anomalies\/(\d+)$/, 'anomaly', ['id']],
  [/^\/actions$/, 'actions'],
  [/^\/policies$/, 'policies'],
  [/^\/policies\/([^/]+)$/, 'policy', ['id']],
  [/^\/analyst$/, 'analyst'],
  [/^\/settings$/, 'settings', [], 'admin'],
];

const ctx = {
  api,
  live,
  role: 'viewer',
  can(role) { return ROLES.indexOf(ctx.role) >= ROLES.indexOf(role); },
  navigate(fragment) { location.hash = fragment; },
  toast,
  get range() { return sessionStorage.getItem('prp.range') || '15m'; },
};

let cleanup = null;
let renderSeq = 0;

function toast(text, kind = 'info') {
  const t = h('div', { class: ['toast', 'toast-' + kind] }, text);
  $('toasts').append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}

function match(path) {
  for (const [re, view, names = [], minRole] of routes) {
    const m = re.exec(path);
    if (!m) continue;
    const params = {};
    names.forEach((n, i) => { params[n] = decodeURIComponent(m[i + 1]); });
    return { view, params, minRole };
  }
  return null;
}

async function route() {
  const seq = ++renderSeq;
  const root = $('view');
  if (cleanup) { try { cleanup(); } catch (e) { console.warn(e); } cleanup = null; }
  const path = (location.hash || '#/').slice(1).split('?')[0];
  const r = match(path);
  root.removeAttribute('data-ready');
  for (const a of document.querySelectorAll('nav a')) {
    const here = a.getAttribute('href').slice(1);
    a.toggleAttribute('aria-current', here === '/' ? path === '/' || path === '' : path.startsWith(here));
  }
  if (!r) {
    root.dataset.view = 'missing';
    root.replaceChildren(h('div', { class: 'view-error' }, h('h1', {}, 'Not found'),
      h('p', {}, 'No view at ', h('code', {}, path), '. ', h('a', { href: '#/' }, 'Back to the overview'))));
    root.dataset.ready = '1';
    return;
  }
  root.dataset.view = r.view;
  if (r.minRole && !ctx.can(r.minRole)) {
    root.replaceChildren(h('div', { class: 'view-error' }, h('h1', {}, 'Not allowed'),
      h('p', {}, `This view needs the ${r.minRole} role; this key is ${ctx.role}.`)));
    root.dataset.ready = '1';
    return;
  }
  root.replaceChildren(h('p', { class: 'loading' }, 'Loading…'));
  try {
    const mod = await import(`./views/${r.view}.js`);
    if (seq !== renderSeq) return;
    document.title = (typeof mod.title === 'function' ? mod.title(r.params) : mod.title || r.view) + ' · prp';
    const done = await mod.render(root, r.params, ctx);
    if (seq !== renderSeq) { if (typeof done === 'function') done(); return; }
    cleanup = typeof done === 'function' ? done : null;
  } catch (e) {
    if (seq !== renderSeq) return;
    if (e.status === 401) return; // signed out; the sign-in form is showing
    root.replaceChildren(h('div', { class: 'view-error', role: 'alert' }, h('h1', {}, 'This view could not load'),
      h('p', {}, e.message || String(e))));
  }
  if (seq === renderSeq) root.dataset.ready = '1';
}

function showLogin(message) {
  live.stop();
  if (cleanup) { cleanup(); cleanup = null; }
  $('top').hidden = true;
  $('view').replaceChildren();
  $('view').removeAttribute('data-view');
  $('view').removeAttribute('data-ready');
  document.body.dataset.role = '';
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  $('login-key').value = '';
  $('login-key').focus();
}

async function signIn(k) {
  setKey(k);
  let v;
  try {
    v = await api.post('/validate', {});
  } catch (e) {
    setKey('');
    showLogin(e.status === 401 ? 'This key is not valid.' : e.message);
    return;
  }
  if (v.auth && !v.key_id) { // no key sent, and the aggregator wants one
    setKey('');
    showLogin(k ? 'This key is not valid.' : '');
    return;
  }
  ctx.role = ROLES.includes(v.role) ? v.role : 'viewer';
  document.body.dataset.role = ctx.role;
  $('who').textContent = v.auth ? `${v.name || 'key'} · ${ctx.role}` : 'auth off';
  $('logout').hidden = !v.auth;
  for (const el of document.querySelectorAll('[data-min-role]')) el.hidden = !ctx.can(el.dataset.minRole);
  $('login').hidden = true;
  $('top').hidden = false;
  live.start();
  route();
}

function setTheme(theme) {
  document.documentElement.dataset.theme = theme;
  localStorage.setItem('prp.theme', theme); // not a secret: the only thing kept across tabs
}

function start() {
  const saved = localStorage.getItem('prp.theme');
  setTheme(saved || (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'));
  $('theme-toggle').addEventListener('click', () =>
    setTheme(document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark'));
  $('range').value = ctx.range;
  $('range').addEventListener('change', (e) => { sessionStorage.setItem('prp.range', e.target.value); route(); });
  live.onState((s) => {
    const c = $('conn');
    c.dataset.state = s;
    c.textContent = { live: 'live', connecting: 'connecting…', down: 'reconnecting…' }[s];
  });
  $('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    signIn($('login-key').value.trim());
  });
  $('logout').addEventListener('click', () => { setKey(''); showLogin('Signed out.'); });
  whenUnauthorized(() => { setKey(''); showLogin('The key was refused (revoked or expired?). Sign in again.'); });
  window.addEventListener('hashchange', () => { if (!$('top').hidden) route(); });
  signIn(key());
}

start();
