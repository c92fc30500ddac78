"""Metric reports from Python reach the monitor: the first one, sent at
once after connecting, and the last, sent only at exit; a stream app's
reports by themselves."""
import json
import subprocess

import mysimbdp

from conftest import FACTOR, PYTHON, python_app, wait_for

ONE_SHOT = """
import sys, mysimbdp
m = mysimbdp.Metrics(sys.argv[1], "batch", sys.argv[2])
m.add(rows=int(sys.argv[3]), ingest_us=1500)
if sys.argv[4] == "flush":
    assert m.flush(), "the first report was dropped"
m.close()
"""


def reports(platform, instance):
    path = platform.var / "log/metrics.jsonl"
    if not path.exists():
        return []
    return [r for r in map(json.loads, path.read_text().splitlines())
            if r.get("type") == "report" and r.get("instance") == instance]


def stream_reports(platform):
    path = platform.var / "log/metrics.jsonl"
    if not path.exists():
        return []
    return [r for r in map(json.loads, path.read_text().splitlines())
            if r.get("type") == "report" and r.get("stream") == "default"]


def one_shot(platform, instance, rows, how):
    endpoint = f"ipc://{platform.var}/run/alpha/metrics.sock"
    subprocess.run([str(PYTHON), "-c", ONE_SHOT, endpoint, instance,
                    str(rows), how], check=True)


def test_first_and_last_reports_arrive(platform):
    platform.tenant("alpha", f"""streams = ( {{
        app = {python_app("consume.py")}; stop_timeout = "2s"; }} );""")
    platform.start("monitor")
    one_shot(platform, "py-first", 5, "flush")
    got = wait_for("the first report", lambda: reports(platform,
                                                       "py-first"))
    assert got[0]["rows"] == 5 and got[0]["ingest_us_sum"] == 1500
    one_shot(platform, "py-last", 3, "close")
    got = wait_for("the report sent at exit",
                   lambda: reports(platform, "py-last"))
    assert sum(r["rows"] for r in got) == 3


def test_stream_app_reports_by_itself(platform):
    platform.tenant("alpha", f"""streams = ( {{
        app = {python_app("consume.py")}; stop_timeout = "2s"; }} );""")
    platform.start("monitor")
    platform.start("streammgr")
    with mysimbdp.Producer(platform.endpoint("alpha")) as producer:
        for i in range(40):
            producer.send(f"k{i} v")
        producer.send(b"nokey")
        assert producer.flush()

    def counted():
        rs = stream_reports(platform)
        return rs if sum(r.get("messages", 0) for r in rs) >= 41 else None
    rs = wait_for("41 messages reported", counted)
    assert sum(r["errors"] for r in rs) == 1
    assert sum(r["ingest_us_sum"] for r in rs) > 0


def test_an_unclosed_streams_last_counts_reach_the_monitor(platform):
    # The app leaves its Stream open: the package reports the Stream's
    # counts and closes the shared Metrics at exit, in that order.
    # Before, the Metrics was closed first and the counts of the last
    # batch went nowhere.
    platform.tenant("alpha", f"""streams = ( {{
        app = {python_app("unclosed.py", "30")}; stop_timeout = "2s";
        }} );""")
    platform.start("monitor")
    platform.start("streammgr")
    with mysimbdp.Producer(platform.endpoint("alpha")) as producer:
        for i in range(30):
            producer.send(f"k{i} v")
        assert producer.flush()

    def counted():
        rs = stream_reports(platform)
        return rs if sum(r.get("messages", 0) for r in rs) >= 30 else None
    rs = wait_for("30 messages reported", counted)
    assert sum(r["messages"] for r in rs) == 30


REENTRY = """
import os, signal, mysimbdp
from mysimbdp import metrics
m = mysimbdp.Metrics("", "batch", "j")
handled = []
def on_term(signum, frame):
    m.add(errors=1)        # as a Sink or Stream closed here reports
    m.flush()
    handled.append(signum)
signal.signal(signal.SIGTERM, on_term)
real = metrics.LIB.msb_metrics_add
def add(h, metric, n):
    real(h, metric, n)
    if metric == metrics.ROWS and not handled:
        os.kill(os.getpid(), signal.SIGTERM)
metrics.LIB.msb_metrics_add = add
m.add(rows=1, bytes=10)    # the handler runs before the bytes' call
assert handled == [signal.SIGTERM], handled
m.close()
"""


def test_a_signal_handler_reporting_inside_add_does_not_deadlock():
    # A signal handler runs between two bytecodes of the thread that
    # holds the Metrics' lock, here inside add's loop of C calls, and
    # reports into the same Metrics: with a plain Lock it waited for
    # ever on its own thread.
    subprocess.run([str(PYTHON), "-c", REENTRY], check=True,
                   timeout=30 * FACTOR)


THREADS = """
import sys, threading, mysimbdp
m = mysimbdp.Metrics(sys.argv[1], "batch", sys.argv[2])
m.set_interval(1)
def count():
    for _ in range(int(sys.argv[3])):
        m.add(rows=1)
workers = [threading.Thread(target=count) for _ in range(4)]
for w in workers:
    w.start()
for w in workers:
    w.join()
m.close()
"""


def test_one_metrics_shared_by_threads_counts_every_row(platform):
    # Four threads add to one Metrics (the shared default is one), with a
    # report every ms. ctypes lets go of the GIL in each call: without
    # the wrapper's lock the C counters lost additions and two threads
    # sent on one ZeroMQ socket.
    platform.tenant("alpha", f"""streams = ( {{
        app = {python_app("consume.py")}; stop_timeout = "2s"; }} );""")
    platform.start("monitor")
    endpoint = f"ipc://{platform.var}/run/alpha/metrics.sock"
    subprocess.run([str(PYTHON), "-c", THREADS, endpoint, "py-threads",
                    "20000"], check=True, timeout=300)

    def counted():
        rs = reports(platform, "py-threads")
        return rs if sum(r["rows"] for r in rs) >= 80000 else None
    wait_for("80000 rows reported", counted)
    assert sum(r["rows"] for r in reports(platform, "py-threads")) == 80000
