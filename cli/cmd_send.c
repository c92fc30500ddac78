/*
 * send TENANT [--stream S] [--file F] [--rate N] [--window N] [--json]
 *     [--node HOST:PORT --key FILE --server-key KEY]:
 * sends each non-empty line of F (standard input by default) as one
 * message to the stream's ingress socket run/<tenant>/<stream>.in through
 * libmysimbdp's producer, then says what became of them. With --node, to
 * a node on another host over TCP with CURVE, as the tenant's producer
 * whose key pair is in FILE, pinning the node's public key KEY.
 *
 * The trailing newline is not part of a message; empty lines are skipped;
 * a line over 16 MiB is refused here and not sent. Throttled messages are
 * not sent again: the summary counts them and the exit status says so. A
 * message whose reply never came (within --timeout of the last reply) is
 * "unanswered": it may or may not be stored. When no reply comes at all,
 * or no streammgr takes a message, the rest of the input is not sent.
 * --window (how many may await their reply) and --timeout default to the
 * producer's: 1000 and 10 s. --rate N sends N messages a second at most.
 * On a terminal (or with --progress) a progress line on stderr says how
 * far it got.
 *
 * Exit status: 0 every message accepted; 65 some rejected (or too long to
 * send); 75 some throttled or unanswered, or the input not all sent, and
 * none rejected; 64 usage (a bad --node too); 66 F cannot be opened, or
 * --key or --server-key cannot be read or holds no key; 69 the stream's
 * socket is not there; 70 the producer failed; 74 F cannot be read; 77 the
 * socket is not ours to reach, or the node refused the key; 78 a bad
 * platform file.
 */
#include <bson/bson.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mysimbdp.h>

#include "cli.h"
#include "clock.h"
#include "conf.h"
#include "curvekey.h"
#include "ctl.h"
#include "progress.h"
#include "state.h"

#define MSG_MAX		(16u << 20)	/* longest line sent, in bytes */
#define READ_CHUNK	(256u << 10)
#define SHOW_REASONS	10		/* distinct reject reasons kept */
#define WINDOW_MAX	65536
#define NO_REPLY	"no-reply"	/* the reason for a reply never had */
#define NODE_MAX	256		/* HOST:PORT of a cluster's node */

/* Lines read from a file descriptor into one buffer, never more than
 * MSG_MAX + READ_CHUNK bytes however long a line is. */
struct lines {
	int		 l_fd;
	char		*l_buf;
	size_t		 l_cap, l_start, l_end;
	bool		 l_eof;
	uint64_t	 l_lineno;
	uint64_t	 l_consumed;	/* bytes of the lines returned */
};

struct reason {
	char		*r_text;
	uint64_t	 r_count;
	bool		 r_throttle;	/* else a REJECT */
};

/* What send takes besides TENANT. */
struct send_opts {
	const char	*o_stream;
	const char	*o_file;	/* NULL or "-": standard input */
	uint64_t	 o_rate;	/* messages a second; 0: no limit */
	uint64_t	 o_window;	/* 0: the producer's default */
	bool		 o_json;
	uint64_t	 o_timeout_ms;	/* 0: the producer's default */
	enum progress_mode o_progress;
	const char	*o_node;	/* HOST:PORT: a remote node */
	const char	*o_key;		/* with o_node: the tenant's key */
	const char	*o_server_key;	/* with o_node: the node's public key */
	bool		 o_cluster;	/* the tenant's node, from the file */
};

struct send {
	struct msb_producer *s_prod;
	uint64_t	 s_sent;
	uint64_t	 s_accepted;
	uint64_t	 s_rejected;
	uint64_t	 s_throttled;	/* by streammgr: not the lost replies */
	uint64_t	 s_too_long;	/* refused here, not sent */
	struct reason	 s_reasons[SHOW_REASONS];
	size_t		 s_nreasons;
	uint64_t	 s_other;	/* rejections with a reason not kept */
};

enum { LINE_END, LINE_OK, LINE_TOO_LONG, LINE_ERROR };

