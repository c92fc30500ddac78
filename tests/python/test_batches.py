"""Batches on the wire (docs/protocols.md, "Batches") against a real
streammgr: each message of a batch has its own outcome; batches cut by
SIGKILL of streammgr lose nothing that was OK'd; batched and single
producers side by side on one stream."""
import mysimbdp
from mysimbdp import Status

from conftest import python_app, wait_for


def stream(platform, tenant, extra=""):
    platform.tenant(tenant, f"""streams = ( {{
        app = {python_app("consume.py")}; stop_timeout = "2s"; {extra} }} );""")


def stored(platform, tenant):
    return [d["_id"] for d in platform.store(tenant, "events")]


def test_each_message_of_a_batch_has_its_outcome(platform):
    stream(platform, "alpha", 'max_message_size = "1K"; '
           "max_messages_per_second = 5;")
    platform.start("streammgr")
    msgs = [f"k{i} v".encode() for i in range(60)]
    msgs[10] = b"x" * 2000
    msgs[11] = b""
    replies = []
    with mysimbdp.Producer(platform.endpoint("alpha"),
                           on_reply=replies.append) as producer:
        sent = producer.send_many(msgs)
        assert producer.flush()
    assert [r.seq for r in replies] == list(sent)
    by = {r.seq - sent.start: r for r in replies}
    assert by[10].status == Status.REJECT
    assert by[10].reason == "too-large: 2000 bytes > max_message_size 1024"
    assert by[11].status == Status.REJECT
    assert by[11].reason == "empty: no payload"
    rest = [by[i] for i in range(60) if i not in (10, 11)]
    oks = [r for r in rest if r.status == Status.OK]
    throttled = [r for r in rest if r.status == Status.THROTTLE]
    assert len(oks) + len(throttled) == 58
    assert throttled, "58 messages at once, 5 a second allowed"
    assert all(r.reason == "rate: over max_messages_per_second 5"
               for r in throttled)
    # The bucket, full at the start (a second's worth), serves the batch
    # in order: its first five are OK. (Not "no OK after the first
    # THROTTLE": the bucket refills meanwhile, and a slow machine can
    # take a refilled token for a later message of the batch.)
    assert all(r.status == Status.OK for r in rest[:5]), \
        [(r.seq - sent.start, r.status) for r in rest[:5]]
    s = platform.status("alpha")["streams"][0]
    assert s["batches"] >= 1, "the producer sent no batch"
    assert (s["accepted"], s["too_large"], s["rate_limited"]) == \
        (len(oks), 1, len(throttled))
    want = sorted(msgs[r.seq - sent.start].split()[0].decode() for r in oks)
    wait_for("the OK'd messages stored", lambda: sorted(
        stored(platform, "alpha")) == want)


def test_batches_cut_by_sigkill_lose_nothing_okd(platform):
    stream(platform, "alpha", 'durability = "fsync";')
    proc = platform.start("streammgr")
    keys = [f"k{i}" for i in range(6000)]
    ok = set()
    bysq = []       # the key of seq k is bysq[k - 1]: seqs count from 1

    def on_reply(r):
        if r.status == Status.OK:
            ok.add(bysq[r.seq - 1])

    with mysimbdp.Producer(platform.endpoint("alpha"), on_reply=on_reply,
                           reply_timeout=2) as producer:
        def send(some):
            # Replies may come inside send_many: the keys go first.
            start = len(bysq)
            bysq.extend(some)
            try:
                assert producer.send_many([f"{k} v" for k in some]).start \
                    == start + 1
            except mysimbdp.TempFail as e:
                del bysq[start + e.sent:]
                raise

        send(keys[:3000])
        assert producer.flush()
        # The next ones leave in batches; streammgr dies under them.
        send(keys[3000:])
        proc.kill()
        proc.wait()
        del platform.procs["streammgr"]
        assert not producer.flush(), "every reply came from a dead daemon"
        assert len(ok) < len(keys)
        platform.start("streammgr")
        for _ in range(20):
            missing = [k for k in keys if k not in ok]
            if not missing:
                break
            try:
                send(missing)
                producer.flush()
            except mysimbdp.TempFail:
                wait_for("the ingress socket", lambda: producer.poll(0.2)
                         >= 0)
    assert ok == set(keys), f"{len(keys) - len(ok)} never OK'd"
    wait_for(f"all {len(keys)} keys stored", lambda: len(stored(
        platform, "alpha")) == len(keys), seconds=60)
    assert sorted(stored(platform, "alpha")) == sorted(keys)


def test_batched_and_single_producers_side_by_side(platform):
    stream(platform, "alpha")
    platform.start("streammgr")
    ep = platform.endpoint("alpha")
    with mysimbdp.Producer(ep) as batched, \
            mysimbdp.Producer(ep, batch_bytes=0) as single:
        for i in range(0, 2000, 100):
            batched.send_many([f"b{k} v" for k in range(i, i + 100)])
            single.send_many([f"s{k} v" for k in range(i, i + 100)])
        assert batched.flush() and single.flush()
        assert batched.counts == single.counts == {
            "ok": 2000, "rejected": 0, "throttled": 0}
    assert platform.status("alpha")["streams"][0]["batches"] >= 1
    wait_for("4000 keys stored", lambda: len(stored(platform, "alpha"))
             == 4000)
    assert sorted(stored(platform, "alpha")) == sorted(
        [f"b{k}" for k in range(2000)] + [f"s{k}" for k in range(2000)])
