/*
 * move TENANT --to NODE [--timeout D]: moves a tenant between two nodes
 * of the cluster description without losing anything (docs/deployment.md,
 * "Moving a tenant"). Over TCP with the operator's key (--key), it
 *
 *   1. checks that both nodes' daemons answer (else it refuses);
 *   2. drains the tenant's streams on the old node and waits until
 *      nothing of the tenant is queued or running there, streams or
 *      batch (else it starts the streams again and refuses: nothing
 *      changed);
 *   3. rewrites the cluster file with the tenant under the new node
 *      (through a temporary file and a rename; libconfig keeps no
 *      comments);
 *   4. asks the new node's daemons to reload, then the old node's, and
 *      waits until the new node serves the tenant and the old one no
 *      longer does. When that does
 *      not happen (a node reads another copy of the file, or the new
 *      node has no profile for the tenant), it puts the old file back,
 *      reloads, starts the streams again on the old node and says why.
 *
 * Exit status: 0 moved; 64 usage; 65 the tenant or node is unknown, or
 * the tenant is already there; 69 a daemon does not answer; 73 the
 * cluster file cannot be written; 75 not drained or not taken over in
 * time (undone); 78 a bad cluster file.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libconfig.h>

#include "cli.h"
#include "clock.h"
#include "conf.h"
#include "ctl.h"
#include "units.h"

#define POLL_MS		200
#define MOVE_TIMEOUT_MS	(5 * 60 * 1000)

struct move_opts {
	const char	*o_to;
	uint64_t	 o_timeout_ms;
};

/* One node as the operator reaches it. */
struct node {
	const struct conf_node *n_conf;
	struct cli	 n_cli;
};

/* What a node holds of the tenant, from both daemons' status. */
struct holding {
	int		 h_streams;	/* its streams there */
	int64_t		 h_pending;	/* backlog + in flight */
	bool		 h_batch;	/* batchmgr has it (not retired) */
	int64_t		 h_files;	/* waiting, queued, running, retrying */
};

static void
node_init(struct node *n, const struct cli *cli, const struct conf_node *c)
{
	n->n_conf = c;
	ctl_node_cli(cli, c, &n->n_cli);
}

struct scan {
	const char	*tenant;
	struct holding	*h;
};

static void
stream_cb(const bson_t *s, void *arg)
{
	struct scan *sc = arg;

	if (strcmp(ctl_str(s, "tenant"), sc->tenant) != 0)
		return;
	sc->h->h_streams++;
	sc->h->h_pending += ctl_int(s, "backlog") + ctl_int(s, "inflight");
}

static void
tenant_cb(const bson_t *t, void *arg)
{
	struct scan *sc = arg;

	if (strcmp(ctl_str(t, "tenant"), sc->tenant) != 0 ||
	    strcmp(ctl_str(t, "state"), "retired") == 0)
		return;
	sc->h->h_batch = true;
	sc->h->h_files += ctl_int(t, "incoming") + ctl_int(t, "queued") +
	    ctl_int(t, "running") + ctl_int(t, "retry_waiting");
}

/* Sends {"cmd":cmd} (with the tenant unless NULL) to one daemon. */
static int
ask(const struct node *n, const char *daemon, const char *cmd,
    const char *tenant, bson_t **reply)
{
	bson_t req = BSON_INITIALIZER;
	int rc;

	BSON_APPEND_UTF8(&req, "cmd", cmd);
	if (tenant != NULL)
		BSON_APPEND_UTF8(&req, "tenant", tenant);
	rc = ctl_request(&n->n_cli, daemon, &req, CTL_TIMEOUT_MS, reply);
	bson_destroy(&req);
	if (rc != EX_OK)
		fprintf(stderr, "mysimbdp move: node %s (%s): %s did not "
		    "answer %s\n", n->n_conf->n_name, n->n_conf->n_address,
		    daemon, cmd);
	return rc;
}

/* What node n holds of tenant. Returns EX_OK, or why not. */
static int
holding(const struct node *n, const char *tenant, struct holding *h)
{
	struct scan sc = { tenant, h };
	bson_t *reply;
	int rc;

	memset(h, 0, sizeof(*h));
	if ((rc = ask(n, "streammgr", "status", NULL, &reply)) != EX_OK)
		return rc;
	ctl_each(reply, "streams", stream_cb, &sc);
	bson_destroy(reply);
	if ((rc = ask(n, "batchmgr", "status", NULL, &reply)) != EX_OK)
		return rc;
	ctl_each(reply, "tenants", tenant_cb, &sc);
	bson_destroy(reply);
	return EX_OK;
}

