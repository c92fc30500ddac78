"""Data quality rules reach Python apps through the package (issue 20,
docs/quality.md): initech's batch app, unchanged but for catching
BadDocument, under a profile whose rules refuse some readings: the rows
the rules refuse are counted per rule in the record, kept with their
rule in the rejects file beside the file in done/, and not stored."""
import csv
import json

from conftest import PYTHON, SRC, wait_for

PROFILE = f"""batch = {{ formats = ["csv"];
  quality = ( {{ rules = (
      {{ name = "cool"; field = "temperature"; max = "25"; }},
      {{ name = "texas"; field = "site"; values = ["austin", "dallas"]; }}
  ); }} );
  apps = ( {{ app = ["{PYTHON}", "{SRC}/tenants/initech/initech-batch"];
             timeout = "60s"; retries = 0; }} ); }};
"""
SAMPLE = SRC / "tenants/initech/samples/readings-small.csv"


def test_rules_refuse_rows_of_a_python_app(platform):
    platform.tenant("initech", PROFILE)
    platform.start("batchmgr")
    incoming = platform.var / "staging/initech/incoming"
    part = incoming / ".r.csv.part"
    part.write_text(SAMPLE.read_text())
    part.rename(incoming / "r.csv")
    rec = wait_for("r.csv done", lambda: next(
        (r for r in platform.records() if r["file"] == "r.csv"
         and r["status"] == "ok"), None))
    # What the rules must refuse, from the file itself: rows the app
    # would store (it refuses out-of-range temperatures itself first).
    want = {"cool": 0, "texas": 0}
    for row in csv.DictReader(SAMPLE.open()):
        try:
            t = float(row["temperature"])
        except ValueError:
            continue
        if not -40 <= t <= 85:
            continue
        if t > 25:
            want["cool"] += 1
        elif row["site"] not in ("austin", "dallas"):
            want["texas"] += 1
    assert want["cool"] > 0 and want["texas"] > 0, want
    q = rec["quality"]
    assert q["rules"] == want, q
    assert q["rejected"] == sum(want.values()), q
    stored = platform.store("initech", "readings")
    assert len(stored) == rec["inserted"]
    assert all(d["temperature"] is None or d["temperature"] <= 25
               for d in stored)
    kept = [json.loads(line) for line in (
        platform.var / "staging/initech/done/r.csv.rejects.jsonl").open()]
    assert sorted(k["rule"] for k in kept) == sorted(
        r for r, n in want.items() for _ in range(n))
    assert all(k["reason"].startswith(f"quality: {k['rule']}: ")
               for k in kept)
