"""Peak of the summed proportional set size of a process tree.

    python3 bench/psspeak.py PID INTERVAL_MS OUT

Every INTERVAL_MS sums Pss (smaps_rollup) over PID and its children,
and on SIGTERM writes to OUT the largest sum seen and, for each process
name, the largest Pss seen, in MiB:

    total 24.1
    kiwi 5.3
    kiwi-netagent 12.0
    ...

VmHWM is a per-process peak and counts shared pages in every process;
this is the peak of what the tree costs the node at one moment.
"""
import signal
import sys
import time


def children(pid):
    out = []
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            out = [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def main():
    root, interval, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    peak, per = 0, {}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while not stop:
        total = 0
        for pid in [root] + children(root):
            name = comm(pid)
            if pid != root and not name.startswith("kiwi-"):
                continue
            kib = pss_kib(pid)
            total += kib
            per[name] = max(per.get(name, 0), kib)
        peak = max(peak, total)
        time.sleep(interval / 1000)
    with open(out, "w") as f:
        f.write(f"total {peak / 1024:.1f}\n")
        for name, kib in sorted(per.items()):
            f.write(f"{name} {kib / 1024:.1f}\n")


if __name__ == "__main__":
    main()
