#!/usr/bin/python3
"""Herald's benchmark: Herald beside nginx + nchan, same load client, same machine, same run.

    tests/bench/run.py                 build, run every scenario, print the table
    tests/bench/run.py --record        ... and append the results to BENCHMARKS.md
    tests/bench/run.py --only 2,3      some scenarios
    tests/bench/run.py --quick         a smaller workload, to check that everything works

It builds Herald, its stdin plugin and the load client in a Release build directory of its own
(build-bench/), installs nginx-light and libnginx-mod-nchan with apt-get when they are missing
(skip the peer with --no-nchan), starts a fresh server for each scenario and prints one table.
See BENCHMARKS.md for the scenarios and the results.
"""
import argparse
import datetime
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The workload of issue 6. `projects`: connection i subscribes to project 1 + i % projects and
# event j goes to project 1 + j % projects. `rate`: events per second (0: as fast as possible).
SCENARIOS = {
    1: dict(name="connect", conns=15000, projects=1000, hold=30, events=0, probe=1000),
    2: dict(name="fan-out, small room", conns=2000, projects=1, events=100),
    3: dict(name="fan-out, large room", conns=10000, projects=1, events=20),
    4: dict(name="many rooms", conns=10000, projects=1000, events=10000),
    5: dict(name="paced", conns=2000, projects=1, events=600, rate=20),
    6: dict(name="ingest", conns=1, projects=1, events=200000,
            # (events per request, events, connections publishing at once)
            webhook=[(1, 50000, 1), (100, 200000, 1), (100, 400000, 4)]),
    # Every connection at once (no pacing, no bound on handshakes in flight): the time until the
    # last one is subscribed, which the client knows when its ping after the subscription is
    # answered (`loadclient --ready`).
    7: dict(name="reconnect storm", conns=15000, projects=1000, events=0, storm=True),
    # 1,000 handshakes paced at 2,000/s while 1,000 are held (scenario 1: while 15,000 are).
    8: dict(name="handshakes, 1,000 held", conns=1000, projects=1000, events=0, probe=1000),
}
QUICK = {1: dict(conns=1500, hold=3, probe=100), 2: dict(conns=200), 3: dict(conns=1000),
         4: dict(conns=1000, projects=100, events=1000), 5: dict(events=60),
         6: dict(events=20000, webhook=[(1, 5000, 1), (100, 20000, 1), (100, 40000, 4)]), 7: dict(conns=1500),
         8: dict(conns=100, probe=100)}

# HTTP requests the nchan publisher keeps in flight (pipelined on one keep-alive connection) in
# the burst scenarios; the paced scenario publishes one at a time.
NCHAN_WINDOW = 16
# The scenarios --profile runs again under perf; in the connect ones perf starts before the
# first connection (in the others once the connections are open).
PROFILED = (2, 3, 4, 5, 6, 7, 8)
CONNECT_SCENARIOS = (1, 7, 8)


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


def stop(proc, sig=signal.SIGTERM, timeout=15):
    if proc and proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- the servers ----------------------------------------------------------------------------

class Herald:
    name = "Herald"

    def __init__(self, args, work, sc, batch=0, publishers=1):
        """batch 0: events through the stdin source; n: through the webhook, n per request, on
        `publishers` connections at once."""
        self.args, self.sc, self.batch, self.publishers = args, sc, batch, publishers
        self.dir = tempfile.mkdtemp(prefix="herald-", dir=work)
        self.port = free_port()
        self.hook_port = free_port()
        self.fifo = os.path.join(self.dir, "events")
        self.secret = args.secret
        self.proc = None

    def start(self, scripts_dir=None):
        os.mkfifo(self.fifo)
        # Sized for the scenario's burst: one reader receiving every event of the ingest run.
        queue = 256 << 20 if self.sc["conns"] == 1 else 1 << 20
        cfg = os.path.join(self.dir, "herald.yaml")
        with open(cfg, "w") as f:
            f.write(f"""server:
  listen: 127.0.0.1
  port: {self.port}
  max_connections: 20000
  max_room_members: 20000
  send_queue_bytes: {queue}
auth:
  secret: {{env: HERALD_JWT_SECRET}}
scripts:
  dir: {scripts_dir or os.path.join(REPO, 'scripts')}
log:
  level: info
plugin_dir: {os.path.join(self.args.build_dir, 'plugins')}
plugins:
""")
            if self.batch:
                f.write(f"""  - name: webhook
    options:
      port: {self.hook_port}
      bearer_token: {{env: HERALD_WEBHOOK_TOKEN}}
""")
            else:
                f.write("  - name: stdin\n")
        # Read and write: Herald's stdin never reaches end of input between writers.
        fd = os.open(self.fifo, os.O_RDWR)
        self.log = open(os.path.join(self.dir, "herald.log"), "w")
        env = dict(os.environ, HERALD_JWT_SECRET=self.secret, HERALD_WEBHOOK_TOKEN=self.secret)
        self.proc = subprocess.Popen([os.path.join(self.args.build_dir, "herald"), "-c", cfg],
                                     stdin=fd, stdout=self.log, stderr=self.log, env=env)
        os.close(fd)
        end = time.time() + 15
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1):
                    return
            except OSError:
                if self.proc.poll() is not None or time.time() > end:
                    raise RuntimeError(f"Herald did not start: see {self.log.name}")
                time.sleep(0.05)

    def pids(self):
        return [self.proc.pid]

    def client_args(self):
        url = ["--url", f"ws://127.0.0.1:{self.port}/ws/notifications/?token={{token}}",
               "--subscribe"]
        if self.batch:  # one request at a time: the webhook does not take pipelined requests
            return url + ["--publish", f"http://127.0.0.1:{self.hook_port}/events", "--header",
                          f"Authorization: Bearer {self.secret}", "--batch", str(self.batch),
                          "--publishers", str(self.publishers)]
        return url + ["--publish", f"file:{self.fifo}"]

    def stop(self):
        stop(self.proc)
        self.log.close()