/*
 * Reads the next line. Returns LINE_OK with *line and *len (the newline
 * left out; valid until the next call), LINE_TOO_LONG with *len the
 * length of a line over MSG_MAX (read and thrown away), LINE_END at the
 * end of the input, or LINE_ERROR with errno.
 */
static int
lines_next(struct lines *l, const char **line, size_t *len)
{
	size_t skipped = 0, scanned = 0;	/* scanned: from l_start */
	char *nl;

	for (;;) {
		size_t have = l->l_end - l->l_start;
		ssize_t n;

		/* Only what the last read added can hold the newline. */
		nl = have > scanned ? memchr(l->l_buf + l->l_start + scanned,
		    '\n', have - scanned) : NULL;
		scanned = have;
		if (nl != NULL || (l->l_eof && have > 0)) {
			size_t n_line = nl ? (size_t)(nl - (l->l_buf +
			    l->l_start)) : have;

			*line = l->l_buf + l->l_start;
			*len = n_line + skipped;
			l->l_start += n_line + (nl != NULL);
			l->l_consumed += n_line + skipped + (nl != NULL);
			l->l_lineno++;
			return skipped || n_line > MSG_MAX ? LINE_TOO_LONG :
			    LINE_OK;
		}
		if (l->l_eof && skipped) {
			*len = skipped;
			l->l_consumed += skipped;
			l->l_lineno++;
			return LINE_TOO_LONG;
		}
		if (l->l_eof)
			return LINE_END;
		if (skipped || have > MSG_MAX) {
			/* Too long already: keep reading, but only to find
			 * where it ends. */
			skipped += have;
			l->l_start = l->l_end = 0;
			scanned = 0;
		} else if (l->l_start > 0) {
			memmove(l->l_buf, l->l_buf + l->l_start, have);
			l->l_start = 0;
			l->l_end = have;
		}
		if (l->l_cap - l->l_end < READ_CHUNK) {
			size_t cap = l->l_cap ? l->l_cap * 2 : READ_CHUNK * 2;
			char *b;

			if (cap > MSG_MAX + READ_CHUNK + 1)
				cap = MSG_MAX + READ_CHUNK + 1;
			if (cap > l->l_cap) {
				if ((b = realloc(l->l_buf, cap)) == NULL)
					return LINE_ERROR;
				l->l_buf = b;
				l->l_cap = cap;
			}
		}
		n = read(l->l_fd, l->l_buf + l->l_end, l->l_cap - l->l_end);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return LINE_ERROR;
		}
		if (n == 0)
			l->l_eof = true;
		l->l_end += (size_t)n;
	}
}

static void
add_reason(struct send *s, bool throttle, const char *text)
{
	size_t i;

	if (text == NULL || *text == '\0')
		text = "(no reason given)";
	for (i = 0; i < s->s_nreasons; i++)
		if (s->s_reasons[i].r_throttle == throttle &&
		    strcmp(s->s_reasons[i].r_text, text) == 0) {
			s->s_reasons[i].r_count++;
			return;
		}
	if (s->s_nreasons == SHOW_REASONS ||
	    (s->s_reasons[i].r_text = strdup(text)) == NULL) {
		s->s_other++;
		return;
	}
	s->s_reasons[s->s_nreasons].r_throttle = throttle;
	s->s_reasons[s->s_nreasons++].r_count = 1;
}

static void
on_reply(uint64_t seq, enum msb_reply_status status, const char *reason,
    void *arg)
{
	struct send *s = arg;

	switch (status) {
	case MSB_REPLY_OK:
		s->s_accepted++;
		break;
	case MSB_REPLY_REJECT:
		s->s_rejected++;
		add_reason(s, false, reason);
		break;
	case MSB_REPLY_THROTTLE:
		/* A reply that never came is unanswered, not throttled:
		 * the summary counts it as sent minus answered. */
		if (reason != NULL &&
		    strncmp(reason, NO_REPLY, strlen(NO_REPLY)) == 0)
			break;
		s->s_throttled++;
		if (reason != NULL)
			add_reason(s, true, reason);
		break;
	}
}

