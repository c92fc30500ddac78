/*
 * status [TENANT] [--stream S] [--streams] [--json] [--timeout D]: what
 * the platform does, one row per tenant, from the two daemons that know:
 * batchmgr (run/batchmgr.ctl: files waiting, jobs running) and streammgr
 * (run/streammgr.ctl: stream instances, backlog, rates). Both are asked
 * at once with {"cmd":"status"}; a daemon that does not answer leaves its
 * columns "-", with a note on stderr.
 *
 * With TENANT, or --streams, one row per stream and one per running batch
 * job follow the tenants' rows. Then a line for each app log held to its
 * app_logs.rate (the daemons' paced_logs). --json prints everything as
 * one object: the tenants' rows, every stream's figures and each
 * daemon's answer.
 *
 * Exit status: 0 at least one daemon answered; 64 usage; 65 TENANT (or
 * its stream S) is unknown to the daemons that answered; 69 neither
 * daemon is running; otherwise the first daemon's problem (75 no reply in
 * time, 76 a reply that is not the protocol's, 77 no permission, 78 a bad
 * platform file).
 */
#include <bson/bson.h>
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
#include "shipstate.h"
#include "state.h"
#include "units.h"

enum { SMGR, BMGR, NDAEMONS };

#define CLUSTER_MAX	64	/* nodes status --cluster asks */

static const char *const daemons[NDAEMONS] = { "streammgr", "batchmgr" };

/* Stream states, the one needing attention first. */
static const char *const severity[] = {
	"crashloop", "failed", "draining", "drained", "stopped", "running",
};
#define NSEVERITY (sizeof(severity) / sizeof(severity[0]))

struct status_opts {
	const char	*o_tenant;
	const char	*o_stream;
	bool		 o_streams;
	bool		 o_json;
	bool		 o_cluster;	/* every node of the cluster file */
	uint64_t	 o_timeout_ms;
};

/* One tenant's row: its batch figures and its streams summed. */
struct row {
	char		 r_id[TENANT_ID_MAX + 1];
	bson_t		*r_batch;	/* batchmgr's object, or NULL */
	int		 r_nstreams;
	int64_t		 r_running, r_desired, r_min, r_max;
	int64_t		 r_backlog, r_inflight;
	double		 r_in, r_out;
	size_t		 r_severity;	/* index in severity[], NSEVERITY: ? */
};

/* The platform's records on their way to MongoDB (monitor/ship.c). */
struct records {
	bool		 rc_on;		/* a mongodb:// URL */
	char		 rc_db[TENANT_ID_MAX + 1];
	uint64_t	 rc_backlog[3];	/* ingest, metrics, quality .jsonl */
};

static const char *const record_logs[3][2] = {
	{ "ingest", "ingest.jsonl" }, { "metrics", "metrics.jsonl" },
	{ "quality", "quality.jsonl" },
};

struct status {
	const struct status_opts *s_opts;
	const char	*s_node;		/* --cluster: its name */
	struct records	 s_records;
	bson_t		*s_reply[NDAEMONS];	/* NULL: no answer */
	int		 s_rc[NDAEMONS];
	struct row	*s_rows;
	size_t		 s_nrows;
	bool		 s_tenant_seen;		/* TENANT has a stream */
	bool		 s_stream_seen;		/* a stream is shown */
};

static double
rate(const bson_t *doc, const char *key)
{
	bson_iter_t it;

	if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_NUMBER(&it))
		return bson_iter_as_double(&it);
	return 0;
}

static int
parse_opts(int argc, char **argv, struct status_opts *o)
{
	static const struct cli_opt opts[] = {
		CLI_OPT("stream", 's', CLI_OPT_STREAM, struct status_opts,
		    o_stream),
		CLI_OPT("streams", 'v', CLI_OPT_FLAG, struct status_opts,
		    o_streams),
		CLI_OPT("json", 'j', CLI_OPT_FLAG, struct status_opts, o_json),
		CLI_OPT("cluster", 'C', CLI_OPT_FLAG, struct status_opts,
		    o_cluster),
		CLI_OPT("timeout", 't', CLI_OPT_TIMEOUT, struct status_opts,
		    o_timeout_ms),
		CLI_OPT_END,
	};
	int rc;

	memset(o, 0, sizeof(*o));
	o->o_timeout_ms = CTL_TIMEOUT_MS;
	if ((rc = cli_opts_parse(argc, argv, opts, o)) >= 0)
		return rc;
	if (argc - optind > 1)
		return cli_usage_error(argv[0]);
	if (argc - optind == 1) {
		if (!cli_valid_tenant(argv[0], argv[optind]))
			return EX_USAGE;
		o->o_tenant = argv[optind];
		o->o_streams = true;
	}
	if (o->o_stream && o->o_tenant == NULL) {
		fprintf(stderr, "mysimbdp status: --stream needs a TENANT\n");
		return EX_USAGE;
	}
	return -1;
}

