#!/usr/bin/env python3
"""A syslog stand-in for the bench: reads every datagram on a unix socket (as rsyslog/journald would),
counts them, and keeps the health-check lines with their arrival time (for the failover figure).
SIGTERM/SIGINT: writes {"datagrams": N, "bytes": B} and the kept lines to the report file, then exits."""
import json, os, signal, socket, sys, time

path, report = sys.argv[1], sys.argv[2]
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
count = 0
nbytes = 0
kept = []
stop = False

def done(*_):
    global stop
    stop = True

signal.signal(signal.SIGTERM, done)
signal.signal(signal.SIGINT, done)
s.settimeout(0.2)
while not stop:
    try:
        data = s.recv(65536)
    except socket.timeout:
        continue
    except InterruptedError:
        continue
    count += 1
    nbytes += len(data)
    if b"Health check" in data or b" is DOWN" in data or b" is UP" in data:
        kept.append({"t": time.time() * 1000, "line": data.decode("utf-8", "replace")})
        # The failover phase reads these while the sink runs.
        with open(report + ".health", "a") as f:
            f.write(json.dumps(kept[-1]) + "\n")
with open(report, "w") as f:
    json.dump({"datagrams": count, "bytes": nbytes, "health": kept}, f)
