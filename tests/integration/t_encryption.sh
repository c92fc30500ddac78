#!/usr/bin/env bash
# Encrypted files (issue 20, docs/encryption.md). A tenant with
# batch.encryption sends age-encrypted files; batchmgr decrypts each with
# age, as the platform's user, into a sealed memfd that is its app's stdin
# (MYSIMBDP_INPUT_FILE=/dev/stdin), and the app runs as the tenant's user.
# Checked: `mysimbdp keygen --tenant T --encryption` writes an identity no
# tenant user can read; an encrypted file stores the same documents as its
# plaintext twin; a marker of the plaintext is nowhere under the state
# folder or /tmp while the app runs and after; a file that is not
# encrypted, one for another key and a tampered one go to rejected/ with
# their reasons, unchanged, and nothing of them is stored; key rotation
# by listing two identities and reloading; check-config refuses an
# identity others may read.
. "$(dirname "$0")/lib.sh"

need_root
command -v age >/dev/null || { echo "SKIP: no age (apt-get install age)"; exit 77; }
U=mysbt-enc
test_users "$U"
chmod 711 "$T"

ACME_APP=$MYSIMBDP_BUILD/tenants/acme/acme-listings
SAMPLE=$MYSIMBDP_SRC/tenants/acme/samples/listings-small.csv
BSONCOUNT=$MYSIMBDP_BUILD/tenants/bsoncount
# The store outside the state folder and /tmp: it holds the plaintext's
# documents by design, the rest must not.
STORE=$(mktemp -d /var/tmp/mysbt-enc.XXXXXX)
AT_EXIT+=("rm -rf '$STORE'")
chmod 755 "$STORE"
MARKER="marker-$$-$RANDOM-plaintext"
GATE=$T/gate
mkdir -m 1777 "$GATE"

# The app waits at a gate the test opens, so the test can look around
# while it runs; then it is acme-listings on its stdin.
mkdir -p "$T/apps"
cat >"$T/apps/gated" <<EOF
#!/bin/sh
: >"$GATE/started.\$MYSIMBDP_INSTANCE"
while [ ! -e "$GATE/go" ]; do sleep 0.05; done
exec "$ACME_APP"
EOF
chmod 755 "$T/apps" "$T/apps/gated"

platform
mkdir -p "$VAR"
enc_tenant() {	# KEY...
	local keys
	keys=$(printf '"%s", ' "$@")
	tenant sec <<-CFG
	id = "sec";
	user = "$U";
	mongo_url = "file://$STORE";
	batch = {
	  formats = ["csv"];
	  encryption = { method = "age"; keys = [ ${keys%, } ]; };
	  apps = ( { app = ["$T/apps/gated"]; timeout = "$(scaled 60)s"; retries = 0; } );
	};
	CFG
}

# ---- keys ----------------------------------------------------------------
R1=$(cli keygen --tenant sec --encryption 2>"$T/keygen.err")
K1=$(sed -n 's/^mysimbdp keygen: wrote //p' "$T/keygen.err")
[[ $R1 == age1* ]] || fail "keygen printed no age recipient: $R1"
assert_eq 600 "$(stat -c %a "$K1")" "the identity's mode"
assert_eq 700 "$(stat -c %a "$(dirname "$K1")")" "the keys folder's mode"
if setpriv --reuid="$U" --regid="$U" --clear-groups cat "$K1" >/dev/null 2>&1; then
	fail "the tenant's user can read its identity $K1"
fi
ok "keygen: an identity (mode 600) the tenant's user cannot read, recipient $R1"
K2=$T/second.key
R2=$(cli keygen --tenant sec --encryption "$K2" 2>/dev/null)
cli keygen --tenant sec --encryption "$K2" >/dev/null 2>&1 &&
	fail "keygen replaced an existing identity"

