/*
 * Fuzz target: the configuration loader (common/conf.c). Each input is
 * written as a file and loaded both as a platform file and as a tenant
 * profile (fuzz.cfg, so its id must be "fuzz"), through libconfig and the
 * whole table-driven walk, defaults, cross-setting checks and the error
 * path; everything is freed.
 *
 * Invariants: every error names the file; a second load gives the same
 * result (the same errors, or the same settings); an accepted file has
 * every value within the bounds docs/configuration.md gives; and an
 * accepted file written back by libconfig (other spacing, one setting a
 * line) is accepted again with the same settings.
 *
 * Inputs with "@include" are skipped: libconfig would read the file they
 * name (a FIFO or /dev/zero would only hang the target).
 */
#include <arpa/inet.h>
#include <libconfig.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf.h"
#include "fuzz.h"

#define TENANT_ID	"fuzz"
#define APPS_DIR	"/apps"

/* ---- the settings, as text to compare --------------------------------- */

static void
dump_strv(FILE *f, const char *name, char **v)
{
	fprintf(f, "%s:", name);
	for (char **p = v; p && *p; p++)
		fprintf(f, " [%s]", *p);
	fputc('\n', f);
}

static void
dump_limits(FILE *f, const struct conf_limits *l)
{
	fprintf(f, "limits %llu %llu %lld %llu %lld\n",
	    (unsigned long long)l->l_cpu_ms, (unsigned long long)l->l_memory,
	    (long long)l->l_open_files, (unsigned long long)l->l_file_size,
	    (long long)l->l_processes);
}

static void
dump_tenant(FILE *f, const struct conf_tenant *t)
{
	const struct conf_batch *b = &t->t_batch;

	fprintf(f, "id %s db %s url %s user %s uid %u gid %u\n", t->t_id,
	    t->t_mongo_db, t->t_mongo_url ? t->t_mongo_url : "-",
	    t->t_user ? t->t_user : "-", (unsigned)t->t_uid,
	    (unsigned)t->t_gid);
	fprintf(f, "resources %llu %lld %lld\n",
	    (unsigned long long)t->t_resources.r_memory,
	    (long long)t->t_resources.r_cpu_percent,
	    (long long)t->t_resources.r_processes);
	fprintf(f, "batch %d size %llu quota %llu %lld %llu conc %lld "
	    "weight %lld retention %llu grace %llu\n", b->b_enabled,
	    (unsigned long long)b->b_max_file_size,
	    (unsigned long long)b->b_quota.q_window_ms,
	    (long long)b->b_quota.q_max_files,
	    (unsigned long long)b->b_quota.q_max_bytes,
	    (long long)b->b_max_concurrent, (long long)b->b_weight,
	    (unsigned long long)b->b_retention_ms,
	    (unsigned long long)b->b_partial_grace_ms);
	dump_strv(f, "formats", b->b_formats);
	for (size_t i = 0; i < b->b_napps; i++) {
		const struct conf_batch_app *a = &b->b_apps[i];

		fprintf(f, "app %s timeout %llu retries %lld stop %llu\n",
		    a->a_name, (unsigned long long)a->a_timeout_ms,
		    (long long)a->a_retries,
		    (unsigned long long)a->a_stop_timeout_ms);
		dump_strv(f, "argv", a->a_argv);
		dump_strv(f, "datasets", a->a_datasets);
		dump_limits(f, &a->a_limits);
	}
	for (size_t i = 0; i < t->t_nstreams; i++) {
		const struct conf_stream *s = &t->t_streams[i];
		const struct conf_scaling *sc = &s->s_scaling;

		fprintf(f, "stream %s inst %lld %lld %lld msg %llu queue %llu "
		    "rate %lld %s ack %llu deliveries %lld stop %llu\n",
		    s->s_name, (long long)s->s_instances.i_min,
		    (long long)s->s_instances.i_max,
		    (long long)s->s_instances.i_initial,
		    (unsigned long long)s->s_max_message_size,
		    (unsigned long long)s->s_max_queue_bytes,
		    (long long)s->s_max_messages_per_second, s->s_durability,
		    (unsigned long long)s->s_ack_timeout_ms,
		    (long long)s->s_max_deliveries,
		    (unsigned long long)s->s_stop_timeout_ms);
		dump_strv(f, "argv", s->s_argv);
		dump_limits(f, &s->s_limits);
		fprintf(f, "scaling %d %lld %llu %lld %llu %llu %llu\n",
		    sc->sc_enabled, (long long)sc->sc_target_backlog,
		    (unsigned long long)sc->sc_max_ingest_time_ms,
		    (long long)sc->sc_tolerance_pct,
		    (unsigned long long)sc->sc_scale_down_delay_ms,
		    (unsigned long long)sc->sc_cooldown_ms,
		    (unsigned long long)sc->sc_pause_after_ms);
	}
}

