/*
 * Stream commands: start, stop, drain, scale and control, each one request
 * to streammgr's control socket run/streammgr.ctl and one reply
 * (docs/protocols.md, "Control"). status is in cmd_status.c.
 *
 * Exit status: 0 done; 64 usage; 65 streammgr refused the request
 * ({"ok":false}); 69 streammgr is not running; 75 no reply in time; 76 a
 * reply that is not the protocol's; 77 the socket is not ours to reach;
 * 78 a bad platform file.
 */
#include <bson/bson.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "ctl.h"

/* What the commands take besides their positional arguments. */
struct ctl_opts {
	const char	*o_stream;
	const char	*o_reason;
	const char	*o_daemon;	/* control: streammgr or batchmgr */
	bool		 o_json;
	uint64_t	 o_timeout_ms;
};

/* --reason TEXT: goes into the logs, so UTF-8 and not empty. */
static int
reason_opt(const char *cmd, const char *arg, void *field)
{
	if (*arg == '\0' || !bson_utf8_validate(arg, strlen(arg), false)) {
		fprintf(stderr, "mysimbdp %s: --reason must be non-empty UTF-8 "
		    "text\n", cmd);
		return -1;
	}
	*(const char **)field = arg;
	return 0;
}

static int
daemon_opt(const char *cmd, const char *arg, void *field)
{
	if (strcmp(arg, "streammgr") != 0 && strcmp(arg, "batchmgr") != 0) {
		fprintf(stderr, "mysimbdp %s: --daemon \"%s\": streammgr or "
		    "batchmgr\n", cmd, arg);
		return -1;
	}
	*(const char **)field = arg;
	return 0;
}

#define CTL_STREAM	CLI_OPT("stream", 's', CLI_OPT_STREAM, \
	struct ctl_opts, o_stream)
#define CTL_JSON	CLI_OPT("json", 'j', CLI_OPT_FLAG, struct ctl_opts, \
	o_json)
#define CTL_TIMEOUT	CLI_OPT("timeout", 't', CLI_OPT_TIMEOUT, \
	struct ctl_opts, o_timeout_ms)

/* start, stop, drain */
static const struct cli_opt tenant_opts[] = {
	CTL_STREAM, CTL_JSON, CTL_TIMEOUT, CLI_OPT_END,
};

static const struct cli_opt scale_opts[] = {
	CTL_STREAM,
	CLI_OPT_FN("reason", 'r', reason_opt, struct ctl_opts, o_reason),
	CTL_JSON, CTL_TIMEOUT, CLI_OPT_END,
};

static const struct cli_opt control_opts[] = {
	CTL_TIMEOUT,
	CLI_OPT_FN("daemon", 'd', daemon_opt, struct ctl_opts, o_daemon),
	CLI_OPT_END,
};

/*
 * Parses the options of the table opts into o, leaving the positional
 * arguments at argv[optind..]. Returns -1 to go on, or the exit status
 * (0 after --help or --version, 64).
 */
static int
ctl_getopt(int argc, char **argv, const struct cli_opt *opts,
    struct ctl_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->o_timeout_ms = CTL_TIMEOUT_MS;
	o->o_daemon = "streammgr";
	return cli_opts_parse(argc, argv, opts, o);
}

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
	    ctl_str(s, "tenant"), ctl_str(s, "stream"), *done,
	    ctl_str(s, "state"), ctl_num(s, "running", 0, run, sizeof(run)),
	    ctl_num(s, "desired", 0, want, sizeof(want)));
}

/*
 * start, stop and drain: {"cmd":C,"tenant":T[,"stream":S]}. Shows the
 * state of each stream the reply lists (or "ok" when it lists none), or
 * with --json the reply itself.
 */
static int
tenant_cmd(const struct cli *cli, int argc, char **argv)
{
	const char *done = argv[0];
	struct ctl_opts o;
	bson_t req = BSON_INITIALIZER, *reply;
	char what[TENANT_ID_MAX + STREAM_NAME_MAX + 2];
	bson_iter_t it;
	int rc;

	if ((rc = ctl_getopt(argc, argv, tenant_opts, &o)) >= 0)
		return rc;
	if (argc - optind != 1)
		return cli_usage_error(argv[0]);
	if (!cli_valid_tenant(argv[0], argv[optind]))
		return EX_USAGE;
	BSON_APPEND_UTF8(&req, "cmd", argv[0]);
	BSON_APPEND_UTF8(&req, "tenant", argv[optind]);
	if (o.o_stream)
		BSON_APPEND_UTF8(&req, "stream", o.o_stream);
	rc = ctl_request(cli, "streammgr", &req, o.o_timeout_ms, &reply);
	bson_destroy(&req);
	if (rc != EX_OK)
		return rc;
	if (o.o_json)
		cli_print_json(reply);
	else if (bson_iter_init_find(&it, reply, "streams") &&
	    BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &it) &&
	    bson_iter_next(&it))
		ctl_each(reply, "streams", done_cb, &done);
	else
		printf("%s: %s: ok\n", target(argv[optind], &o, what,
		    sizeof(what)), done);
	bson_destroy(reply);
	return EX_OK;
}