static void
pause_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Whether the old node holds nothing of the tenant any more. */
static bool
drained(const struct holding *h)
{
	return h->h_pending == 0 && h->h_files == 0;
}

/* Whether the old node gave the tenant up, the new one took it. */
static bool
handed_over(const struct holding *from, const struct holding *to,
    int streams)
{
	return from->h_streams == 0 && !from->h_batch &&
	    to->h_streams == streams && (to->h_batch || streams > 0);
}

/*
 * Polls until done says so of what both nodes hold, or the deadline.
 * Returns EX_OK, EX_TEMPFAIL at the deadline, or a node's failure.
 */
static int
wait_until(const struct node *from, const struct node *to,
    const char *tenant, int streams, bool handover, uint64_t timeout_ms)
{
	int64_t deadline = clock_mono_ms() + (int64_t)timeout_ms;
	struct holding hf, ht = { 0 };
	int rc;

	for (;;) {
		if ((rc = holding(from, tenant, &hf)) != EX_OK ||
		    (handover && (rc = holding(to, tenant, &ht)) != EX_OK))
			return rc;
		if (handover ? handed_over(&hf, &ht, streams) : drained(&hf))
			return EX_OK;
		if (clock_mono_ms() >= deadline)
			return EX_TEMPFAIL;
		pause_ms(POLL_MS);
	}
}

/* Moves tenant from one node's "tenants" to another's in cfg. */
static int
edit(config_t *cfg, const char *tenant, const char *from, const char *to)
{
	config_setting_t *nodes = config_lookup(cfg, "nodes"), *t;
	bool removed = false, added = false;

	for (int i = 0; nodes && i < config_setting_length(nodes); i++) {
		config_setting_t *n = config_setting_get_elem(nodes,
		    (unsigned)i);
		const char *name = NULL;

		config_setting_lookup_string(n, "name", &name);
		if (name == NULL)
			continue;
		t = config_setting_get_member(n, "tenants");
		if (strcmp(name, from) == 0 && t != NULL)
			for (int k = config_setting_length(t) - 1; k >= 0; k--)
				if (strcmp(config_setting_get_string_elem(t, k),
				    tenant) == 0) {
					config_setting_remove_elem(t,
					    (unsigned)k);
					removed = true;
				}
		if (strcmp(name, to) == 0) {
			if (t == NULL)
				t = config_setting_add(n, "tenants",
				    CONFIG_TYPE_ARRAY);
			added = t != NULL && config_setting_set_string_elem(t,
			    -1, tenant) != NULL;
		}
	}
	return removed && added ? 0 : -1;
}

/*
 * Writes the cluster file with tenant under node to, keeping the old
 * text in *old (malloc'd) to put back. Returns 0, or -1 after saying why.
 */