static void
dump_platform(FILE *f, const struct conf_platform *p)
{
	const struct conf_platform_batch *b = &p->p_batch;
	const struct conf_platform_stream *s = &p->p_stream;
	const struct conf_platform_monitor *m = &p->p_monitor;

	fprintf(f, "state %s tenants %s apps %s url %s log %s\n",
	    p->p_state_dir, p->p_tenants_dir, p->p_apps_dir, p->p_mongo_url,
	    p->p_log_level);
	fprintf(f, "batch %lld %llu %llu %llu %llu %llu\n",
	    (long long)b->pb_workers,
	    (unsigned long long)b->pb_scan_interval_ms,
	    (unsigned long long)b->pb_settle_ms,
	    (unsigned long long)b->pb_shutdown_grace_ms,
	    (unsigned long long)b->pb_retry_backoff_ms,
	    (unsigned long long)b->pb_retry_backoff_max_ms);
	fprintf(f, "stream %llu %llu %llu %llu %llu %lld %llu %llu\n",
	    (unsigned long long)s->ps_stats_interval_ms,
	    (unsigned long long)s->ps_shutdown_grace_ms,
	    (unsigned long long)s->ps_restart_backoff_ms,
	    (unsigned long long)s->ps_restart_backoff_max_ms,
	    (unsigned long long)s->ps_min_uptime_ms,
	    (long long)s->ps_crashloop_restarts,
	    (unsigned long long)s->ps_segment_size,
	    (unsigned long long)s->ps_max_memory);
	fprintf(f, "monitor %llu %d %s %lld %llu %llu %llu %lld %llu\n",
	    (unsigned long long)m->pm_interval_ms, m->pm_http,
	    m->pm_http_address, (long long)m->pm_http_port,
	    (unsigned long long)m->pm_report_ttl_ms,
	    (unsigned long long)m->pm_max_report_size,
	    (unsigned long long)m->pm_control_timeout_ms,
	    (long long)m->pm_max_reports_per_second,
	    (unsigned long long)m->pm_max_report_bytes);
}

/* ---- documented bounds ------------------------------------------------ */

#define IN(v, lo, hi) ((v) >= (lo) && (v) <= (hi))

static bool
valid_ids(char **v)
{
	for (char **p = v; p && *p; p++)
		if (!conf_valid_id(*p))
			return false;
	return true;
}

static void
check_limits(const struct conf_limits *l)
{
	FUZZ_CHECK(IN(l->l_open_files, 0, 1048576) &&
	    IN(l->l_processes, 0, 4194304), "limits out of range");
}

static void
check_batch(const struct conf_tenant *t)
{
	const struct conf_batch *b = &t->t_batch;
	const char *dflt = NULL;

	FUZZ_CHECK(b->b_formats && b->b_formats[0], "no formats");
	for (char **p = b->b_formats; *p; p++)
		FUZZ_CHECK(**p && strlen(*p) <= 16 && !strchr(*p, '.') &&
		    !strchr(*p, '/'), "format \"%s\"", *p);
	FUZZ_CHECK(b->b_max_file_size >= 1 && b->b_quota.q_window_ms >= 1000 &&
	    b->b_quota.q_max_files >= 0 && IN(b->b_max_concurrent, 1, 1024) &&
	    IN(b->b_weight, 1, 100), "batch settings out of range");
	FUZZ_CHECK(b->b_napps >= 1, "batch without apps");
	for (size_t i = 0; i < b->b_napps; i++) {
		const struct conf_batch_app *a = &b->b_apps[i];

		FUZZ_CHECK(conf_valid_id(a->a_name), "app \"%s\"", a->a_name);
		FUZZ_CHECK(a->a_argv && a->a_argv[0] && a->a_argv[0][0] == '/',
		    "app %s: argv[0] not absolute", a->a_name);
		FUZZ_CHECK(valid_ids(a->a_datasets), "app %s: datasets",
		    a->a_name);
		FUZZ_CHECK(a->a_timeout_ms >= 1 && IN(a->a_retries, 0, 100) &&
		    a->a_stop_timeout_ms <= 3600000, "app %s: out of range",
		    a->a_name);
		check_limits(&a->a_limits);
		if (a->a_datasets[0] == NULL) {
			FUZZ_CHECK(dflt == NULL, "two default apps");
			dflt = a->a_name;
		}
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(a->a_name, b->b_apps[j].a_name) != 0,
			    "app name %s twice", a->a_name);
		for (char **d = a->a_datasets; *d; d++)
			FUZZ_CHECK(a == conf_batch_app_for(t, *d),
			    "dataset %s served twice", *d);
	}
}

