#!/usr/bin/python3
"""Plays systemd's side of the notification protocol for a test.

Binds a datagram socket, prints each state it receives as
"<ms since start> <state>", and for READY=1 also runs a check command
and prints its exit status, so the test learns what held at the moment
kiwi said it was ready.
"""
import os
import socket
import subprocess
import sys
import time

path, check = sys.argv[1], sys.argv[2:]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
os.chmod(path, 0o666)
start = time.monotonic()
print("listening", flush=True)
while True:
    data = sock.recv(4096).decode()
    ms = int((time.monotonic() - start) * 1000)
    for state in data.split("\n"):
        print(ms, state, flush=True)
        if state == "READY=1" and check:
            rc = subprocess.run(check).returncode
            print(ms, "CHECK", rc, flush=True)