tenant twin <<CFG
id = "twin";
mongo_url = "file://$STORE";
batch = {
  formats = ["csv"];
  apps = ( { app = ["$T/apps/gated"]; timeout = "$(scaled 60)s"; retries = 0; } );
};
CFG
enc_tenant "$K1"
start_daemon batchmgr

# plain: the sample with one more row carrying the marker, never on disk.
plain() {
	cat "$SAMPLE"
	echo "199999,https://example.org/rooms/199999,\"$MARKER\",\"x\",1,Ann,2014-05-26,West,52.3,4.9,\"Entire loft\",Shared room,2,1,\"[]\",\"\$10.00\",1,0,,4.0"
}
# enc NAME RECIPIENT: an encrypted file, delivered into sec's incoming/.
enc() {
	local tmp=$VAR/staging/sec/incoming/.$1.part
	mkdir -p "$(dirname "$tmp")"
	plain | age -r "$2" -o "$tmp"
	mv "$tmp" "$VAR/staging/sec/incoming/$1"
}
# The files under the state folder and /tmp holding the marker: those
# written since the test began (the gate folder's birth), so that the
# look takes the same time on a host whose /tmp holds gigabytes (the
# app's timeout runs meanwhile).
marked() {
	find "$VAR" /tmp -xdev -type f -newer "$GATE" -print0 2>/dev/null |
		xargs -0 -r grep -lF -D skip "$MARKER" 2>/dev/null || true
}
started() { compgen -G "$GATE/started.*" >/dev/null; }
docs() { "$BSONCOUNT" "$STORE/$1/listings" | jq -c .doc | sort; }
outcome() {	# TENANT FILE: its last record
	records ".tenant == \"$1\" and .file == \"$2\"" | tail -n 1
}
reason() { outcome sec "$1" | jq -r .reason; }

# ---- an encrypted file, its plaintext nowhere on disk -----------------------
enc listings.csv.age "$R1"
wait_for 30 "sec's app started on the decrypted file" started
found=$(marked)
[ -z "$found" ] || fail "the plaintext's marker is on disk while the app runs: $found"
ok "while the app runs: no file under $VAR or /tmp holds the plaintext"
: >"$GATE/go"
wait_for 60 "sec's file ingested" have_records 1 sec ok
assert_eq "41 41" "$(outcome sec listings.csv.age | jq -r '"\(.rows) \(.inserted)"')" \
	"the encrypted file's rows and inserts"
found=$(marked)
[ -z "$found" ] || fail "the plaintext's marker is on disk after the run: $found"
ok "after the run: no file under $VAR or /tmp holds the plaintext"

# Its twin, in plaintext, to a tenant without encryption: the same documents.
plain >"$VAR/staging/twin/incoming/.listings.csv.part"
mv "$VAR/staging/twin/incoming/.listings.csv.part" "$VAR/staging/twin/incoming/listings.csv"
wait_for 60 "twin's file ingested" have_records 1 twin ok
assert_eq 41 "$(docs sec | wc -l)" "documents stored from the encrypted file"
[ "$(docs sec)" = "$(docs twin)" ] ||
	fail "the encrypted file and its plaintext twin stored different documents"
ok "the encrypted file stored the same 41 documents as its plaintext twin"

# ---- refused files: kept in rejected/, unchanged, nothing stored ------------
# into NAME SOURCE: delivers SOURCE into sec's incoming/ as NAME.
into() {
	cp "$2" "$VAR/staging/sec/incoming/.$1.part"
	mv "$VAR/staging/sec/incoming/.$1.part" "$VAR/staging/sec/incoming/$1"
}
before=$(docs sec | wc -l)
plain >"$T/scratch/plain.csv"
age-keygen -o "$T/other.key" 2>/dev/null
plain | sed "s/$MARKER/other-$MARKER/" |
	age -r "$(age-keygen -y "$T/other.key")" -o "$T/scratch/other.csv.age"