static uint64_t
answered(const struct send *s)
{
	return s->s_accepted + s->s_rejected + s->s_throttled;
}

/*
 * Waits, handling replies, until the next message is due at rate
 * messages a second from start_ns. Returns MSB_OK, or the producer's
 * MSB_TEMPFAIL (the records held for a batch found no streammgr) or
 * MSB_ERROR, as msb_producer_send() would.
 */
static int
pace(struct send *s, int64_t start_ns, uint64_t rate)
{
	int64_t due, left;
	int r;

	if (rate == 0)
		return MSB_OK;
	due = start_ns + (int64_t)((double)s->s_sent * 1e9 / (double)rate);
	while ((left = due - clock_mono_ns()) > 0) {
		struct timespec ts = { left / 1000000000, left % 1000000000 };

		/* The producer's poll returns at once with nothing
		 * outstanding; then there is nothing to wait for but time. */
		if (msb_producer_outstanding(s->s_prod) == 0)
			nanosleep(&ts, NULL);
		else if ((r = msb_producer_poll(s->s_prod,
		    (int)((left + 999999) / 1000000))) < 0)
			return r;
	}
	return MSB_OK;
}

static int
cmp_reason(const void *a, const void *b)
{
	const struct reason *x = a, *y = b;

	if (x->r_count != y->r_count)
		return x->r_count < y->r_count ? 1 : -1;
	return strcmp(x->r_text, y->r_text);
}

static void
print_summary(struct send *s, bool json)
{
	uint64_t unanswered = s->s_sent - answered(s);

	qsort(s->s_reasons, s->s_nreasons, sizeof(s->s_reasons[0]),
	    cmp_reason);
	if (json) {
		bson_t root = BSON_INITIALIZER, arr, doc;
		char key[16], *out;
		const char *k;

		BSON_APPEND_INT64(&root, "sent", (int64_t)s->s_sent);
		BSON_APPEND_INT64(&root, "accepted", (int64_t)s->s_accepted);
		BSON_APPEND_INT64(&root, "rejected", (int64_t)s->s_rejected);
		BSON_APPEND_INT64(&root, "throttled", (int64_t)s->s_throttled);
		BSON_APPEND_INT64(&root, "unanswered", (int64_t)unanswered);
		BSON_APPEND_INT64(&root, "too_long", (int64_t)s->s_too_long);
		BSON_APPEND_ARRAY_BEGIN(&root, "reasons", &arr);
		for (uint32_t i = 0; i < s->s_nreasons; i++) {
			bson_uint32_to_string(i, &k, key, sizeof(key));
			BSON_APPEND_DOCUMENT_BEGIN(&arr, k, &doc);
			BSON_APPEND_UTF8(&doc, "status",
			    s->s_reasons[i].r_throttle ? "THROTTLE" :
			    "REJECT");
			BSON_APPEND_UTF8(&doc, "reason",
			    s->s_reasons[i].r_text);
			BSON_APPEND_INT64(&doc, "count",
			    (int64_t)s->s_reasons[i].r_count);
			bson_append_document_end(&arr, &doc);
		}
		bson_append_array_end(&root, &arr);
		BSON_APPEND_INT64(&root, "other_reasons", (int64_t)s->s_other);
		out = bson_as_relaxed_extended_json(&root, NULL);
		printf("%s\n", out);
		bson_free(out);
		bson_destroy(&root);
		return;
	}
	printf("sent %" PRIu64 ", accepted %" PRIu64 ", rejected %" PRIu64
	    ", throttled %" PRIu64 ", unanswered %" PRIu64 "\n", s->s_sent,
	    s->s_accepted, s->s_rejected, s->s_throttled, unanswered);
	for (size_t i = 0; i < s->s_nreasons; i++)
		printf("  %s %" PRIu64 ": %s\n", s->s_reasons[i].r_throttle ?
		    "throttled" : "rejected", s->s_reasons[i].r_count,
		    s->s_reasons[i].r_text);
	if (s->s_other)
		printf("  refused %" PRIu64 ": (other reasons)\n", s->s_other);
	if (s->s_too_long)
		printf("not sent: %" PRIu64 " lines longer than 16 MiB\n",
		    s->s_too_long);
}

