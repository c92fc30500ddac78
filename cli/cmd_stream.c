/*
 * Stream commands: status, start, stop, drain, scale and control, each one
 * request to streammgr's control socket run/streammgr.ctl and one reply
 * (docs/protocols.md, "Control").
 *
 * Exit status: 0 done; 64 usage; 65 streammgr refused the request
 * ({"ok":false}); 69 streammgr is not running; 75 no reply in time; 76 a
 * reply that is not the protocol's; 77 the socket is not ours to reach;
 * 78 a bad platform file.
 */
#include <bson/bson.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "cli.h"
#include "conf.h"
#include "state.h"
#include "units.h"

#define CTL_TIMEOUT_MS	5000
#define CTL_SOCKET	"run/streammgr.ctl"

#define STATUS_USAGE "usage: mysimbdp status [TENANT] [--stream S] [--json] " \
	"[--timeout DURATION]\n"
#define TENANT_USAGE(cmd) "usage: mysimbdp " cmd " TENANT [--stream S] " \
	"[--timeout DURATION]\n"
#define SCALE_USAGE "usage: mysimbdp scale TENANT N [--stream S] " \
	"[--reason TEXT] [--timeout DURATION]\n"
#define CONTROL_USAGE "usage: mysimbdp control [--timeout DURATION] JSON\n"

/* What the commands take besides their positional arguments. */
struct ctl_opts {
	const char	*o_stream;
	const char	*o_reason;
	bool		 o_json;
	uint64_t	 o_timeout_ms;
};

enum {
	OPT_STREAM = 1 << 0,
	OPT_REASON = 1 << 1,
	OPT_JSON = 1 << 2,
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
cli_parse_timeout(const char *cmd, const char *s, uint64_t *ms)
{
	const char *why = "must be more than 0";

	if (units_parse_duration(s, ms, &why) < 0 || *ms == 0) {
		fprintf(stderr, "mysimbdp %s: --timeout \"%s\": %s (e.g. 5s, "
		    "500ms)\n", cmd, s, why);
		return -1;
	}
	return 0;
}

int
cli_socket_check(const char *path, const char *missing)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char err[256];
	int fd, rc = EX_OK_CODE;

	if (state_check_sun_path(path, err, sizeof(err)) < 0) {
		fprintf(stderr, "mysimbdp: %s\n", err);
		return EX_CONFIG_CODE;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		fprintf(stderr, "mysimbdp: socket: %s\n", strerror(errno));
		return EX_SOFTWARE_CODE;
	}
	/*
	 * A plain connect tells a missing socket from a stale one (the
	 * daemon was killed and left its file) and from one we may not
	 * reach; ZeroMQ would only retry in silence until the timeout. The
	 * daemon's side sees a peer that goes away before its greeting.
	 */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno == ENOENT) {
			fprintf(stderr, "mysimbdp: %s (no %s)\n", missing,
			    path);
			rc = EX_UNAVAILABLE_CODE;
		} else if (errno == ECONNREFUSED) {
			fprintf(stderr, "mysimbdp: %s (nothing listens on "
			    "%s)\n", missing, path);
			rc = EX_UNAVAILABLE_CODE;
		} else if (errno == EACCES || errno == EPERM) {
			fprintf(stderr, "mysimbdp: %s: %s\n", path,
			    strerror(errno));
			rc = EX_NOPERM_CODE;
		} else {
			fprintf(stderr, "mysimbdp: connect %s: %s\n", path,
			    strerror(errno));
			rc = EX_UNAVAILABLE_CODE;
		}
	}
	close(fd);
	return rc;
}

/*
 * Sends req (len bytes) to the control socket at path and waits up to
 * timeout_ms for the reply: one JSON frame, returned NUL-terminated in
 * *replyp (free it). Returns EX_OK_CODE, or the exit status after saying
 * why: 69 not running, 75 no reply in time, 70 a ZeroMQ failure here.
 */
