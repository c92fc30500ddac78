/*
 * supbench: the supervision benchmark (scripts/bench supervise,
 * docs/benchmarks.md): streammgr against Debian's supervisord.
 *
 * usage: supbench scale CTL TENANT N PARENT COMM TIMEOUT_S [noready]
 *        supbench svready SOCKET TIMEOUT_S
 *        supbench svstart SOCKET GROUP N PARENT COMM TIMEOUT_S
 *        supbench restart PARENT COMM K MIN_AGE_MS MAX_DELAY_MS TIMEOUT_S
 *
 * A process counts as started once it is a child of the supervisor PARENT
 * (pid) and has exec'd the app, i.e. its /proc/PID/comm is COMM: both
 * supervisors fork and exec their apps directly, so the same test applies
 * to both. /proc is polled every POLL_US.
 *
 * scale asks streammgr's control socket CTL to scale TENANT's first stream
 * to N instances, then waits until PARENT has N children running COMM,
 * then, unless noready (an app that never says HELLO), until the status
 * shows N instances ready (HELLO said). Prints one JSON line: n, reply_ms
 * (the request's reply: streammgr spawns inside the request), started_ms
 * (N apps exec'd), ready_ms.
 *
 * svready asks supervisord's XML-RPC interface on the unix SOCKET for
 * supervisor.getState every 50 ms until it answers RUNNING.
 *
 * svstart sends supervisor.startProcessGroup(GROUP, false) to supervisord
 * (the request of `supervisorctl start GROUP:*`, without waiting in the
 * request for startsecs: supervisord forks every process of the group
 * before it replies), then waits until PARENT has N children running
 * COMM, then until supervisor.getAllProcessInfo, asked every SV_POLL_MS,
 * shows N processes of GROUP RUNNING. Prints one JSON line: n, reply_ms,
 * started_ms, running_ms.
 *
 * restart kills K of PARENT's children running COMM with SIGKILL, one after
 * the other, each the oldest not killed yet, and measures each time from
 * the kill to a new child running COMM. Before each kill it waits until
 * the victim has run MIN_AGE_MS (streammgr restarts at once only an
 * instance that ran stream.min_uptime) and then a random 0..MAX_DELAY_MS,
 * so that kills land anywhere in a supervisor's cycle (supervisord acts
 * once a second). Prints one JSON line: k, p50_ms, p99_ms, max_ms,
 * samples_ms (in kill order).
 *
 * Every wait is bounded by TIMEOUT_S. Exit status 0; 1 on any failure
 * (said on stderr); 64 on a usage error.
 */
#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "benchctl.h"
#include "benchutil.h"

#define POLL_US		200	/* /proc polls */
#define SV_POLL_MS	10	/* getAllProcessInfo polls */
#define MAX_KIDS	4096
#define MAX_K		1000
#define RPC_MAX		(4 << 20)	/* bytes of an XML-RPC reply */

static __attribute__((__noreturn__)) void
usage(void)
{
	fprintf(stderr, "usage: supbench scale CTL TENANT N PARENT COMM "
	    "TIMEOUT_S [noready]\n"
	    "       supbench svready SOCKET TIMEOUT_S\n"
	    "       supbench svstart SOCKET GROUP N PARENT COMM TIMEOUT_S\n"
	    "       supbench restart PARENT COMM K MIN_AGE_MS MAX_DELAY_MS "
	    "TIMEOUT_S\n");
	exit(EX_USAGE);
}

static int64_t
now_ns(void)
{
	return bench_now_ns(CLOCK_MONOTONIC);
}

static double
ms_since(int64_t t0)
{
	return (double)(now_ns() - t0) / 1e6;
}

static int64_t
deadline_in(long timeout_s)
{
	return now_ns() + timeout_s * 1000000000LL;
}

/* ---- /proc ------------------------------------------------------------- */