static int
parse_uint(const char *s, uint64_t max, uint64_t *v)
{
	uintmax_t n;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoumax(s, &end, 10);
	if (errno || *end != '\0' || n == 0 || n > max)
		return -1;
	*v = n;
	return 0;
}

static int
parse_rate(const char *cmd, const char *arg, void *field)
{
	if (parse_uint(arg, 100000000, field) == 0)
		return 0;
	fprintf(stderr, "mysimbdp %s: --rate \"%s\": must be messages per "
	    "second, 1 or more\n", cmd, arg);
	return -1;
}

static int
parse_window(const char *cmd, const char *arg, void *field)
{
	if (parse_uint(arg, WINDOW_MAX, field) == 0)
		return 0;
	fprintf(stderr, "mysimbdp %s: --window \"%s\": must be 1 to %d\n",
	    cmd, arg, WINDOW_MAX);
	return -1;
}

/*
 * send --cluster: the address of the node that serves tenant, and its
 * key, from the cluster description. Returns a sysexits code.
 */
static int
cluster_node(const struct cli *cli, const char *tenant,
    char node[NODE_MAX], char key[CURVEKEY_Z85_LEN + 1])
{
	const struct conf_node *n;
	struct conf_cluster *c;
	int rc = EX_OK;

	if ((c = cli_load_cluster(cli)) == NULL)
		return EX_CONFIG;
	if ((n = conf_cluster_tenant_node(c, tenant)) == NULL) {
		fprintf(stderr, "mysimbdp send: no node of %s serves tenant "
		    "%s\n", c->c_file, tenant);
		rc = EX_DATAERR;
	} else {
		snprintf(node, NODE_MAX, "%s", n->n_address);
		snprintf(key, CURVEKEY_Z85_LEN + 1, "%s", n->n_server_key);
	}
	conf_cluster_free(c);
	return rc;
}

/*
 * Reads --node's key files before the producer does, so that one that
 * cannot be read or holds no key exits 66 as it does for the operators'
 * commands (ctl.c), not 70 as a producer failure. Returns a sysexits
 * code.
 */
static int
check_keys(const char *key_file, const char *server_key)
{
	char err[600], pub[CURVEKEY_Z85_LEN + 1];
	struct curvekey k;
	int r;

	r = curvekey_load(key_file, true, &k, err, sizeof(err));
	explicit_bzero(&k, sizeof(k));
	if (r == 0 && curvekey_public(server_key, pub, err, sizeof(err)) == 0)
		return EX_OK;
	fprintf(stderr, "mysimbdp send: %s\n", err);
	return EX_NOINPUT;
}

/*
 * Opens the producer: on this host by the stream's socket (path), or
 * with --node over TCP and CURVE. Returns a sysexits code.
 */