/* ---- gathering -------------------------------------------------------- */

/* The two calls of a status request, to the node cli names. */
static int
ask_prepare(const struct cli *cli, struct ctl_call calls[NDAEMONS])
{
	static const char req[] = "{\"cmd\":\"status\"}";

	for (int d = 0; d < NDAEMONS; d++) {
		if (ctl_call_init(&calls[d], cli, daemons[d]) < 0) {
			while (d-- > 0)
				ctl_call_free(&calls[d]);
			return -1;
		}
		calls[d].cc_req = req;
		calls[d].cc_len = sizeof(req) - 1;
	}
	return 0;
}

/*
 * Keeps each checked reply that holds its array ("streams", "tenants"),
 * else the reason it has none in s_rc.
 */
static void
ask_take(struct status *st, struct ctl_call calls[NDAEMONS])
{
	static const char *const arrays[NDAEMONS] = { "streams", "tenants" };

	for (int d = 0; d < NDAEMONS; d++) {
		if ((st->s_rc[d] = calls[d].cc_rc) == EX_OK)
			st->s_rc[d] = ctl_check(daemons[d], calls[d].cc_reply,
			    &st->s_reply[d], false);
		if (st->s_reply[d] != NULL &&
		    ctl_each(st->s_reply[d], arrays[d], NULL, NULL) < 0) {
			fprintf(stderr, "mysimbdp: %s's status reply has no "
			    "\"%s\" array\n", daemons[d], arrays[d]);
			bson_destroy(st->s_reply[d]);
			st->s_reply[d] = NULL;
			st->s_rc[d] = EX_PROTOCOL;
		}
		ctl_call_free(&calls[d]);
	}
}

/* Asks both daemons of one node. */
static int
ask(const struct cli *cli, struct status *st)
{
	struct ctl_call calls[NDAEMONS];

	if (ask_prepare(cli, calls) < 0)
		return -1;
	ctl_exchange(calls, NDAEMONS, st->s_opts->o_timeout_ms);
	ask_take(st, calls);
	return 0;
}

/* The row of tenant id, added when there is none (NULL: filtered out). */
static struct row *
row_for(struct status *st, const char *id)
{
	struct row *r;

	if (st->s_opts->o_tenant && strcmp(id, st->s_opts->o_tenant) != 0)
		return NULL;
	if (strlen(id) > TENANT_ID_MAX)
		return NULL;
	for (size_t i = 0; i < st->s_nrows; i++)
		if (strcmp(st->s_rows[i].r_id, id) == 0)
			return &st->s_rows[i];
	r = reallocarray(st->s_rows, st->s_nrows + 1, sizeof(*r));
	if (r == NULL)
		abort();
	st->s_rows = r;
	r = &r[st->s_nrows++];
	memset(r, 0, sizeof(*r));
	snprintf(r->r_id, sizeof(r->r_id), "%s", id);
	r->r_severity = NSEVERITY;
	return r;
}

static void
batch_cb(const bson_t *t, void *arg)
{
	struct row *r = row_for(arg, ctl_str(t, "tenant"));

	if (r != NULL && r->r_batch == NULL)
		r->r_batch = bson_copy(t);
}

/* Whether stream s is shown: its tenant's, and S with --stream S. */
static bool
stream_shown(const struct status *st, const bson_t *s)
{
	const struct status_opts *o = st->s_opts;

	return (o->o_tenant == NULL ||
	    strcmp(ctl_str(s, "tenant"), o->o_tenant) == 0) &&
	    (o->o_stream == NULL ||
	    strcmp(ctl_str(s, "stream"), o->o_stream) == 0);
}

static void
stream_cb(const bson_t *s, void *arg)
{
	struct status *st = arg;
	const char *state = ctl_str(s, "state");
	struct row *r;
	size_t k;

	if (st->s_opts->o_tenant &&
	    strcmp(ctl_str(s, "tenant"), st->s_opts->o_tenant) == 0)
		st->s_tenant_seen = true;
	if (!stream_shown(st, s) ||
	    (r = row_for(st, ctl_str(s, "tenant"))) == NULL)
		return;
	st->s_stream_seen = true;
	r->r_nstreams++;
	r->r_running += ctl_int(s, "running");
	r->r_desired += ctl_int(s, "desired");
	r->r_min += ctl_int(s, "min");
	r->r_max += ctl_int(s, "max");
	r->r_backlog += ctl_int(s, "backlog");
	r->r_inflight += ctl_int(s, "inflight");
	r->r_in += rate(s, "in_rate");
	r->r_out += rate(s, "out_rate");
	for (k = 0; k < NSEVERITY && strcmp(state, severity[k]) != 0; k++)
		;
	if (k < r->r_severity)
		r->r_severity = k;
}

