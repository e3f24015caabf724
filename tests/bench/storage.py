#!/usr/bin/python3
"""The embedded log's cost: webhook ingest with `storage: memory`, `sync: os` and `sync: always`
in one run, and the time a restart takes to serve again with a full history.

    nice tests/bench/storage.py              build (build-bench/), run, print the table
    nice tests/bench/storage.py --quick      a smaller workload, to check that it works

Each mode gets a fresh Herald (Release build, webhook source, log level warn). The load client
of run.py (loadclient) posts events, 100 a request (the webhook's JSON array), each request
after the previous one got its 202 (so only once the log holds its events as the mode says),
to a subscriber that receives them: events/s is from the first send to the last delivery. Once
one back end alone, once four at once (four load clients, each on its own project); the modes
take turns, three rounds, and the best of each cell is shown. Then the
restart: a fresh daemon per mode takes 100,000 events to project 1 + j % 1000, so every room
(history.size 100) is full, is stopped (SIGTERM) and started again; the time is from the start
of the process to /healthz answering 200, which is after the history was read back (a memory
log comes back empty). The machine is shared and noisy: compare the ratios of one run.
"""
import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  the build and the helpers of the main benchmark

SECRET = "bench-storage-secret-0123456789abcdef"
PER_REQUEST = 100
PROJECTS = 1000


class Daemon:
    def __init__(self, work, build_dir, storage):
        self.dir = tempfile.mkdtemp(prefix="herald-", dir=work)
        self.build_dir, self.storage = build_dir, storage
        self.port, self.hook_port = run.free_port(), run.free_port()
        self.cfg = os.path.join(self.dir, "herald.yaml")
        with open(self.cfg, "w") as f:
            f.write(f"""server: {{listen: 127.0.0.1, port: {self.port}, send_queue_bytes: 268435456}}
auth: {{secret: {{env: HERALD_JWT_SECRET}}}}
scripts: {{dir: {os.path.join(run.REPO, 'scripts')}}}
history: {{size: 100, ttl: 3600}}
ingest: {{queue_size: 65536}}
storage: {storage}
log: {{level: warn}}
plugin_dir: {os.path.join(build_dir, 'plugins')}
plugins:
  - name: webhook
    options: {{port: {self.hook_port}, bearer_token: {{env: HERALD_JWT_SECRET}}}}
""")
        self.proc = None

    def start(self):
        """Start; returns the seconds until /healthz answered 200."""
        log = open(os.path.join(self.dir, "herald.log"), "a")
        env = dict(os.environ, HERALD_JWT_SECRET=SECRET)
        t0 = time.monotonic()
        self.proc = subprocess.Popen([os.path.join(self.build_dir, "herald"), "-c", self.cfg],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
        log.close()
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz",
                                            timeout=1):
                    return time.monotonic() - t0
            except OSError:
                if self.proc.poll() is not None or time.monotonic() - t0 > 120:
                    sys.exit(f"storage.py: Herald did not start, see {self.dir}/herald.log")
                time.sleep(0.005)

    def stop(self):
        run.stop(self.proc)

    def log_bytes(self):
        path = os.path.join(self.dir, "herald-data")
        return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path)
                   if f.endswith(".log")) if os.path.isdir(path) else 0


def bodies(first, count):
    """Request bodies of PER_REQUEST events each, events first .. first+count-1."""
    out = []
    for start in range(first, first + count, PER_REQUEST):
        events = [{"event_type": "milestone_updated",
                   "project": {"id": 1 + j % PROJECTS, "title": "Mobile App Development"},
                   "actor": {"id": 5, "username": "jane_smith", "first_name": "Jane",
                             "last_name": "Smith"},
                   "data": {"id": j, "title": "Sprint Planning", "progress": 50}}
                  for j in range(start, start + PER_REQUEST)]
        out.append(json.dumps(events, separators=(",", ":")).encode())
    return out