class Nchan:
    name = "nchan"

    def __init__(self, args, work, sc):
        self.args, self.sc = args, sc
        self.dir = tempfile.mkdtemp(prefix="nchan-", dir=work)
        self.port = free_port()
        self.proc = None

    def start(self):
        conf = os.path.join(self.dir, "nginx.conf")
        os.makedirs(os.path.join(self.dir, "body"))
        os.chmod(self.dir, 0o755)
        # One worker, as Herald has one loop thread. A subscriber starts at the newest message
        # (Herald replays none); channels keep nchan's default buffer of 10 messages, which a
        # subscriber that falls behind a fast publisher still reads from.
        with open(conf, "w") as f:
            f.write(f"""daemon off;
master_process on;
worker_processes {self.args.nchan_workers};
worker_rlimit_nofile 20000;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
load_module {NCHAN_MODULE};
events {{ worker_connections 19500; multi_accept on; }}
http {{
  access_log off;
  client_body_temp_path {self.dir}/body;
  keepalive_requests 100000000;
  keepalive_timeout 600s;
  nchan_max_reserved_memory 512M;
  server {{
    listen 127.0.0.1:{self.port} backlog=4096;
    # One channel per subscriber: the project (the fan-out scenarios).
    location = /sub {{
      nchan_subscriber websocket;
      nchan_channel_id project_$arg_p;
      nchan_websocket_ping_interval 25;
      nchan_subscriber_first_message newest;
    }}
    # Two channels per subscriber, its user and its project, as every Herald connection is in
    # room user_ID and a project room (the connect scenario).
    location = /subm {{
      nchan_subscriber websocket;
      nchan_channel_id user_$arg_u project_$arg_p;
      nchan_websocket_ping_interval 25;
      nchan_subscriber_first_message newest;
    }}
    location = /pub {{
      nchan_publisher;
      nchan_channel_id $arg_id;
      nchan_message_buffer_length 10;
      nchan_message_timeout 60s;
    }}
  }}
}}
""")
        self.log = open(os.path.join(self.dir, "nginx.log"), "w")
        self.proc = subprocess.Popen(["nginx", "-p", self.dir, "-c", conf, "-e",
                                      os.path.join(self.dir, "error.log")],
                                     stdout=self.log, stderr=self.log)
        wait_port(self.port, self.proc)
        end = time.time() + 10
        while len(self.pids()) < self.args.nchan_workers and time.time() < end:
            time.sleep(0.05)

    def pids(self):
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)],
                             capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def client_args(self):
        sub = "subm" if self.sc["events"] == 0 else "sub"
        body = ["--template", self.args.template] if self.args.template else \
            ["--body", "notification"]
        # One request at a time when paced, and in the ingest scenario as with Herald's webhook.
        window = "1" if self.sc.get("rate") or self.sc["conns"] == 1 else str(NCHAN_WINDOW)
        # The token travels as with Herald, so the handshakes are the same size; nchan ignores it.
        return ["--url", f"ws://127.0.0.1:{self.port}/{sub}?p={{p}}&u={{u}}&token={{token}}",
                "--publish", f"http://127.0.0.1:{self.port}/pub?id=project_{{p}}",
                "--window", window] + body

    def stop(self):
        stop(self.proc, signal.SIGQUIT)
        self.log.close()


