"""The producer: a reply per message, OK, REJECT and THROTTLE with their
reasons, as streammgr gives them."""
import mysimbdp
from mysimbdp import Status

from conftest import python_app, wait_for


def settle_all(producer, payloads):
    replies = {}
    for data in payloads:
        producer.send(data, lambda r, d=data: replies.__setitem__(d, r))
    assert producer.flush()
    return replies


def test_ok_and_too_large(platform):
    platform.tenant("alpha", f"""streams = ( {{ app = {python_app("consume.py")};
        max_message_size = "1K"; stop_timeout = "2s"; }} );""")
    platform.start("streammgr")
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
    platform.tenant("beta", f"""streams = ( {{ app = {python_app("consume.py")};
        max_messages_per_second = 20; stop_timeout = "2s"; }} );""")
    platform.start("streammgr")
    with mysimbdp.Producer(platform.endpoint("beta")) as producer:
        replies = settle_all(producer, [f"k{i} v".encode()
                                        for i in range(200)])
    throttled = [r for r in replies.values() if r.status == Status.THROTTLE]
    ok = [r for r in replies.values() if r.status == Status.OK]
    assert throttled, "200 messages at once, 20 a second allowed"
    assert all(r.reason.startswith("rate") for r in throttled), \
        throttled[0].reason
    assert len(ok) + len(throttled) == 200


def test_no_streammgr_is_a_clear_error(platform):
    try:
        mysimbdp.Producer(platform.endpoint("nobody"))
    except mysimbdp.TempFail as e:
        assert "is streammgr running?" in str(e)
        assert e.exit_code == 75
    else:
        raise AssertionError("opened a producer with no streammgr")