static int
rewrite(const char *file, const char *tenant, const char *from,
    const char *to, char **old)
{
	char tmp[4096];
	config_t cfg;
	FILE *f;
	long len;
	int rc = -1;

	*old = NULL;
	if ((f = fopen(file, "r")) == NULL || fseek(f, 0, SEEK_END) < 0 ||
	    (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0 ||
	    (*old = calloc(1, (size_t)len + 1)) == NULL ||
	    fread(*old, 1, (size_t)len, f) != (size_t)len) {
		fprintf(stderr, "mysimbdp move: read %s: %s\n", file,
		    strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	config_init(&cfg);
	snprintf(tmp, sizeof(tmp), "%s.move.tmp", file);
	if (config_read_string(&cfg, *old) != CONFIG_TRUE ||
	    edit(&cfg, tenant, from, to) < 0)
		fprintf(stderr, "mysimbdp move: %s: cannot move %s from %s "
		    "to %s in it\n", file, tenant, from, to);
	else if (config_write_file(&cfg, tmp) != CONFIG_TRUE ||
	    rename(tmp, file) < 0) {
		fprintf(stderr, "mysimbdp move: write %s: %s\n", file,
		    strerror(errno));
		unlink(tmp);
	} else
		rc = 0;
	config_destroy(&cfg);
	return rc;
}

static void
restore(const char *file, const char *old)
{
	FILE *f = fopen(file, "w");

	if (f == NULL || fputs(old, f) == EOF || fclose(f) == EOF)
		fprintf(stderr, "mysimbdp move: put back %s: %s: its old "
		    "text follows\n%s", file, strerror(errno), old);
}

/* Both daemons of a node reread everything. */
static void
reload(const struct node *n)
{
	bson_t *reply;

	if (ask(n, "streammgr", "reload", NULL, &reply) == EX_OK)
		bson_destroy(reply);
	if (ask(n, "batchmgr", "reload", NULL, &reply) == EX_OK)
		bson_destroy(reply);
}

/* Starts the tenant's streams again on the old node (undoing a drain). */
static void
restart(const struct node *n, const char *tenant, int streams)
{
	bson_t *reply;

	if (streams > 0 && ask(n, "streammgr", "start", tenant, &reply) ==
	    EX_OK)
		bson_destroy(reply);
}

/* Steps 2 to 4, both nodes answering. */
static int
move(const struct move_opts *o, const char *file, const char *tenant,
    const struct node *from, const struct node *to, int streams)
{
	char d[32], *old = NULL;
	bson_t *reply;
	int rc;

	if (streams > 0) {
		if ((rc = ask(from, "streammgr", "drain", tenant, &reply)) !=
		    EX_OK)
			return rc;
		bson_destroy(reply);
	}
	rc = wait_until(from, to, tenant, streams, false, o->o_timeout_ms);
	if (rc != EX_OK) {
		fprintf(stderr, "mysimbdp move: %s still holds messages or "
		    "files of %s after %s: started again there, nothing "
		    "moved\n", from->n_conf->n_name, tenant,
		    units_fmt_duration(o->o_timeout_ms, d, sizeof(d)));
		restart(from, tenant, streams);
		return rc;
	}
	printf("drained %s on %s\n", tenant, from->n_conf->n_name);
	if (rewrite(file, tenant, from->n_conf->n_name, to->n_conf->n_name,
	    &old) < 0) {
		free(old);
		restart(from, tenant, streams);
		return EX_CANTCREAT;
	}
	/*
	 * The new node first: when the old one answers "moved", the tenant
	 * is served there already (a producer that follows at once is let
	 * in; libzmq does not try again a handshake it was refused).
	 */
	reload(to);
	reload(from);
	rc = wait_until(from, to, tenant, streams, true, o->o_timeout_ms);
	if (rc == EX_OK) {
		printf("moved %s from %s to %s (%s rewritten; give every "
		    "node this copy)\n", tenant, from->n_conf->n_name,
		    to->n_conf->n_name, file);
		free(old);
		return EX_OK;
	}
	fprintf(stderr, "mysimbdp move: %s did not take %s over from %s "
	    "(does it read this cluster file, and have %s's profile?): "
	    "undone\n", to->n_conf->n_name, tenant, from->n_conf->n_name,
	    tenant);
	restore(file, old);
	free(old);
	reload(from);
	reload(to);
	restart(from, tenant, streams);
	return EX_TEMPFAIL;
}

int
cmd_move(const struct cli *cli, int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		CLI_OPT("to", 'T', CLI_OPT_STR, struct move_opts, o_to),
		CLI_OPT("timeout", 't', CLI_OPT_TIMEOUT, struct move_opts,
		    o_timeout_ms),
		CLI_OPT_END,
	};
	struct move_opts o = { .o_timeout_ms = MOVE_TIMEOUT_MS };
	const struct conf_node *fc, *tc;
	struct conf_cluster *c;
	struct node from, to;
	struct holding h;
	const char *tenant;
	int rc;

	if ((rc = cli_opts_parse(argc, argv, opts, &o)) >= 0)
		return rc;
	if (argc - optind != 1 || o.o_to == NULL)
		return cli_usage_error(argv[0]);
	tenant = argv[optind];
	if (!cli_valid_tenant(argv[0], tenant))
		return EX_USAGE;
	if (cli->c_key == NULL) {
		fprintf(stderr, "mysimbdp move: needs --key FILE, an operator "
		    "key of both nodes\n");
		return EX_USAGE;
	}
	if ((c = cli_load_cluster(cli)) == NULL)
		return EX_CONFIG;
	fc = conf_cluster_tenant_node(c, tenant);
	tc = conf_cluster_node(c, o.o_to);
	rc = EX_DATAERR;
	if (fc == NULL)
		fprintf(stderr, "mysimbdp move: no node of %s serves %s\n",
		    c->c_file, tenant);
	else if (tc == NULL)
		fprintf(stderr, "mysimbdp move: %s has no node %s\n",
		    c->c_file, o.o_to);
	else if (fc == tc)
		fprintf(stderr, "mysimbdp move: %s serves %s already\n",
		    tc->n_name, tenant);
	else {
		node_init(&from, cli, fc);
		node_init(&to, cli, tc);
		/* Both nodes must answer before anything changes. */
		if ((rc = holding(&to, tenant, &h)) == EX_OK &&
		    (rc = holding(&from, tenant, &h)) == EX_OK)
			rc = move(&o, c->c_file, tenant, &from, &to,
			    h.h_streams);
		else
			fprintf(stderr, "mysimbdp move: nothing changed\n");
	}
	conf_cluster_free(c);
	return rc;
}