static void
check_stream(const struct conf_tenant *t, const struct conf_stream *s)
{
	const struct conf_instances *in = &s->s_instances;
	const struct conf_scaling *sc = &s->s_scaling;

	const struct conf_stream *of = s->s_parent;

	if (of == NULL)
		FUZZ_CHECK(conf_valid_id(s->s_name), "stream \"%s\"",
		    s->s_name);
	else
		FUZZ_CHECK(conf_valid_stream_name(s->s_name) &&
		    strncmp(s->s_name, of->s_name, strlen(of->s_name)) == 0 &&
		    s->s_name[strlen(of->s_name)] == '.' &&
		    s->s_durability == of->s_durability &&
		    s->s_max_queue_bytes == of->s_max_queue_bytes &&
		    s->s_nsubs == 0, "subscription %s of %s", s->s_name,
		    of->s_name);
	FUZZ_CHECK(conf_stream_find(t, s->s_name) == s, "stream %s twice",
	    s->s_name);
	FUZZ_CHECK(s->s_argv && s->s_argv[0] && s->s_argv[0][0] == '/',
	    "stream %s: argv[0] not absolute", s->s_name);
	FUZZ_CHECK(IN(in->i_min, 0, 1024) && IN(in->i_max, 1, 1024) &&
	    in->i_min <= in->i_initial && in->i_initial <= in->i_max,
	    "stream %s: instances %lld..%lld, %lld at start", s->s_name,
	    (long long)in->i_min, (long long)in->i_max,
	    (long long)in->i_initial);
	FUZZ_CHECK(IN(s->s_max_message_size, 1, 256u << 20) &&
	    s->s_max_queue_bytes >= 1024 &&
	    IN(s->s_max_messages_per_second, 0, 100000000) &&
	    IN(s->s_ack_timeout_ms, 100, 86400000) &&
	    IN(s->s_max_deliveries, 1, 1000) &&
	    s->s_stop_timeout_ms <= 3600000, "stream %s: out of range",
	    s->s_name);
	FUZZ_CHECK(strcmp(s->s_durability, "fsync") == 0 ||
	    strcmp(s->s_durability, "os") == 0 ||
	    strcmp(s->s_durability, "memory") == 0, "durability \"%s\"",
	    s->s_durability);
	check_limits(&s->s_limits);
	FUZZ_CHECK(!sc->sc_enabled || sc->sc_target_backlog > 0 ||
	    sc->sc_max_ingest_time_ms > 0, "scaling on nothing");
	FUZZ_CHECK(sc->sc_target_backlog >= 0 &&
	    sc->sc_max_ingest_time_ms <= 3600000 &&
	    IN(sc->sc_tolerance_pct, 0, 100) &&
	    sc->sc_scale_down_delay_ms <= 86400000 &&
	    sc->sc_cooldown_ms <= 86400000 &&
	    sc->sc_pause_after_ms <= 86400000, "stream %s: scaling out of "
	    "range", s->s_name);
}

static bool
mongo_url_ok(const char *u)
{
	return strncmp(u, "mongodb://", 10) == 0 ||
	    strncmp(u, "mongodb+srv://", 14) == 0 ||
	    strncmp(u, "file:///", 8) == 0;
}

