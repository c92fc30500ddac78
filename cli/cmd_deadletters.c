/*
 * mysimbdp dead-letters: lists a tenant's dead letters (read from
 * queue/<tenant>/<stream>/dead-letters.jsonl) and, with --requeue, asks
 * streammgr to move them back into the queue.
 *
 * With --json, the listing is a JSON array of the dead letters as stored,
 * and --requeue prints streammgr's reply.
 *
 * Exit status: 0 done; 64 usage; 65 a requested id is not a dead letter
 * (or streammgr refused); 66 the tenant has no queue folder; 69, 75, 76,
 * 77 from the control request; 74 a file that cannot be read; 78 a bad
 * platform file.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "ctl.h"
#include "deadletter.h"
#include "state.h"
#include "units.h"

#define IDS_MAX 1000
#define PAYLOAD_SHOWN 40

struct dl_ids {
	uint64_t	 i_ids[IDS_MAX];
	size_t		 i_count;
};

struct dl_opts {
	const char	*o_tenant;
	const char	*o_stream;
	bool		 o_json;
	bool		 o_requeue;
	struct dl_ids	 o_ids;
	uint64_t	 o_timeout_ms;
};

static int
parse_id(const char *s, uint64_t *id)
{
	char *end;

	errno = 0;
	*id = strtoull(s, &end, 10);
	return *s >= '1' && *s <= '9' && *end == '\0' && errno == 0 ? 0 : -1;
}

/*
 * --id, repeatable: adds one to the list, once. streammgr requeues a
 * letter once however often it is named, and requeue() compares its
 * count with the ids given.
 */
static int
id_opt(const char *cmd, const char *arg, void *field)
{
	struct dl_ids *ids = field;
	uint64_t id;
	size_t k;

	if (parse_id(arg, &id) == 0) {
		for (k = 0; k < ids->i_count; k++)
			if (ids->i_ids[k] == id)
				return 0;
		if (ids->i_count < IDS_MAX) {
			ids->i_ids[ids->i_count++] = id;
			return 0;
		}
	}
	fprintf(stderr, "mysimbdp %s: --id \"%s\": must be a dead letter's "
	    "id (at most %d of them)\n", cmd, arg, IDS_MAX);
	return -1;
}

/* Returns -1 to go on, or the exit status. */
static int
parse_opts(int argc, char **argv, struct dl_opts *o)
{
	static const struct cli_opt opts[] = {
		CLI_OPT("stream", 's', CLI_OPT_STREAM, struct dl_opts,
		    o_stream),
		CLI_OPT("json", 'j', CLI_OPT_FLAG, struct dl_opts, o_json),
		CLI_OPT("requeue", 'r', CLI_OPT_FLAG, struct dl_opts,
		    o_requeue),
		CLI_OPT_FN("id", 'i', id_opt, struct dl_opts, o_ids),
		CLI_OPT("timeout", 't', CLI_OPT_TIMEOUT, struct dl_opts,
		    o_timeout_ms),
		CLI_OPT_END,
	};
	int rc;

	memset(o, 0, sizeof(*o));
	o->o_timeout_ms = CTL_TIMEOUT_MS;
	if ((rc = cli_opts_parse(argc, argv, opts, o)) >= 0)
		return rc;
	if (optind != argc - 1 || (o->o_ids.i_count > 0 && !o->o_requeue))
		return cli_usage_error(argv[0]);
	o->o_tenant = argv[optind];
	if (!cli_valid_tenant(argv[0], o->o_tenant))
		return EX_USAGE;
	return -1;
}

/* The payload for a terminal: printable ASCII, cut, the rest escaped. */
static void
print_payload(const struct dead_letter *dl)
{
	size_t k;

	if (dl->dl_binary) {
		printf("(%" PRIu32 " bytes, binary)", dl->dl_len);
		return;
	}
	for (k = 0; k < dl->dl_len && k < PAYLOAD_SHOWN; k++) {
		unsigned char c = dl->dl_payload[k];

		if (c >= 0x20 && c < 0x7f)
			putchar(c);
		else
			printf("\\x%02x", c);
	}
	if (k < dl->dl_len)
		printf("... (%" PRIu32 " bytes)", dl->dl_len);
}

