// The live event stream: GET /stream/events read with fetch (an EventSource
// cannot send the key in a header, and a key in the URL ends up in logs).
// Resumes after the last id it saw, so no event is missed across a
// reconnect; reconnects with a backoff of 0.5 s doubling to 10 s.

import { key } from './api.js';

const listeners = new Map(); // type ('*' for all) -> Set of functions
const stateListeners = new Set();
let state = 'connecting';
let lastId = null;
let controller = null;
let retryMs = 500;
let timer = null;
let running = false;

function setState(s) {
  if (s === state) return;
  state = s;
  for (const fn of stateListeners) fn(s);
}

function emit(ev) {
  for (const type of [ev.event, '*']) {
    const set = listeners.get(type);
    if (!set) continue;
    for (const fn of set) {
      try { fn(ev); } catch (e) { console.warn('live listener:', e); }
    }
  }
}

// One SSE message (the lines between blank lines).
function dispatch(block) {
  let id = null, data = '';
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
    if (field === 'id') id = value;
    else if (field === 'data') data += (data ? '\n' : '') + value;
  }
  if (id !== null) lastId = id;
  if (!data) return;
  let doc;
  try { doc = JSON.parse(data); } catch { return; }
  emit({ id: id === null ? null : Number(id), ...doc });
}

async function connect() {
  controller = new AbortController();
  setState('connecting');
  const headers = { 'Accept': 'text/event-stream', 'X-API-Key': key() };
  if (lastId !== null) headers['Last-Event-ID'] = lastId;
  try {
    const res = await fetch('/stream/events', { headers, signal: controller.signal,
                                                cache: 'no-store' });
    if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
    setState('live');
    retryMs = 500;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value.replace(/\r\n?/g, '\n');
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        dispatch(buf.slice(0, end));
        buf = buf.slice(end + 2);
      }
    }
  } catch (e) {
    if (e.name === 'AbortError' && !running) return;
  }
  if (!running) return;
  setState('down');
  timer = setTimeout(connect, retryMs);
  retryMs = Math.min(retryMs * 2, 10000);
}

export const live = {
  // fn(event) for each event of @type ('*': every one); returns the unsubscribe.
  on(type, fn) {
    if (!listeners.has(type)) listeners.set(type, new Set());
    listeners.get(type).add(fn);
    return () => listeners.get(type).delete(fn);
  },
  onState(fn) {
    stateListeners.add(fn);
    fn(state);
    return () => stateListeners.delete(fn);
  },
  get state() { return state; },
  start() {
    if (running) return;
    running = true;
    connect();
  },
  stop() {
    running = false;
    clearTimeout(timer);
    if (controller) controller.abort();
    lastId = null;
    setState('connecting');
  },
};