static void
check_tenant(const struct conf_tenant *t)
{
	FUZZ_CHECK(strcmp(t->t_id, TENANT_ID) == 0, "id \"%s\"", t->t_id);
	FUZZ_CHECK(conf_valid_id(t->t_mongo_db), "mongo_db \"%s\"",
	    t->t_mongo_db);
	FUZZ_CHECK(t->t_mongo_url == NULL || mongo_url_ok(t->t_mongo_url),
	    "mongo_url \"%s\"", t->t_mongo_url);
	FUZZ_CHECK(IN(t->t_resources.r_cpu_percent, 0, 100000) &&
	    IN(t->t_resources.r_processes, 0, 4194304),
	    "resources out of range");
	if (t->t_batch.b_enabled)
		check_batch(t);
	else
		FUZZ_CHECK(t->t_batch.b_napps == 0, "apps without batch");
	for (size_t i = 0; i < t->t_nstreams; i++) {
		const struct conf_stream *st = &t->t_streams[i];

		FUZZ_CHECK(st->s_parent == NULL, "stream %s with a parent",
		    st->s_name);
		check_stream(t, st);
		for (size_t k = 0; k < st->s_nsubs; k++) {
			FUZZ_CHECK(st->s_subs[k].s_parent == st,
			    "subscription %s: parent", st->s_subs[k].s_name);
			check_stream(t, &st->s_subs[k]);
		}
	}
}

static bool
numeric_ip(const char *s)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, s, &a4) == 1 ||
	    inet_pton(AF_INET6, s, &a6) == 1;
}

static void
check_platform(const struct conf_platform *p)
{
	const struct conf_platform_batch *b = &p->p_batch;
	const struct conf_platform_stream *s = &p->p_stream;
	const struct conf_platform_monitor *m = &p->p_monitor;

	FUZZ_CHECK(p->p_state_dir[0] == '/' && p->p_tenants_dir[0] == '/' &&
	    p->p_apps_dir[0] == '/', "a relative path");
	FUZZ_CHECK(mongo_url_ok(p->p_mongo_url), "mongo_url \"%s\"",
	    p->p_mongo_url);
	FUZZ_CHECK(strcmp(p->p_log_level, "info") == 0 ||
	    strcmp(p->p_log_level, "debug") == 0, "log_level");
	FUZZ_CHECK(IN(b->pb_workers, 1, 4096) &&
	    IN(b->pb_scan_interval_ms, 100, 86400000) &&
	    b->pb_settle_ms <= 3600000 && b->pb_shutdown_grace_ms <= 3600000 &&
	    b->pb_retry_backoff_ms <= 86400000 &&
	    b->pb_retry_backoff_max_ms <= 86400000, "batch out of range");
	FUZZ_CHECK(IN(s->ps_stats_interval_ms, 100, 3600000) &&
	    s->ps_shutdown_grace_ms <= 3600000 &&
	    s->ps_restart_backoff_ms <= 3600000 &&
	    s->ps_restart_backoff_max_ms <= 86400000 &&
	    s->ps_min_uptime_ms <= 3600000 &&
	    IN(s->ps_crashloop_restarts, 1, 1000) &&
	    IN(s->ps_segment_size, 4096, 1u << 30) &&
	    s->ps_max_memory <= (UINT64_C(1) << 50), "stream out of range");
	FUZZ_CHECK(IN(m->pm_interval_ms, 100, 3600000) &&
	    numeric_ip(m->pm_http_address) && IN(m->pm_http_port, 0, 65535) &&
	    IN(m->pm_report_ttl_ms, 100, 3600000) &&
	    IN(m->pm_max_report_size, 256, 65536) &&
	    IN(m->pm_control_timeout_ms, 100, 60000) &&
	    IN(m->pm_max_reports_per_second, 0, 100000000) &&
	    m->pm_max_report_bytes <= (UINT64_C(1) << 40) &&
	    (m->pm_max_report_bytes == 0 ||
	    m->pm_max_report_bytes >= m->pm_max_report_size),
	    "monitor out of range");
}

/* ---- loading ---------------------------------------------------------- */

/* One load: the settings as text ("" when refused) and the errors. */
struct outcome {
	char		*o_dump;
	size_t		 o_len;
	struct conf_errors o_errs;
	bool		 o_ok;
};