# One byte changed in the last chunk: age authenticates each 64 KiB.
plain | sed "s/$MARKER/tampered-$MARKER/" | age -r "$R1" -o "$T/scratch/tampered.csv.age"
size=$(stat -c %s "$T/scratch/tampered.csv.age")
flip_bits "$T/scratch/tampered.csv.age" $(( size - 20 ))
into plain.csv "$T/scratch/plain.csv"
into fake.csv.age "$T/scratch/plain.csv"
into other.csv.age "$T/scratch/other.csv.age"
into tampered.csv.age "$T/scratch/tampered.csv.age"
wait_for 60 "four rejections" have_records 4 sec rejected
reason plain.csv | grep -q "^encryption: not named \*.age" ||
	fail "plain.csv: reason $(reason plain.csv)"
reason fake.csv.age | grep -q "^encryption: not an age file" ||
	fail "fake.csv.age: reason $(reason fake.csv.age)"
reason other.csv.age | grep -q "^decrypt: no identity matched" ||
	fail "other.csv.age: reason $(reason other.csv.age)"
reason tampered.csv.age | grep -q "^decrypt: .*" ||
	fail "tampered.csv.age: reason $(reason tampered.csv.age)"
wait_file "$VAR/staging/sec/rejected/fake.csv.age"
cmp -s "$VAR/staging/sec/rejected/fake.csv.age" "$T/scratch/plain.csv" ||
	fail "rejected/fake.csv.age is not the file sent"
for f in other tampered; do
	wait_file "$VAR/staging/sec/rejected/$f.csv.age"
	cmp -s "$VAR/staging/sec/rejected/$f.csv.age" "$T/scratch/$f.csv.age" ||
		fail "rejected/$f.csv.age is not the encrypted file sent"
	wait_file "$VAR/staging/sec/rejected/$f.csv.age.reason"
done
assert_eq "$before" "$(docs sec | wc -l)" "documents after the refused files"
docs sec | grep -qF -- "-$MARKER" && fail "a row of a refused file was stored"
ok "not encrypted, not age, another key, tampered: rejected unchanged with" \
	"their reasons ($(reason tampered.csv.age)); nothing of them stored"

# ---- key rotation: two identities, then the old one dropped -----------------
# reload: batchmgr rereads the profiles at the turn of its loop after the
# request (SIGHUP's path); a status answered after it means that turn is
# over.
reload() {
	cli control --daemon batchmgr '{"cmd":"reload"}' >/dev/null
	cli control --daemon batchmgr '{"cmd":"status"}' >/dev/null
}
rot() {	# RECIPIENT ID-PREFIX NAME: an encrypted file of two rows of its own
	plain | sed -n "1p; 2,3s/^1000\([0-9][0-9]\),/$2\1,/p" |
		age -r "$1" -o "$T/scratch/rot.age"
	into "$3" "$T/scratch/rot.age"
}
enc_tenant "$K2" "$K1"
reload
rot "$R2" 2000 new.csv.age
rot "$R1" 3000 old.csv.age
wait_for 60 "both rotated files ingested" have_records 3 sec ok
assert_eq "2 2" "$(outcome sec new.csv.age | jq -r '"\(.rows) \(.inserted)"')" "new key's file"
assert_eq "2 2" "$(outcome sec old.csv.age | jq -r '"\(.rows) \(.inserted)"')" "old key's file"
enc_tenant "$K2"
reload
rot "$R1" 4000 retired.csv.age
wait_for 60 "the retired key's file rejected" have_records 5 sec rejected
reason retired.csv.age | grep -q "^decrypt: no identity matched" ||
	fail "retired.csv.age: reason $(reason retired.csv.age)"
ok "rotation: files for either listed key ingested; the dropped key's refused"

# ---- with a quality threshold: two passes over the same plaintext ----------
# An app that reads fd 0 itself (not /dev/stdin afresh): the second pass
# must find the plaintext from its start too.
cat >"$T/apps/fd0.py" <<'EOF'
import csv, io, sys
import mysimbdp
def price(text):
    try:
        return float(text.strip("$").replace(",", ""))
    except (AttributeError, ValueError):    # a short row, "N/A"
        return None