static int
open_producer(const struct send_opts *o, const char *tenant,
    const char *path, struct send *s, char **endpoint)
{
	char err[512], *route = NULL;
	const char *server_key = o->o_server_key ? o->o_server_key :
	    getenv("MYSIMBDP_SERVER_KEY");
	int r;

	if (o->o_node != NULL) {
		if (o->o_key == NULL || server_key == NULL) {
			fprintf(stderr, "mysimbdp send: --node needs --key "
			    "FILE and --server-key KEY (or "
			    "$MYSIMBDP_SERVER_KEY)\n");
			return EX_USAGE;
		}
		if ((r = check_keys(o->o_key, server_key)) != EX_OK)
			return r;
		if (asprintf(endpoint, "tcp://%s", o->o_node) < 0 ||
		    asprintf(&route, "%s/%s", tenant, o->o_stream) < 0)
			return EX_SOFTWARE;
		r = msb_producer_open_remote(&s->s_prod, *endpoint, route,
		    o->o_key, server_key, (uint32_t)o->o_window, on_reply, s,
		    err, sizeof(err));
		free(route);
	} else {
		snprintf(err, sizeof(err), "streammgr is not running, or %s "
		    "has no stream \"%s\"", tenant, o->o_stream);
		if ((r = ctl_socket_check(path, err)) != EX_OK)
			return r;
		if (asprintf(endpoint, "ipc://%s", path) < 0)
			return EX_SOFTWARE;
		r = msb_producer_open(&s->s_prod, *endpoint,
		    (uint32_t)o->o_window, on_reply, s, err, sizeof(err));
	}
	if (r != MSB_OK) {
		fprintf(stderr, "mysimbdp send: %s\n", err);
		return r == MSB_TEMPFAIL ? EX_UNAVAILABLE : EX_SOFTWARE;
	}
	if (o->o_timeout_ms > 0)
		msb_producer_set_reply_timeout(s->s_prod,
		    o->o_timeout_ms > INT_MAX ? INT_MAX : (int)o->o_timeout_ms);
	return EX_OK;
}