/* Reads a small /proc file into buf; -1 when it is gone. */
static ssize_t
read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* Whether pid has exec'd comm (its name, as /proc/PID/comm gives it). */
static bool
runs(pid_t pid, const char *comm)
{
	char path[64], buf[64];
	size_t len = strlen(comm);

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	return read_small(path, buf, sizeof(buf)) > 0 &&
	    strncmp(buf, comm, len) == 0 && buf[len] == '\n';
}

/*
 * The children of parent, from /proc/PARENT/task/ * /children (a child
 * is listed under the thread that forked it). Returns how many, at most
 * max; exits when parent is gone.
 */
static int
children(pid_t parent, pid_t *kids, int max)
{
	char path[320], buf[65536];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)parent);
	if ((d = opendir(path)) == NULL)
		errx(1, "supervisor pid %d: gone (%s)", (int)parent,
		    strerror(errno));
	while ((de = readdir(d)) != NULL) {
		char *p, *end;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/children",
		    (int)parent, de->d_name);
		if (read_small(path, buf, sizeof(buf)) <= 0)
			continue;
		for (p = buf; n < max; p = end) {
			long v = strtol(p, &end, 10);

			if (end == p)
				break;
			kids[n++] = (pid_t)v;
		}
	}
	closedir(d);
	return n;
}

/* Children of parent running comm, into kids (at most MAX_KIDS). */
static int
app_children(pid_t parent, const char *comm, pid_t *kids)
{
	pid_t all[MAX_KIDS];
	int n = children(parent, all, MAX_KIDS), k = 0;

	for (int i = 0; i < n; i++)
		if (runs(all[i], comm))
			kids[k++] = all[i];
	return k;
}

/* Waits until parent has n children running comm; exits at deadline. */
static void
await_started(pid_t parent, const char *comm, int n, int64_t deadline)
{
	pid_t kids[MAX_KIDS];
	int got;

	while ((got = app_children(parent, comm, kids)) < n) {
		if (now_ns() > deadline)
			errx(1, "%d of %d children of %d run %s", got, n,
			    (int)parent, comm);
		usleep(POLL_US);
	}
}

/* pid's start, in clock ticks since boot (/proc/PID/stat); -1 when gone. */
static long long
start_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small(path, buf, sizeof(buf)) <= 0 ||
	    (p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u "
	    "%*u %*d %*d %*d %*d %*d %*d %llu", &start) != 1)
		return -1;
	return (long long)start;
}

/* Milliseconds pid has been running; -1 when it is gone. */
static double
age_ms(pid_t pid)
{
	long long start = start_ticks(pid);
	double up;
	FILE *f;

	if (start < 0)
		return -1;
	if ((f = fopen("/proc/uptime", "re")) == NULL ||
	    fscanf(f, "%lf", &up) != 1)
		err(1, "/proc/uptime");
	fclose(f);
	return up * 1e3 - (double)start * 1e3 / (double)sysconf(_SC_CLK_TCK);
}

/* ---- scale: streammgr ---------------------------------------------------- */

static int
cmd_scale(char *argv[], bool noready)
{
	long n = bench_number(argv[2], "N", 0, 1024);
	pid_t parent = (pid_t)bench_number(argv[3], "PARENT", 1, INT32_MAX);
	const char *comm = argv[4];
	long timeout = bench_number(argv[5], "TIMEOUT_S", 1, 3600);
	double reply_ms, started_ms;
	int64_t t0, deadline;
	struct benchctl c;
	int all = 0, ready = 0;
	char req[256];
	bson_iter_t it;
	bson_t doc;

	snprintf(req, sizeof(req), "{\"cmd\":\"scale\",\"tenant\":\"%s\","
	    "\"instances\":%ld,\"reason\":\"supbench\"}", argv[1], n);
	benchctl_open(&c, argv[0], argv[1]);
	/* The connection is up before the clock starts. */
	benchctl_status(&c, &doc);
	bson_destroy(&doc);
	t0 = now_ns();
	deadline = deadline_in(timeout);
	benchctl_request(&c, req, &doc);
	reply_ms = ms_since(t0);
	if (!bson_iter_init_find(&it, &doc, "desired") ||
	    bson_iter_as_int64(&it) != n)
		errx(1, "scale: desired is not %ld (clamped by the profile?)",
		    n);
	bson_destroy(&doc);
	await_started(parent, comm, (int)n, deadline);
	started_ms = ms_since(t0);
	while (!noready && ready < n) {
		if (now_ns() > deadline)
			errx(1, "%d of %ld instances ready (%d in all) after "
			    "%ld s", ready, n, all, timeout);
		usleep(2000);
		benchctl_status(&c, &doc);
		benchctl_instances(&doc, &all, &ready);
		bson_destroy(&doc);
	}
	printf("{\"n\":%ld,\"reply_ms\":%.2f,\"started_ms\":%.2f", n,
	    reply_ms, started_ms);
	if (!noready)
		printf(",\"ready_ms\":%.2f", ms_since(t0));
	printf("}\n");
	benchctl_close(&c);
	return 0;
}

