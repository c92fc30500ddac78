"""The mysimbdp Python package against the real daemons of a build.

MYSIMBDP_BUILD names the build (scripts/test: build-test); the package
and library are the in-tree ones, through its mysimbdp-python. Every
wait has a deadline multiplied by MYSIMBDP_TEST_TIME_FACTOR, as the
integration tests' (docs/testing.md, "Deadlines").
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("MYSIMBDP_BUILD", SRC / "build-test")).resolve()
FACTOR = int(os.environ.get("MYSIMBDP_TEST_TIME_FACTOR", "1"))
PYTHON = BUILD / "clientlib/python/mysimbdp-python"
CLI = BUILD / "cli/mysimbdp"
BSONCOUNT = BUILD / "tenants/bsoncount"
APPS = Path(__file__).resolve().parent / "apps"

# The package of this tree on this build's library, for the tests' own
# use (the apps get it through mysimbdp-python).
os.environ.setdefault("MYSIMBDP_LIBRARY",
                      str(BUILD / "clientlib/libmysimbdp.so.0"))
sys.path.insert(0, str(SRC / "clientlib/python"))


def wait_for(what: str, cond, seconds: float = 20):
    """Polls cond until true; fails after seconds × the time factor."""
    deadline = time.monotonic() + seconds * FACTOR
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


DAEMONS = {"batchmgr": "manager/batchmgr", "streammgr": "manager/streammgr",
           "monitor": "monitor/monitor"}


class Platform:
    """A platform in a temporary folder, as lib.sh's platform() makes:
    short intervals, its daemons started on demand and stopped at the
    end."""

    def __init__(self, top: Path):
        self.top = top
        self.var = top / "var"
        self.conf = top / "conf/mysimbdp.cfg"
        self.procs: dict[str, subprocess.Popen] = {}
        (top / "conf/tenants").mkdir(parents=True)
        self.conf.write_text(f"""
state_dir = "{self.var}";
tenants_dir = "tenants";
apps_dir = "{SRC}";
batch = {{ workers = 4; scan_interval = "1s"; settle = "200ms";
  shutdown_grace = "2s"; retry_backoff = "100ms";
  retry_backoff_max = "1s"; app_nice = 0; }};
stream = {{ stats_interval = "200ms"; shutdown_grace = "3s";
  restart_backoff = "100ms"; restart_backoff_max = "2s";
  min_uptime = "500ms"; crashloop_restarts = 3; }};
monitor = {{ interval = "200ms"; http_port = 0; report_ttl = "2s";
  control_timeout = "1s"; }};
""")

    def tenant(self, name: str, text: str) -> None:
        (self.top / f"conf/tenants/{name}.cfg").write_text(
            f'id = "{name}";\n' + text)

    def log(self, daemon: str) -> Path:
        return self.top / f"{daemon}.log"

    def start(self, daemon: str) -> subprocess.Popen:
        log = self.log(daemon)
        before = log.read_text().count(f"{daemon}: started") \
            if log.exists() else 0
        out = open(log, "a")
        proc = subprocess.Popen([str(BUILD / DAEMONS[daemon]), "-d", "-v",
                                 "-c", str(self.conf)], stdout=out,
                                stderr=subprocess.STDOUT)
        self.procs[daemon] = proc
        wait_for(f"{daemon} to start", lambda: log.read_text().count(
            f"{daemon}: started") > before or proc.poll() is not None)
        assert proc.poll() is None, log.read_text()[-2000:]
        return proc

    def stop(self, daemon: str) -> int:
        proc = self.procs.pop(daemon)
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=30 * FACTOR)

    def cli(self, *args: str, check: bool = True) -> str:
        r = subprocess.run([str(CLI), "-c", str(self.conf), *args],
                           capture_output=True, text=True)
        if check and r.returncode != 0:
            pytest.fail(f"mysimbdp {' '.join(args)}: {r.stderr}")
        return r.stdout

    def status(self, tenant: str) -> dict:
        return json.loads(self.cli("status", tenant, "--json"))

    def endpoint(self, tenant: str, stream: str = "default") -> str:
        return f"ipc://{self.var}/run/{tenant}/{stream}.in"

    def store(self, db: str, collection: str) -> list[dict]:
        """The documents of the embedded store's collection."""
        folder = self.var / "coredms" / db / collection
        if not folder.is_dir():
            return []
        out = subprocess.run([str(BSONCOUNT), str(folder)],
                             capture_output=True, text=True, check=True)
        return [json.loads(line)["doc"] for line in out.stdout.splitlines()]

    def records(self) -> list[dict]:
        path = self.var / "log/ingest.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def close(self) -> None:
        for daemon in list(self.procs):
            proc = self.procs.pop(daemon)
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30 * FACTOR)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def platform():
    # Short: ipc socket paths must fit in sun_path.
    top = Path(tempfile.mkdtemp(prefix="mysbp.", dir="/tmp"))
    p = Platform(top)
    yield p
    p.close()
    shutil.rmtree(top, ignore_errors=True)


def python_app(script: str, *args: str) -> str:
    """A profile's app array running a script of tests/python/apps."""
    items = [str(PYTHON), str(APPS / script), *args]
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"