int
cmd_send(const struct cli *cli, int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		CLI_OPT("stream", 's', CLI_OPT_STREAM, struct send_opts,
		    o_stream),
		CLI_OPT("file", 'f', CLI_OPT_STR, struct send_opts, o_file),
		CLI_OPT_FN("rate", 'r', parse_rate, struct send_opts, o_rate),
		CLI_OPT_FN("window", 'w', parse_window, struct send_opts,
		    o_window),
		CLI_OPT("json", 'j', CLI_OPT_FLAG, struct send_opts, o_json),
		CLI_OPT("timeout", 't', CLI_OPT_TIMEOUT, struct send_opts,
		    o_timeout_ms),
		PROGRESS_OPTIONS(struct send_opts, o_progress),
		CLI_OPT("node", 'n', CLI_OPT_STR, struct send_opts, o_node),
		CLI_OPT("key", 'k', CLI_OPT_STR, struct send_opts, o_key),
		CLI_OPT("server-key", 'S', CLI_OPT_STR, struct send_opts,
		    o_server_key),
		CLI_OPT("cluster", 'C', CLI_OPT_FLAG, struct send_opts,
		    o_cluster),
		CLI_OPT_END,
	};
	struct send_opts o = { .o_stream = "default" };
	char node[NODE_MAX], server_key[CURVEKEY_Z85_LEN + 1];
	struct send s = { 0 };
	struct lines in = { .l_fd = STDIN_FILENO };
	struct conf_platform *p;
	const char *tenant, *line;
	char *path = NULL, *endpoint = NULL;
	bool stopped = false;
	struct progress prog;
	struct stat st;
	int64_t start_ns;
	size_t len;
	int rc, r;

	if ((rc = cli_opts_parse(argc, argv, opts, &o)) >= 0)
		return rc;
	if (o.o_node != NULL && !cli_valid_node(argv[0], "--node", o.o_node,
	    false))
		return EX_USAGE;
	/* A bad tenant id is said once, below. */
	if (argc - optind == 1 && o.o_cluster && conf_valid_id(argv[optind])) {
		if ((rc = cluster_node(cli, argv[optind], node,
		    server_key)) != EX_OK)
			return rc;
		o.o_node = node;
		o.o_server_key = server_key;
	}
	if (o.o_node == NULL && cli->c_node != NULL) {
		o.o_node = cli->c_node;
		o.o_server_key = o.o_server_key ? o.o_server_key :
		    cli->c_server_key;
	}
	if (o.o_node != NULL && o.o_key == NULL)
		o.o_key = cli->c_key;
	if (argc - optind != 1)
		return cli_usage_error(argv[0]);
	tenant = argv[optind];
	if (!cli_valid_tenant(argv[0], tenant))
		return EX_USAGE;
	if (strchr(o.o_stream, '.') != NULL) {
		fprintf(stderr, "mysimbdp send: %s is a subscription (fan-out); "
		    "producers send to its stream, %.*s\n", o.o_stream,
		    (int)strcspn(o.o_stream, "."), o.o_stream);
		return EX_USAGE;
	}
	if (o.o_node == NULL && (o.o_key || o.o_server_key)) {
		fprintf(stderr, "mysimbdp send: --key and --server-key go "
		    "with --node\n");
		return EX_USAGE;
	}
	if (o.o_node == NULL) {
		if ((p = cli_load_platform(cli)) == NULL)
			return EX_CONFIG;
		path = state_path(p, "run/%s/%s.in", tenant, o.o_stream);
		conf_platform_free(p);
	}
	if (o.o_file && strcmp(o.o_file, "-") != 0 &&
	    (in.l_fd = open(o.o_file, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "mysimbdp send: open %s: %s\n", o.o_file,
		    strerror(errno));
		free(path);
		return errno == EACCES || errno == EPERM ? EX_NOPERM :
		    EX_NOINPUT;
	}
	if ((rc = open_producer(&o, tenant, path, &s, &endpoint)) != EX_OK)
		goto out;

	/* The total is known for a file (or a redirection) only. */
	progress_start(&prog, o.o_progress, o.o_file &&
	    strcmp(o.o_file, "-") != 0 ? o.o_file : "stdin", "messages",
	    fstat(in.l_fd, &st) == 0 &&
	    S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0);
	start_ns = clock_mono_ns();
	rc = EX_OK;
	while ((r = lines_next(&in, &line, &len)) != LINE_END) {
		progress_update(&prog, in.l_consumed, s.s_sent);
		if (r == LINE_ERROR) {
			progress_break(&prog);
			fprintf(stderr, "mysimbdp send: read %s: %s\n",
			    o.o_file ? o.o_file : "standard input",
			    strerror(errno));
			rc = EX_IOERR;
			break;
		}
		if (r == LINE_TOO_LONG) {
			progress_break(&prog);
			fprintf(stderr, "mysimbdp send: line %" PRIu64 ": %zu "
			    "bytes, more than the 16 MiB a message may have; "
			    "not sent\n", in.l_lineno, len);
			s.s_too_long++;
			continue;
		}
		if (len == 0)
			continue;
		/* It waits while the window is full, and gives up only
		 * when no reply came for the reply timeout or no streammgr
		 * took the message (here or held for a batch while pace
		 * waited): then the rest is not sent either. */
		if ((r = pace(&s, start_ns, o.o_rate)) == MSB_OK)
			r = msb_producer_send(s.s_prod, line, len, NULL);
		if (r != MSB_OK) {
			if (r == MSB_TEMPFAIL)
				stopped = true;
			else
				rc = errno == EACCES ? EX_NOPERM :
				    EX_SOFTWARE;
			progress_break(&prog);
			fprintf(stderr, "mysimbdp send: line %" PRIu64 ": %s; "
			    "sending no more\n", in.l_lineno,
			    msb_producer_error(s.s_prod));
			break;
		}
		s.s_sent++;
	}
	progress_update(&prog, in.l_consumed, s.s_sent);
	progress_finish(&prog);
	/* Up to the reply timeout since the last reply: -1. */
	if (msb_producer_flush(s.s_prod, -1) != MSB_OK && !stopped)
		fprintf(stderr, "mysimbdp send: %s\n",
		    msb_producer_error(s.s_prod));
	msb_producer_close(s.s_prod);
	print_summary(&s, o.o_json);
	/* An input that could not be read is said first. */
	if (rc == EX_OK && (s.s_rejected || s.s_too_long))
		rc = EX_DATAERR;
	else if (rc == EX_OK && (s.s_throttled ||
	    s.s_sent > answered(&s) || stopped))
		rc = EX_TEMPFAIL;
out:
	for (size_t i = 0; i < s.s_nreasons; i++)
		free(s.s_reasons[i].r_text);
	if (in.l_fd != STDIN_FILENO)
		close(in.l_fd);
	free(in.l_buf);
	free(endpoint);
	free(path);
	return rc;
}