def fill(daemon, first, events, conns=4):
    """Post `events` events to the 1000 projects from `conns` connections (the history)."""
    per_conn = events // conns
    work = [bodies(first + i * per_conn, per_conn) for i in range(conns)]

    def poster(reqs):
        conn = http.client.HTTPConnection("127.0.0.1", daemon.hook_port, timeout=60)
        headers = {"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"}
        for body in reqs:
            status = 0
            while status != 202:
                conn.request("POST", "/events", body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
                if status not in (202, 503):
                    sys.exit(f"storage.py: the webhook answered {status}")
        conn.close()

    threads = [threading.Thread(target=poster, args=(w,)) for w in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


class Client:
    """What run.run_client() asks of a server, for back end i of several: its own subscriber
    (user i + 1) on its own project (i + 1), 100 events a request through the webhook."""

    def __init__(self, daemon, i):
        self.daemon, self.i = daemon, i

    def pids(self):
        return [self.daemon.proc.pid]

    def client_args(self):
        d = self.daemon
        return ["--url", f"ws://127.0.0.1:{d.port}/ws/notifications/?token={{token}}",
                "--subscribe", "--user-base", str(self.i + 1),
                "--project-base", str(self.i + 1),
                "--publish", f"http://127.0.0.1:{d.hook_port}/events",
                "--header", f"Authorization: Bearer {SECRET}", "--batch", str(PER_REQUEST)]


def ingest(daemon, cargs, events, conns):
    """`conns` load clients at once, each a back end posting events/conns events to its own
    subscriber; returns events per second, from the first send to the last delivery."""
    results = [None] * conns

    def one(i):
        results[i] = run.run_client(cargs, Client(daemon, i),
                                    dict(conns=1, projects=1, events=events // conns))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        if not r["ok"]:
            sys.exit(f"storage.py: not every notification arrived:\n{r['text']}")
    return sum(r["events"] for r in results) / max(r["span_s"] for r in results)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a smaller workload")
    ap.add_argument("--events", type=int, default=100000, help="events per measurement")
    ap.add_argument("--rounds", type=int, default=3, help="runs of each cell (the best is shown)")
    ap.add_argument("--build-dir", default=os.path.join(run.REPO, "build-bench"))
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    if args.quick:
        args.events, args.rounds = 10000, 1
    run.build(argparse.Namespace(build_dir=args.build_dir))
    work = tempfile.mkdtemp(prefix="herald-storage-bench-")
    cargs = argparse.Namespace(build_dir=args.build_dir, threads=1, secret=SECRET, work=work)
    modes = [("memory", "memory"), ("os", "{sync: os}"), ("always", "{sync: always}")]
    rates, restart = {}, {}
    try:
        for rnd in range(args.rounds):  # the modes in turn, so that the noise hits each
            for name, storage in modes:
                d = Daemon(work, args.build_dir, storage)
                d.start()
                for conns in (1, 4):
                    run.log(f"round {rnd + 1}, {name}: {args.events:,} events from {conns} "
                            "back end(s)")
                    rate = ingest(d, cargs, args.events, conns)
                    rates[name, conns] = max(rates.get((name, conns), 0), rate)
                d.stop()
        for name, storage in modes[:2]:
            # A fresh daemon whose rooms' history is full: every room holds history.size.
            d = Daemon(work, args.build_dir, storage)
            d.start()
            run.log(f"{name}: filling the history of {PROJECTS} rooms")
            fill(d, 0, PROJECTS * 100)
            size = d.log_bytes()
            d.stop()
            restart[name] = (d.start(), size)
            d.stop()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nWebhook ingest, {PER_REQUEST} events a request, {args.events:,} events per cell, "
          f"best of {args.rounds} ({run.machine()}, load {run.loadavg()}):\n")
    print("| storage | 1 back end | 4 back ends at once | vs memory (1) | vs memory (4) |")
    print("|---|---|---|---|---|")
    for name, _ in modes:
        r1, r4 = rates[name, 1], rates[name, 4]
        print(f"| `{name}` | {r1:,.0f} events/s | {r4:,.0f} events/s | "
              f"{r1 / rates['memory', 1]:.2f} | {r4 / rates['memory', 4]:.2f} |")
    print("\n| restart to serving (SIGTERM, start, /healthz 200) | log on disk | time |")
    print("|---|---|---|")
    for name in ("memory", "os"):
        took, size = restart[name]
        print(f"| `{name}`, {PROJECTS} rooms x 100 notifications | {size / 1e6:.1f} MB | "
              f"{took * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
