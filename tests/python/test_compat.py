"""One implementation: the same input through the C library (`mysimbdp
load`) and through the Python package gives byte-identical store files
under the same names, and the same document ids."""
import filecmp
import os
import subprocess
from pathlib import Path

import pytest
from bson import json_util

import mysimbdp
from conftest import CLI, SRC

SCHEMA = "device:string:required\ntime:date:required\n" \
    "temperature:double\nhumidity:double\n*:string\n"


def c_load(tmp, store, path, *args):
    env = dict(os.environ, MONGO_URL=f"file://{store}", MONGO_DB="t")
    env.pop("ZMQ_METRICS_ENDPOINT", None)
    subprocess.run([str(CLI), "load", "-C", "c", "--no-progress", *args,
                    str(path)], env=env, check=True, capture_output=True,
                   cwd=tmp)


def same_tree(a: Path, b: Path):
    names_a = sorted(p.name for p in a.iterdir())
    names_b = sorted(p.name for p in b.iterdir())
    assert names_a == names_b
    match, mismatch, errors = filecmp.cmpfiles(a, b, names_a, shallow=False)
    assert mismatch == [] and errors == [], (mismatch, errors)
    return names_a


def test_csv_rows_are_stored_as_by_c(tmp_path):
    sample = SRC / "tenants/initech/samples/readings-small.csv"
    (tmp_path / "s.schema").write_text(SCHEMA)
    c_load(tmp_path, tmp_path / "c", sample, "-s", "s.schema")
    with mysimbdp.read_csv(sample, SCHEMA, metrics=None) as rows, \
            mysimbdp.Sink("c", f"file://{tmp_path}/py", "t",
                          metrics=None) as sink:
        for row in rows:          # decoded to dicts and encoded again
            sink.insert(row)
        sink.commit(rows.content_hash)
        assert rows.counts == (298, 2)
    names = same_tree(tmp_path / "c/t/c", tmp_path / "py/t/c")
    assert names == [mysimbdp.file_hash(sample) + ".bson"]


