"""The packages, end to end: packaging/build-packages.sh builds the .deb and the .rpm; their file
lists, modes, configuration files, dependencies and scripts are checked against the layout of
packaging/README.md; lintian checks the .deb; then the .deb is installed with apt-get into a
fresh Debian 12 root made by debootstrap, so apt has to pull in every library the package
declares. There the installed binary runs the way the installed unit says (its user, its
environment file, its ExecStartPre check, its limits), a real WebSocket client subscribes, an
event POSTed to the installed webhook plugin comes back as a notification; the example plugin
of plugins/README.md is built out of tree with `pkg-config herald-plugin` and the commands the
guide gives, and the installed herald loads it and delivers its events; then the package is
purged.

Needs root, debootstrap, dpkg-dev, rpm, lintian and the Debian mirror; ports 8000 and 8001
must be free (the shipped config fixes them). Run by ctest when HERALD_PACKAGE_TEST is ON.
"""

import asyncio
import json
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import jwt
import pytest
import websockets

SOURCE_DIR = Path(os.environ.get("HERALD_SOURCE_DIR", Path(__file__).resolve().parents[2]))
OUT_DIR = Path(os.environ.get("HERALD_PKG_DIR", SOURCE_DIR / "build-pkg"))
MIRROR = os.environ.get("HERALD_DEBIAN_MIRROR", "http://deb.debian.org/debian")
UNIT = "/usr/lib/systemd/system/herald.service"
WS_PORT, WEBHOOK_PORT = 8000, 8001

# The layout of packaging/README.md.
SCRIPTS = sorted("/etc/herald/scripts/" + str(p.relative_to(SOURCE_DIR / "scripts"))
                 for p in (SOURCE_DIR / "scripts").rglob("*.lua"))
CONFFILES = ["/etc/herald/herald.yaml", "/etc/herald/herald.env", *SCRIPTS]
DOCS = ["README.md", "configuration.md", "copyright", "plugins.md", "protocol.md", "redis.md",
        "scripts.md", "stdin.md", "webhook.md"]
FILES = {
    "/usr/bin/herald",
    "/usr/lib/herald/plugins/stdin.so",
    "/usr/lib/herald/plugins/webhook.so",
    "/usr/lib/herald/plugins/redis.so",
    "/usr/include/herald/plugin.h",
    "/usr/share/pkgconfig/herald-plugin.pc",
    UNIT,
    "/usr/share/man/man1/herald.1.gz",
    *CONFFILES,
    *("/usr/share/doc/herald/" + d for d in DOCS),
}
DEB_ONLY = {"/usr/share/doc/herald/changelog.Debian.gz"}
RPM_DIRS = {"/etc/herald", "/etc/herald/scripts", "/etc/herald/scripts/lib", "/usr/include/herald",
            "/usr/lib/herald", "/usr/lib/herald/plugins", "/usr/share/doc/herald"}
DEB_DEPENDS = {"adduser", "procps", "libc6", "libwebsockets17", "liblua5.4-0", "libjansson4",
               "libjwt0", "libyaml-0-2", "libhiredis0.14", "libssl3"}
RPM_REQUIRES = {"libwebsockets.so.17()(64bit)", "liblua5.4.so.0()(64bit)",
                "libjansson.so.4()(64bit)", "libjwt.so.0()(64bit)", "libyaml-0.so.2()(64bit)",
                "libhiredis.so.0.14()(64bit)", "libcrypto.so.3()(64bit)", "shadow-utils"}
# The lintian warnings packaging/README.md lists and justifies; any other fails the test.
LINTIAN_ALLOWED = {
    "initial-upload-closes-no-bugs",
    "non-standard-file-perm 0600 != 0644 [etc/herald/herald.env]",
}

EVENT = {"event_type": "milestone_created",
         "project": {"id": 2, "title": "Mobile App Development"},
         "actor": {"id": 5, "username": "jane_smith", "first_name": "Jane", "last_name": "Smith"},
         "data": {"id": 42, "title": "Sprint Planning", "progress": 0}}