static int
ctl_call(const char *path, const char *req, size_t len, uint64_t timeout_ms,
    char **replyp)
{
	void *ctx = NULL, *sock = NULL;
	char endpoint[sizeof("ipc://") + STATE_SUN_PATH_MAX + 1];
	int64_t deadline;
	int rc, linger = 0;

	*replyp = NULL;
	if ((rc = cli_socket_check(path, "streammgr is not running")) != 0)
		return rc;
	snprintf(endpoint, sizeof(endpoint), "ipc://%s", path);
	if ((ctx = zmq_ctx_new()) == NULL ||
	    (sock = zmq_socket(ctx, ZMQ_DEALER)) == NULL ||
	    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger)) < 0 ||
	    zmq_connect(sock, endpoint) < 0) {
		fprintf(stderr, "mysimbdp: connect %s: %s\n", endpoint,
		    zmq_strerror(zmq_errno()));
		rc = EX_SOFTWARE_CODE;
		goto out;
	}
	/* Queued until the connection is up, which the deadline bounds. */
	if (zmq_send(sock, req, len, 0) < 0) {
		fprintf(stderr, "mysimbdp: send to %s: %s\n", endpoint,
		    zmq_strerror(zmq_errno()));
		rc = EX_SOFTWARE_CODE;
		goto out;
	}
	deadline = mono_ms() + (int64_t)timeout_ms;
	rc = EX_TEMPFAIL_CODE;
	for (;;) {
		zmq_pollitem_t item = { sock, 0, ZMQ_POLLIN, 0 };
		int64_t left = deadline - mono_ms();
		zmq_msg_t msg;
		int more;

		if (left <= 0)
			break;
		if (zmq_poll(&item, 1, (long)left) < 0) {
			if (zmq_errno() == EINTR)
				continue;
			fprintf(stderr, "mysimbdp: poll: %s\n",
			    zmq_strerror(zmq_errno()));
			rc = EX_SOFTWARE_CODE;
			goto out;
		}
		if (!(item.revents & ZMQ_POLLIN))
			continue;
		/*
		 * The reply is one frame; an empty delimiter in front (a
		 * daemon answering as to a REQ) is skipped, and frames
		 * after the first non-empty one are read and ignored.
		 */
		for (;;) {
			zmq_msg_init(&msg);
			if (zmq_msg_recv(&msg, sock, 0) < 0) {
				zmq_msg_close(&msg);
				if (zmq_errno() == EINTR)
					continue;
				fprintf(stderr, "mysimbdp: receive: %s\n",
				    zmq_strerror(zmq_errno()));
				rc = EX_SOFTWARE_CODE;
				goto out;
			}
			more = zmq_msg_more(&msg);
			if (*replyp == NULL &&
			    (zmq_msg_size(&msg) > 0 || !more) &&
			    (*replyp = strndup(zmq_msg_data(&msg),
			    zmq_msg_size(&msg))) == NULL) {
				zmq_msg_close(&msg);
				fprintf(stderr, "mysimbdp: %s\n",
				    strerror(ENOMEM));
				rc = EX_SOFTWARE_CODE;
				goto out;
			}
			zmq_msg_close(&msg);
			if (!more)
				break;
		}
		rc = EX_OK_CODE;
		break;
	}
	if (rc == EX_TEMPFAIL_CODE) {
		char d[32];

		fprintf(stderr, "mysimbdp: no reply from streammgr within %s "
		    "(%s)\n", units_fmt_duration(timeout_ms, d, sizeof(d)),
		    path);
	}
out:
	if (rc != EX_OK_CODE) {
		free(*replyp);
		*replyp = NULL;
	}
	if (sock)
		zmq_close(sock);
	if (ctx)
		zmq_ctx_term(ctx);
	return rc;
}

/* The control socket's path from the platform file, or NULL (exit 78). */
static char *
ctl_path(const struct cli *cli)
{
	struct conf_platform *p;
	char *path;

	if ((p = cli_load_platform(cli)) == NULL)
		return NULL;
	path = state_path(p, CTL_SOCKET);
	conf_platform_free(p);
	return path;
}

/*
 * Checks a reply: a JSON object whose "ok" is true. Returns EX_OK_CODE
 * with the parsed reply in *docp (destroy it), 65 for {"ok":false} or 76
 * for anything else, after printing why (unless quiet).
 */
