#!/usr/bin/env python3
"""Reads prp-agent --print lines on stdin and prints, every N seconds, one
line per service: request rate, error rate, p99 and the calls it made.
Part of `make demo`: the windows, as a person reads them."""
import json
import sys
import time

every = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
acc = {}
last = time.monotonic()


def flush(span):
    for svc in sorted(acc):
        a = acc[svc]
        rate = a["requests"] / span
        err = 100.0 * a["errors"] / a["requests"] if a["requests"] else 0.0
        calls = ", ".join(f"{peer} {n / span:.0f}/s" for peer, n in sorted(a["calls"].items()))
        print(f"{time.strftime('%H:%M:%S')} agent: {svc:<9} {rate:6.1f} req/s  "
              f"errors {err:5.1f}%  p99 {a['p99']:7.2f} ms"
              + (f"  calls: {calls}" if calls else ""), flush=True)
    acc.clear()


for line in sys.stdin:
    try:
        w = json.loads(line)
    except ValueError:
        continue
    a = acc.setdefault(w["service"], {"requests": 0, "errors": 0, "p99": 0.0, "calls": {}})
    for h in w.get("http", []):
        a["requests"] += h["count"]
        if h["status"] >= 500:
            a["errors"] += h["count"]
        a["p99"] = max(a["p99"], h["latency_ms"]["p99"])
    for c in w.get("calls", []):
        peer = c.get("peer") or c["address"]
        a["calls"][peer] = a["calls"].get(peer, 0) + c["count"]
    now = time.monotonic()
    if now - last >= every:
        flush(now - last)
        last = now
