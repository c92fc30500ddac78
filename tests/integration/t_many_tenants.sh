#!/bin/bash
# 1030 tenants, each with a batch app and a stream, on one platform, under
# the usual soft limit of 1024 open files: every daemon starts and serves
# the last tenant as it serves the first. streammgr holds two ZeroMQ
# sockets and seven descriptors per stream (more than libzmq's default
# of 1023 sockets and far more than 1024 files), the monitor a socket per
# tenant. batchmgr holds no descriptor per tenant: each would be copied
# into, and closed in, every app it starts. The apps still get the soft
# limit the daemons were started with.
. "$(dirname "$0")/lib.sh"

n=1030
platform
for i in $(seq -f %04g 1 "$n"); do
	tenant "t$i" <<-EOF
	id = "t$i";
	batch = { formats = ["csv"];
	  apps = ( { app = ["envdump", "$T/out"]; timeout = "20s"; } ); };
	streams = ( { app = ["$STREAMAPP"]; stop_timeout = "2s";
	  instances = { min = 0; max = 1; initial = 0; };
	  durability = "memory"; } );
	EOF
done
last=t$n

ulimit -Sn 1024
start_daemon streammgr
start_daemon monitor
start_daemon batchmgr
for d in "$SM_PID" "$MON_PID" "$BM_PID"; do
	[ "$(awk '/^Max open files/ { print $4 }' "/proc/$d/limits")" -gt 1024 ] ||
		fail "pid $d kept the soft limit of 1024 open files"
done
ok "the daemons raised their own limit of open files"

cli scale "$last" 1 --reason "test" >/dev/null || fail "scale $last to 1"
wait_for 30 "an instance of $last" ready_is "$last" 1
ok "streammgr serves $last"
inst=$(cli status "$last" --json | jq -r '.streams[0].instances[0].pid')
assert_eq 1024 "$(awk '/^Max open files/ { print $4 }' "/proc/$inst/limits")" \
	"its instance has the soft limit of 1024"
assert_file "$VAR/run/$last/metrics.sock"

drop "$last" a.csv
wait_for 30 "the file of $last" have_records 1 "$last" ok
fds=$(find "/proc/$BM_PID/fd" -mindepth 1 | wc -l)
[ "$fds" -lt 100 ] ||
	fail "batchmgr holds $fds descriptors for $n tenants"
ok "batchmgr holds $fds descriptors for $n tenants"
assert_eq 1024 "$(awk '/^Max open files/ { print $4 }' "$T/out/limits")" \
	"the batch app has the soft limit of 1024"

stop_daemon batchmgr
stop_daemon monitor
stop_daemon streammgr
