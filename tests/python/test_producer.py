"""The producer: a reply per message, OK, REJECT and THROTTLE with their
reasons, as streammgr gives them."""
import pytest

import mysimbdp
from mysimbdp import Status

from conftest import python_app, wait_for


def consumer(platform, tenant="alpha", settings=""):
    """tenant's stream served by the Python consume.py; streammgr up."""
    platform.tenant(tenant, f"""streams = ( {{ app = {python_app("consume.py")};
        {settings} stop_timeout = "2s"; }} );""")
    platform.start("streammgr")


def settle_all(producer, payloads):
    replies = {}
    for data in payloads:
        producer.send(data, lambda r, d=data: replies.__setitem__(d, r))
    assert producer.flush()
    return replies


def test_ok_and_too_large(platform):
    consumer(platform, "alpha", 'max_message_size = "1K";')
    with mysimbdp.Producer(platform.endpoint("alpha")) as producer:
        replies = settle_all(producer, [b"k1 one", b"x" * 2000, b"k2 two"])
    assert replies[b"k1 one"].status == Status.OK
    assert replies[b"k1 one"].reason is None
    big = replies[b"x" * 2000]
    assert big.status == Status.REJECT
    assert big.reason.startswith("too-large: 2000 bytes"), big.reason
    assert replies[b"k2 two"].status == Status.OK
    # Stored means delivered: the Python stream app upserts them.
    wait_for("k1 and k2 in the store", lambda: sorted(
        d["_id"] for d in platform.store("alpha", "events")) == ["k1", "k2"])


def test_throttle_rate(platform):
    consumer(platform, "beta", 'max_messages_per_second = 20;')
    # No callbacks: the fast path, OKs counted in C, the rest kept.
    with mysimbdp.Producer(platform.endpoint("beta")) as producer:
        for i in range(200):
            producer.send(f"k{i} v")
        assert producer.flush()
        counts = producer.counts
    throttled = producer.failed
    assert throttled, "200 messages at once, 20 a second allowed"
    assert all(r.status == Status.THROTTLE for r in throttled)
    assert all(r.reason.startswith("rate") for r in throttled), \
        throttled[0].reason
    assert counts == {"ok": 200 - len(throttled), "rejected": 0,
                      "throttled": len(throttled)}


def test_no_streammgr_is_a_clear_error(platform):
    try:
        mysimbdp.Producer(platform.endpoint("nobody"))
    except mysimbdp.TempFail as e:
        assert "is streammgr running?" in str(e)
        assert e.exit_code == 75
    else:
        raise AssertionError("opened a producer with no streammgr")


def test_send_many(platform):
    consumer(platform, "alpha", 'max_message_size = "1K";')
    with mysimbdp.Producer(platform.endpoint("alpha"), window=16) as producer:
        first = producer.send_many([f"k{i} v" for i in range(100)])
        second = producer.send_many([b"x" * 2000, "k100 v"])
        assert producer.flush()
        assert list(first) == list(range(first.start, first.start + 100))
        assert second.start == first.stop
        assert producer.counts == {"ok": 101, "rejected": 1, "throttled": 0}
        assert [(r.seq, r.status) for r in producer.failed] == \
            [(second.start, Status.REJECT)]
    wait_for("101 keys stored", lambda: len(platform.store(
        "alpha", "events")) == 101)


def test_close_from_a_callback(platform):
    consumer(platform)
    calls = []

    def on_reply(reply):
        calls.append(reply)
        producer.close()

    producer = mysimbdp.Producer(platform.endpoint("alpha"), batch_bytes=0,
                                 on_reply=on_reply)
    for i in range(3):
        producer.send(f"k{i} v")
    # The callback closed it: the last callback, and flush says so.
    with pytest.raises(mysimbdp.MysimbdpError, match="closed"):
        producer.flush()
    assert [r.seq for r in calls] == [1]
    producer.close()                       # again: nothing happens
    with pytest.raises(mysimbdp.MysimbdpError, match="Producer: closed"):
        producer.send("k3 v")


def test_a_raising_callback_loses_no_callback(platform):
    consumer(platform)
    called = []

    def bad(reply):
        raise RuntimeError("callback bug")

    with mysimbdp.Producer(platform.endpoint("alpha"), window=32,
                           batch_bytes=0) as producer:
        producer.send("k0 v", callback=bad)
        for i in range(1, 32):
            producer.send(f"k{i} v")
        # The window is full: this send handles bad()'s reply, then goes.
        with pytest.raises(RuntimeError):
            producer.send("k32 v", callback=called.append)
        assert producer.flush()
    assert [(r.seq, r.status) for r in called] == [(33, Status.OK)]


def test_send_many_says_how_many_went_despite_a_callback(platform):
    consumer(platform)

    def close_and_raise(reply):
        producer.close()
        raise RuntimeError("callback bug")

    producer = mysimbdp.Producer(platform.endpoint("alpha"), window=4,
                                 batch_bytes=0, on_reply=close_and_raise)
    # Four go, the fifth waits for a reply, whose callback closes.
    with pytest.raises(mysimbdp.MysimbdpError) as info:
        producer.send_many([f"k{i} v" for i in range(10)])
    assert info.value.sent == 4
    assert isinstance(info.value.__cause__, RuntimeError)
