#!/usr/bin/env python3
"""Prefix each line of stdin with the ms since the epoch it was read at."""
import sys
import time

for line in sys.stdin.buffer:
    sys.stdout.buffer.write(b"%.3f " % (time.time() * 1000) + line)
    sys.stdout.buffer.flush()