struct listing {
	bool		 l_json;
	size_t		 l_count;
	size_t		 l_bad;
};

/*
 * Lists one stream's file (none: no dead letters). Returns 0, or -1 when
 * it cannot be opened or read to its end (said on stderr).
 */
static int
list_file(const char *path, const char *stream, struct listing *l)
{
	FILE *f = fopen(path, "re");
	char *line = NULL, why[200];
	size_t cap = 0, lineno = 0;
	ssize_t len;
	int rc;

	if (f == NULL && errno == ENOENT)
		return 0;
	if (f == NULL) {
		fprintf(stderr, "mysimbdp dead-letters: %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	while ((len = getline(&line, &cap, f)) > 0) {
		struct dead_letter dl;

		lineno++;
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		else if (ferror(f))
			break;	/* cut short by a read error: said below */
		if (len == 0)
			continue;
		if (dead_letter_parse(line, (size_t)len, &dl, why,
		    sizeof(why)) < 0) {
			fprintf(stderr, "mysimbdp dead-letters: %s:%zu: %s "
			    "(line kept as it is)\n", path, lineno, why);
			l->l_bad++;
			continue;
		}
		if (l->l_json)
			printf("%s%s", l->l_count ? ",\n " : "", line);
		else {
			printf("%-16s %8" PRId64 " %10" PRId32 "  %-24s  %s\n"
			    "%-16s %8s %10s  payload: ", stream, dl.dl_id,
			    dl.dl_deliveries, dl.dl_time ? dl.dl_time : "?",
			    dl.dl_reason ? dl.dl_reason : "?", "", "", "");
			print_payload(&dl);
			putchar('\n');
		}
		l->l_count++;
		dead_letter_clear(&dl);
	}
	/* getline's -1 is the end, a read error or out of memory: only
	 * the end is the whole file. */
	rc = feof(f) ? 0 : -1;
	if (rc == -1)
		fprintf(stderr, "mysimbdp dead-letters: %s: read: %s\n", path,
		    strerror(errno));
	free(line);
	fclose(f);
	return rc;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The tenant's streams with a queue folder, sorted. */
static int
queue_streams(const char *dir, char ***names, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	*names = NULL;
	*n = 0;
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		char **v;

		if (!conf_valid_stream_name(de->d_name))
			continue;
		if ((v = reallocarray(*names, *n + 1, sizeof(*v))) == NULL)
			abort();
		*names = v;
		if ((v[(*n)++] = strdup(de->d_name)) == NULL)
			abort();
	}
	closedir(d);
	qsort(*names, *n, sizeof(**names), name_cmp);
	return 0;
}

static int
list(const struct conf_platform *p, const struct dl_opts *o)
{
	char *dir = state_path(p, "queue/%s", o->o_tenant);
	struct listing l = { o->o_json, 0, 0 };
	char **names;
	size_t n;
	int rc = EX_OK;

	if (queue_streams(dir, &names, &n) < 0) {
		fprintf(stderr, "mysimbdp dead-letters: %s: %s\n", dir,
		    strerror(errno));
		free(dir);
		return errno == ENOENT ? EX_NOINPUT : errno == EACCES ?
		    EX_NOPERM : EX_IOERR;
	}
	if (o->o_json)
		printf("[");
	else
		printf("%-16s %8s %10s  %-24s  %s\n", "STREAM", "ID",
		    "DELIVERIES", "TIME", "REASON");
	for (size_t k = 0; k < n; k++) {
		char *file;

		if (o->o_stream == NULL || strcmp(o->o_stream, names[k]) == 0) {
			file = state_path(p, "queue/%s/%s/dead-letters.jsonl",
			    o->o_tenant, names[k]);
			if (list_file(file, names[k], &l) < 0)
				rc = EX_IOERR;
			free(file);
		}
		free(names[k]);
	}
	free(names);
	free(dir);
	if (o->o_json)
		printf("]\n");
	else
		printf("%zu dead letter%s%s\n", l.l_count, l.l_count == 1 ?
		    "" : "s", rc == EX_OK ? "" : " (a file could not be read)");
	return rc;
}

static int
requeue(const struct cli *cli, const struct dl_opts *o)
{
	bson_t req = BSON_INITIALIZER, *reply, arr;
	bson_iter_t it;
	int64_t done = 0, left = 0, never = 0;
	const char *full = "its bounds";
	int rc;

	BSON_APPEND_UTF8(&req, "cmd", "requeue");
	BSON_APPEND_UTF8(&req, "tenant", o->o_tenant);
	if (o->o_stream)
		BSON_APPEND_UTF8(&req, "stream", o->o_stream);
	if (o->o_ids.i_count > 0) {
		BSON_APPEND_ARRAY_BEGIN(&req, "ids", &arr);
		for (size_t k = 0; k < o->o_ids.i_count; k++) {
			char key[24];

			snprintf(key, sizeof(key), "%zu", k);
			BSON_APPEND_INT64(&arr, key,
			    (int64_t)o->o_ids.i_ids[k]);
		}
		bson_append_array_end(&req, &arr);
	}
	rc = ctl_request(cli, "streammgr", &req, o->o_timeout_ms, &reply);
	bson_destroy(&req);
	if (rc != EX_OK)
		return rc;
	if (bson_iter_init_find(&it, reply, "requeued") &&
	    BSON_ITER_HOLDS_NUMBER(&it))
		done = bson_iter_as_int64(&it);
	if (bson_iter_init_find(&it, reply, "left") &&
	    BSON_ITER_HOLDS_NUMBER(&it))
		left = bson_iter_as_int64(&it);
	if (bson_iter_init_find(&it, reply, "full") &&
	    BSON_ITER_HOLDS_UTF8(&it))
		full = bson_iter_utf8(&it, NULL);
	if (bson_iter_init_find(&it, reply, "too_large") &&
	    BSON_ITER_HOLDS_NUMBER(&it))
		never = bson_iter_as_int64(&it);
	if (o->o_json)
		cli_print_json(reply);
	else
		printf("%s%s%s: %" PRId64 " dead letter%s requeued\n",
		    o->o_tenant, o->o_stream ? "/" : "", o->o_stream ?
		    o->o_stream : "", done, done == 1 ? "" : "s");
	if (left > 0) {
		/* Not an error: they wait in the file, for a later
		 * requeue, as a THROTTLE'd message waits for its sender. */
		fprintf(stderr, "mysimbdp dead-letters: %" PRId64 " more left "
		    "in the file: the queue has no room for them (%s); "
		    "requeue them once it drains\n", left, full);
		rc = EX_TEMPFAIL;
	}
	if (never > 0) {
		/* Waiting would not help: the operator's to decide (raise
		 * the bound, or leave them). */
		fprintf(stderr, "mysimbdp dead-letters: %" PRId64 " left in "
		    "the file for good: each alone is past the stream's "
		    "max_queue_bytes or the node's stream.max_memory\n",
		    never);
		rc = EX_DATAERR;
	}
	if (bson_iter_init_find(&it, reply, "still_in_file") &&
	    BSON_ITER_HOLDS_UTF8(&it)) {
		fprintf(stderr, "mysimbdp dead-letters: requeued, but they are "
		    "still in the dead-letter file as well (%s): a second "
		    "requeue would queue them again\n",
		    bson_iter_utf8(&it, NULL));
		bson_destroy(reply);
		return EX_IOERR;
	}
	bson_destroy(reply);
	if (o->o_ids.i_count > 0 &&
	    (size_t)(done + left + never) < o->o_ids.i_count) {
		fprintf(stderr, "mysimbdp dead-letters: %zu of the ids given "
		    "are not dead letters of this stream\n",
		    o->o_ids.i_count - (size_t)(done + left + never));
		return EX_DATAERR;
	}
	return rc;
}

int
cmd_dead_letters(const struct cli *cli, int argc, char **argv)
{
	static struct dl_opts o;
	struct conf_platform *p;
	int rc;

	if ((rc = parse_opts(argc, argv, &o)) >= 0)
		return rc;
	if (o.o_requeue)
		return requeue(cli, &o);
	if ((p = cli_load_platform(cli)) == NULL)
		return EX_CONFIG;
	rc = list(p, &o);
	conf_platform_free(p);
	return rc;
}