static int
row_cmp(const void *a, const void *b)
{
	return strcmp(((const struct row *)a)->r_id,
	    ((const struct row *)b)->r_id);
}

/* What the tenant is doing, in a word. */
static const char *
row_state(const struct status *st, const struct row *r)
{
	if (r->r_nstreams > 0)
		return r->r_severity < NSEVERITY ? severity[r->r_severity] :
		    "?";
	if (st->s_reply[SMGR] != NULL)
		return r->r_batch ? "batch-only" : "-";
	/* streammgr did not say: what batchmgr says of the tenant. */
	return r->r_batch ? ctl_str(r->r_batch, "state") : "-";
}

/* ---- text ------------------------------------------------------------- */

/* The batch queue: files in incoming/, claimed and queued, to be retried. */
static const char *
batch_queue(const struct row *r, char *buf, size_t len)
{
	if (r->r_batch == NULL)
		return "-";
	snprintf(buf, len, "%" PRId64, ctl_int(r->r_batch, "incoming") +
	    ctl_int(r->r_batch, "queued") + ctl_int(r->r_batch, "retry_waiting"));
	return buf;
}

static const char *
batch_jobs(const struct row *r, char *buf, size_t len)
{
	if (r->r_batch == NULL)
		return "-";
	snprintf(buf, len, "%" PRId64 "/%" PRId64, ctl_int(r->r_batch, "running"),
	    ctl_int(r->r_batch, "max_concurrent"));
	return buf;
}

/* The node column of --cluster: its name, or nothing. */
static void
print_node(const struct status *st, const char *name)
{
	if (st->s_node != NULL)
		printf("%-12s ", name);
}

static void
print_tenants(const struct status *st, bool header)
{
	char queue[24], jobs[48], inst[96], backlog[24], in[32], out[32];
	int w = 8;

	for (size_t i = 0; i < st->s_nrows; i++)
		if ((int)strlen(st->s_rows[i].r_id) > w)
			w = (int)strlen(st->s_rows[i].r_id);
	if (header) {
		print_node(st, "node");
		printf("%-*s %-10s %8s %7s %-16s %8s %9s %9s\n", w, "tenant",
		    "state", "queue", "jobs", "instances", "backlog", "in/s",
		    "acks/s");
	}
	for (size_t i = 0; i < st->s_nrows; i++) {
		const struct row *r = &st->s_rows[i];

		snprintf(inst, sizeof(inst), "-");
		snprintf(backlog, sizeof(backlog), "-");
		snprintf(in, sizeof(in), "-");
		snprintf(out, sizeof(out), "-");
		if (r->r_nstreams > 0) {
			snprintf(inst, sizeof(inst), "%" PRId64 "/%" PRId64
			    " (%" PRId64 "..%" PRId64 ")", r->r_running,
			    r->r_desired, r->r_min, r->r_max);
			snprintf(backlog, sizeof(backlog), "%" PRId64,
			    r->r_backlog);
			snprintf(in, sizeof(in), "%.1f", r->r_in);
			snprintf(out, sizeof(out), "%.1f", r->r_out);
		}
		print_node(st, st->s_node);
		printf("%-*s %-10s %8s %7s %-16s %8s %9s %9s\n", w, r->r_id,
		    row_state(st, r), batch_queue(r, queue, sizeof(queue)),
		    batch_jobs(r, jobs, sizeof(jobs)), inst, backlog, in, out);
	}
}

/* Widths of the tenant and stream columns: the longest name shown. */
struct widths {
	const struct status *w_st;
	int		 w_tenant, w_stream;
};

static void
width_cb(const bson_t *s, void *arg)
{
	struct widths *w = arg;
	int n;

	if (!stream_shown(w->w_st, s))
		return;
	if ((n = (int)strlen(ctl_str(s, "tenant"))) > w->w_tenant)
		w->w_tenant = n;
	if ((n = (int)strlen(ctl_str(s, "stream"))) > w->w_stream)
		w->w_stream = n;
}

