"""The package as users get it: `pip install` offline into a virtualenv, and the python3-herald
.deb built by packaging/build-python3-herald.sh; each one, installed, must publish to a real
herald."""

import json
import os
import shutil
import subprocess
import sys

import harness
import webhook_harness
from helpers import SOURCE_DIR, receive

CLIENT_DIR = SOURCE_DIR / "clients" / "python"

# Run by the installed package, outside the source tree: one notification to user 7.
PUBLISH = """
import json, sys, herald
from herald import Client
assert "/clients/python/" not in herald.__file__, herald.__file__
with Client.webhook(sys.argv[1], token=sys.argv[2]) as client:
    receipt = client.notify_user(7, "installed", message=herald.__file__)
print(json.dumps({"file": herald.__file__, "id": receipt.ids[0]}))
"""


def run(*args, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, **kwargs)
    assert result.returncode == 0, f"{args}: {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


async def published_by(python, hub, tmp_path, env=None):
    ws = await harness.connect(hub.daemon, user=7)
    out = run(python, "-c", PUBLISH, hub.url, webhook_harness.TOKEN, cwd=tmp_path,
              env={**os.environ, **(env or {}), "PYTHONDONTWRITEBYTECODE": "1"})
    sent = json.loads(out)
    msg = await receive(ws)
    assert msg["event_type"] == "installed" and msg["message"] == sent["file"]
    return sent["file"]


async def test_pip_install_offline_into_a_virtualenv(hub, tmp_path):
    src = tmp_path / "src"  # a copy: pip's build files stay out of the source tree
    shutil.copytree(CLIENT_DIR, src, ignore=shutil.ignore_patterns("tests", "build",
                                                                    "*.egg-info"))
    venv = tmp_path / "venv"
    run("/usr/bin/python3", "-m", "venv", "--system-site-packages", str(venv))
    python = str(venv / "bin" / "python")
    run(python, "-m", "pip", "install", "--no-index", "--no-build-isolation", str(src),
        env={**os.environ, "PIP_FIND_LINKS": ""})
    version = run(python, "-c", "import importlib.metadata as m; print(m.version('herald'))")
    assert version.strip() == "0.1.0"
    where = await published_by(python, hub, tmp_path)
    assert where.startswith(str(venv))


async def test_the_debian_package(hub, tmp_path):
    out = tmp_path / "pkg"
    run("bash", str(SOURCE_DIR / "packaging" / "build-python3-herald.sh"), str(out))
    [deb] = out.glob("python3-herald_*_all.deb")
    info = run("dpkg-deb", "-f", str(deb), "Package", "Architecture", "Depends", "Suggests")
    assert "Package: python3-herald" in info and "Architecture: all" in info
    assert "Depends: python3 (>= 3.9)" in info and "python3-redis" in info
    files = run("dpkg-deb", "-c", str(deb))
    site = "./usr/lib/python3/dist-packages/"
    for name in ("herald/__init__.py", "herald/aio.py", "herald/py.typed",
                 "herald/django/management/commands/herald_check.py",
                 "herald-0.1.0.dist-info/METADATA"):
        assert site + name in files, name
    assert "__pycache__" not in files and "RECORD" not in files
    assert "./usr/share/doc/python3-herald/copyright" in files
    root = tmp_path / "root"
    run("dpkg-deb", "-x", str(deb), str(root))
    where = await published_by(sys.executable, hub, tmp_path,
                               {"PYTHONPATH": str(root / site.lstrip("./"))})
    assert where.startswith(str(root))