def test_json_lines_are_stored_as_by_c(tmp_path):
    lines = [
        '{"a": 1, "b": 2.5, "c": "x", "d": {"$date": "2020-03-01T00:00:00Z"}}',
        '{"big": 12345678901, "list": [1, "two", null], "t": true}',
        '',
        '{"_id": "own-id", "nested": {"k": [{"v": -1}]}}',
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n")
    c_load(tmp_path, tmp_path / "c", src)
    digest = mysimbdp.file_hash(src)
    with mysimbdp.Sink("c", f"file://{tmp_path}/py", "t",
                       metrics=None) as sink:
        for n, line in enumerate(lines, start=1):
            if not line:
                continue
            obj = json_util.loads(line)
            doc = obj if "_id" in obj else {
                "_id": mysimbdp.doc_id(digest, n), **obj}
            sink.insert(doc)
        sink.commit(digest)
    same_tree(tmp_path / "c/t/c", tmp_path / "py/t/c")


def test_ids_and_hashes_are_the_library_s(tmp_path):
    data = b"device,time\nth-1,2026-01-01\n"
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    digest = mysimbdp.file_hash(path)
    assert digest == mysimbdp.sha256_hex(data)
    import hashlib
    assert digest == hashlib.sha256(data).hexdigest()
    assert mysimbdp.doc_id(digest, 7) == digest[:24] + ":7"
    with mysimbdp.read_csv(path, metrics=None) as rows:
        assert [r["_id"] for r in rows] == [mysimbdp.doc_id(digest, 1)]


def test_upserts_are_named_by_id(tmp_path):
    from bson import ObjectId
    oid = ObjectId("5f1d7a3b9c8e4a2b1c0d9e8f")
    with mysimbdp.Sink("u", f"file://{tmp_path}", "t",
                       metrics=None) as sink:
        sink.upsert(42, {"v": 1})
        sink.upsert("th-1:2026", {"v": 2})
        sink.upsert(oid, {"v": 3})
        sink.upsert({"k": 1}, {"v": 4})
        sink.upsert(42, {"v": 5})          # the last of a unit wins
        sink.commit()
    names = sorted(p.name for p in (tmp_path / "t/u").iterdir())
    assert names[1:] == ["i=42.bson", f"o={oid}.bson", "s=th-1:2026.bson"]
    assert names[0].startswith("h=") and len(names[0]) == 2 + 64 + 5
    from bson import decode
    assert decode((tmp_path / "t/u/i=42.bson").read_bytes()) == \
        {"_id": 42, "v": 5}


def test_errors_are_exceptions_with_the_library_s_message(tmp_path):
    try:
        mysimbdp.Sink("c", "http://nowhere", "t", metrics=None)
    except mysimbdp.MysimbdpError as e:
        assert "mongodb://" in str(e)
    else:
        raise AssertionError("a bad URL opened")
    with mysimbdp.Sink("c", f"file://{tmp_path}", "t", metrics=None) as s:
        try:
            s.insert({"$bad": 1})
        except mysimbdp.BadDocument as e:
            assert e.exit_code == 65 and "$" in str(e)
        else:
            raise AssertionError("a $ key was accepted")
        s.insert({"_id": 1})               # the sink is still usable
        s.commit("u")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n")
    try:
        list(mysimbdp.read_csv(bad, "missing:integer\n", metrics=None))
    except mysimbdp.DataError as e:
        assert "missing" in str(e) and e.exit_code == 65
    else:
        raise AssertionError("a header without the schema's column")


def test_a_read_error_that_may_pass_is_tempfail(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("a,b\n1,2\n")
    rows = mysimbdp.read_csv(path, metrics=None)
    fds = {}
    for n in os.listdir("/proc/self/fd"):
        try:
            fds[os.readlink(f"/proc/self/fd/{n}")] = int(n)
        except OSError:
            pass                           # listdir's own, closed
    # The reader's file becomes an empty pipe: its read fails, EAGAIN.
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.dup2(r, fds[str(path)])
    with rows, pytest.raises(mysimbdp.TempFail) as info:
        list(rows)
    assert "read" in str(info.value) and info.value.exit_code == 75
    os.close(r)
    os.close(w)


def test_a_read_error_is_not_a_data_error(tmp_path):
    """A read that fails for good (here EISDIR; EIO alike) is no fault
    of the data: not DataError (65, failed at once) but a plain error."""
    path = tmp_path / "r.csv"
    path.write_text("a,b\n1,2\n")
    rows = mysimbdp.read_csv(path, metrics=None)
    fd = next(int(n) for n in os.listdir("/proc/self/fd")
              if os.path.realpath(f"/proc/self/fd/{n}") == str(path))
    # The reader's file becomes a directory: its read fails, EISDIR.
    d = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    os.dup2(d, fd)
    os.close(d)
    with rows, pytest.raises(mysimbdp.MysimbdpError) as info:
        list(rows)
    assert not isinstance(info.value, mysimbdp.DataError), info.value
    assert "read: Is a directory" in str(info.value)
    assert info.value.exit_code not in (65, 75)


def test_a_file_written_to_while_read_gives_no_row(tmp_path):
    """A row appended once the file was hashed (Rows opened): iterating
    raises TempFail before any row, so an app writing to MongoDB (whose
    sink sends a batch every 1000 rows) stores none under ids of the
    content hashed; read again, every row has the new content's id."""
    path = tmp_path / "grow.csv"
    path.write_text("n\n" + "".join(f"{i}\n" for i in range(1, 3001)))
    rows = mysimbdp.read_csv(path, metrics=None)
    with path.open("a") as f:
        f.write("3001\n")
    got = []
    with rows, pytest.raises(mysimbdp.TempFail) as info:
        got.extend(rows)
    assert got == []
    assert "changed while it was read" in str(info.value)
    assert info.value.exit_code == 75
    with mysimbdp.read_csv(path, metrics=None) as again:
        ids = [r["_id"] for r in again]
        key = again.content_hash
    assert ids == [mysimbdp.doc_id(key, i) for i in range(1, 3002)]


def test_nul_and_undecodable_strings(tmp_path):
    """A NUL in a string would cut it short in C: Sink("evil\\0../x")
    wrote collection "evil", units "u\\0A" and "u\\0B" were one. Refused.
    A URL from the environment holding bytes that are not UTF-8 (as
    os.environ decodes them) reaches the library as those bytes."""
    with pytest.raises(ValueError):
        mysimbdp.Sink("evil\0../x", f"file://{tmp_path}", "t", metrics=None)
    with mysimbdp.Sink("c", f"file://{tmp_path}", "t", metrics=None) as s:
        s.insert({"_id": 1})
        with pytest.raises(ValueError):
            s.commit("unit\0A")
        s.commit("unit")
    odd = os.fsdecode(os.fsencode(str(tmp_path)) + b"/st\xffore")
    with mysimbdp.Sink("c", f"file://{odd}", "t", metrics=None) as s:
        s.insert({"_id": 1})
        s.commit("u")
    assert (tmp_path / os.fsdecode(b"st\xffore")).is_dir()
    with pytest.raises(ValueError):
        mysimbdp.doc_id("0" * 64 + "\0", 1)


def test_on_reject_raising_is_raised(tmp_path):
    """An exception in a Sink's on_reject was printed and dropped by
    ctypes; it is raised once out of the library."""
    sink = mysimbdp.Sink("c", f"file://{tmp_path}", "t", metrics=None,
                         on_reject=lambda seq, reason: 1 / 0)
    # The callback as the library calls it, during an insert.
    sink._rejected(None, 0, b"refused")
    with sink, pytest.raises(ZeroDivisionError):
        sink.insert({"_id": 1})
    assert sink.rejections == {0: "refused"}


def readme_examples():
    text = (SRC / "clientlib/python/README.md").read_text()
    return [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]


def test_readme_examples_follow_the_guide():
    """The README's apps as the tenant guide's: the batch app exits 65
    when the store refused every row; the stream app acks a message only
    if its document was not refused (and empties sink.rejections), so a
    refused one reaches the dead letters instead of being lost."""
    blocks = readme_examples()
    for b in blocks:
        compile(b, "README.md", "exec")
    batch = next(b for b in blocks if "read_csv" in b)
    assert "EXIT_DATAERR if sink.all_rejected" in batch, batch
    stream = next(b for b in blocks if "stream.batches" in b)
    assert "ack_all" not in stream, stream
    assert "sink.rejections.pop(seq" in stream, stream
    assert stream.index("sink.commit()") < stream.index("msg.ack()"), stream