static void
stream_row_cb(const bson_t *s, void *arg)
{
	const struct widths *w = arg;
	char run[24], want[24], min[24], max[24], inst[4 * 24 + 8],
	    backlog[24], infl[24], lag[24], in[32], out[32], redel[24],
	    dead[24], refused[24], restarts[24];
	bson_iter_t it;

	if (!stream_shown(w->w_st, s))
		return;
	snprintf(inst, sizeof(inst), "%s/%s (%s..%s)",
	    ctl_num(s, "running", 0, run, sizeof(run)),
	    ctl_num(s, "desired", 0, want, sizeof(want)),
	    ctl_num(s, "min", 0, min, sizeof(min)),
	    ctl_num(s, "max", 0, max, sizeof(max)));
	if (bson_iter_init_find(&it, s, "rejected") ||
	    bson_iter_init_find(&it, s, "throttled"))
		snprintf(refused, sizeof(refused), "%" PRId64,
		    ctl_int(s, "rejected") + ctl_int(s, "throttled"));
	else
		snprintf(refused, sizeof(refused), "-");
	printf("%-*s %-*s %-9s %-14s %8s %8s %8s %9s %9s %7s %6s %7s %8s\n",
	    w->w_tenant, ctl_str(s, "tenant"), w->w_stream,
	    ctl_str(s, "stream"), ctl_str(s, "state"), inst,
	    ctl_num(s, "backlog", 0, backlog, sizeof(backlog)),
	    ctl_num(s, "inflight", 0, infl, sizeof(infl)),
	    ctl_num(s, "lag", 0, lag, sizeof(lag)),
	    ctl_num(s, "in_rate", 1, in, sizeof(in)),
	    ctl_num(s, "out_rate", 1, out, sizeof(out)),
	    ctl_num(s, "redelivered", 0, redel, sizeof(redel)),
	    ctl_num(s, "dead_letters", 0, dead, sizeof(dead)), refused,
	    ctl_num(s, "restarts", 0, restarts, sizeof(restarts)));
}

static void
print_streams(const struct status *st)
{
	struct widths w = { st, 8, 8 };

	if (st->s_reply[SMGR] == NULL || !st->s_stream_seen)
		return;
	ctl_each(st->s_reply[SMGR], "streams", width_cb, &w);
	printf("\n%-*s %-*s %-9s %-14s %8s %8s %8s %9s %9s %7s %6s %7s %8s\n",
	    w.w_tenant, "tenant", w.w_stream, "stream", "state", "instances",
	    "backlog", "inflight", "lag", "in/s", "out/s", "redeliv", "dead",
	    "refused", "restarts");
	ctl_each(st->s_reply[SMGR], "streams", stream_row_cb, &w);
}

struct job_print {
	const char	*jp_tenant;
	bool		 jp_header;
};

static void
job_cb(const bson_t *j, void *arg)
{
	struct job_print *jp = arg;
	char pid[24], attempt[24], dur[32], file[512];
	const char *dataset = ctl_str(j, "dataset");
	bool top = *dataset == '\0' || strcmp(dataset, "-") == 0;

	if (!jp->jp_header) {
		printf("\n%-12s %-8s %-16s %8s %7s %9s  %s\n", "tenant",
		    "app", "job", "pid", "attempt", "running", "file");
		jp->jp_header = true;
	}
	/* DATASET/FILE, as retry takes it. */
	snprintf(file, sizeof(file), "%s%s%s", top ? "" : dataset, top ? "" :
	    "/", ctl_str(j, "file"));
	printf("%-12s %-8s %-16s %8s %7s %9s  %s\n", jp->jp_tenant,
	    ctl_str(j, "app"), ctl_str(j, "job"),
	    ctl_num(j, "pid", 0, pid, sizeof(pid)),
	    ctl_num(j, "attempt", 0, attempt, sizeof(attempt)),
	    units_fmt_duration((uint64_t)ctl_int(j, "running_ms"), dur,
	    sizeof(dur)), file);
}

static void
print_jobs(const struct status *st)
{
	struct job_print jp = { NULL, false };

	for (size_t i = 0; i < st->s_nrows; i++) {
		if (st->s_rows[i].r_batch == NULL)
			continue;
		jp.jp_tenant = st->s_rows[i].r_id;
		ctl_each(st->s_rows[i].r_batch, "jobs", job_cb, &jp);
	}
}

/* ---- JSON ------------------------------------------------------------- */

