"""A Python batch app (initech's) under batchmgr: a good file is stored
with its counts; a file that can never work ends in failed/ with exit
65."""
import os

from conftest import PYTHON, SRC, wait_for

PROFILE = f"""batch = {{ formats = ["csv"];
  apps = ( {{ app = ["{PYTHON}", "{SRC}/tenants/initech/initech-batch"];
             timeout = "60s"; retries = 2; }} ); }};
"""


def drop(platform, name, text):
    incoming = platform.var / "staging/initech/incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    part = incoming / f".{name}.part"
    part.write_text(text)
    part.rename(incoming / name)


def record(platform, name, statuses):
    return next((r for r in platform.records() if r["file"] == name
                 and r["status"] in statuses), None)


def test_good_file(platform):
    platform.tenant("initech", PROFILE)
    platform.start("batchmgr")
    sample = (SRC / "tenants/initech/samples/readings-small.csv").read_text()
    drop(platform, "r.csv", sample)
    rec = wait_for("r.csv done", lambda: record(platform, "r.csv", ("ok",)))
    assert (rec["rows"], rec["rejected_rows"]) == (297, 3)
    assert (rec["inserted"], rec["already_present"],
            rec["store_rejected"]) == (297, 0, 0)
    docs = platform.store("initech", "readings")
    assert len(docs) == 297
    # The library's ids: the file's content and the record number.
    import mysimbdp
    digest = mysimbdp.file_hash(SRC / "tenants/initech/samples/"
                                "readings-small.csv")
    refused = {42, 98, 151}      # records that do not convert or fit
    assert sorted(d["_id"] for d in docs) == sorted(
        mysimbdp.doc_id(digest, n) for n in range(1, 301)
        if n not in refused)
    # The same content again: nothing stored twice.
    drop(platform, "again.csv", sample)
    rec = wait_for("again.csv done", lambda: record(platform, "again.csv",
                                                    ("ok",)))
    assert (rec["inserted"], rec["already_present"]) == (0, 297), rec
    assert len(platform.store("initech", "readings")) == 297


def test_file_that_never_works_fails(platform):
    platform.tenant("initech", PROFILE)
    platform.start("batchmgr")
    drop(platform, "bad.csv", "sensor,when\nth-1,2026-01-01\n")
    rec = wait_for("bad.csv failed", lambda: record(platform, "bad.csv",
                                                    ("failed",)))
    assert rec["exit_code"] == 65, rec
    # At once, with DataError's message as the reason: no retries.
    assert rec["attempt"] == 1, rec
    assert rec["reason"].startswith("data: exit 65"), rec["reason"]
    assert "device" in rec["reason"], rec["reason"]
    assert (platform.var / "staging/initech/failed/bad.csv").exists()


def test_file_name_not_utf8(platform):
    # A tenant's file name is bytes (docs/hostile-input.md): the app's
    # MYSIMBDP_INPUT_FILE holds them as they are.
    platform.tenant("initech", PROFILE)
    platform.start("batchmgr")
    name = os.fsdecode(b"bad\xff\xfe.csv")
    sample = (SRC / "tenants/initech/samples/readings-small.csv").read_text()
    drop(platform, name, sample)
    rec = wait_for("the file's outcome", lambda: next(
        (r for r in platform.records() if r["status"] in ("ok", "failed")),
        None))
    assert rec["file"] == "bad\\xFF\\xFE.csv", rec
    assert rec["status"] == "ok", rec
    assert rec["rows"] == 297, rec