NCHAN_MODULE = "/usr/lib/nginx/modules/ngx_nchan_module.so"


def message_template(args):
    """The message Herald sends for the benchmark's event, as a template for nchan's bodies:
    one event through a Herald, the notification it delivers, its variable parts replaced."""
    sc = dict(conns=1, projects=1, events=1)
    server = Herald(args, args.work, sc)
    try:
        server.start()
        cmd = [os.path.join(args.build_dir, "tests", "bench", "loadclient"), "--show",
               "-n", "1", "-e", "1", "--settle", "0.2"] + server.client_args()
        r = subprocess.run(cmd, capture_output=True, text=True,
                           env=dict(os.environ, HERALD_JWT_SECRET=args.secret))
    finally:
        server.stop()
    m = re.search(r"first notification \(\d+ bytes\): (.*)", r.stderr)
    if not m:
        raise RuntimeError(f"no notification from Herald:\n{r.stdout}{r.stderr}")
    msg = re.sub(r'"t":\d+', '"t":{t}', m.group(1))
    msg = re.sub(r'"project_id":\d+', '"project_id":{p}', msg)
    return re.sub(r'("data":\{[^{}]*"id":)\d+', r"\g<1>{j}", msg)


def ensure_nchan():
    """nginx with the nchan module, installed with apt-get when missing; False if unavailable."""
    if shutil.which("nginx") and os.path.exists(NCHAN_MODULE):
        return True
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        log("nginx with nchan is not installed (apt-get install nginx-light libnginx-mod-nchan)")
        return False
    log("installing nginx-light and libnginx-mod-nchan")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "nginx-light",
           "libnginx-mod-nchan"]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    # The package may start its own nginx on port 80; the benchmark runs its own.
    subprocess.run(["service", "nginx", "stop"], capture_output=True)
    if r.returncode != 0:
        log("could not install nchan:\n" + r.stdout[-2000:] + r.stderr[-2000:])
    return shutil.which("nginx") is not None and os.path.exists(NCHAN_MODULE)


# --- running a scenario ---------------------------------------------------------------------

def run_client(args, server, sc, on_ready=None, on_done=None):
    """Run the load client against a started server; returns the parsed RESULT."""
    cmd = [os.path.join(args.build_dir, "tests", "bench", "loadclient"),
           "-n", str(sc["conns"]), "-k", str(sc["projects"]), "-e", str(sc["events"]),
           "-R", str(sc.get("rate", 0)), "--hold", str(sc.get("hold", 0)),
           "--probe", str(sc.get("probe", 0))] + (
           ["--rate", "1000000000", "--inflight", str(sc["conns"]), "--ready"]
           if sc.get("storm") else []) + [
           "--threads", str(args.threads), "--timeout", "20",
           "--pid", ",".join(map(str, server.pids()))] + server.client_args()
    env = dict(os.environ, HERALD_JWT_SECRET=args.secret)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    for line in proc.stderr:
        sys.stderr.write("    " + line)
        if "settling" in line and on_ready:
            on_ready()
        if "closing the connections" in line and on_done:
            on_done()  # the profile leaves out lws' closing of every connection
    out = proc.stdout.read()
    proc.wait()
    with open(os.path.join(args.work, "client.log"), "a") as f:
        f.write(f"$ {' '.join(cmd)}\n{out}\n")
    for line in out.splitlines():
        if line.startswith("RESULT "):
            res = json.loads(line[7:])
            res["text"] = "\n".join(l for l in out.splitlines() if not l.startswith("RESULT"))
            return res
    raise RuntimeError(f"the load client printed no result (status {proc.returncode}):\n{out}")


class Perf:
    """perf record on a server while the client publishes (started once connections are open)."""

    def __init__(self, pid, path):
        self.pid, self.path, self.proc = pid, path, None

    def start(self):
        self.proc = subprocess.Popen(["perf", "record", "-q", "-F", "1999", "--call-graph",
                                      "dwarf,16384", "-p", str(self.pid), "-o", self.path],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)

    def stop(self):
        stop(self.proc, signal.SIGINT, 60)

    def report(self, *extra):
        r = subprocess.run(["perf", "report", "-i", self.path, "--stdio", "-g", "none",
                            "--percent-limit", "0.7"] + list(extra),
                           capture_output=True, text=True)
        return "\n".join(l for l in r.stdout.splitlines() if l and not l.startswith("#"))