rows = list(csv.DictReader(io.StringIO(sys.stdin.buffer.read().decode())))
refused = 0
with mysimbdp.Sink("prices") as sink:
    for i, r in enumerate(rows):
        try:
            sink.insert({"_id": i, "price": price(r["price"])})
        except mysimbdp.BadDocument:
            refused += 1
    sink.commit("prices")
    mysimbdp.write_result(len(rows) - refused, refused, sink)
EOF
tenant twopass <<CFG
id = "twopass";
mongo_url = "file://$STORE";
batch = {
  formats = ["csv"];
  encryption = { keys = [ "$K2" ]; };
  quality = ( { max_rejected_percent = 90;
    rules = ( { name = "cheap"; field = "price"; max = "200"; } ); } );
  apps = ( { app = ["$MYSIMBDP_BUILD/clientlib/python/mysimbdp-python", "$T/apps/fd0.py"];
             timeout = "$(scaled 60)s"; retries = 0; } );
};
CFG
reload
plain | age -r "$R2" -o "$T/scratch/twopass.age"
cp "$T/scratch/twopass.age" "$VAR/staging/twopass/incoming/.p.csv.age.part"
mv "$VAR/staging/twopass/incoming/.p.csv.age.part" "$VAR/staging/twopass/incoming/p.csv.age"
wait_for 60 "p.csv.age ingested" have_records 1 twopass ok
r=$(records '.tenant == "twopass"' | tail -n 1)
rows=$(plain | python3 -c 'import csv, sys; print(sum(1 for _ in csv.DictReader(sys.stdin)))')
assert_eq "$rows" "$(jq -r '.quality.checked' <<<"$r")" \
	"rows the second pass checked (it read the plaintext from its start)"
assert_eq "$rows" "$(jq -r '.rows + .rejected_rows' <<<"$r")" "rows of the second pass"
ok "two passes over one decrypted file: each reads it from its start ($rows rows)"

# ---- check-config: an identity others may read ------------------------------
chmod 644 "$K2"
out=$(cli check-config 2>&1) && fail "check-config took an identity of mode 644"
grep -q "sec.cfg:[0-9]*: batch.encryption.keys: $K2: mode 0644" <<<"$out" ||
	fail "check-config said: $out"
chmod 600 "$K2"
ok "check-config: $(grep -o 'sec.cfg:[0-9]*: batch.encryption.keys: [^:]*: mode 0644[^)]*)' <<<"$out")"
# Owned by a user other than the daemons' (a tenant's could rewrite it).
chown "$U" "$K2"
out=$(cli check-config 2>&1) && fail "check-config took an identity owned by $U"
grep -q "sec.cfg:[0-9]*: batch.encryption.keys: $K2: owned by uid $(id -u "$U"), not by the daemons' user" <<<"$out" ||
	fail "check-config said: $out"
chown 0 "$K2"
ok "check-config: $(grep -o "$K2: owned by uid .* or root" <<<"$out" | head -n 1)"
# Checked alone, the tenant's file warns of an identity that is not there.
mkdir -p "$T/scratch/alone"
sed "s|\"$K2\"|\"$T/scratch/none.key\"|" "$T/conf/tenants/sec.cfg" >"$T/scratch/alone/sec.cfg"
grep -q none.key "$T/scratch/alone/sec.cfg" || fail "the lone profile lists no missing key"
out=$(cli check-config "$T/scratch/alone/sec.cfg" 2>&1) || fail "check-config of sec.cfg alone: $out"
grep -q "batch.encryption.keys: $T/scratch/none.key: .*cannot be decrypted" <<<"$out" ||
	fail "check-config of sec.cfg alone said: $out"
ok "check-config of one tenant file warns of a missing identity"
