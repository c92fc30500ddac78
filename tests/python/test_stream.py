"""A stream app in Python: every message stored after kill -9 of an
instance (redelivery), rejects to the dead letters, and a clean exit on
drain and stop (SIGTERM)."""
import json
import os
import signal
import subprocess

import mysimbdp

from conftest import FACTOR, PYTHON, python_app, wait_for

N = 300


def send_keys(platform, tenant, first, last):
    with mysimbdp.Producer(platform.endpoint(tenant)) as producer:
        for i in range(first, last + 1):
            producer.send(f"k{i} v{i}")
        assert producer.flush()
        assert producer.failed == []


def keys(platform, tenant):
    return {d["_id"] for d in platform.store(tenant, "events")}


def instances(platform, tenant):
    return platform.status(tenant)["streams"][0]["instances"]


def test_redelivery_after_kill9_of_an_instance(platform):
    platform.tenant("alpha", f"""streams = ( {{
        app = {python_app("consume.py", "--slow-ms", "50")};
        instances = {{ min = 1; max = 2; initial = 2; }};
        ack_timeout = "60s"; stop_timeout = "2s"; }} );""")
    platform.start("streammgr")
    wait_for("two ready instances", lambda: [
        i["state"] for i in instances(platform, "alpha")] == ["ready"] * 2)
    send_keys(platform, "alpha", 1, N)
    # The victim holds deliveries it has not acked (the ack timeout is
    # longer than the test: only the death gives them back).
    victim = wait_for("an instance holding messages", lambda: next(
        (i for i in instances(platform, "alpha") if i["inflight"] > 0),
        None))
    os.kill(victim["pid"], signal.SIGKILL)
    gone = f"(pid {victim['pid']}) killed by signal 9"
    wait_for("the death to be seen", lambda: gone in
             platform.log("streammgr").read_text())
    wait_for(f"all {N} keys stored", lambda: len(keys(platform, "alpha"))
             == N, seconds=60)
    assert keys(platform, "alpha") == {f"k{i}" for i in range(1, N + 1)}
    stream = platform.status("alpha")["streams"][0]
    assert stream["redelivered"] >= 1
    wait_for("every message acked", lambda: platform.status("alpha")
             ["streams"][0]["acked"] >= N)


def test_reject_goes_to_dead_letters(platform):
    platform.tenant("alpha", f"""streams = ( {{
        app = {python_app("consume.py")}; stop_timeout = "2s"; }} );""")
    platform.start("streammgr")
    with mysimbdp.Producer(platform.endpoint("alpha")) as producer:
        producer.send(b"nokey")
        producer.send(b"k1 v")
        assert producer.flush() and producer.failed == []
    dead = platform.var / "queue/alpha/default/dead-letters.jsonl"
    wait_for("a dead letter", lambda: dead.exists() and dead.read_text())
    letter = json.loads(dead.read_text().splitlines()[0])
    assert letter["payload"] == "nokey"
    assert letter["reason"].endswith(": no key"), letter["reason"]
    wait_for("k1 stored", lambda: keys(platform, "alpha") == {"k1"})


def acked_once(platform, tenant):
    """Waits until the tenant's N messages are settled: each acked once
    (a wrong id or a second ack counts as a stray ack), none again."""
    def settled():
        s = platform.status(tenant)["streams"][0]
        return s if s["acked"] + s["stray_acks"] >= N else None

    s = wait_for("every message settled", settled)
    assert (s["acked"], s["stray_acks"], s["redelivered"]) == (N, 0, 0), s


def test_ack_all_acks_each_unsettled_message_once(platform):
    # The app acks the first of each batch alone, then the batch with
    # ack_all(): a wrong id or a second ack would count as a stray ack.
    platform.tenant("alpha", f"""streams = ( {{
        app = {python_app("ackall.py")}; ack_timeout = "60s";
        stop_timeout = "2s"; }} );""")
    platform.start("streammgr")
    send_keys(platform, "alpha", 1, N)
    acked_once(platform, "alpha")


def test_a_pool_of_threads_acks_what_the_reader_got(platform):
    # The main thread reads, a ThreadPoolExecutor acks (the library's
    # acks are safe on any thread, also while the reader waits in it):
    # each message acked once, and the credit (32) comes back while the
    # reader waits 30 s for the next batch, not at the end of the wait.
    platform.tenant("alpha", f"""streams = ( {{
        app = {python_app("poolack.py")}; ack_timeout = "60s";
        stop_timeout = "2s"; }} );""")
    platform.start("streammgr")
    send_keys(platform, "alpha", 1, N)
    acked_once(platform, "alpha")
    # Every ack worked (the app exits 1 otherwise), and SIGTERM ended
    # the wait: it exited 0.
    ids = [i["id"] for i in instances(platform, "alpha")]
    platform.cli("stop", "alpha")
    wait_for("the instance to exit", lambda: not instances(
        platform, "alpha"))
    log = platform.log("streammgr").read_text().splitlines()
    for iid in ids:
        line = [ln for ln in log if f"instance {iid} (pid" in ln][-1]
        assert line.endswith("exited 0"), line