# Where a profile's time goes: the share of samples under each function (callees included);
# the shares of the functions named on one line are added (they never call each other).
BREAKDOWN = [
    ("event parsing and validation, in the source thread (event_parse)",
     ["event_parse", "event_batch_parse"]),
    ("Lua formatting and its conversions (formatter_format)", ["formatter_format", "formatter_run"]),
    ("message and frame encoding (notif_*)", ["notif_build", "notif_message", "notif_frame_pos"]),
    ("freeing events (event_free)", ["event_free"]),
    ("queueing frames to recipients (ws_deliver)", ["ws_deliver"]),
    ("writing frames: lws_write", ["lws_write"]),
    ("  of which the send() system call (kernel TCP, loopback receive included)",
     ["__sys_sendto"]),
    ("poll() over every connection (lws' default event loop)", ["do_sys_poll"]),
    ("lws timer list inserts (one sorted list of every connection's timers)",
     ["lws_dll2_add_sorted"]),
    ("scheduler: switches and preemption by other processes (schedule)", ["schedule"]),
    ("(across all of the above) malloc and free", ["__GI___libc_malloc", "__GI___libc_free",
                                                   "__GI___libc_realloc"]),
]


def breakdown(perf):
    rep = perf.report("--children", "--sort", "sym", "--percent-limit", "0")
    share = children_share(rep, {sym for _, syms in BREAKDOWN for sym in syms})
    lines = []
    for label, syms in BREAKDOWN:
        found = [share[s] for s in syms if s in share]
        if found:
            lines.append(f"{sum(found):5.1f}%  {label}")
    return "\n".join(lines)


def children_share(report, symbols):
    """The 'children' percentage of each symbol in a `perf report --children --sort sym`."""
    share = {}
    for line in report.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+([\d.]+)%\s+\[.\]\s+(\S+)", line)
        if m and m.group(3) in symbols:
            share.setdefault(m.group(3), float(m.group(1)))
    return share


def run_scenario(args, num, server_cls, profile=None, batch=0, events=None, publishers=1):
    sc = dict(SCENARIOS[num])
    if args.quick:
        sc.update(QUICK[num])
    if profile and num == 2:
        sc["events"] *= 10  # enough samples: the burst itself lasts a fraction of a second
    if events:
        sc["events"] = events
    server = server_cls(args, args.work, sc, batch=batch, publishers=publishers) if batch else \
        server_cls(args, args.work, sc)
    perf = None
    try:
        server.start()
        if profile:
            perf = Perf(server.pids()[0], os.path.join(args.work, f"perf-{num}{'-webhook' if batch else ''}.data"))
        if perf and num in CONNECT_SCENARIOS:  # the connecting is what is measured
            perf.start()
        res = run_client(args, server, sc, on_ready=perf.start if perf and num not in
                         CONNECT_SCENARIOS else None, on_done=perf.stop if perf else None)
        if server.proc.poll() is not None:
            res["server_exit"] = f"{server.name} exited during the run (status " \
                f"{server.proc.returncode}); see {server.dir}"
            log(res["server_exit"])
    finally:
        if perf and perf.proc:
            perf.stop()
        server.stop()
    res["perf"] = perf
    return res


# --- the table --------------------------------------------------------------------------------

def fmt_num(v):
    if v is None:
        return "–"
    if v >= 100000:
        return f"{v / 1000:,.0f}k"
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}" if v >= 0.1 else f"{v:.3f}"


def ratio_cell(h, n, target=None, higher_better=False):
    if h is None or n is None or n == 0:
        return "", ""
    r = h / n
    cell = f"{r:.2f}×" if r < 10 else f"{r:.1f}×"
    if target is None:
        return cell, ""
    met = r >= target if higher_better else r <= target
    sign = "≥" if higher_better else "≤"
    return cell, f"{sign}{target:g}× " + ("met" if met else "MISSED")