static const char *
problem(int rc)
{
	switch (rc) {
	case EX_UNAVAILABLE:
		return "not running";
	case EX_TEMPFAIL:
		return "no reply in time";
	case EX_PROTOCOL:
		return "a reply that is not the protocol's";
	case EX_DATAERR:
		return "refused the request";
	case EX_NOPERM:
		return "no permission to reach its socket";
	case EX_CONFIG:
		return "its socket path does not fit sun_path";
	}
	return "failed";
}

/* Each daemon's answer: its reply's own figures, or why there is none. */
/* ---- records to MongoDB ------------------------------------------------ */

/* What log/records.state says is still to be stored, per log. */
static void
read_records(const struct cli *cli, struct records *rc)
{
	struct conf_platform *p = cli_load_platform(cli);
	struct ship_mark marks[6], none = { .sm_ino = 0 };
	char *state, *path;
	int n;

	if (p == NULL || strncmp(p->p_mongo_url, "mongodb", 7) != 0) {
		conf_platform_free(p);
		return;
	}
	rc->rc_on = true;
	snprintf(rc->rc_db, sizeof(rc->rc_db), "%s", p->p_mongo_records_db);
	state = state_path(p, "log/records.state");
	n = shipstate_read(state, marks, 6);
	for (int k = 0; k < 3; k++) {
		const struct ship_mark *m = &none;

		for (int j = 0; j < n; j++)
			if (strcmp(marks[j].sm_log, record_logs[k][0]) == 0)
				m = &marks[j];
		path = state_path(p, "log/%s", record_logs[k][1]);
		rc->rc_backlog[k] = shipstate_backlog(path, m);
		free(path);
	}
	free(state);
	conf_platform_free(p);
}

/* One line on producers from other hosts, when streammgr listens. */
static void
print_remote(const bson_t *smgr)
{
	static const char *const keys[] = { "listen", "admitted",
	    "unknown_keys", "forbidden", "unknown_streams" };
	char v[5][128] = { "" };
	bson_iter_t it;

	if (smgr == NULL || !bson_iter_init_find(&it, smgr, "remote") ||
	    !BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &it))
		return;
	while (bson_iter_next(&it))
		for (size_t k = 0; k < 5; k++) {
			if (strcmp(bson_iter_key(&it), keys[k]) != 0)
				continue;
			if (BSON_ITER_HOLDS_UTF8(&it))
				snprintf(v[k], sizeof(v[k]), "%s",
				    bson_iter_utf8(&it, NULL));
			else if (BSON_ITER_HOLDS_NUMBER(&it))
				snprintf(v[k], sizeof(v[k]), "%" PRId64,
				    bson_iter_as_int64(&it));
		}
	printf("remote producers on %s: %s connections let in; refused: %s "
	    "unknown keys, %s forbidden, %s unknown streams\n", v[0], v[1],
	    v[2], v[3], v[4]);
}

/*
 * One line when streammgr's queues hold half or more of what the node
 * lets them hold in memory (stream.max_memory): past it every producer
 * hears THROTTLE no-memory.
 */
static void
print_memory(const bson_t *smgr)
{
	char held[32], max[32];
	int64_t h, m;

	if (smgr == NULL)
		return;
	h = ctl_int(smgr, "queue_memory");
	m = ctl_int(smgr, "max_memory");
	if (m <= 0 || h < m / 2)
		return;
	printf("stream queues hold %s in memory of stream.max_memory %s "
	    "(past it, producers hear THROTTLE no-memory)\n",
	    units_fmt_size((uint64_t)h, held, sizeof(held)),
	    units_fmt_size((uint64_t)m, max, sizeof(max)));
}

struct paced_arg {
	const char	*pa_daemon;
	const char	*pa_tenant;	/* TENANT, or NULL */
};

/* One line per app log held to its rate (applog_status's paced_logs). */
static void
paced_cb(const bson_t *l, void *arg)
{
	const struct paced_arg *pa = arg;
	const char *tenant = ctl_str(l, "tenant");
	char rate[32];
	bson_iter_t it;
	bool now = bson_iter_init_find(&it, l, "held") &&
	    BSON_ITER_HOLDS_BOOL(&it) && bson_iter_bool(&it);

	if (pa->pa_tenant != NULL && strcmp(pa->pa_tenant, tenant) != 0)
		return;
	printf("tenant %s: output to %s (%s) read at app_logs.rate, %s a "
	    "second: held %" PRId64 " times, %.1f s in all%s\n", tenant,
	    ctl_str(l, "log"), pa->pa_daemon, units_fmt_size((uint64_t)
	    ctl_int(l, "rate"), rate, sizeof(rate)), ctl_int(l, "pauses"),
	    (double)ctl_int(l, "held_ms") / 1000, now ? ", held now" : "");
}