static int
ctl_check(const char *reply, bson_t **docp, bool quiet)
{
	bson_error_t berr;
	bson_iter_t it;
	bson_t *doc;

	*docp = NULL;
	if ((doc = bson_new_from_json((const uint8_t *)reply, -1, &berr)) ==
	    NULL) {
		if (!quiet)
			fprintf(stderr, "mysimbdp: streammgr answered with "
			    "something that is not a JSON object (%s): "
			    "%.200s\n", berr.message, reply);
		return EX_PROTOCOL_CODE;
	}
	if (!bson_iter_init_find(&it, doc, "ok") ||
	    !BSON_ITER_HOLDS_BOOL(&it)) {
		if (!quiet)
			fprintf(stderr, "mysimbdp: streammgr's reply has no "
			    "\"ok\": %.200s\n", reply);
		bson_destroy(doc);
		return EX_PROTOCOL_CODE;
	}
	if (!bson_iter_bool(&it)) {
		if (!quiet) {
			const char *e = "(no reason given)";

			if (bson_iter_init_find(&it, doc, "error") &&
			    BSON_ITER_HOLDS_UTF8(&it))
				e = bson_iter_utf8(&it, NULL);
			fprintf(stderr, "mysimbdp: %s\n", e);
		}
		bson_destroy(doc);
		return EX_DATAERR_CODE;
	}
	*docp = doc;
	return EX_OK_CODE;
}

int
cli_ctl_request(const struct cli *cli, const bson_t *req, uint64_t timeout_ms,
    bson_t **replyp)
{
	char *path, *json, *reply;
	size_t len;
	int rc;

	*replyp = NULL;
	if ((path = ctl_path(cli)) == NULL)
		return EX_CONFIG_CODE;
	json = bson_as_relaxed_extended_json(req, &len);
	rc = ctl_call(path, json, len, timeout_ms, &reply);
	bson_free(json);
	free(path);
	if (rc != EX_OK_CODE)
		return rc;
	rc = ctl_check(reply, replyp, false);
	free(reply);
	return rc;
}

/*
 * Parses the options in allowed (OPT_*) plus --timeout and --help,
 * leaving the positional arguments at argv[optind..]. Returns -1 to go
 * on, or the exit status (0 after --help, 64).
 */