def build_rows(results, nchan_on):
    """Rows of (scenario, metric, herald, nchan, ratio, target)."""
    rows = []
    for num, by in results.items():
        sc = by["sc"]
        h, n = by.get("Herald"), by.get("nchan")
        title = f"{num} {sc['name']}"
        if num == 1:
            title += f": {sc['conns']:,} conns, {sc['hold']} s"
        elif num == 7:
            title += f": {sc['conns']:,} at once"
        elif num == 8:
            title = f"{num} handshakes: {sc['probe']:,} more, paced, with N held"
        elif num == 6:
            title += ", 1 subscriber"
        else:
            title += f": {sc['conns']:,} subs" + (
                f" / {sc['projects']:,} projects" if sc["projects"] > 1 else "") + \
                f", {sc['events']:,} events" + (f" at {sc['rate']}/s" if sc.get("rate") else "")

        def get(r, key):
            return r.get(key) if r else None

        def add(metric, hv, nv, ratio=("", "")):
            rows.append([title, metric, hv, nv if nchan_on else "not run", *ratio])

        def count(r):
            if not r:
                return "–"
            if num == 1:
                ok = r["opened"] == r["connections"] + r.get("probe", 0) and \
                    r["held"] == r["connections"]
                return f"{r['held']:,}/{r['connections']:,} " + ("ok" if ok else "FAILED")
            ok = r["delivered"] == r["expected"] and not r["short_conns"] and \
                not r["over_conns"] and r["opened"] == r["connections"] and not r["dropped"]
            return f"{r['delivered']:,}/{r['expected']:,} " + ("all" if ok else "MISSING")

        def probe_us(r):
            """CPU of a probe handshake: the server's CPU during the probe (its connects and the
            settling second after) less what holding the others cost in the second just
            before, per probe connection."""
            if not r or not r.get("probe_opened"):
                return None
            return (r["probe_cpu_s"] - r["probe_idle_cpu"] * r["probe_window_s"]) * 1e6 / \
                r["probe_opened"]

        if num in (7, 8):
            def ok(r):
                if not r:
                    return "–"
                return f"{r['opened']:,}/{r['connections'] + r['probe']:,} " + (
                    "ok" if r["ok"] else "FAILED")
            if num == 7:
                add("accepted, subscribed and held", ok(h), ok(n))
                add("time until the last is subscribed (s)", fmt_num(get(h, "ready_s")),
                    fmt_num(get(n, "ready_s")), ratio=ratio_cell(get(h, "ready_s"),
                                                                  get(n, "ready_s")))
                ch = h["connect_cpu_s"] * 1e6 / h["connections"] if h else None
                cn = n["connect_cpu_s"] * 1e6 / n["connections"] if n else None
                add("server CPU s, the whole storm", fmt_num(get(h, "connect_cpu_s")),
                    fmt_num(get(n, "connect_cpu_s")))
                add("server CPU µs per connection (handshake, subscribe)", fmt_num(ch),
                    fmt_num(cn), ratio=ratio_cell(ch, cn, 1))
                add("connection retries (refused or timed out, tried again)",
                    fmt_num(get(h, "retries")), fmt_num(get(n, "retries")))
                continue
            add(f"accepted ({sc['conns']:,} held, then {sc['probe']:,} more)", ok(h), ok(n))
            ph, pn = probe_us(h), probe_us(n)
            add(f"server CPU µs per handshake (and subscribe), {sc['conns']:,} held (net of holding)",
                fmt_num(ph), fmt_num(pn), ratio=ratio_cell(ph, pn, 1))
            big = results.get(1)
            if big:
                bh, bn = probe_us(big.get("Herald")), probe_us(big.get("nchan"))
                held = big["sc"]["conns"]
                add(f"server CPU µs per handshake, {held:,} held (scenario 1, net of holding)", fmt_num(bh),
                    fmt_num(bn), ratio=ratio_cell(bh, bn, 1))
                fh = bh / ph if bh and ph else None
                fn = bn / pn if bn and pn else None
                target = ("", "") if fh is None else (
                    "", "0.75–1.25 " + ("met" if 0.75 <= fh <= 1.25 else "MISSED"))
                add(f"{held:,} held ÷ {sc['conns']:,} held", f"{fh:.2f}" if fh else "–",
                    f"{fn:.2f}" if fn else "–", ratio=target)
            continue
        if num == 1:
            add("accepted and held", count(h), count(n))
            rh = (h["rss_after_kb"] - h["rss_before_kb"]) * 1024 / h["connections"] if h else None
            rn = (n["rss_after_kb"] - n["rss_before_kb"]) * 1024 / n["connections"] if n else None
            add("server RSS per connection (bytes)", fmt_num(rh), fmt_num(rn),
                ratio=ratio_cell(rh, rn, 0.5))
            ch = h["connect_cpu_s"] * 1e6 / h["connections"] if h else None
            cn = n["connect_cpu_s"] * 1e6 / n["connections"] if n else None
            add("server CPU µs per connection (handshake, subscribe)", fmt_num(ch), fmt_num(cn),
                ratio=ratio_cell(ch, cn))
            ih = h["hold_cpu_s"] * 100 / h["hold_s"] if h and h["hold_s"] else None
            inn = n["hold_cpu_s"] * 100 / n["hold_s"] if n and n["hold_s"] else None
            add("server CPU % of a core while holding them (pings every 25 s)", fmt_num(ih),
                fmt_num(inn), ratio=ratio_cell(ih, inn))
            add("time to connect all (s), client paced at 2,000/s", fmt_num(get(h, "connect_s")),
                fmt_num(get(n, "connect_s")))
            if sc.get("probe"):
                ph, pn = probe_us(h), probe_us(n)
                add(f"server CPU µs per handshake, {sc['probe']:,} more with all held (net of holding)",
                    fmt_num(ph), fmt_num(pn), ratio=ratio_cell(ph, pn, 1))
            continue
        if num == 6:
            ingest_rows(by, add, count)
            continue
        add("delivered", count(h), count(n))

        def rate(r):
            return r["delivered"] / r["span_s"] if r and r["span_s"] else None

        burst = num in (2, 3, 4)
        add("deliveries/s", fmt_num(rate(h)), fmt_num(rate(n)),
            ratio=ratio_cell(rate(h), rate(n), 2 if burst else None, True))
        for key, label in (("p50_us", "p50"), ("p99_us", "p99"), ("max_us", "max")):
            hv, nv = get(h, key), get(n, key)
            add(f"latency {label} (ms)", fmt_num(hv / 1000 if hv is not None else None),
                fmt_num(nv / 1000 if nv is not None else None),
                ratio=ratio_cell(hv, nv, 1 if key == "p99_us" else None))

        def cpu(r):
            return r["server_cpu_s"] * 1e5 / r["delivered"] if r and r["delivered"] else None

        # Issue 14: the bursts into one room at most 0.1x nchan's CPU, the many rooms 0.5x, the
        # paced stream 0.7x.
        target = {2: 0.1, 3: 0.1, 4: 0.5}.get(num, 0.7)
        add("server CPU s per 100k deliveries", fmt_num(cpu(h)), fmt_num(cpu(n)),
            ratio=ratio_cell(cpu(h), cpu(n), target))
        add("load client CPU s (whole phase)", fmt_num(get(h, "client_cpu_s")),
            fmt_num(get(n, "client_cpu_s")))
    return rows