def run(*cmd, check=True, timeout=300, **kw):
    """Run a command to completion; output captured as text."""
    r = subprocess.run([str(c) for c in cmd], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r


def wait_for(what, predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


# ----------------------------------------------------------------------------- fixtures


def check_ports_free():
    for host, port in (("0.0.0.0", WS_PORT), ("127.0.0.1", WEBHOOK_PORT)):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
            except OSError as e:
                pytest.fail(f"port {port} is in use ({e}): the shipped /etc/herald/herald.yaml "
                            f"listens on {WS_PORT} and {WEBHOOK_PORT}; stop what holds it")


@pytest.fixture(scope="module", autouse=True)
def bootstrap(tmp_path_factory):
    """Starts debootstrap in the background, so it runs while the packages build."""
    check_ports_free()
    if os.geteuid() != 0 or not shutil.which("debootstrap"):
        pytest.fail("needs root and debootstrap (bash packaging/install-deps.sh)")
    root = tmp_path_factory.mktemp("fresh") / "root"
    cache = OUT_DIR / "debootstrap-cache"
    cache.mkdir(parents=True, exist_ok=True)
    log = open(root.parent / "debootstrap.log", "w")
    proc = subprocess.Popen(["debootstrap", "--variant=minbase", f"--cache-dir={cache}",
                             "bookworm", str(root), MIRROR],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    yield root, proc, log
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    log.close()
    if (root / "proc").is_mount():
        subprocess.run(["umount", str(root / "proc")], check=False)
    # Never cross into a file system mounted inside the root.
    subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=False)


@pytest.fixture(scope="module")
def packages():
    run("bash", SOURCE_DIR / "packaging" / "build-packages.sh", OUT_DIR, timeout=600)
    debs, rpms = sorted(OUT_DIR.glob("herald_*.deb")), sorted(OUT_DIR.glob("herald-*.rpm"))
    assert len(debs) == 1 and len(rpms) == 1, (debs, rpms)
    return debs[0], rpms[0]


@pytest.fixture(scope="module")
def version():
    text = (SOURCE_DIR / "CMakeLists.txt").read_text()
    return re.search(r"project\(herald VERSION (\S+)", text).group(1)


@pytest.fixture(scope="module")
def root(bootstrap, packages):
    """The fresh Debian 12 root with the .deb installed by apt-get, as an admin would."""
    path, proc, log = bootstrap
    try:
        rc = proc.wait(timeout=400)
    except subprocess.TimeoutExpired:
        pytest.fail("debootstrap did not finish in 400 s")
    if rc != 0:
        log.flush()
        tail = (path.parent / "debootstrap.log").read_text()[-3000:]
        pytest.fail(f"debootstrap exited {rc} (mirror {MIRROR} reachable?):\n{tail}")
    run("mount", "-t", "proc", "proc", path / "proc")
    deb = packages[0]
    shutil.copy(deb, path / "tmp" / deb.name)
    r = in_root(path, "apt-get", "-o", "Dpkg::Use-Pty=0", "install", "-y", f"/tmp/{deb.name}")
    print(r.stdout)
    return path


def in_root(root, *cmd, check=True, timeout=300):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive",
           "LC_ALL": "C.UTF-8"}
    return run("chroot", root, *cmd, check=check, timeout=timeout, env=env)


# ----------------------------------------------------------------------------- the packages


def deb_files(deb):
    """{path: (mode, owner)} of the regular files in the .deb."""
    out = {}
    for line in run("dpkg-deb", "-c", deb).stdout.splitlines():
        mode, owner, _size, _date, _time, name = line.split(None, 5)
        if not mode.startswith("d"):
            out[name[1:]] = (mode, owner)
    return out


def test_deb_layout(packages):
    files = deb_files(packages[0])
    assert set(files) == FILES | DEB_ONLY
    assert files["/usr/bin/herald"] == ("-rwxr-xr-x", "root/root")
    assert files["/etc/herald/herald.env"] == ("-rw-------", "root/root")
    assert files["/etc/herald/herald.yaml"] == ("-rw-r--r--", "root/root")


def test_deb_control(packages, version):
    deb = packages[0]
    print(run("dpkg-deb", "-I", deb).stdout)
    fields = {f: run("dpkg-deb", "-f", deb, f).stdout.strip()
              for f in ("Package", "Version", "Architecture", "Depends")}
    assert fields["Package"] == "herald"
    assert fields["Version"] == f"{version}-1"
    assert fields["Architecture"] == run("dpkg", "--print-architecture").stdout.strip()
    depends = {re.sub(r"\s*\(.*\)", "", d).strip()
               for alt in fields["Depends"].split(",") for d in alt.split("|")}
    assert DEB_DEPENDS <= depends, f"missing from Depends: {DEB_DEPENDS - depends}"
    conffiles = run("dpkg-deb", "-I", deb, "conffiles").stdout.split()
    assert sorted(conffiles) == sorted(CONFFILES)
    for script in ("postinst", "prerm", "postrm"):
        text = run("dpkg-deb", "-I", deb, script).stdout
        run("sh", "-n", "-c", text)
    assert "adduser --quiet --system --group" in run("dpkg-deb", "-I", deb, "postinst").stdout
    assert "deluser" in run("dpkg-deb", "-I", deb, "postrm").stdout


def test_rpm_layout(packages):
    rpm = packages[1]
    # Mode, owner, flags (c: %config, n: noreplace; the dot keeps an empty field) and path.
    fmt = ("[%{FILEMODES:perms} %{FILEUSERNAME}/%{FILEGROUPNAME} %{FILEFLAGS:fflags}. "
           "%{FILENAMES}\n]")
    entries = {}
    for line in run("rpm", "-qp", "--queryformat", fmt, rpm).stdout.splitlines():
        mode, owner, flags, name = line.split(None, 3)
        entries[name] = (mode, owner, flags.rstrip("."))
    files = {n for n, (mode, _, _) in entries.items() if not mode.startswith("d")}
    dirs = {n for n, (mode, _, _) in entries.items() if mode.startswith("d")}
    assert files == FILES
    assert dirs == RPM_DIRS, "the package must own its own directories and no system one"
    for f in CONFFILES:
        assert set("cn") <= set(entries[f][2]), f"{f} is not %config(noreplace)"
    assert entries["/etc/herald/herald.env"][:2] == ("-rw-------", "root/root")
    assert entries["/usr/bin/herald"][:2] == ("-rwxr-xr-x", "root/root")
    assert sorted(run("rpm", "-qpc", rpm).stdout.split()) == sorted(CONFFILES)


def test_rpm_requires_and_scripts(packages):
    rpm = packages[1]
    requires = run("rpm", "-qpR", rpm).stdout
    print(requires)
    missing = RPM_REQUIRES - {line.strip() for line in requires.splitlines()}
    assert not missing, f"missing from the rpm's Requires: {missing}"
    scripts = run("rpm", "-qp", "--scripts", rpm).stdout
    assert "useradd -r -g herald" in scripts and "preinstall scriptlet" in scripts


def test_lintian(packages):
    r = run("lintian", "--pedantic", packages[0], check=False)
    print(r.stdout)
    tags = [line for line in r.stdout.splitlines() if re.match(r"[EW]: ", line)]
    errors = [t for t in tags if t.startswith("E:")]
    assert not errors, "lintian errors:\n" + "\n".join(errors)
    warnings = {t.split(": ", 2)[2] for t in tags if t.startswith("W:")}
    new = {w for w in warnings
           if w not in LINTIAN_ALLOWED and w.split(" [")[0] not in LINTIAN_ALLOWED}
    assert not new, ("lintian warnings neither fixed nor justified in packaging/README.md:\n"
                     + "\n".join(sorted(new)))


def test_unit_file():
    unit = SOURCE_DIR / "packaging" / "systemd" / "herald.service"
    if not shutil.which("systemd-analyze"):
        pytest.skip("no systemd-analyze")
    r = run("systemd-analyze", "verify", unit, check=False)
    # Without the package installed here the binary is missing; that is no unit error.
    herald_absent = not os.access("/usr/bin/herald", os.X_OK)
    problems = [line for line in (r.stdout + r.stderr).splitlines() if line.strip() and not (
        herald_absent and "Command /usr/bin/herald is not executable" in line)]
    assert not problems, "systemd-analyze verify:\n" + "\n".join(problems)
    r = run("systemd-analyze", "security", "--offline=yes", unit, check=False)
    level = re.search(r"Overall exposure level for herald.service: (\S+) (\S+)", r.stdout)
    print(level.group(0) if level else r.stdout + r.stderr)
    assert level and level.group(2) in ("PERFECT", "SAFE", "OK"), r.stdout[-2000:]


# ----------------------------------------------------------------------------- installed


class Service:
    """Herald started the way the installed unit says, systemd not being PID 1 here: as its
    User and Group with no capability and no new privileges (CapabilityBoundingSet=,
    NoNewPrivileges=yes), only the variables of its EnvironmentFile, its LimitNOFILE and
    UMask, after its ExecStartPre check; ExecReload is run as written."""

    def __init__(self, root, log_path):
        self.root, self.log_path = root, log_path
        unit = (root / UNIT.lstrip("/")).read_text()
        self.unit, self.lines = {}, {}  # the first value of each key; all of them, in order
        for line in unit.splitlines():
            key, sep, value = line.partition("=")
            if sep and not line.startswith("#"):
                self.unit.setdefault(key.strip(), value.strip())
                self.lines.setdefault(key.strip(), []).append(value.strip())
        self.proc = None
        self.notify_socket = None

    def environment(self):
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
        path = self.root / self.unit["EnvironmentFile"].lstrip("-/")
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith(("#", ";")):
                key, _, value = line.partition("=")
                env[key.strip()] = value.strip().strip("\"'")
        return env

    def command(self, key, *extra, line=None):
        return ["chroot", str(self.root), "setpriv", f"--reuid={self.unit['User']}",
                f"--regid={self.unit['Group']}", "--init-groups", "--no-new-privs",
                "--bounding-set=-all", "--inh-caps=-all", "--",
                *(line or self.unit[key]).split(), *extra]

    def limits(self):
        n = int(self.unit["LimitNOFILE"])
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
        except ValueError:  # a container may forbid even root to raise the hard limit
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        os.umask(int(self.unit["UMask"], 8))

    def run(self, key, *extra):
        return subprocess.run(self.command(key, *extra), env=self.environment(),
                              preexec_fn=self.limits, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=30)

    def start(self):
        pre = self.run("ExecStartPre")
        assert pre.returncode == 0, f"ExecStartPre failed:\n{pre.stdout}{pre.stderr}"
        self.log = open(self.log_path, "w")
        env = self.environment()
        if self.unit["Type"] == "notify":
            # systemd's notification socket, abstract so that the chroot does not hide it
            self.notify_socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            name = f"herald-pkgtest-{os.getpid()}"
            self.notify_socket.bind("\0" + name)
            env["NOTIFY_SOCKET"] = "@" + name
        self.proc = subprocess.Popen(self.command("ExecStart"), env=env,
                                     preexec_fn=self.limits, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def notification(self, timeout=15):
        """The next message on the notification socket (READY=1, ...)."""
        self.notify_socket.settimeout(timeout)
        return self.notify_socket.recv(4096).decode()

    def reload(self):
        """Run the ExecReload lines in order as systemd does, as the unit's user with its
        environment, stopping at the first that fails; returns the last one's result (a
        non-zero exit is what `systemctl reload` reports as a failed reload)."""
        for line in self.lines["ExecReload"]:
            r = subprocess.run(self.command("ExecReload", line=line.replace(
                "$MAINPID", str(self.proc.pid))), env=self.environment(),
                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
            if r.returncode != 0:
                break
        return r

    def output(self):
        return self.log_path.read_text()

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc:
            self.log.close()
        if self.notify_socket:
            self.notify_socket.close()


def http(method, port, path, body=None, headers=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return None, ""


def listening(port):
    """The local addresses (hex, as in /proc/net/tcp) that listen on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, hexport = local.split(":")
            if state == "0A" and int(hexport, 16) == port:
                found.add(addr)
    return found


def set_secrets(root, values):
    """Fills the placeholders of the installed herald.env, keeping its comments."""
    path = root / "etc/herald/herald.env"
    lines = []
    for line in path.read_text().splitlines():
        key = line.partition("=")[0]
        lines.append(f"{key}={values[key]}" if key in values else line)
    path.write_text("\n".join(lines) + "\n")


def test_install_made_user_and_files(root, version):
    passwd = in_root(root, "getent", "passwd", "herald").stdout.strip().split(":")
    assert passwd[5:] == ["/nonexistent", "/usr/sbin/nologin"], passwd
    assert int(passwd[2]) < 1000, "herald must be a system user"
    group = in_root(root, "getent", "group", "herald").stdout.strip().split(":")
    assert group[2] == passwd[3], "herald's primary group must be the herald group"
    assert not (root / "nonexistent").exists()
    assert in_root(root, "herald", "--version").stdout.strip() == f"herald {version}"
    st = (root / "etc/herald/herald.env").stat()
    assert (st.st_mode & 0o777, st.st_uid, st.st_gid) == (0o600, 0, 0)
    for f in FILES:
        assert (root / f.lstrip("/")).exists(), f"{f} not installed"
    listed = in_root(root, "dpkg-query", "-W", "-f=${Conffiles}", "herald").stdout
    assert sorted(line.split()[0] for line in listed.strip().splitlines()) == sorted(CONFFILES)


def test_installed_docs_link_to_installed_files(root):
    """The guides link to each other by their source paths; the installed copies must link to
    what is installed next to them, anchors included."""
    docdir = root / "usr/share/doc/herald"
    checked = 0
    for doc in docdir.glob("*.md"):
        text = doc.read_text()
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path, _, anchor = target.partition("#")
            assert (docdir / path).is_file(), f"{doc.name} links to {target}, not installed"
            if anchor:
                headings = re.findall(r"^#+ (.+)$", (docdir / path).read_text(), re.M)
                slugs = {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}
                assert anchor in slugs, f"{doc.name} links to {target}: no such heading"
            checked += 1
    assert checked >= 6, "the guides' links between each other were not found"


def test_shipped_environment_file_refuses_to_start(root):
    """Installed as it is, with empty secrets, the service stops at ExecStartPre."""
    r = Service(root, root.parent / "unused.log").run("ExecStartPre")
    assert r.returncode == 1
    assert "HERALD_JWT_SECRET is empty" in r.stderr


def test_changed_configuration_survives_reinstall(root, packages):
    set_secrets(root, {"HERALD_JWT_SECRET": "jwt-" + secrets.token_hex(24),
                       "HERALD_WEBHOOK_TOKEN": "hook-" + secrets.token_hex(24)})
    before = (root / "etc/herald/herald.env").read_text()
    script = root / "etc/herald/scripts/milestone_created.lua"
    script.write_text(script.read_text().replace('"Milestone Created"', '"New milestone"'))
    edited = script.read_text()
    r = in_root(root, "dpkg", "-i", f"/tmp/{packages[0].name}")
    assert (root / "etc/herald/herald.env").read_text() == before, r.stdout
    assert script.read_text() == edited, r.stdout
    assert (root / "etc/herald/herald.env").stat().st_mode & 0o777 == 0o600


def test_installed_service_delivers_a_webhook_event(root, tmp_path):
    service = Service(root, tmp_path / "herald.log")
    env = service.environment()
    jwt_secret, hook_token = env["HERALD_JWT_SECRET"], env["HERALD_WEBHOOK_TOKEN"]
    assert jwt_secret and hook_token, "the previous test wrote the secrets"
    try:
        service.start()
        # Type=notify: READY=1 once it serves, which systemctl start waits for
        assert service.unit["Type"] == "notify"
        assert service.notification() == "READY=1", service.output()
        assert http("GET", WS_PORT, "/healthz")[0] == 200
        wait_for("/healthz on both ports", lambda: service.proc.poll() is not None or (
            http("GET", WS_PORT, "/healthz")[0] == 200 and
            http("GET", WEBHOOK_PORT, "/healthz")[0] == 200), 15)
        assert service.proc.poll() is None, service.output()

        status = Path(f"/proc/{service.proc.pid}/status").read_text()
        uid = in_root(root, "id", "-u", "herald").stdout.strip()
        assert re.search(rf"^Uid:\s+{uid}\s+{uid}\s+{uid}\s+{uid}$", status, re.M), status
        assert re.search(r"^NoNewPrivs:\s+1$", status, re.M)
        assert re.search(r"^CapBnd:\s+0+$", status, re.M)
        assert listening(WEBHOOK_PORT) == {"0100007F"}, "the webhook must listen on loopback only"

        # A token from the installed `herald token`, signed with the secret of herald.env; the
        # shipped config's claim policy wants the user's projects in it.
        minted = service.run("ExecStart", "token", "--user", "7", "--claim", "projects=2")
        assert minted.returncode == 0, minted.stderr
        token = minted.stdout.strip()
        claims = jwt.decode(token, jwt_secret, algorithms=["HS256"])
        assert (claims["user_id"], claims["projects"]) == (7, [2])

        async def client():
            uri = f"ws://127.0.0.1:{WS_PORT}/ws/notifications/?token={token}"
            async with websockets.connect(uri) as ws:
                await ws.send(json.dumps({"type": "subscribe_project", "project_id": 2}))
                await ws.send(json.dumps({"type": "subscribe_project", "project_id": 3}))
                # Messages are handled in order: this answer means project 2 was joined.
                refused = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert refused["code"] == "forbidden", refused

                body = json.dumps(EVENT).encode()
                json_type = {"Content-Type": "application/json"}
                status, _ = await asyncio.to_thread(http, "POST", WEBHOOK_PORT, "/events", body,
                                                    json_type)
                assert status == 401, "the shipped webhook must require its bearer token"
                status, answer = await asyncio.to_thread(
                    http, "POST", WEBHOOK_PORT, "/events", body,
                    dict(json_type, Authorization=f"Bearer {hook_token}"))
                assert (status, json.loads(answer)) == (202, {"accepted": 1}), answer
                return json.loads(await asyncio.wait_for(ws.recv(), 10))

        note = asyncio.run(client())
        assert note["type"] == "notification_received"
        assert note["title"] == "New milestone", "the admin's edited script formats the event"
        assert note["message"] == "Milestone 'Sprint Planning' has been created"
        assert (note["project_id"], note["actor"]["id"]) == (2, 5)

        status, metrics = http("GET", WS_PORT, "/metrics")
        assert status == 200
        assert re.search(r'^herald_events_ingested_total\{source="webhook"\} 1$', metrics, re.M)
        assert re.search(r"^herald_notifications_delivered_total 1$", metrics, re.M)

        r = service.reload()
        assert r.returncode == 0, r.stderr
        wait_for("the reload", lambda: "scripts reloaded from /etc/herald/scripts"
                 in service.output(), 10)
        assert service.proc.poll() is None
        assert service.notification().startswith("RELOADING=1\nMONOTONIC_USEC=")
        assert service.notification() == "READY=1"

        # A reload whose script does not compile fails as `systemctl reload` would show it:
        # ExecReload's check exits non-zero naming the file and line, the server is not
        # signalled, the old scripts keep serving.
        script = root / "etc/herald/scripts/milestone_created.lua"
        good = script.read_text()
        try:
            script.write_text("return function(event\n")
            r = service.reload()
            assert r.returncode != 0
            assert "milestone_created.lua:2:" in r.stderr, r.stderr
            assert service.output().count("scripts reloaded") == 1, service.output()
            assert service.proc.poll() is None
        finally:
            script.write_text(good)

        os.kill(service.proc.pid, signal.SIGTERM)
        assert service.proc.wait(timeout=15) == 0, service.output()
        assert service.notification() == "STOPPING=1"
    finally:
        service.kill()
    log = service.output()
    print(log)
    assert jwt_secret not in log and hook_token not in log and token not in log
    assert all(re.match(r"\S+ (error|warn|info|debug) ", line) for line in log.splitlines()), log


def readme_blocks(lang):
    """The code blocks of one language in plugins/README.md, in order."""
    text = (SOURCE_DIR / "plugins" / "README.md").read_text()
    return re.findall(rf"^```{lang}\n(.*?)^```", text, re.S | re.M)


def test_out_of_tree_plugin_built_with_pkg_config(root, version):
    """A developer's view: with the package and a compiler installed, the guide's build commands
    (plugins/README.md) compile its complete example, tick.c, against the installed header via
    `pkg-config herald-plugin`, and install it into the .pc's plugindir; the installed herald
    finds it there by name, checks it, and delivers its events to a WebSocket client."""
    in_root(root, "apt-get", "-o", "Dpkg::Use-Pty=0", "install", "-y", "--no-install-recommends",
            "gcc", "libc6-dev", "pkg-config", timeout=600)
    pc = ["pkg-config", "herald-plugin"]
    assert in_root(root, *pc, "--modversion").stdout.strip() == version
    plugindir = in_root(root, *pc, "--variable=plugindir").stdout.strip()
    assert plugindir == "/usr/lib/herald/plugins"
    # pkg-config leaves out -I/usr/include, the compiler's own directory, unless told not to.
    flags = in_root(root, "env", "PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1", *pc, "--cflags").stdout
    assert flags.split() == ["-I/usr/include"], flags

    example = next(b for b in readme_blocks("c") if b.startswith("/* tick.c "))
    build = next(b for b in readme_blocks("sh") if "pkg-config --cflags herald-plugin" in b)
    work = root / "tmp" / "tick"
    work.mkdir()
    (work / "tick.c").write_text(example)
    (work / "build.sh").write_text("set -e\ncd /tmp/tick\n" + build)
    plugin = root / plugindir.lstrip("/") / "tick.so"
    try:
        r = in_root(root, "sh", "-x", "/tmp/tick/build.sh")
        assert "warning" not in r.stderr, r.stderr
        symbols = [line.split()[-1] for line in r.stdout.splitlines() if line.strip()]
        assert symbols == ["herald_plugin_entry"], r.stdout
        assert plugin.exists()

        secret = "jwt-" + secrets.token_hex(24)
        (work / "herald.yaml").write_text(
            f"server: {{listen: 127.0.0.1, port: {WS_PORT}}}\n"
            "auth: {secret: {env: HERALD_JWT_SECRET}}\n"
            "scripts: {dir: /etc/herald/scripts}\n"
            "plugins:\n"
            "  - name: tick\n"   # no path: <plugin_dir>/tick.so, the core's default directory
            "    options: {user: 7, interval: 1}\n")
        as_herald = ["chroot", str(root), "setpriv", "--reuid=herald", "--regid=herald",
                     "--init-groups", "--", "herald"]
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HERALD_JWT_SECRET": secret}
        config = ["-c", "/tmp/tick/herald.yaml"]
        checked = run(*as_herald, "check-config", *config, env=env)
        assert checked.stdout.strip() == "/tmp/tick/herald.yaml: ok", checked.stdout
        assert f"plugin tick loaded from {plugindir}/tick.so" in checked.stderr, checked.stderr
        token = run(*as_herald, "token", "--user", "7", *config, env=env).stdout.strip()

        with open(work / "herald.log", "w") as log:
            proc = subprocess.Popen([*as_herald, *config], env=env, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for("/healthz", lambda: proc.poll() is not None or
                     http("GET", WS_PORT, "/healthz")[0] == 200, 15)
            assert proc.poll() is None, (work / "herald.log").read_text()

            async def client():
                uri = f"ws://127.0.0.1:{WS_PORT}/ws/notifications/?token={token}"
                async with websockets.connect(uri) as ws:
                    return json.loads(await asyncio.wait_for(ws.recv(), 10))

            note = asyncio.run(client())  # a tick a second: the next one reaches the client
            assert (note["type"], note["event_type"]) == ("notification_received", "tick"), note
            assert note["data"]["n"] >= 1
            proc.send_signal(signal.SIGTERM)  # tick's stop() must return promptly
            assert proc.wait(timeout=15) == 0, (work / "herald.log").read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        print((work / "herald.log").read_text())
    finally:
        # Not the package's file: the purge below would leave it (and the directory) behind.
        plugin.unlink(missing_ok=True)


def test_purge_removes_package_and_user(root):
    in_root(root, "apt-get", "-o", "Dpkg::Use-Pty=0", "purge", "-y", "herald")
    for gone in ("usr/bin/herald", "usr/lib/herald", "etc/herald", UNIT.lstrip("/")):
        assert not (root / gone).exists(), f"/{gone} left after purge"
    assert in_root(root, "getent", "passwd", "herald", check=False).returncode == 2
    assert in_root(root, "getent", "group", "herald", check=False).returncode == 2
