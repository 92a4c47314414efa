#!/usr/bin/env python3
"""Drive Service events through the fixture's control API, one at a time.

  events.py URL COUNT GAP_MS MAP

Creates COUNT Services conv/c<i>, each with its own external IP (from
198.19.0.0/16) and two TCP ports, GAP_MS apart, then deletes them in the
same order and pace.  MAP gets one "<ns>/<name> <ip>" line per Service.
"""
import http.client
import json
import sys
import time
import urllib.parse


def main():
    url, count, gap, mapfile = sys.argv[1], int(sys.argv[2]), \
        float(sys.argv[3]) / 1000, sys.argv[4]
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port)
    names = []
    with open(mapfile, "w") as f:
        for i in range(count):
            ip = "198.19.%d.%d" % (i >> 8, i & 255)
            names.append("c%d" % i)
            f.write("conv/c%d %s\n" % (i, ip))
    for i, name in enumerate(names):
        body = json.dumps({"metadata": {"namespace": "conv", "name": name},
                           "spec": {"externalIPs": [
                               "198.19.%d.%d" % (i >> 8, i & 255)],
                               "ports": [{"port": 80, "protocol": "TCP"},
                                         {"port": 443, "protocol": "TCP"}]}})
        conn.request("PUT", "/fixture/services/conv/" + name, body,
                     {"Content-Type": "application/json"})
        conn.getresponse().read()
        time.sleep(gap)
    for name in names:
        conn.request("DELETE", "/fixture/services/conv/" + name)
        conn.getresponse().read()
        time.sleep(gap)


if __name__ == "__main__":
    main()
