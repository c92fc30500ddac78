"""A Python producer follows its tenant from one node to another: two
nodes of one cluster description on loopback, `mysimbdp move` while the
producer sends, each message sent again after a THROTTLE until OK'd;
every key is stored, and the producer ended on the new node."""
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import mysimbdp
from mysimbdp import Status

from conftest import BSONCOUNT, CLI, FACTOR, Platform, python_app, wait_for
from freeports import free_ports


def keygen(path):
    subprocess.run([str(CLI), "keygen", str(path)], check=True,
                   capture_output=True)
    text = Path(f"{path}.pub").read_text()
    return text.split('public-key = "')[1].split('"')[0]


def test_producer_follows_a_moved_tenant(platform):
    top = Path(tempfile.mkdtemp(prefix="mysbp.", dir="/tmp"))
    second = Platform(top)
    nodes = {"n1": platform, "n2": second}
    keys = {k: keygen(platform.top / k) for k in ("n1", "n2", "ops", "alpha")}
    # Six at once: two calls could hand out overlapping ranges.
    base = free_ports(6)
    ports = {"n1": base, "n2": base + 3}
    cluster = platform.top / "cluster.cfg"
    cluster.write_text("nodes = (\n" + ",\n".join(
        f'  {{ name = "{n}"; address = "127.0.0.1:{ports[n]}";'
        f' server_key = "{keys[n]}";'
        f' tenants = [{chr(34) + "alpha" + chr(34) if n == "n1" else ""}]; }}'
        for n in nodes) + "\n);\n")
    store = platform.top / "coredms"
    for n, p in nodes.items():
        with open(p.conf, "a") as f:
            f.write(f'mongo_url = "file://{store}";\n'
                    f'remote = {{ listen = "tcp://127.0.0.1:{ports[n]}";'
                    f' server_key = "{platform.top / n}";'
                    f' operator_keys = ["{keys["ops"]}"]; }};\n'
                    f'cluster = {{ file = "{cluster}"; node = "{n}"; }};\n')
        p.tenant("alpha", f"""streams = ( {{
            app = {python_app("consume.py")}; stop_timeout = "2s";
            durability = "fsync"; }} );
            producer_keys = ["{keys["alpha"]}"];""")
        p.start("streammgr")
        p.start("batchmgr")
    try:
        run_move(platform, second, ports, cluster)
    finally:
        second.close()
        shutil.rmtree(top, ignore_errors=True)


def run_move(first, second, ports, cluster):
    total = 3000
    pending = list(range(total - 1, -1, -1))   # popped from the end
    ok, in_flight, reasons = set(), {}, set()

    def on_reply(reply):
        k = in_flight.pop(reply.seq)
        if reply.status == Status.OK:
            ok.add(k)
        else:
            reasons.add((reply.reason or "").split(":")[0])
            pending.append(k)

    move = None
    with mysimbdp.Producer(f"tcp://127.0.0.1:{ports['n1']}",
                           stream="alpha/default", key=str(first.top / "alpha"),
                           server_key=str(first.top / "n1.pub"),
                           on_reply=on_reply, reply_timeout=5) as producer:
        start = time.monotonic()
        deadline = start + 120 * FACTOR
        sent = 0
        while len(ok) < total:
            assert time.monotonic() < deadline, \
                f"{len(ok)} of {total} OK'd; reasons {reasons}; {len(in_flight)} awaiting a reply"
            # About 400 new keys a second: the move comes mid-stream.
            # While `mysimbdp move` runs, only refused keys are sent
            # again: however long it takes, new keys are left for after
            # it, which n1 answers "moved" and n2 takes.
            moving = move is not None and move.poll() is None
            fresh_ok = not moving and \
                sent < (time.monotonic() - start) * 400
            if pending and len(in_flight) < 200 and (
                    fresh_ok or pending[-1] < sent):
                k = pending.pop()
                sent = max(sent, k + 1)
                seq = producer.send(f"k{k} v".encode())
                in_flight[seq] = k
            else:
                producer.poll(0.01)
            if move is None and len(ok) >= 500:
                move = subprocess.Popen(
                    [str(CLI), "-c", "/nonexistent", "--cluster-file",
                     str(cluster), "--key", str(first.top / "ops"), "move",
                     "alpha", "--to", "n2"],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        producer.flush()
    out, _ = move.communicate(timeout=60 * FACTOR)
    assert move.returncode == 0, out
    assert "moved" in reasons, f"the producer never heard of the move: {reasons}"
    assert second.status("alpha")["streams"][0]["accepted"] > 0, \
        "nothing reached the new node"

    def stored():
        folder = first.top / "coredms" / "alpha" / "events"
        if not folder.is_dir():
            return set()
        out = subprocess.run([str(BSONCOUNT), str(folder)], text=True,
                             capture_output=True, check=True).stdout
        return {json.loads(line)["doc"]["_id"] for line in out.splitlines()}

    want = {f"k{k}" for k in range(total)}
    wait_for("every key stored", lambda: want <= stored(), 60)