static void
print_paced(const struct status *st)
{
	for (int d = 0; d < NDAEMONS; d++) {
		struct paced_arg pa = { daemons[d], st->s_opts->o_tenant };

		if (st->s_reply[d] != NULL)
			(void)ctl_each(st->s_reply[d], "paced_logs", paced_cb,
			    &pa);
	}
}

static void
json_records(const struct records *rc, bson_t *root)
{
	bson_t doc;

	if (!rc->rc_on) {
		BSON_APPEND_NULL(root, "records");
		return;
	}
	BSON_APPEND_DOCUMENT_BEGIN(root, "records", &doc);
	BSON_APPEND_UTF8(&doc, "db", rc->rc_db);
	BSON_APPEND_INT64(&doc, "ingest_backlog_bytes",
	    (int64_t)rc->rc_backlog[0]);
	BSON_APPEND_INT64(&doc, "metrics_backlog_bytes",
	    (int64_t)rc->rc_backlog[1]);
	BSON_APPEND_INT64(&doc, "quality_backlog_bytes",
	    (int64_t)rc->rc_backlog[2]);
	bson_append_document_end(root, &doc);
}

static void
print_records(const struct records *rc)
{
	if (!rc->rc_on)
		return;
	printf("records to MongoDB (%s): ingest %ju bytes behind, metrics %ju "
	    "bytes behind, quality %ju bytes behind\n", rc->rc_db,
	    (uintmax_t)rc->rc_backlog[0], (uintmax_t)rc->rc_backlog[1],
	    (uintmax_t)rc->rc_backlog[2]);
}

static void
json_daemons(const struct status *st, bson_t *root)
{
	for (int d = 0; d < NDAEMONS; d++) {
		bson_t sub;
		bson_iter_t it;

		BSON_APPEND_DOCUMENT_BEGIN(root, daemons[d], &sub);
		if (st->s_reply[d] == NULL) {
			BSON_APPEND_BOOL(&sub, "ok", false);
			BSON_APPEND_UTF8(&sub, "error", problem(st->s_rc[d]));
			BSON_APPEND_INT32(&sub, "exit", st->s_rc[d]);
		} else if (bson_iter_init(&it, st->s_reply[d])) {
			/* The arrays are under "tenants" and "streams". */
			while (bson_iter_next(&it))
				if (strcmp(bson_iter_key(&it), "tenants") != 0 &&
				    strcmp(bson_iter_key(&it), "streams") != 0)
					bson_append_iter(&sub, NULL, 0, &it);
		}
		bson_append_document_end(root, &sub);
	}
}

static void
json_row(const struct status *st, const struct row *r, bson_t *doc)
{
	bson_t sub;

	BSON_APPEND_UTF8(doc, "tenant", r->r_id);
	BSON_APPEND_UTF8(doc, "state", row_state(st, r));
	if (r->r_batch != NULL)
		BSON_APPEND_DOCUMENT(doc, "batch", r->r_batch);
	else
		BSON_APPEND_NULL(doc, "batch");
	if (r->r_nstreams == 0) {
		BSON_APPEND_NULL(doc, "streams");
		return;
	}
	BSON_APPEND_DOCUMENT_BEGIN(doc, "streams", &sub);
	BSON_APPEND_INT32(&sub, "count", r->r_nstreams);
	BSON_APPEND_INT64(&sub, "running", r->r_running);
	BSON_APPEND_INT64(&sub, "desired", r->r_desired);
	BSON_APPEND_INT64(&sub, "min", r->r_min);
	BSON_APPEND_INT64(&sub, "max", r->r_max);
	BSON_APPEND_INT64(&sub, "backlog", r->r_backlog);
	BSON_APPEND_INT64(&sub, "inflight", r->r_inflight);
	BSON_APPEND_DOUBLE(&sub, "in_rate", r->r_in);
	BSON_APPEND_DOUBLE(&sub, "out_rate", r->r_out);
	bson_append_document_end(doc, &sub);
}

struct json_streams {
	const struct status *js_st;
	bson_t		*js_arr;
	uint32_t	 js_n;
};

static void
json_stream_cb(const bson_t *s, void *arg)
{
	struct json_streams *js = arg;
	char key[24];

	if (!stream_shown(js->js_st, s))
		return;
	snprintf(key, sizeof(key), "%u", js->js_n++);
	BSON_APPEND_DOCUMENT(js->js_arr, key, s);
}