def ingest_rows(by, add, count):
    """Scenario 6: Herald's sources one by one; nchan beside the comparable HTTP source."""
    h, n = by.get("Herald"), by.get("nchan")

    def rate(r):
        return r["events"] / r["span_s"] if r and r["span_s"] else None

    def cpu(r):
        return r["server_cpu_s"] * 1e6 / r["events"] if r and r["events"] else None

    def target(r, want):
        return ("", f"≥{want:,}/s " + ("met" if r and (rate(r) or 0) >= want else "MISSED"))

    if h:
        add(f"stdin source, {h['events']:,} events: delivered", count(h), "")
        add("  events/s", fmt_num(rate(h)), "", ratio=target(h, 100000))  # issue 14
        add("  server CPU µs per event", fmt_num(cpu(h)), "")
        if by.get("lua"):
            add("  of which Lua formatting (perf)", by["lua"], "")
    def webhook_key(k):
        return tuple(int(x) for x in k.split()[1:])

    for key in sorted((k for k in by if k.startswith("webhook ")), key=webhook_key):
        w, (batch, pubs) = by[key], webhook_key(key)
        peer = n if batch == 1 else None
        what = "one event per request" if batch == 1 else f"{batch} events per request"
        if pubs > 1:
            what += f" on {pubs} connections at once"
        label = f"webhook source, {what}, {w['events']:,} events"
        if peer:
            label += " (nchan: HTTP publish, one per request)"
        add(label + ": delivered", count(w), count(peer) if peer else "")
        add("  events/s", fmt_num(rate(w)), fmt_num(rate(peer)) if peer else "",
            ratio=ratio_cell(rate(w), rate(peer), None, True) if peer
            else target(w, 150000) if batch > 1 else ("", ""))
        add("  server CPU µs per event", fmt_num(cpu(w)), fmt_num(cpu(peer)) if peer else "",
            ratio=ratio_cell(cpu(w), cpu(peer)) if peer else ("", ""))
    if n and not any(k.startswith("webhook ") for k in by):
        add(f"nchan: HTTP publish, one per request, {n['events']:,} events: delivered", "",
            count(n))
        add("  events/s", "", fmt_num(rate(n)))
        add("  server CPU µs per event", "", fmt_num(cpu(n)))