def test_drain_then_stop_exits_cleanly(platform):
    platform.tenant("alpha", f"""streams = ( {{
        app = {python_app("consume.py")}; stop_timeout = "5s"; }} );""")
    platform.start("streammgr")
    send_keys(platform, "alpha", 1, 50)
    platform.cli("drain", "alpha")
    wait_for("drained", lambda: platform.status("alpha")["streams"][0]
             ["state"] == "drained")
    assert keys(platform, "alpha") == {f"k{i}" for i in range(1, 51)}
    ids = [i["id"] for i in instances(platform, "alpha")]
    platform.cli("stop", "alpha")
    wait_for("the instances to exit", lambda: not instances(
        platform, "alpha"))
    log = platform.log("streammgr").read_text()
    for iid in ids:
        # SIGTERM ended the app's stream; it exited 0 by itself.
        assert f"instance {iid} (pid" in log
        line = [ln for ln in log.splitlines()
                if f"instance {iid} (pid" in ln][-1]
        assert line.endswith("exited 0"), line


USE_AFTER_CLOSE = """
import mysimbdp
with mysimbdp.Stream(endpoint="ipc:///nonexistent/work", instance="t-1",
                     metrics=None) as stream:
    batch = mysimbdp.Batch([mysimbdp.Message(stream, 1, b"k v")])
with mysimbdp.Sink("c", "file://{store}", "t", metrics=None) as sink:
    pass
with mysimbdp.read_csv("{csv}", metrics=None) as rows:
    pass
for use in (batch.ack_all, batch[0].ack, lambda: batch[0].reject("r"),
            lambda: sink.insert({{"_id": 1}}), lambda: list(rows)):
    try:
        use()
    except mysimbdp.MysimbdpError as e:
        print(e)
"""


def test_objects_used_after_close_raise(tmp_path):
    # In a child: before, the library was handed NULL (a crash).
    (tmp_path / "r.csv").write_text("a\n1\n")
    code = USE_AFTER_CLOSE.format(store=tmp_path, csv=tmp_path / "r.csv")
    r = subprocess.run([str(PYTHON), "-c", code], capture_output=True,
                       text=True, env=dict(os.environ,
                                           ZMQ_METRICS_ENDPOINT=""))
    assert r.returncode == 0, r
    assert r.stdout.splitlines() == ["Stream: closed"] * 3 + \
        ["Sink: closed", "Rows: closed"], r


REPORT_MEANWHILE = """
import mysimbdp

class Fake:
    # A Metrics whose first add has, meanwhile, what another thread does.
    def __init__(self, meanwhile):
        self.adds, self.meanwhile = [], meanwhile
    def add(self, **kw):
        self.adds.append(kw["messages"])
        if len(self.adds) == 1:
            self.meanwhile()
    def tick(self):
        pass

def stream(meanwhile):
    fake = Fake(meanwhile)
    s = mysimbdp.Stream(endpoint="ipc:///nonexistent/work", instance="t-1",
                        metrics=fake)
    mysimbdp.Batch([mysimbdp.Message(s, i, b"k v")
                    for i in (1, 2, 3)]).ack_all()
    return s, fake

# The hand-over at exit while the Stream's own report is in add.
s, fake = stream(lambda: s._report_at_exit())
s._report()
print(fake.adds)
s.close()
# A message settled while the report is in add.
s, fake = stream(lambda: mysimbdp.Message(s, 4, b"k v").ack())
s._report()
s._report()
print(fake.adds)
s.close()
"""


def test_counts_taken_before_the_report_waits():
    # Metrics.add may wait (its lock, the connect wait) while the report
    # at exit runs on the main thread, or the app settles on another.
    # Before, the counts were zeroed only after add returned: the report
    # at exit added the same 3 messages again, and one settled meanwhile
    # was zeroed unreported.
    r = subprocess.run([str(PYTHON), "-c", REPORT_MEANWHILE],
                       capture_output=True, text=True)
    assert r.returncode == 0, r
    assert r.stdout.splitlines() == ["[3]", "[3, 1]"], r


OUT_OF_RANGE = """
import mysimbdp
with mysimbdp.Stream(endpoint="ipc:///nonexistent/work", instance="t-1",
                     metrics=None) as stream, \\
        mysimbdp.Sink("c", "file://{store}", "t", metrics=None) as sink:
    for use in (lambda: next(stream.batches(0)),
                lambda: next(stream.batches(-1)),
                lambda: next(stream.batches(65537)),
                lambda: mysimbdp.Stream(-1, endpoint="ipc:///x", instance="t"),
                lambda: sink.set_batch_size(-1),
                lambda: mysimbdp.doc_id("0" * 64, -1),
                lambda: mysimbdp.Producer("ipc:///x", window=-1)):
        try:
            use()
        except ValueError as e:
            print("ValueError", e)
        except Exception as e:
            print(type(e).__name__, e)
"""


def test_values_out_of_range_raise(tmp_path):
    # Before, ctypes wrapped them: batches(-1) after batches(256) asked
    # the library for SIZE_MAX messages into arrays of 256; batches(0)
    # raised AttributeError. In a child: a wrong write is a crash.
    # (Before, batches(65537) waited for messages for ever: a timeout.)
    code = OUT_OF_RANGE.format(store=tmp_path)
    r = subprocess.run([str(PYTHON), "-c", code], capture_output=True,
                       text=True, timeout=30 * FACTOR,
                       env=dict(os.environ, ZMQ_METRICS_ENDPOINT=""))
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    assert len(lines) == 7 and all(ln.startswith("ValueError")
                                   for ln in lines), r.stdout
    assert "max_messages must be 1 to 65536, not 0" in lines[0]