static void
print_json(const struct status *st)
{
	bson_t root = BSON_INITIALIZER, arr, item;
	struct json_streams js = { st, &arr, 0 };
	char key[24];

	BSON_APPEND_ARRAY_BEGIN(&root, "tenants", &arr);
	for (size_t i = 0; i < st->s_nrows; i++) {
		snprintf(key, sizeof(key), "%zu", i);
		BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &item);
		json_row(st, &st->s_rows[i], &item);
		bson_append_document_end(&arr, &item);
	}
	bson_append_array_end(&root, &arr);
	BSON_APPEND_ARRAY_BEGIN(&root, "streams", &arr);
	if (st->s_reply[SMGR] != NULL)
		ctl_each(st->s_reply[SMGR], "streams", json_stream_cb, &js);
	bson_append_array_end(&root, &arr);
	json_daemons(st, &root);
	json_records(&st->s_records, &root);
	cli_print_json(&root);
	bson_destroy(&root);
}

/* ---- the command ------------------------------------------------------ */

/*
 * The exit status when not every daemon answered: 0 if one did, 69 if
 * neither runs, otherwise the first one's problem.
 */
static int
exit_status(const struct status *st)
{
	if (st->s_reply[SMGR] != NULL || st->s_reply[BMGR] != NULL)
		return EX_OK;
	for (int d = 0; d < NDAEMONS; d++)
		if (st->s_rc[d] != EX_UNAVAILABLE)
			return st->s_rc[d];
	return EX_UNAVAILABLE;
}

/* Whether TENANT and S are known to a daemon that answered. */
static int
check_known(const struct status *st)
{
	const struct status_opts *o = st->s_opts;

	if (o->o_tenant && st->s_nrows == 0 && !st->s_tenant_seen) {
		fprintf(stderr, "mysimbdp status: no tenant \"%s\" (neither "
		    "in %s's status)\n", o->o_tenant, st->s_reply[SMGR] &&
		    st->s_reply[BMGR] ? "batchmgr's nor streammgr's" :
		    st->s_reply[SMGR] ? "streammgr's" : "batchmgr's");
		return EX_DATAERR;
	}
	if (o->o_stream && st->s_reply[SMGR] != NULL && !st->s_stream_seen) {
		fprintf(stderr, "mysimbdp status: tenant %s has no stream "
		    "\"%s\"\n", o->o_tenant, o->o_stream);
		return EX_DATAERR;
	}
	return EX_OK;
}

static void
print_notes(const struct status *st)
{
	if (st->s_reply[BMGR] == NULL)
		fprintf(stderr, "mysimbdp status: batchmgr did not answer: "
		    "no batch figures (\"-\")\n");
	if (st->s_reply[SMGR] == NULL)
		fprintf(stderr, "mysimbdp status: streammgr did not answer: "
		    "no stream figures (\"-\")\n");
}

/* The replies' rows: one per tenant, sorted. */
static void
gather(struct status *st)
{
	if (st->s_reply[BMGR] != NULL)
		ctl_each(st->s_reply[BMGR], "tenants", batch_cb, st);
	if (st->s_reply[SMGR] != NULL)
		ctl_each(st->s_reply[SMGR], "streams", stream_cb, st);
	if (st->s_nrows > 0)
		qsort(st->s_rows, st->s_nrows, sizeof(*st->s_rows), row_cmp);
}

static void
status_free(struct status *st)
{
	for (size_t i = 0; i < st->s_nrows; i++)
		if (st->s_rows[i].r_batch)
			bson_destroy(st->s_rows[i].r_batch);
	free(st->s_rows);
	for (int d = 0; d < NDAEMONS; d++)
		if (st->s_reply[d])
			bson_destroy(st->s_reply[d]);
}

/* ---- every node of a cluster ------------------------------------------ */

/* One node's line when neither of its daemons answered. */
static void
print_silent(const struct status *st)
{
	print_node(st, st->s_node);
	printf("(no answer: streammgr %s, batchmgr %s)\n",
	    problem(st->s_rc[SMGR]), problem(st->s_rc[BMGR]));
}

static void
json_node(const struct status *st, const struct conf_node *n, bson_t *doc)
{
	bson_t arr, item;
	char key[24];

	BSON_APPEND_UTF8(doc, "node", n->n_name);
	BSON_APPEND_UTF8(doc, "address", n->n_address);
	BSON_APPEND_BOOL(doc, "answered", st->s_reply[SMGR] != NULL ||
	    st->s_reply[BMGR] != NULL);
	BSON_APPEND_ARRAY_BEGIN(doc, "tenants", &arr);
	for (size_t i = 0; i < st->s_nrows; i++) {
		snprintf(key, sizeof(key), "%zu", i);
		BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &item);
		json_row(st, &st->s_rows[i], &item);
		bson_append_document_end(&arr, &item);
	}
	bson_append_array_end(doc, &arr);
	json_daemons(st, doc);
}