def markdown(rows):
    head = ["scenario", "metric", "Herald", "nchan", "Herald ÷ nchan", "target"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    last = None
    for r in rows:
        cells = [r[0] if r[0] != last else ""] + [str(c) for c in r[1:]]
        last = r[0]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- main -----------------------------------------------------------------------------------

def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": os.uname().release,
            "mem_gib": round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30)}


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def build(args):
    log(f"building into {args.build_dir}")
    targets = ["herald", "stdin_plugin", "loadclient"]
    if os.path.isdir(os.path.join(REPO, "plugins", "webhook")):
        targets.append("webhook_plugin")
    r = subprocess.run(["cmake", "-S", REPO, "-B", args.build_dir, "-DCMAKE_BUILD_TYPE=Release",
                        "-DHERALD_WERROR=OFF"], stdout=subprocess.DEVNULL)
    if r.returncode == 0:
        r = subprocess.run(["cmake", "--build", args.build_dir, "-j2", "--target"] + targets,
                           stdout=subprocess.DEVNULL)
    if r.returncode != 0:
        sys.exit("run.py: the build failed (see above)")


def lua_share(perf, res):
    """Herald's CPU per event in formatter_format (formatter_run before it: the Lua call and its
    conversions): the share of the profiled run's samples applied to the CPU time of the run
    without perf, `res`."""
    rep = perf.report("--children", "--sort", "sym")
    share = children_share(rep, {"formatter_format", "formatter_run", "event_parse"})
    fmt = "formatter_format" if "formatter_format" in share else "formatter_run"
    if fmt not in share:
        return None
    us = res["server_cpu_s"] * 1e6 / res["events"]
    lua = share[fmt] / 100 * us
    text = f"{lua:.2f} µs/event ({share[fmt]:.0f}%); the rest {us - lua:.2f} µs"
    if "event_parse" in share:
        text += f", of which parsing the event {share['event_parse'] / 100 * us:.2f} µs"
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", help="scenarios to run, e.g. 2,3 (default: all)")
    ap.add_argument("--quick", action="store_true", help="a smaller workload (a smoke test)")
    ap.add_argument("--no-nchan", action="store_true", help="run Herald only")
    ap.add_argument("--no-herald", action="store_true", help="run nchan only")
    ap.add_argument("--record", action="store_true",
                    help="append the results, dated, to BENCHMARKS.md")
    ap.add_argument("--profile", action="store_true",
                    help="also profile Herald with perf in scenarios 2 and 6 (extra runs)")
    ap.add_argument("--keep-perf", action="store_true",
                    help="keep the perf data of --profile (named in the output)")
    ap.add_argument("--threads", type=int, default=1, help="load client threads (1 or 2)")
    ap.add_argument("--nchan-workers", type=int, default=1, help="nginx worker processes")
    ap.add_argument("--build-dir", default=os.path.join(REPO, "build-bench"))
    ap.add_argument("--no-build", action="store_true", help="use the build directory as it is")
    args = ap.parse_args()
    only = [int(x) for x in args.only.split(",")] if args.only else sorted(SCENARIOS)
    args.secret = secrets.token_hex(16)
    args.work = tempfile.mkdtemp(prefix="herald-bench-")

    if not args.no_build:
        build(args)
    args.webhook = os.path.exists(os.path.join(args.build_dir, "plugins", "webhook.so"))
    if not args.webhook:
        log("no webhook plugin built: scenario 6 runs through the stdin source only")
    nchan_on = not args.no_nchan and ensure_nchan()
    if not nchan_on and not args.no_nchan:
        log("nchan unavailable: running Herald only")
    if args.profile and not shutil.which("perf"):
        log("perf not found: no profile (apt-get install linux-perf)")
        args.profile = False
    args.template = message_template(args) if nchan_on and not args.no_herald else None
    if args.template:
        log(f"nchan publishes Herald's own message: {args.template}")
    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = loadavg()
    log(f"load average {load_before}; logs in {args.work}")

    results, profiles = {}, {}
    for num in only:
        sc = dict(SCENARIOS[num])
        if args.quick:
            sc.update(QUICK[num])
        results[num] = {"sc": sc}
        for cls in ([] if args.no_herald else [Herald]) + ([Nchan] if nchan_on else []):
            log(f"scenario {num} ({sc['name']}) on {cls.name}")
            # In the ingest scenario nchan publishes as Herald's webhook does, one event per
            # request: the same number of events as that run.
            events = sc["webhook"][0][1] if num == 6 and cls is Nchan else None
            results[num][cls.name] = run_scenario(args, num, cls, events=events)
        if num == 6 and not args.no_herald and args.webhook:
            for batch, events, pubs in sc["webhook"]:
                log(f"scenario 6 on Herald, webhook source, {batch} events per request, "
                    f"{pubs} connection(s)")
                results[num][f"webhook {batch} {pubs}"] = run_scenario(
                    args, num, Herald, batch=batch, events=events, publishers=pubs)
        if args.profile and num in PROFILED:
            log(f"scenario {num} on Herald again, under perf")
            res = run_scenario(args, num, Herald, profile=True)
            if num == 6:
                results[num]["lua"] = lua_share(res["perf"], results[num]["Herald"])
            top = res["perf"].report("--no-children", "--sort", "dso,sym", "--percent-limit", "1.5")
            profiles[num] = (f"{breakdown(res['perf'])}\n\nself time, top functions:\n{top}")
            if args.keep_perf:
                log(f"perf data kept: {res['perf'].path}")
            else:
                os.unlink(res["perf"].path)
        if args.profile and num == 6 and args.webhook and not args.no_herald:
            batch, events, _ = sc["webhook"][0]
            log(f"scenario 6 on Herald again, webhook source, {batch} per request, under perf")
            res = run_scenario(args, num, Herald, profile=True, batch=batch, events=events)
            top = res["perf"].report("--no-children", "--sort", "dso,sym", "--percent-limit", "1.5")
            profiles[f"6, webhook, {batch} event per request"] = (
                f"{breakdown(res['perf'])}\n\nself time, top functions:\n{top}")
            if args.keep_perf:
                log(f"perf data kept: {res['perf'].path}")
            else:
                os.unlink(res["perf"].path)
    rows = build_rows(results, nchan_on)
    table = markdown(rows)
    load_after = loadavg()
    m = machine()
    print()
    print(table)
    print()
    print(f"machine: {m['nproc']} × {m['cpu']}, kernel {m['kernel']}; load average "
          f"{load_before} before, {load_after} after")
    for num, text in profiles.items():
        print(f"\nperf, Herald, scenario {num} (share of samples under each function):\n{text}")

    if args.record:
        record(args, m, started, load_before, load_after, table, results, profiles)
    failed = [n for n, by in results.items() for name, r in by.items()
              if isinstance(r, dict) and "ok" in r and not r["ok"]]
    if failed:
        log(f"not every connection or notification arrived in scenarios {sorted(set(failed))}")
    return 1 if any(not r["ok"] for by in results.values() for name, r in by.items()
                    if name != "nchan" and isinstance(r, dict) and "ok" in r) else 0