int
cmd_start(const struct cli *cli, int argc, char **argv)
{
	return tenant_cmd(cli, argc, argv);
}

/* Producers are still accepted; the backlog waits. */
int
cmd_stop(const struct cli *cli, int argc, char **argv)
{
	return tenant_cmd(cli, argc, argv);
}

/* New messages are refused; the backlog is delivered, then the
 * instances stop. */
int
cmd_drain(const struct cli *cli, int argc, char **argv)
{
	return tenant_cmd(cli, argc, argv);
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
	char what[TENANT_ID_MAX + STREAM_NAME_MAX + 2];
	const char *tenant;
	bson_iter_t it;
	int64_t n;
	int rc;

	if ((rc = ctl_getopt(argc, argv, scale_opts, &o)) >= 0)
		return rc;
	if (argc - optind != 2)
		return cli_usage_error(argv[0]);
	tenant = argv[optind];
	if (!cli_valid_tenant(argv[0], tenant))
		return EX_USAGE;
	if (parse_count(argv[optind + 1], &n) < 0) {
		fprintf(stderr, "mysimbdp scale: \"%s\" is not a number of "
		    "instances (a non-negative integer)\n", argv[optind + 1]);
		return EX_USAGE;
	}
	BSON_APPEND_UTF8(&req, "cmd", "scale");
	BSON_APPEND_UTF8(&req, "tenant", tenant);
	if (o.o_stream)
		BSON_APPEND_UTF8(&req, "stream", o.o_stream);
	BSON_APPEND_INT64(&req, "instances", n);
	BSON_APPEND_UTF8(&req, "reason", o.o_reason ? o.o_reason : "operator");
	rc = ctl_request(cli, "streammgr", &req, o.o_timeout_ms, &reply);
	bson_destroy(&req);
	if (rc != EX_OK)
		return rc;
	/* The reply names the stream chosen when the request did not. */
	if (bson_iter_init_find(&it, reply, "stream") &&
	    BSON_ITER_HOLDS_UTF8(&it))
		snprintf(what, sizeof(what), "%s/%s", tenant,
		    bson_iter_utf8(&it, NULL));
	else
		target(tenant, &o, what, sizeof(what));
	if (o.o_json)
		cli_print_json(reply);
	else if (bson_iter_init_find(&it, reply, "desired") &&
	    BSON_ITER_HOLDS_NUMBER(&it) && bson_iter_as_int64(&it) != n)
		printf("%s: %" PRId64 " instances desired (asked for %"
		    PRId64 ", clamped to the stream's min..max)\n", what,
		    bson_iter_as_int64(&it), n);
	else
		printf("%s: %" PRId64 " instances desired\n", what, n);
	bson_destroy(reply);
	return EX_OK;
}

/* ---- control ------------------------------------------------------------ */

/*
 * control [--daemon D] JSON: sends JSON as it is, unchecked, to streammgr
 * or batchmgr, so tests can send what a broken client would, and prints
 * the reply as it came. Exit 0 when the
 * reply says "ok":true, 65 when false, 76 when it is not the protocol's.
 */
int
cmd_control(const struct cli *cli, int argc, char **argv)
{
	struct ctl_opts o;
	struct ctl_call call;
	bson_t *doc;
	int rc;

	if ((rc = ctl_getopt(argc, argv, control_opts, &o)) >= 0)
		return rc;
	if (argc - optind != 1)
		return cli_usage_error(argv[0]);
	if (ctl_call_init(&call, cli, o.o_daemon) < 0)
		return EX_CONFIG;
	call.cc_req = argv[optind];
	call.cc_len = strlen(argv[optind]);
	ctl_exchange(&call, 1, o.o_timeout_ms);
	if ((rc = call.cc_rc) == EX_OK) {
		printf("%s\n", call.cc_reply);
		rc = ctl_check(o.o_daemon, call.cc_reply, &doc, true);
		if (doc)
			bson_destroy(doc);
	}
	ctl_call_free(&call);
	return rc;
}