static void
outcome_free(struct outcome *o)
{
	free(o->o_dump);
	conf_errors_free(&o->o_errs);
}

static void
check_errors(const char *file, const struct conf_errors *errs)
{
	size_t n = strlen(file);

	for (size_t i = 0; i < errs->e_count; i++)
		FUZZ_CHECK(strncmp(errs->e_msgs[i], file, n) == 0 &&
		    errs->e_msgs[i][n] == ':', "error without the file: %s",
		    errs->e_msgs[i]);
}

static void
load(const char *file, bool platform, struct outcome *o)
{
	FILE *f;

	memset(o, 0, sizeof(*o));
	f = open_memstream(&o->o_dump, &o->o_len);
	FUZZ_CHECK(f != NULL, "open_memstream");
	if (platform) {
		struct conf_platform *p = conf_platform_load(file, &o->o_errs);

		if ((o->o_ok = p != NULL)) {
			check_platform(p);
			dump_platform(f, p);
		}
		conf_platform_free(p);
	} else {
		struct conf_tenant *t = conf_tenant_load(file, APPS_DIR,
		    &o->o_errs);

		if ((o->o_ok = t != NULL)) {
			check_tenant(t);
			dump_tenant(f, t);
		}
		conf_tenant_unref(t);
	}
	fclose(f);
	FUZZ_CHECK(o->o_ok == (o->o_errs.e_count == 0), "%s with %zu errors",
	    o->o_ok ? "accepted" : "refused", o->o_errs.e_count);
	check_errors(file, &o->o_errs);
}

static bool
same(const struct outcome *a, const struct outcome *b)
{
	if (a->o_ok != b->o_ok || a->o_len != b->o_len ||
	    memcmp(a->o_dump, b->o_dump, a->o_len) != 0 ||
	    a->o_errs.e_count != b->o_errs.e_count)
		return false;
	for (size_t i = 0; i < a->o_errs.e_count; i++)
		if (strcmp(a->o_errs.e_msgs[i], b->o_errs.e_msgs[i]) != 0)
			return false;
	return true;
}

/* The file as libconfig writes it back, into copy. */
static bool
rewrite(const char *file, const char *copy)
{
	config_t cfg;
	bool ok;

	config_init(&cfg);
	ok = config_read_file(&cfg, file) == CONFIG_TRUE &&
	    config_write_file(&cfg, copy) == CONFIG_TRUE;
	config_destroy(&cfg);
	return ok;
}

static void
run(const char *file, const char *copy, bool platform)
{
	struct outcome first, second, written;

	load(file, platform, &first);
	load(file, platform, &second);
	FUZZ_CHECK(same(&first, &second), "a second load differs");
	if (first.o_ok) {
		FUZZ_CHECK(rewrite(file, copy), "libconfig cannot write back "
		    "what it read");
		load(copy, platform, &written);
		FUZZ_CHECK(written.o_ok && written.o_len == first.o_len &&
		    memcmp(written.o_dump, first.o_dump, first.o_len) == 0,
		    "written back by libconfig, it %s:\n%s", written.o_ok ?
		    "reads differently" : "is refused", written.o_ok ?
		    written.o_dump : written.o_errs.e_msgs[0]);
		outcome_free(&written);
	}
	outcome_free(&first);
	outcome_free(&second);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char file[PATH_MAX], copy_dir[PATH_MAX], tcopy[PATH_MAX],
	    pcopy[PATH_MAX];

	if (memmem(data, size, "@include", 8) != NULL)
		return 0;
	if (file[0] == '\0') {
		const char *dir = fuzz_tmpdir();

		snprintf(file, sizeof(file), "%s/%s.cfg", dir, TENANT_ID);
		snprintf(pcopy, sizeof(pcopy), "%s/written.cfg", dir);
		snprintf(copy_dir, sizeof(copy_dir), "%s/written", dir);
		snprintf(tcopy, sizeof(tcopy), "%s/%s.cfg", copy_dir,
		    TENANT_ID);
		FUZZ_CHECK(mkdir(copy_dir, 0700) == 0, "mkdir %s", copy_dir);
	}
	fuzz_write_file(file, data, size);
	run(file, pcopy, true);
	run(file, tcopy, false);
	return 0;
}