/*
 * status --cluster: both daemons of every node of the cluster file,
 * asked at once over TCP with the operator's key, in one table. A node
 * that does not answer says so; 0 when any answered.
 */
static int
cluster_status(const struct cli *cli, const struct status_opts *o)
{
	struct conf_cluster *c;
	struct cli *ncli;
	struct status *st;
	struct ctl_call *calls;
	bson_t root = BSON_INITIALIZER, arr, item;
	size_t n, answered = 0;
	char key[24];
	int rc = EX_OK;

	if (cli->c_key == NULL) {
		fprintf(stderr, "mysimbdp status: --cluster needs --key FILE "
		    "(an operator key of the nodes)\n");
		return EX_USAGE;
	}
	if ((c = cli_load_cluster(cli)) == NULL)
		return EX_CONFIG;
	/* Two calls a node: ctl_exchange's 128 at once. */
	if ((n = c->c_nnodes) > CLUSTER_MAX) {
		fprintf(stderr, "mysimbdp status: %s has %zu nodes: the first "
		    "%d are shown\n", c->c_file, n, CLUSTER_MAX);
		n = CLUSTER_MAX;
	}
	ncli = calloc(n, sizeof(*ncli));
	st = calloc(n, sizeof(*st));
	calls = calloc(n * NDAEMONS, sizeof(*calls));
	if (ncli == NULL || st == NULL || calls == NULL)
		abort();
	for (size_t i = 0; i < n; i++) {
		ctl_node_cli(cli, &c->c_nodes[i], &ncli[i]);
		st[i].s_opts = o;
		st[i].s_node = c->c_nodes[i].n_name;
		if (ask_prepare(&ncli[i], &calls[i * NDAEMONS]) < 0) {
			/* ask_take() frees calls; it does not run now. */
			for (size_t j = 0; j < i * NDAEMONS; j++)
				ctl_call_free(&calls[j]);
			rc = EX_CONFIG;
			n = i;
			goto out;
		}
	}
	ctl_exchange(calls, n * NDAEMONS, o->o_timeout_ms);
	BSON_APPEND_ARRAY_BEGIN(&root, "nodes", &arr);
	for (size_t i = 0; i < n; i++) {
		ask_take(&st[i], &calls[i * NDAEMONS]);
		gather(&st[i]);
		answered += st[i].s_reply[SMGR] || st[i].s_reply[BMGR];
		if (o->o_json) {
			snprintf(key, sizeof(key), "%zu", i);
			BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &item);
			json_node(&st[i], &c->c_nodes[i], &item);
			bson_append_document_end(&arr, &item);
		} else if (st[i].s_reply[SMGR] || st[i].s_reply[BMGR])
			print_tenants(&st[i], i == 0);
		else {
			if (i == 0)
				print_tenants(&st[i], true);
			print_silent(&st[i]);
		}
	}
	bson_append_array_end(&root, &arr);
	if (o->o_json)
		cli_print_json(&root);
	rc = answered > 0 ? EX_OK : EX_UNAVAILABLE;
out:
	bson_destroy(&root);
	for (size_t i = 0; i < n; i++)
		status_free(&st[i]);
	free(calls);
	free(st);
	free(ncli);
	conf_cluster_free(c);
	return rc;
}

int
cmd_status(const struct cli *cli, int argc, char **argv)
{
	struct status_opts o;
	struct status st = { .s_opts = &o };
	int rc;

	if ((rc = parse_opts(argc, argv, &o)) >= 0)
		return rc;
	if (o.o_cluster)
		return cluster_status(cli, &o);
	if (ask(cli, &st) < 0)
		return EX_CONFIG;
	if (cli->c_node == NULL)	/* files on the node's own host */
		read_records(cli, &st.s_records);
	if ((rc = exit_status(&st)) != EX_OK)
		goto out;
	gather(&st);
	if ((rc = check_known(&st)) != EX_OK)
		goto out;
	if (o.o_json)
		print_json(&st);
	else {
		print_tenants(&st, true);
		if (o.o_streams) {
			print_streams(&st);
			print_jobs(&st);
		}
		print_records(&st.s_records);
		print_remote(st.s_reply[SMGR]);
		print_memory(st.s_reply[SMGR]);
		print_paced(&st);
	}
	print_notes(&st);
out:
	status_free(&st);
	return rc;
}