/* ---- supervisord's XML-RPC, over its unix socket -------------------------- */

/*
 * Calls method with params (XML <param> elements, or "") on the
 * supervisord listening on the unix socket path; returns the reply body
 * (malloc'ed, NUL-terminated). Exits on a transport error or a fault.
 * HTTP/1.0: supervisord closes the connection after the reply.
 */
static char *
rpc(const char *path, const char *method, const char *params)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char body[512], head[256], *buf, *p;
	size_t len = 0;
	ssize_t n;
	int fd, bl, hl;

	if (strlen(path) >= sizeof(sa.sun_path))
		errx(EX_USAGE, "%s: too long for a unix socket", path);
	strcpy(sa.sun_path, path);
	bl = snprintf(body, sizeof(body), "<?xml version=\"1.0\"?>"
	    "<methodCall><methodName>%s</methodName><params>%s</params>"
	    "</methodCall>", method, params);
	hl = snprintf(head, sizeof(head), "POST /RPC2 HTTP/1.0\r\n"
	    "Content-Type: text/xml\r\nContent-Length: %d\r\n\r\n", bl);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		err(1, "socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		err(1, "connect %s", path);
	if (write(fd, head, (size_t)hl) != hl ||
	    write(fd, body, (size_t)bl) != bl)
		err(1, "%s: write", method);
	if ((buf = malloc(RPC_MAX)) == NULL)
		err(1, "malloc");
	while (len < RPC_MAX - 1 &&
	    (n = read(fd, buf + len, RPC_MAX - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			err(1, "%s: read", method);
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	if (strncmp(buf, "HTTP/1.", 7) != 0 || strncmp(buf + 8, " 200", 4))
		errx(1, "%s: %.80s", method, buf);
	if ((p = strstr(buf, "\r\n\r\n")) == NULL)
		errx(1, "%s: a reply without a body", method);
	if (strstr(p, "<fault>") != NULL)
		errx(1, "%s: fault: %.300s", method, p);
	memmove(buf, p + 4, strlen(p + 4) + 1);
	return buf;
}

/*
 * Copies into out the string value of the member name in the XML-RPC
 * struct [p, end), or returns false.
 */
static bool
member_string(const char *p, const char *end, const char *name, char *out,
    size_t len)
{
	char key[64];
	const char *v, *e;

	snprintf(key, sizeof(key), "<name>%s</name>", name);
	if ((v = memmem(p, (size_t)(end - p), key, strlen(key))) == NULL ||
	    (v = memmem(v, (size_t)(end - v), "<string>", 8)) == NULL ||
	    (e = memmem(v, (size_t)(end - v), "</string>", 9)) == NULL ||
	    (size_t)(e - v - 8) >= len)
		return false;
	memcpy(out, v + 8, (size_t)(e - v - 8));
	out[e - v - 8] = '\0';
	return true;
}

/*
 * Processes of group in state RUNNING, in a getAllProcessInfo reply: one
 * <struct> per process, with its group and statename among its members.
 */
static int
running_in_group(const char *reply, const char *group)
{
	const char *p = reply, *end;
	char g[128], state[32];
	int n = 0;

	while ((p = strstr(p, "<struct>")) != NULL) {
		if ((end = strstr(p, "</struct>")) == NULL)
			break;
		if (member_string(p, end, "group", g, sizeof(g)) &&
		    member_string(p, end, "statename", state, sizeof(state)) &&
		    strcmp(g, group) == 0 && strcmp(state, "RUNNING") == 0)
			n++;
		p = end;
	}
	return n;
}

static int
cmd_svready(char *argv[])
{
	long timeout = bench_number(argv[1], "TIMEOUT_S", 1, 3600);
	int64_t deadline = deadline_in(timeout);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(argv[0]) >= sizeof(sa.sun_path))
		errx(EX_USAGE, "%s: too long for a unix socket", argv[0]);
	strcpy(sa.sun_path, argv[0]);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool up = fd >= 0 &&
		    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;

		if (fd >= 0)
			close(fd);
		if (up) {
			char *r = rpc(argv[0], "supervisor.getState", "");
			bool running = strstr(r, "RUNNING") != NULL;

			free(r);
			if (running)
				return 0;
		}
		if (now_ns() > deadline)
			errx(1, "supervisord on %s: not RUNNING after %ld s",
			    argv[0], timeout);
		usleep(50000);
	}
}

static int
cmd_svstart(char *argv[])
{
	const char *sock = argv[0], *group = argv[1], *comm = argv[4];
	long n = bench_number(argv[2], "N", 1, MAX_KIDS);
	pid_t parent = (pid_t)bench_number(argv[3], "PARENT", 1, INT32_MAX);
	long timeout = bench_number(argv[5], "TIMEOUT_S", 1, 3600);
	double reply_ms, started_ms;
	int64_t t0, deadline;
	int running = 0;
	char params[256], *r;

	if (strlen(group) > 64 || strpbrk(group, "<>&") != NULL)
		errx(EX_USAGE, "%s: not a plain group name", group);
	snprintf(params, sizeof(params), "<param><value><string>%s</string>"
	    "</value></param><param><value><boolean>0</boolean></value>"
	    "</param>", group);
	t0 = now_ns();
	deadline = deadline_in(timeout);
	r = rpc(sock, "supervisor.startProcessGroup", params);
	reply_ms = ms_since(t0);
	free(r);
	await_started(parent, comm, (int)n, deadline);
	started_ms = ms_since(t0);
	while (running < n) {
		if (now_ns() > deadline)
			errx(1, "%d of %ld programs of %s RUNNING after %ld s",
			    running, n, group, timeout);
		r = rpc(sock, "supervisor.getAllProcessInfo", "");
		running = running_in_group(r, group);
		free(r);
		if (running < n)
			usleep(SV_POLL_MS * 1000);
	}
	printf("{\"n\":%ld,\"reply_ms\":%.2f,\"started_ms\":%.2f,"
	    "\"running_ms\":%.2f}\n", n, reply_ms, started_ms, ms_since(t0));
	return 0;
}

/* ---- restart --------------------------------------------------------------- */

static bool
member(pid_t pid, const pid_t *set, int n)
{
	for (int i = 0; i < n; i++)
		if (set[i] == pid)
			return true;
	return false;
}

struct started {
	long long	st_ticks;
	pid_t		st_pid;
};

/* Oldest first; ties by pid. */
static int
cmp_started(const void *a, const void *b)
{
	const struct started *x = a, *y = b;

	if (x->st_ticks != y->st_ticks)
		return (x->st_ticks > y->st_ticks) - (x->st_ticks < y->st_ticks);
	return (x->st_pid > y->st_pid) - (x->st_pid < y->st_pid);
}

/* Sorts pids[n] oldest first. */
static void
sort_oldest_first(pid_t *pids, int n)
{
	struct started v[MAX_KIDS];

	for (int i = 0; i < n; i++)
		v[i] = (struct started){ start_ticks(pids[i]), pids[i] };
	qsort(v, (size_t)n, sizeof(v[0]), cmp_started);
	for (int i = 0; i < n; i++)
		pids[i] = v[i].st_pid;
}

/*
 * Kills victim and returns the ns until parent has a child running comm
 * that is not among before[nbefore] (the children before the kill).
 */
static int64_t
kill_and_time(pid_t parent, const char *comm, pid_t victim,
    const pid_t *before, int nbefore, int64_t deadline)
{
	pid_t all[MAX_KIDS];
	int64_t t0 = now_ns();

	if (kill(victim, SIGKILL) < 0)
		err(1, "kill %d", (int)victim);
	for (;;) {
		int n = children(parent, all, MAX_KIDS);

		for (int i = 0; i < n; i++)
			if (!member(all[i], before, nbefore) &&
			    runs(all[i], comm))
				return now_ns() - t0;
		if (now_ns() > deadline)
			errx(1, "no new %s under %d after the kill of %d",
			    comm, (int)parent, (int)victim);
		usleep(POLL_US);
	}
}

static int
cmd_restart(char *argv[])
{
	pid_t parent = (pid_t)bench_number(argv[0], "PARENT", 1, INT32_MAX);
	const char *comm = argv[1];
	long k = bench_number(argv[2], "K", 1, MAX_K);
	long min_age = bench_number(argv[3], "MIN_AGE_MS", 0, 3600000);
	long max_delay = bench_number(argv[4], "MAX_DELAY_MS", 0, 60000);
	long timeout = bench_number(argv[5], "TIMEOUT_S", 1, 3600);
	int64_t deadline = deadline_in(timeout), lat[MAX_K], sorted[MAX_K];
	pid_t victims[MAX_KIDS], before[MAX_KIDS];
	int nv, nb;
	double age;

	nv = app_children(parent, comm, victims);
	if (nv < k)
		errx(1, "%d children of %d run %s, fewer than %ld", nv,
		    (int)parent, comm, k);
	sort_oldest_first(victims, nv);
	srand((unsigned)getpid());
	for (long i = 0; i < k; i++) {
		while ((age = age_ms(victims[i])) < (double)min_age) {
			if (age < 0)
				errx(1, "pid %d: gone before its kill",
				    (int)victims[i]);
			if (now_ns() > deadline)
				errx(1, "pid %d: not %ld ms old in time",
				    (int)victims[i], min_age);
			usleep(10000);
		}
		if (max_delay > 0)
			usleep((useconds_t)(rand() % (max_delay * 1000)));
		nb = children(parent, before, MAX_KIDS);
		if (!member(victims[i], before, nb))
			errx(1, "pid %d: no longer a child of %d",
			    (int)victims[i], (int)parent);
		lat[i] = kill_and_time(parent, comm, victims[i], before, nb,
		    deadline);
	}
	memcpy(sorted, lat, (size_t)k * sizeof(int64_t));
	qsort(sorted, (size_t)k, sizeof(int64_t), bench_cmp_i64);
	printf("{\"k\":%ld,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
	    "\"samples_ms\":[", k, bench_pct_us(sorted, (uint64_t)k, 50) / 1e3,
	    bench_pct_us(sorted, (uint64_t)k, 99) / 1e3,
	    bench_pct_us(sorted, (uint64_t)k, 100) / 1e3);
	for (long i = 0; i < k; i++)
		printf("%s%.3f", i ? "," : "", (double)lat[i] / 1e6);
	printf("]}\n");
	return 0;
}

int
main(int argc, char *argv[])
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "scale") == 0 && argc == 8)
		return cmd_scale(argv + 2, false);
	if (strcmp(argv[1], "scale") == 0 && argc == 9 &&
	    strcmp(argv[8], "noready") == 0)
		return cmd_scale(argv + 2, true);
	if (strcmp(argv[1], "svready") == 0 && argc == 4)
		return cmd_svready(argv + 2);
	if (strcmp(argv[1], "svstart") == 0 && argc == 8)
		return cmd_svstart(argv + 2);
	if (strcmp(argv[1], "restart") == 0 && argc == 8)
		return cmd_restart(argv + 2);
	usage();
}