static int
ctl_getopt(int argc, char **argv, unsigned allowed, const char *usage,
    struct ctl_opts *o)
{
	static const struct option opts[] = {
		{ "stream", required_argument, NULL, 's' },
		{ "reason", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->o_timeout_ms = CTL_TIMEOUT_MS;
	/*
	 * 0, not 1: glibc then starts afresh and permutes, so options may
	 * follow the arguments ("status acme --json"); main()'s "+" would
	 * stay in force otherwise.
	 */
	optind = 0;
	while ((ch = getopt_long(argc, argv, "s:r:jt:h", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (!(allowed & OPT_STREAM))
				goto bad;
			if (!conf_valid_id(optarg)) {
				fprintf(stderr, "mysimbdp %s: \"%s\" is not a "
				    "stream name (1 to 32 characters from a-z, "
				    "0-9, '_' and '-')\n", argv[0], optarg);
				return EX_USAGE_CODE;
			}
			o->o_stream = optarg;
			break;
		case 'r':
			if (!(allowed & OPT_REASON))
				goto bad;
			if (*optarg == '\0' || !bson_utf8_validate(optarg,
			    strlen(optarg), false)) {
				fprintf(stderr, "mysimbdp %s: --reason must be "
				    "non-empty UTF-8 text\n", argv[0]);
				return EX_USAGE_CODE;
			}
			o->o_reason = optarg;
			break;
		case 'j':
			if (!(allowed & OPT_JSON))
				goto bad;
			o->o_json = true;
			break;
		case 't':
			if (cli_parse_timeout(argv[0], optarg,
			    &o->o_timeout_ms) < 0)
				return EX_USAGE_CODE;
			break;
		case 'h':
			fputs(usage, stdout);
			return EX_OK_CODE;
		default:
			goto bad;
		}
	}
	return -1;
bad:
	fputs(usage, stderr);
	return EX_USAGE_CODE;
}

bool
cli_valid_tenant(const char *cmd, const char *s)
{
	if (conf_valid_id(s))
		return true;
	fprintf(stderr, "mysimbdp %s: \"%s\" is not a tenant id (1 to 32 "
	    "characters from a-z, 0-9, '_' and '-')\n", cmd, s);
	return false;
}

/* ---- status ---------------------------------------------------------- */

static bool
field(const bson_t *doc, const char *key, bson_iter_t *it)
{
	return bson_iter_init_find(it, doc, key);
}

static const char *
str_field(const bson_t *doc, const char *key)
{
	bson_iter_t it;

	if (field(doc, key, &it) && BSON_ITER_HOLDS_UTF8(&it))
		return bson_iter_utf8(&it, NULL);
	return "-";
}

/* A count as text, "-" when the field is missing. */
static const char *
int_field(const bson_t *doc, const char *key, char *buf, size_t len)
{
	bson_iter_t it;

	if (field(doc, key, &it) && BSON_ITER_HOLDS_NUMBER(&it))
		snprintf(buf, len, "%" PRId64, bson_iter_as_int64(&it));
	else
		snprintf(buf, len, "-");
	return buf;
}

static const char *
rate_field(const bson_t *doc, const char *key, char *buf, size_t len)
{
	bson_iter_t it;

	if (field(doc, key, &it) && BSON_ITER_HOLDS_NUMBER(&it))
		snprintf(buf, len, "%.1f", bson_iter_as_double(&it));
	else
		snprintf(buf, len, "-");
	return buf;
}

/* Widths of the tenant and stream columns: the longest name shown. */
struct widths {
	int		 w_tenant, w_stream;
};

static void
print_stream(const bson_t *s, const struct widths *w)
{
	char run[24], want[24], min[24], max[24], inst[4 * 24 + 8], backlog[24],
	    infl[24], in[32], out[32], redel[24], dead[24], refused[24],
	    restarts[24];
	bson_iter_t it;
	int64_t n = 0;
	bool have = false;

	snprintf(inst, sizeof(inst), "%s/%s (%s..%s)",
	    int_field(s, "running", run, sizeof(run)),
	    int_field(s, "desired", want, sizeof(want)),
	    int_field(s, "min", min, sizeof(min)),
	    int_field(s, "max", max, sizeof(max)));
	if (field(s, "rejected", &it) && BSON_ITER_HOLDS_NUMBER(&it)) {
		n += bson_iter_as_int64(&it);
		have = true;
	}
	if (field(s, "throttled", &it) && BSON_ITER_HOLDS_NUMBER(&it)) {
		n += bson_iter_as_int64(&it);
		have = true;
	}
	if (have)
		snprintf(refused, sizeof(refused), "%" PRId64, n);
	else
		snprintf(refused, sizeof(refused), "-");
	printf("%-*s %-*s %-9s %-14s %8s %8s %9s %9s %7s %6s %7s %8s\n",
	    w->w_tenant, str_field(s, "tenant"), w->w_stream,
	    str_field(s, "stream"),
	    str_field(s, "state"), inst,
	    int_field(s, "backlog", backlog, sizeof(backlog)),
	    int_field(s, "inflight", infl, sizeof(infl)),
	    rate_field(s, "in_rate", in, sizeof(in)),
	    rate_field(s, "out_rate", out, sizeof(out)),
	    int_field(s, "redelivered", redel, sizeof(redel)),
	    int_field(s, "dead_letters", dead, sizeof(dead)), refused,
	    int_field(s, "restarts", restarts, sizeof(restarts)));
}

/*
 * Calls fn (unless NULL) with each object of the reply's "streams" array.
 * Returns 0, or -1 when the reply has no such array.
 */
static int
each_stream(const bson_t *reply, void (*fn)(const bson_t *, void *),
    void *arg)
{
	bson_iter_t it, elem;

	if (!bson_iter_init_find(&it, reply, "streams") ||
	    !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &elem))
		return -1;
	while (fn && bson_iter_next(&elem)) {
		const uint8_t *data;
		uint32_t len;
		bson_t s;

		if (!BSON_ITER_HOLDS_DOCUMENT(&elem))
			continue;
		bson_iter_document(&elem, &len, &data);
		if (bson_init_static(&s, data, len))
			fn(&s, arg);
	}
	return 0;
}

static void
width_cb(const bson_t *s, void *arg)
{
	struct widths *w = arg;
	int n;

	if ((n = (int)strlen(str_field(s, "tenant"))) > w->w_tenant)
		w->w_tenant = n;
	if ((n = (int)strlen(str_field(s, "stream"))) > w->w_stream)
		w->w_stream = n;
}

static void
row_cb(const bson_t *s, void *arg)
{
	print_stream(s, arg);
}

static void
json_cb(const bson_t *s, void *arg)
{
	bool *first = arg;
	char *json = bson_as_relaxed_extended_json(s, NULL);

	printf("%s%s", *first ? "" : ",", json);
	*first = false;
	bson_free(json);
}

int
cmd_status(const struct cli *cli, int argc, char **argv)
{
	struct ctl_opts o;
	bson_t req = BSON_INITIALIZER, *reply;
	bool first = true;
	int rc;

	if ((rc = ctl_getopt(argc, argv, OPT_STREAM | OPT_JSON, STATUS_USAGE,
	    &o)) >= 0)
		return rc;
	if (argc - optind > 1) {
		fputs(STATUS_USAGE, stderr);
		return EX_USAGE_CODE;
	}
	if (argc - optind == 1 && !cli_valid_tenant(argv[0], argv[optind]))
		return EX_USAGE_CODE;
	if (o.o_stream && argc - optind == 0) {
		fprintf(stderr, "mysimbdp status: --stream needs a TENANT\n");
		return EX_USAGE_CODE;
	}
	BSON_APPEND_UTF8(&req, "cmd", "status");
	if (argc - optind == 1)
		BSON_APPEND_UTF8(&req, "tenant", argv[optind]);
	if (o.o_stream)
		BSON_APPEND_UTF8(&req, "stream", o.o_stream);
	rc = cli_ctl_request(cli, &req, o.o_timeout_ms, &reply);
	bson_destroy(&req);
	if (rc != EX_OK_CODE)
		return rc;
	if (each_stream(reply, NULL, NULL) < 0) {
		fprintf(stderr, "mysimbdp: streammgr's status reply has no "
		    "\"streams\" array\n");
		bson_destroy(reply);
		return EX_PROTOCOL_CODE;
	}
	if (o.o_json) {
		printf("[");
		each_stream(reply, json_cb, &first);
		printf("]\n");
	} else {
		struct widths w = { 8, 8 };

		each_stream(reply, width_cb, &w);
		printf("%-*s %-*s %-9s %-14s %8s %8s %9s %9s %7s %6s %7s "
		    "%8s\n", w.w_tenant, "tenant", w.w_stream, "stream",
		    "state", "instances", "backlog", "inflight", "in/s",
		    "out/s", "redeliv", "dead", "refused", "restarts");
		each_stream(reply, row_cb, &w);
	}
	bson_destroy(reply);
	return EX_OK_CODE;
}

/* ---- start, stop, drain, scale ---------------------------------------- */

/* "acme" or "acme/default": what the request was about. */
static const char *
target(const char *tenant, const struct ctl_opts *o, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", tenant, o->o_stream ? "/" : "",
	    o->o_stream ? o->o_stream : "");
	return buf;
}

/* One line per stream a start, stop or drain reply lists. */
static void
done_cb(const bson_t *s, void *arg)
{
	const char *const *done = arg;
	char run[24], want[24];

	printf("%s/%s: %s: state %s, %s/%s instances running\n",
	    str_field(s, "tenant"), str_field(s, "stream"), *done,
	    str_field(s, "state"), int_field(s, "running", run, sizeof(run)),
	    int_field(s, "desired", want, sizeof(want)));
}

/*
 * start, stop and drain: {"cmd":C,"tenant":T[,"stream":S]}. Shows the
 * state of each stream the reply lists (or "ok" when it lists none).
 */
static int
tenant_cmd(const struct cli *cli, int argc, char **argv, const char *usage)
{
	const char *done = argv[0];
	struct ctl_opts o;
	bson_t req = BSON_INITIALIZER, *reply;
	char what[TENANT_ID_MAX * 2 + 2];
	bson_iter_t it;
	int rc;

	if ((rc = ctl_getopt(argc, argv, OPT_STREAM, usage, &o)) >= 0)
		return rc;
	if (argc - optind != 1) {
		fputs(usage, stderr);
		return EX_USAGE_CODE;
	}
	if (!cli_valid_tenant(argv[0], argv[optind]))
		return EX_USAGE_CODE;
	BSON_APPEND_UTF8(&req, "cmd", argv[0]);
	BSON_APPEND_UTF8(&req, "tenant", argv[optind]);
	if (o.o_stream)
		BSON_APPEND_UTF8(&req, "stream", o.o_stream);
	rc = cli_ctl_request(cli, &req, o.o_timeout_ms, &reply);
	bson_destroy(&req);
	if (rc != EX_OK_CODE)
		return rc;
	if (bson_iter_init_find(&it, reply, "streams") &&
	    BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &it) &&
	    bson_iter_next(&it))
		each_stream(reply, done_cb, &done);
	else
		printf("%s: %s: ok\n", target(argv[optind], &o, what,
		    sizeof(what)), done);
	bson_destroy(reply);
	return EX_OK_CODE;
}

