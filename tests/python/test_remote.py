"""A Python producer on "another host": TCP with CURVE to the node's
remote listener (docs/protocols.md, "Producers on other hosts"). Its
messages are stored like any; a key taken out of the tenant's profile
stops working at the reload, on the connection already made; the wrong
node key is never talked to."""
import socket
import subprocess

import pytest

import mysimbdp
from mysimbdp import Status

from conftest import CLI, python_app, wait_for


def keygen(platform, name):
    path = platform.top / name
    subprocess.run([str(CLI), "keygen", str(path)], check=True,
                   capture_output=True)
    pub = (platform.top / f"{name}.pub").read_text()
    return path, pub.split('public-key = "')[1].split('"')[0]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def remote_platform(platform, *keys):
    node, _ = keygen(platform, "node")
    port = free_port()
    with open(platform.conf, "a") as f:
        f.write(f'remote = {{ listen = "tcp://127.0.0.1:{port}"; '
                f'server_key = "{node}"; }};\n')
    tenant_keys(platform, *keys)
    return f"tcp://127.0.0.1:{port}", f"{node}.pub"


def tenant_keys(platform, *keys):
    listed = ", ".join(f'"{k}"' for k in keys)
    platform.tenant("alpha", f"""streams = ( {{
        app = {python_app("consume.py")}; stop_timeout = "2s"; }} );
        producer_keys = [{listed}];""")


def test_remote_producer_and_key_removed_while_connected(platform):
    key, pub = keygen(platform, "alpha-key")
    spare, spare_pub = keygen(platform, "spare")
    endpoint, node_pub = remote_platform(platform, pub, spare_pub)
    proc = platform.start("streammgr")
    replies = []
    with mysimbdp.Producer(endpoint, stream="alpha/default", key=str(key),
                           server_key=node_pub,
                           on_reply=replies.append) as producer:
        producer.send_many([f"k{i} v".encode() for i in range(500)])
        assert producer.flush()
        assert {r.status for r in replies} == {Status.OK}
        wait_for("500 documents", lambda: len(
            platform.store("alpha", "events")) == 500)

        # The key out of the profile, reloaded: this very connection's
        # next message is refused.
        tenant_keys(platform, spare_pub)
        log = platform.log("streammgr")
        before = log.read_text().count("reloading configuration")
        proc.send_signal(1)
        wait_for("the reload", lambda: log.read_text().count(
            "reloading configuration") > before)
        replies.clear()
        producer.send(b"late v")
        assert producer.flush()
        assert [(r.status, r.reason) for r in replies] == [
            (Status.REJECT, "forbidden: this key is not one of tenant "
             "alpha's producer_keys")]
    assert len(platform.store("alpha", "events")) == 500


def test_wrong_node_key_is_never_talked_to(platform):
    key, pub = keygen(platform, "alpha-key")
    endpoint, _ = remote_platform(platform, pub)
    _, other_pub = keygen(platform, "impostor")
    platform.start("streammgr")
    with pytest.raises(mysimbdp.MysimbdpError) as e:
        with mysimbdp.Producer(endpoint, stream="alpha/default",
                               key=str(key), server_key=other_pub,
                               reply_timeout=3) as producer:
            producer.send(b"k1 v")
            producer.flush()
    assert "handshake" in str(e.value) or "no streammgr" in str(e.value)
    assert platform.store("alpha", "events") == []
