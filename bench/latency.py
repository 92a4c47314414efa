#!/usr/bin/env python3
"""Convergence latency from the fixture's event log and kstate's log.

  latency.py EVENT_LOG KSTATE_LOG MAP

For each ADDED event, the time until the Service's address is on the
interface and both of its rules are in the chain; for each DELETED
event, until neither is.  Prints one row per kind: count, p50, p99, max
in ms, for the address alone and for address and rules.
"""
import sys


def pct(v, p):
    v = sorted(v)
    if not v:
        return float("nan")
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def main():
    events, kstate, mapfile = sys.argv[1:4]
    ipof = dict(line.split() for line in open(mapfile))
    seen = {}  # ip -> [(t, addr, rules)]
    for line in open(kstate):
        f = line.split()
        if len(f) != 4 or f[1] == "total":
            continue
        seen.setdefault(f[1], []).append((float(f[0]), int(f[2]),
                                          int(f[3])))
    res = {"ADDED": ([], []), "DELETED": ([], [])}
    missing = 0
    for line in open(events):
        t, kind, name = line.split()
        if kind not in res or name not in ipof:
            continue
        t = float(t)
        want = (1, 2) if kind == "ADDED" else (0, 0)
        addr_t = full_t = None
        for st, a, r in seen.get(ipof[name], []):
            if st < t - 50:
                continue
            if addr_t is None and a == want[0]:
                addr_t = st
            if a == want[0] and r == want[1]:
                full_t = st
                break
        if full_t is None:
            missing += 1
            continue
        res[kind][0].append(addr_t - t)
        res[kind][1].append(full_t - t)
    print("%-8s %6s %9s %9s %9s %9s %9s %9s" % (
        "event", "count", "addr_p50", "addr_p99", "addr_max",
        "p50_ms", "p99_ms", "max_ms"))
    rows = list(res.items())
    rows.append(("all", (res["ADDED"][0] + res["DELETED"][0],
                         res["ADDED"][1] + res["DELETED"][1])))
    for kind, (addr, full) in rows:
        print("%-8s %6d %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f" % (
            kind, len(full), pct(addr, 50), pct(addr, 99), max(addr or [0]),
            pct(full, 50), pct(full, 99), max(full or [0])))
    if missing:
        print("not converged within the log: %d events" % missing)


if __name__ == "__main__":
    main()