def record(args, m, started, load_before, load_after, table, results, profiles):
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "core", "plugins"],
                           capture_output=True, text=True).stdout.strip()
    nginx_v = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip() \
        if shutil.which("nginx") else "not installed"
    nchan_v = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "libnginx-mod-nchan"],
                             capture_output=True, text=True).stdout.strip()
    cmd = "tests/bench/run.py " + " ".join(sys.argv[1:])
    notes = []
    for num, by in results.items():
        for name, r in by.items():
            if isinstance(r, dict) and r.get("server_exit"):
                notes.append(f"- scenario {num}, {name}: {r['server_exit']}")
            if isinstance(r, dict) and "published" in r and r["events"]:
                notes.append(f"- scenario {num}, {name}: {r['published']:,} events published in "
                             f"{r['pub_s']:.3f} s (publisher thread CPU {r['pub_cpu_s']:.3f} s), "
                             f"payload {r['payload']:.0f} bytes")
    exits = "".join("\n" + n for n in notes if "exited" in n)
    text = f"""
## {started:%Y-%m-%d %H:%M} UTC — commit {commit}{' (core or plugins modified)' if dirty else ''}

- machine: {m['nproc']} CPUs, {m['cpu']}, {m['mem_gib']} GiB, kernel {m['kernel']}
- peer: {nginx_v}, libnginx-mod-nchan {nchan_v or 'not installed'}, {args.nchan_workers} worker
- command: `{cmd.strip()}`
- load average {load_before} before, {load_after} after{exits}

{table}

<details><summary>publishing</summary>

{chr(10).join(notes)}
</details>
"""
    for num, prof in profiles.items():
        text += (f"\n<details><summary>perf, Herald, scenario {num}</summary>\n\n"
                 f"```\n{prof}\n```\n</details>\n")
    path = os.path.join(REPO, "BENCHMARKS.md")
    with open(path, "a") as f:
        f.write(text)
    log(f"appended to {path}")


if __name__ == "__main__":
    sys.exit(main())