int
cmd_start(const struct cli *cli, int argc, char **argv)
{
	return tenant_cmd(cli, argc, argv, TENANT_USAGE("start"));
}

/* Producers are still accepted; the backlog waits. */
int
cmd_stop(const struct cli *cli, int argc, char **argv)
{
	return tenant_cmd(cli, argc, argv, TENANT_USAGE("stop"));
}

/* New messages are refused; the backlog is delivered, then the
 * instances stop. */
int
cmd_drain(const struct cli *cli, int argc, char **argv)
{
	return tenant_cmd(cli, argc, argv, TENANT_USAGE("drain"));
}

/* N: decimal digits only, no sign, within int64. */
static int
parse_count(const char *s, int64_t *n)
{
	uintmax_t v;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoumax(s, &end, 10);
	if (errno || *end != '\0' || v > INT64_MAX)
		return -1;
	*n = (int64_t)v;
	return 0;
}

int
cmd_scale(const struct cli *cli, int argc, char **argv)
{
	struct ctl_opts o;
	bson_t req = BSON_INITIALIZER, *reply;
	char what[TENANT_ID_MAX * 2 + 2];
	const char *tenant;
	bson_iter_t it;
	int64_t n;
	int rc;

	if ((rc = ctl_getopt(argc, argv, OPT_STREAM | OPT_REASON, SCALE_USAGE,
	    &o)) >= 0)
		return rc;
	if (argc - optind != 2) {
		fputs(SCALE_USAGE, stderr);
		return EX_USAGE_CODE;
	}
	tenant = argv[optind];
	if (!cli_valid_tenant(argv[0], tenant))
		return EX_USAGE_CODE;
	if (parse_count(argv[optind + 1], &n) < 0) {
		fprintf(stderr, "mysimbdp scale: \"%s\" is not a number of "
		    "instances (a non-negative integer)\n", argv[optind + 1]);
		return EX_USAGE_CODE;
	}
	BSON_APPEND_UTF8(&req, "cmd", "scale");
	BSON_APPEND_UTF8(&req, "tenant", tenant);
	if (o.o_stream)
		BSON_APPEND_UTF8(&req, "stream", o.o_stream);
	BSON_APPEND_INT64(&req, "instances", n);
	BSON_APPEND_UTF8(&req, "reason", o.o_reason ? o.o_reason : "operator");
	rc = cli_ctl_request(cli, &req, o.o_timeout_ms, &reply);
	bson_destroy(&req);
	if (rc != EX_OK_CODE)
		return rc;
	/* The reply names the stream chosen when the request did not. */
	if (bson_iter_init_find(&it, reply, "stream") &&
	    BSON_ITER_HOLDS_UTF8(&it))
		snprintf(what, sizeof(what), "%s/%s", tenant,
		    bson_iter_utf8(&it, NULL));
	else
		target(tenant, &o, what, sizeof(what));
	if (bson_iter_init_find(&it, reply, "desired") &&
	    BSON_ITER_HOLDS_NUMBER(&it) && bson_iter_as_int64(&it) != n)
		printf("%s: %" PRId64 " instances desired (asked for %"
		    PRId64 ", clamped to the stream's min..max)\n", what,
		    bson_iter_as_int64(&it), n);
	else
		printf("%s: %" PRId64 " instances desired\n", what, n);
	bson_destroy(reply);
	return EX_OK_CODE;
}

/* ---- control ------------------------------------------------------------ */

/*
 * control JSON: sends JSON as it is, unchecked, so tests can send what a
 * broken client would, and prints the reply as it came. Exit 0 when the
 * reply says "ok":true, 65 when false, 76 when it is not the protocol's.
 */
int
cmd_control(const struct cli *cli, int argc, char **argv)
{
	struct ctl_opts o;
	char *path, *reply;
	bson_t *doc;
	int rc;

	if ((rc = ctl_getopt(argc, argv, 0, CONTROL_USAGE, &o)) >= 0)
		return rc;
	if (argc - optind != 1) {
		fputs(CONTROL_USAGE, stderr);
		return EX_USAGE_CODE;
	}
	if ((path = ctl_path(cli)) == NULL)
		return EX_CONFIG_CODE;
	rc = ctl_call(path, argv[optind], strlen(argv[optind]), o.o_timeout_ms,
	    &reply);
	free(path);
	if (rc != EX_OK_CODE)
		return rc;
	printf("%s\n", reply);
	rc = ctl_check(reply, &doc, true);
	if (doc)
		bson_destroy(doc);
	free(reply);
	return rc;
}
