/*
 * Unit tests for common/conf.c: loading and validating the platform file
 * and tenant profiles. Each test writes its files into a fresh temporary
 * folder; every error must name the file, the line and the setting path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"

#define MAX_PATHS 32

struct fixture {
	char		 dir[PATH_MAX];		/* absolute, symlinks resolved */
	char		*paths[MAX_PATHS];		/* from fx_path */
	int		 npaths;
	struct conf_errors errs;
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	const char *tmp = getenv("TMPDIR");
	char tmpl[PATH_MAX];

	if (fx == NULL)
		return -1;
	snprintf(tmpl, sizeof(tmpl), "%s/mysimbdp-unit-conf-XXXXXX",
	    tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(tmpl) == NULL || realpath(tmpl, fx->dir) == NULL) {
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	conf_errors_free(&fx->errs);
	for (int i = 0; i < fx->npaths; i++)
		free(fx->paths[i]);
	nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* The absolute path of rel inside the test folder, kept in the fixture. */
static const char *
fx_path(struct fixture *fx, const char *rel)
{
	char *p;

	assert_true(fx->npaths < MAX_PATHS);
	if (asprintf(&p, "%s/%s", fx->dir, rel) < 0)
		fail_msg("asprintf failed");
	fx->paths[fx->npaths++] = p;
	return p;
}

/* Creates the folder rel (and its parents) inside the test folder. */
static const char *
fx_mkdir(struct fixture *fx, const char *rel)
{
	const char *path = fx_path(fx, rel);
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *s = buf + strlen(fx->dir) + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			fail_msg("mkdir %s: %s", buf, strerror(errno));
		*s = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", buf, strerror(errno));
	return path;
}

/* Writes text to rel inside the test folder; returns its absolute path. */
static const char *
fx_write(struct fixture *fx, const char *rel, const char *text)
{
	const char *path = fx_path(fx, rel);
	const char *slash = strrchr(rel, '/');
	FILE *f;

	if (slash != NULL) {
		char parent[PATH_MAX];

		snprintf(parent, sizeof(parent), "%.*s", (int)(slash - rel), rel);
		fx_mkdir(fx, parent);
	}
	f = fopen(path, "w");
	if (f == NULL)
		fail_msg("fopen %s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
	return path;
}

static void
dump_errors(const struct conf_errors *errs)
{
	print_error("%zu error(s):\n", errs->e_count);
	for (size_t i = 0; i < errs->e_count; i++)
		print_error("  %s\n", errs->e_msgs[i]);
}

/* Fails unless exactly n errors were collected. */
static void
expect_count(const struct conf_errors *errs, size_t n)
{
	if (errs->e_count != n) {
		dump_errors(errs);
		fail_msg("want %zu error(s), got %zu", n, errs->e_count);
	}
}

/*
 * Returns the collected error that starts with the given prefix (usually
 * "FILE:LINE: path:"); fails the test when there is none.
 */
static const char * __attribute__((__format__(__printf__, 2, 3)))
expect_error(const struct conf_errors *errs, const char *fmt, ...)
{
	char prefix[PATH_MAX + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < errs->e_count; i++)
		if (strncmp(errs->e_msgs[i], prefix, strlen(prefix)) == 0)
			return errs->e_msgs[i];
	dump_errors(errs);
	fail_msg("no error starts with \"%s\"", prefix);
	return NULL;
}

/* Like expect_error, then checks the whole message. */
static void __attribute__((__format__(__printf__, 3, 4)))
expect_message(const struct conf_errors *errs, const char *problem,
    const char *fmt, ...)
{
	char prefix[PATH_MAX + 256], want[PATH_MAX + 1024];
	const char *msg;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	msg = expect_error(errs, "%s", prefix);
	snprintf(want, sizeof(want), "%s %s", prefix, problem);
	assert_string_equal(msg, want);
}

/* Loads a tenant file that must have no errors. */
static struct conf_tenant *
load_tenant_ok(struct fixture *fx, const char *file, const char *apps_dir)
{
	struct conf_tenant *t = conf_tenant_load(file, apps_dir, &fx->errs);

	expect_count(&fx->errs, 0);
	assert_non_null(t);
	return t;
}

static struct conf_platform *
load_platform_ok(struct fixture *fx, const char *file)
{
	struct conf_platform *p = conf_platform_load(file, &fx->errs);

	expect_count(&fx->errs, 0);
	assert_non_null(p);
	return p;
}

/* A tenant file with the given batch.apps list body, and no other errors. */
static const char *
write_tenant_apps(struct fixture *fx, const char *id, const char *apps)
{
	char rel[64], text[4096];

	snprintf(rel, sizeof(rel), "tenants/%s.cfg", id);
	snprintf(text, sizeof(text),
	    "id = \"%s\";\n"			/* 1 */
	    "batch = {\n"			/* 2 */
	    "  formats = [\"csv\"];\n"		/* 3 */
	    "  apps = (\n"			/* 4 */
	    "%s"				/* 5... */
	    "  );\n"
	    "};\n", id, apps);
	return fx_write(fx, rel, text);
}

/* Platform file. */

static void
platform_file_loads_given_values(void **state)
{
	struct fixture *fx = *state;
	const char *file;
	struct conf_platform *p;
	char want[PATH_MAX * 2];

	file = fx_write(fx, "etc/mysimbdp.cfg",
	    "# platform\n"
	    "state_dir = \"state\";\n"
	    "tenants_dir = \"/srv/tenants\";\n"
	    "apps_dir = \"apps\";\n"
	    "mongo_url = \"mongodb://db.example:27017\";\n"
	    "log_level = \"debug\";\n"
	    "batch = {\n"
	    "  workers = 8;\n"
	    "  scan_interval = \"2s\";\n"
	    "  settle = \"500ms\";\n"
	    "  shutdown_grace = \"1m\";\n"
	    "  retry_backoff = \"2s\";\n"
	    "  retry_backoff_max = \"1h30m\";\n"
	    "};\n");
	p = load_platform_ok(fx, file);
	assert_string_equal(p->p_file, file);
	snprintf(want, sizeof(want), "%s/etc/state", fx->dir);
	assert_string_equal(p->p_state_dir, want);
	assert_string_equal(p->p_tenants_dir, "/srv/tenants");
	snprintf(want, sizeof(want), "%s/etc/apps", fx->dir);
	assert_string_equal(p->p_apps_dir, want);
	assert_string_equal(p->p_mongo_url, "mongodb://db.example:27017");
	assert_string_equal(p->p_log_level, "debug");
	assert_int_equal(p->p_batch.pb_workers, 8);
	assert_int_equal(p->p_batch.pb_scan_interval_ms, 2000);
	assert_int_equal(p->p_batch.pb_settle_ms, 500);
	assert_int_equal(p->p_batch.pb_shutdown_grace_ms, 60000);
	assert_int_equal(p->p_batch.pb_retry_backoff_ms, 2000);
	assert_int_equal(p->p_batch.pb_retry_backoff_max_ms, 5400000);
	conf_platform_free(p);
}

static void
platform_file_defaults_fill_missing_settings(void **state)
{
	struct fixture *fx = *state;
	const char *file;
	struct conf_platform *p;
	char want[PATH_MAX * 2];

	file = fx_write(fx, "mysimbdp.cfg", "# nothing set\n");
	p = load_platform_ok(fx, file);
	snprintf(want, sizeof(want), "%s/var", fx->dir);
	assert_string_equal(p->p_state_dir, want);
	snprintf(want, sizeof(want), "%s/tenants", fx->dir);
	assert_string_equal(p->p_tenants_dir, want);
	snprintf(want, sizeof(want), "%s/.", fx->dir);
	assert_string_equal(p->p_apps_dir, want);
	/* Without mongo_url, the embedded store under state_dir. */
	snprintf(want, sizeof(want), "file://%s/var/coredms", fx->dir);
	assert_string_equal(p->p_mongo_url, want);
	assert_string_equal(p->p_log_level, "info");
	assert_int_equal(p->p_batch.pb_workers, 4);
	assert_int_equal(p->p_batch.pb_scan_interval_ms, 5000);
	assert_int_equal(p->p_batch.pb_settle_ms, 1000);
	assert_int_equal(p->p_batch.pb_shutdown_grace_ms, 10000);
	assert_int_equal(p->p_batch.pb_retry_backoff_ms, 1000);
	assert_int_equal(p->p_batch.pb_retry_backoff_max_ms, 300000);
	assert_int_equal(p->p_stream.ps_segment_size, 64 << 20);
	/* 0: streammgr takes 40% of the machine's memory at start. */
	assert_int_equal(p->p_stream.ps_max_memory, 0);
	conf_platform_free(p);
}

static void
platform_stream_sizes_are_checked(void **state)
{
	struct fixture *fx = *state;
	const char *file;
	struct conf_platform *p;

	file = fx_write(fx, "small.cfg", "stream = { segment_size = \"64K\"; };\n");
	p = load_platform_ok(fx, file);
	assert_int_equal(p->p_stream.ps_segment_size, 64 << 10);
	conf_platform_free(p);
	file = fx_write(fx, "tiny.cfg", "stream = { segment_size = 100; };\n");
	assert_null(conf_platform_load(file, &fx->errs));
	expect_error(&fx->errs, "%s:1: stream.segment_size:", file);
	expect_count(&fx->errs, 1);
	conf_errors_free(&fx->errs);
	file = fx_write(fx, "mem.cfg", "stream = { max_memory = \"2G\"; };\n");
	p = load_platform_ok(fx, file);
	assert_int_equal(p->p_stream.ps_max_memory, UINT64_C(2) << 30);
	conf_platform_free(p);
	file = fx_write(fx, "badmem.cfg", "stream = { max_memory = \"lots\"; };\n");
	assert_null(conf_platform_load(file, &fx->errs));
	expect_error(&fx->errs, "%s:1: stream.max_memory:", file);
}

/*
 * app_logs.rate: 4M a second by default, 0 for no limit; the monitor's
 * own logs have no pipe to pace and refuse it.
 */
static void
platform_app_logs_rate(void **state)
{
	struct fixture *fx = *state;
	const char *file;
	struct conf_platform *p;

	p = load_platform_ok(fx, fx_write(fx, "none.cfg", "# defaults\n"));
	assert_int_equal(p->p_app_logs.al_rate, 4 << 20);
	assert_int_equal(p->p_monitor.pm_logs.al_rate, 0);
	conf_platform_free(p);
	p = load_platform_ok(fx, fx_write(fx, "off.cfg",
	    "app_logs = { rate = 0; };\n"));
	assert_int_equal(p->p_app_logs.al_rate, 0);
	assert_int_equal(p->p_app_logs.al_max_size, 16 << 20);
	conf_platform_free(p);
	file = fx_write(fx, "mon.cfg",
	    "monitor = { logs = { rate = \"1M\"; }; };\n");
	assert_null(conf_platform_load(file, &fx->errs));
	expect_message(&fx->errs, "unknown setting",
	    "%s:1: monitor.logs.rate:", file);
	expect_count(&fx->errs, 1);
}

/*
 * A tenant's app_logs: each setting its profile gives, the platform's
 * for the others (not the built-in defaults); the same ranges, errors
 * named by file, line and setting.
 */
static void
tenant_app_logs_override_the_platform(void **state)
{
	struct fixture *fx = *state;
	struct conf_platform *p;
	struct conf_tenant *t;
	struct conf_app_logs c;
	const char *file;

	p = load_platform_ok(fx, fx_write(fx, "mysimbdp.cfg",
	    "app_logs = { max_size = \"1M\"; backups = 5; "
	    "rate = \"1M\"; };\n"));
	t = load_tenant_ok(fx, fx_write(fx, "a.cfg", "id = \"a\";\n"), "/");
	c = conf_tenant_app_logs(p, t);
	assert_int_equal(c.al_max_size, 1 << 20);
	assert_int_equal(c.al_backups, 5);
	assert_int_equal(c.al_rate, 1 << 20);
	conf_tenant_unref(t);
	t = load_tenant_ok(fx, fx_write(fx, "b.cfg", "id = \"b\";\n"
	    "app_logs = { rate = \"16M\"; };\n"), "/");
	c = conf_tenant_app_logs(p, t);
	assert_int_equal(c.al_rate, 16 << 20);
	assert_int_equal(c.al_max_size, 1 << 20);
	assert_int_equal(c.al_backups, 5);
	conf_tenant_unref(t);
	/* 0 is a value (no limit; truncate), not "left out". */
	t = load_tenant_ok(fx, fx_write(fx, "c.cfg", "id = \"c\";\n"
	    "app_logs = { rate = 0; backups = 0; max_size = \"64M\"; };\n"),
	    "/");
	c = conf_tenant_app_logs(p, t);
	assert_int_equal(c.al_rate, 0);
	assert_int_equal(c.al_backups, 0);
	assert_int_equal(c.al_max_size, 64 << 20);
	conf_tenant_unref(t);
	conf_platform_free(p);
	file = fx_write(fx, "d.cfg", "id = \"d\";\n"
	    "app_logs = {\n  rate = \"2T\";\n  backups = 101;\n"
	    "  max_size = \"1K\";\n  level = 1;\n};\n");
	assert_null(conf_tenant_load(file, "/", &fx->errs));
	expect_count(&fx->errs, 4);
	expect_error(&fx->errs, "%s:3: app_logs.rate:", file);
	expect_error(&fx->errs, "%s:4: app_logs.backups:", file);
	expect_error(&fx->errs, "%s:5: app_logs.max_size:", file);
	expect_message(&fx->errs, "unknown setting",
	    "%s:6: app_logs.level:", file);
}

static void
platform_partial_batch_group_keeps_other_defaults(void **state)
{
	struct fixture *fx = *state;
	const char *file;
	struct conf_platform *p;

	file = fx_write(fx, "mysimbdp.cfg",
	    "batch = { workers = 2; settle = \"0\"; };\n");
	p = load_platform_ok(fx, file);
	assert_int_equal(p->p_batch.pb_workers, 2);
	assert_int_equal(p->p_batch.pb_settle_ms, 0);
	assert_int_equal(p->p_batch.pb_scan_interval_ms, 5000);
	assert_int_equal(p->p_batch.pb_retry_backoff_max_ms, 300000);
	conf_platform_free(p);
}

/* MONGO_URL of an app: the write concern the URL does not set itself,
 * the tenant's mongo_write in place of the platform's, nothing added to
 * the embedded store's URL. */
static void
app_mongo_url_write_concern(void **state)
{
	static const struct {
		const char	*url;
		const char	*want;
	} cases[] = {
		{ "mongodb://h", "mongodb://h/?w=majority&journal=true"
		    "&wtimeoutMS=10000" },
		{ "mongodb://u:p@h:1/db", "mongodb://u:p@h:1/db?w=majority"
		    "&journal=true&wtimeoutMS=10000" },
		{ "mongodb://h/?", "mongodb://h/?w=majority&journal=true"
		    "&wtimeoutMS=10000" },
		/* What the URL sets wins, whatever its case. */
		{ "mongodb://h/?W=1&wtimeoutMS=5", "mongodb://h/?W=1"
		    "&wtimeoutMS=5&journal=true" },
		{ "mongodb://h,g/?replicaSet=r&JOURNAL=false", "mongodb://h,g/"
		    "?replicaSet=r&JOURNAL=false&w=majority&wtimeoutMS=10000" },
		{ "file:///data/store", "file:///data/store" },
	};
	struct fixture *fx = *state;
	struct conf_platform *p;
	struct conf_tenant *t;
	char *url;

	p = load_platform_ok(fx, fx_write(fx, "mysimbdp.cfg", "# defaults\n"));
	t = load_tenant_ok(fx, fx_write(fx, "a.cfg", "id = \"a\";\n"), "/");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		free(t->t_mongo_url);
		t->t_mongo_url = strdup(cases[i].url);
		url = conf_tenant_app_mongo_url(p, t);
		assert_string_equal(url, cases[i].want);
		free(url);
	}
	conf_tenant_unref(t);
	/* The tenant's group replaces the platform's. */
	t = load_tenant_ok(fx, fx_write(fx, "b.cfg", "id = \"b\";\n"
	    "mongo_url = \"mongodb://h/\";\n"
	    "mongo_write = { w = \"2\"; wtimeout = \"0\"; };\n"), "/");
	url = conf_tenant_app_mongo_url(p, t);
	assert_string_equal(url, "mongodb://h/?w=2&journal=true");
	free(url);
	conf_tenant_unref(t);
	conf_platform_free(p);
	p = conf_platform_load(fx_write(fx, "bad.cfg",
	    "mongo_write = { w = \"most\"; };\n"), &fx->errs);
	assert_null(p);
	expect_count(&fx->errs, 1);
	assert_non_null(strstr(fx->errs.e_msgs[0], "mongo_write.w: \"most\": must be "
	    "\"majority\" or a number"));
	conf_errors_free(&fx->errs);
	/* Unacknowledged writes: the library would refuse the URL. */
	p = conf_platform_load(fx_write(fx, "w0.cfg",
	    "mongo_write = { w = \"0\"; journal = false; };\n"), &fx->errs);
	assert_null(p);
	expect_count(&fx->errs, 1);
	assert_non_null(strstr(fx->errs.e_msgs[0], "mongo_write.w: \"0\": must "
	    "be \"majority\" or a number of members (1-99)"));
}

static void
platform_relative_paths_resolve_against_its_folder(void **state)
{
	struct fixture *fx = *state;
	const char *file;
	struct conf_platform *p;
	char want[PATH_MAX * 2], *real;

	/* "../var2" from etc/ is the test folder's var2. */
	fx_mkdir(fx, "var2");
	file = fx_write(fx, "etc/mysimbdp.cfg",
	    "state_dir = \"../var2\";\n"
	    "apps_dir = \"..\";\n");
	p = load_platform_ok(fx, file);
	real = realpath(p->p_state_dir, NULL);
	assert_non_null(real);
	snprintf(want, sizeof(want), "%s/var2", fx->dir);
	assert_string_equal(real, want);
	free(real);
	real = realpath(p->p_apps_dir, NULL);
	assert_non_null(real);
	assert_string_equal(real, fx->dir);
	free(real);
	conf_platform_free(p);
}

static void
platform_relative_file_name_resolves_against_cwd(void **state)
{
	struct fixture *fx = *state;
	struct conf_platform *p;
	char cwd[PATH_MAX], want[PATH_MAX * 2];

	fx_write(fx, "etc/mysimbdp.cfg", "state_dir = \"state\";\n");
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(fx->dir), 0);
	p = conf_platform_load("etc/mysimbdp.cfg", &fx->errs);
	assert_int_equal(chdir(cwd), 0);
	expect_count(&fx->errs, 0);
	assert_non_null(p);
	snprintf(want, sizeof(want), "%s/etc/state", fx->dir);
	assert_string_equal(p->p_state_dir, want);
	snprintf(want, sizeof(want), "%s/etc/tenants", fx->dir);
	assert_string_equal(p->p_tenants_dir, want);
	conf_platform_free(p);

	/* A bare file name: its folder is the current one. */
	assert_int_equal(chdir(fx->dir), 0);
	assert_int_equal(chdir("etc"), 0);
	p = conf_platform_load("mysimbdp.cfg", &fx->errs);
	assert_int_equal(chdir(cwd), 0);
	expect_count(&fx->errs, 0);
	assert_non_null(p);
	snprintf(want, sizeof(want), "%s/etc/state", fx->dir);
	assert_string_equal(p->p_state_dir, want);
	conf_platform_free(p);
}

static void
platform_unknown_settings_are_reported_with_path(void **state)
{
	struct fixture *fx = *state;
	const char *file;

	file = fx_write(fx, "mysimbdp.cfg",
	    "state_dir = \"var\";\n"		/* 1 */
	    "colour = \"blue\";\n"		/* 2 */
	    "batch = {\n"			/* 3 */
	    "  workers = 2;\n"			/* 4 */
	    "  turbo = true;\n"			/* 5 */
	    "};\n");
	assert_null(conf_platform_load(file, &fx->errs));
	expect_count(&fx->errs, 2);
	expect_message(&fx->errs, "unknown setting", "%s:2: colour:", file);
	expect_message(&fx->errs, "unknown setting", "%s:5: batch.turbo:",
	    file);
}

static void
platform_wrong_types_are_reported(void **state)
{
	struct fixture *fx = *state;
	const char *file;

	file = fx_write(fx, "mysimbdp.cfg",
	    "log_level = 3;\n"			/* 1 */
	    "state_dir = [\"a\"];\n"		/* 2 */
	    "batch = {\n"			/* 3 */
	    "  workers = \"8\";\n"		/* 4 */
	    "  settle = 5;\n"			/* 5 */
	    "  shutdown_grace = true;\n"	/* 6 */
	    "  retry_backoff = 1.5;\n"		/* 7 */
	    "};\n");
	assert_null(conf_platform_load(file, &fx->errs));
	expect_count(&fx->errs, 6);
	expect_message(&fx->errs, "must be a string", "%s:1: log_level:",
	    file);
	expect_message(&fx->errs, "must be a string", "%s:2: state_dir:",
	    file);
	expect_message(&fx->errs, "must be an integer",
	    "%s:4: batch.workers:", file);
	expect_message(&fx->errs, "must be a duration string like \"30s\"",
	    "%s:5: batch.settle:", file);
	expect_message(&fx->errs, "must be a duration string like \"30s\"",
	    "%s:6: batch.shutdown_grace:", file);
	expect_message(&fx->errs, "must be a duration string like \"30s\"",
	    "%s:7: batch.retry_backoff:", file);
}

static void
platform_batch_must_be_a_group(void **state)
{
	struct fixture *fx = *state;
	const char *file;

	file = fx_write(fx, "mysimbdp.cfg",
	    "\n"
	    "batch = 4;\n");
	assert_null(conf_platform_load(file, &fx->errs));
	expect_count(&fx->errs, 1);
	expect_message(&fx->errs, "must be a group { ... }", "%s:2: batch:",
	    file);
}

static void
platform_out_of_range_values_are_reported(void **state)
{
	struct fixture *fx = *state;
	const char *file;

	file = fx_write(fx, "mysimbdp.cfg",
	    "batch = {\n"			/* 1 */
	    "  workers = 0;\n"			/* 2 */
	    "  scan_interval = \"50ms\";\n"	/* 3 */
	    "  settle = \"2h\";\n"		/* 4 */
	    "  retry_backoff_max = \"2d\";\n"	/* 5 */
	    "};\n");
	assert_null(conf_platform_load(file, &fx->errs));
	expect_count(&fx->errs, 4);
	expect_message(&fx->errs, "out of range (1 to 4096)",
	    "%s:2: batch.workers:", file);
	expect_message(&fx->errs, "out of range (100ms to 1d)",
	    "%s:3: batch.scan_interval:", file);
	expect_message(&fx->errs, "out of range (0ms to 1h)",
	    "%s:4: batch.settle:", file);
	expect_message(&fx->errs, "out of range (0ms to 1d)",
	    "%s:5: batch.retry_backoff_max:", file);
}

static void
platform_workers_upper_bound(void **state)
{
	struct fixture *fx = *state;
	const char *file;
	struct conf_platform *p;

	file = fx_write(fx, "a.cfg", "batch = { workers = 4096; };\n");
	p = load_platform_ok(fx, file);
	assert_int_equal(p->p_batch.pb_workers, 4096);
	conf_platform_free(p);

	file = fx_write(fx, "b.cfg", "batch = { workers = 4097; };\n");
	assert_null(conf_platform_load(file, &fx->errs));
	expect_count(&fx->errs, 1);
	expect_message(&fx->errs, "out of range (1 to 4096)",
	    "%s:1: batch.workers:", file);
}

static void
platform_bad_units_are_reported(void **state)
{
	struct fixture *fx = *state;
	const char *file;

	file = fx_write(fx, "mysimbdp.cfg",
	    "batch = {\n"			/* 1 */
	    "  scan_interval = \"5x\";\n"	/* 2 */
	    "  settle = \"10\";\n"		/* 3 */
	    "  shutdown_grace = \"soon\";\n"	/* 4 */
	    "};\n");
	assert_null(conf_platform_load(file, &fx->errs));
	expect_count(&fx->errs, 3);
	expect_message(&fx->errs,
	    "\"5x\": unknown duration unit (use ms, s, m, h, d, w)",
	    "%s:2: batch.scan_interval:", file);
	expect_message(&fx->errs,
	    "\"10\": missing duration unit (use ms, s, m, h, d, w)",
	    "%s:3: batch.settle:", file);
	expect_message(&fx->errs, "\"soon\": expected a number followed by a "
	    "unit (ms, s, m, h, d, w)", "%s:4: batch.shutdown_grace:", file);
}

static void
platform_string_checks_are_reported(void **state)
{
	struct fixture *fx = *state;
	const char *file;

	file = fx_write(fx, "mysimbdp.cfg",
	    "state_dir = \"\";\n"		/* 1 */
	    "mongo_url = \"http://db\";\n"	/* 2 */
	    "log_level = \"trace\";\n"		/* 3 */
	    "mongo_url2 = 1;\n");		/* 4 */
	assert_null(conf_platform_load(file, &fx->errs));
	expect_count(&fx->errs, 4);
	expect_message(&fx->errs, "\"\": must not be empty", "%s:1: state_dir:",
	    file);
	expect_message(&fx->errs, "\"http://db\": must start with mongodb://, "
	    "mongodb+srv:// or file:///", "%s:2: mongo_url:", file);
	expect_message(&fx->errs, "\"trace\": must be \"debug\" or \"info\"",
	    "%s:3: log_level:", file);
	expect_message(&fx->errs, "unknown setting", "%s:4: mongo_url2:", file);
}

static void
platform_several_errors_are_all_reported(void **state)
{
	struct fixture *fx = *state;
	const char *file;

	file = fx_write(fx, "mysimbdp.cfg",
	    "# several mistakes, one run\n"	/* 1 */
	    "state_dir = \"var\";\n"		/* 2 */
	    "verbose = true;\n"			/* 3 */
	    "log_level = \"loud\";\n"		/* 4 */
	    "batch = {\n"			/* 5 */
	    "  workers = -1;\n"			/* 6 */
	    "  scan_interval = \"1y\";\n"	/* 7 */
	    "  settle = \"1s\";\n"		/* 8 */
	    "  retry_backoff = \"fast\";\n"	/* 9 */
	    "  shutdown_grace = 10;\n"		/* 10 */
	    "};\n");
	assert_null(conf_platform_load(file, &fx->errs));
	expect_count(&fx->errs, 6);
	expect_error(&fx->errs, "%s:3: verbose: unknown setting", file);
	expect_error(&fx->errs, "%s:4: log_level: \"loud\"", file);
	expect_error(&fx->errs, "%s:6: batch.workers: out of range", file);
	expect_error(&fx->errs, "%s:7: batch.scan_interval: \"1y\"", file);
	expect_error(&fx->errs, "%s:9: batch.retry_backoff: \"fast\"", file);
	expect_error(&fx->errs, "%s:10: batch.shutdown_grace: must be", file);
}

static void
platform_syntax_error_names_file_and_line(void **state)
{
	struct fixture *fx = *state;
	const char *file;

	file = fx_write(fx, "mysimbdp.cfg",
	    "state_dir = \"var\";\n"		/* 1 */
	    "batch = {\n"			/* 2 */
	    "  workers = ;\n"			/* 3 */
	    "};\n");
	assert_null(conf_platform_load(file, &fx->errs));
	expect_count(&fx->errs, 1);
	expect_error(&fx->errs, "%s:3: syntax error", file);
}

static void
platform_duplicate_setting_is_a_syntax_error(void **state)
{
	struct fixture *fx = *state;
	const char *file;

	file = fx_write(fx, "mysimbdp.cfg",
	    "log_level = \"info\";\n"		/* 1 */
	    "\n"				/* 2 */
	    "log_level = \"debug\";\n");	/* 3 */
	assert_null(conf_platform_load(file, &fx->errs));
	expect_count(&fx->errs, 1);
	expect_error(&fx->errs, "%s:3: duplicate setting name", file);
}

static void
platform_missing_file_is_reported(void **state)
{
	struct fixture *fx = *state;
	const char *file = fx_path(fx, "nope.cfg");
	char want[PATH_MAX * 2];

	assert_null(conf_platform_load(file, &fx->errs));
	expect_count(&fx->errs, 1);
	snprintf(want, sizeof(want), "%s: cannot read: %s", file,
	    strerror(ENOENT));
	assert_string_equal(fx->errs.e_msgs[0], want);
}

static void
errors_are_appended_to_earlier_ones(void **state)
{
	struct fixture *fx = *state;
	const char *a, *b;

	a = fx_write(fx, "a.cfg", "x = 1;\n");
	b = fx_write(fx, "b.cfg", "\ny = 1;\n");
	assert_null(conf_platform_load(a, &fx->errs));
	assert_null(conf_platform_load(b, &fx->errs));
	expect_count(&fx->errs, 2);
	expect_message(&fx->errs, "unknown setting", "%s:1: x:", a);
	expect_message(&fx->errs, "unknown setting", "%s:2: y:", b);
	assert_ptr_not_equal(strstr(fx->errs.e_msgs[0], "a.cfg"), NULL);
	assert_ptr_not_equal(strstr(fx->errs.e_msgs[1], "b.cfg"), NULL);
}

/* Tenant profiles. */

static const char acme_profile[] =
    "# Tenant acme\n"					/* 1 */
    "id = \"acme\";\n"					/* 2 */
    "mongo_db = \"acme_db\";\n"				/* 3 */
    "mongo_url = \"mongodb://db.example:27017\";\n"	/* 4 */
    "batch = {\n"					/* 5 */
    "  formats = [\"csv\", \"jsonl\"];\n"		/* 6 */
    "  max_file_size = \"256M\";\n"			/* 7 */
    "  quota = { window = \"2h\"; max_files = 500; max_bytes = \"2G\"; };\n"
    "  max_concurrent = 2;\n"				/* 9 */
    "  weight = 3;\n"					/* 10 */
    "  retention = \"30d\";\n"				/* 11 */
    "  partial_grace = \"15m\";\n"			/* 12 */
    "  apps = (\n"					/* 13 */
    "    {\n"						/* 14 */
    "      name = \"listings\";\n"			/* 15 */
    "      app = [\"bin/ingest\", \"--fast\"];\n"	/* 16 */
    "      datasets = [\"listings\", \"prices\"];\n"	/* 17 */
    "      timeout = \"2m\";\n"				/* 18 */
    "      retries = 5;\n"				/* 19 */
    "      stop_timeout = \"30s\";\n"			/* 20 */
    "      limits = { cpu = \"5m\"; memory = \"1G\"; open_files = 256;\n"
    "                 file_size = \"64M\"; processes = 64; };\n"
    "    },\n"						/* 23 */
    "    {\n"						/* 24 */
    "      app = \"/usr/bin/true\";\n"			/* 25 */
    "    }\n"						/* 26 */
    "  );\n"						/* 27 */
    "};\n";						/* 28 */

static void
tenant_file_loads_given_values(void **state)
{
	struct fixture *fx = *state;
	const char *file = fx_write(fx, "tenants/acme.cfg", acme_profile);
	const char *apps_dir = fx_mkdir(fx, "apps");
	struct conf_tenant *t = load_tenant_ok(fx, file, apps_dir);
	const struct conf_batch *b = &t->t_batch;
	const struct conf_batch_app *a;
	char want[PATH_MAX * 2];

	assert_int_equal(t->t_refs, 1);
	assert_string_equal(t->t_file, file);
	assert_string_equal(t->t_id, "acme");
	assert_string_equal(t->t_mongo_db, "acme_db");
	assert_string_equal(t->t_mongo_url, "mongodb://db.example:27017");
	assert_null(t->t_user);
	assert_int_equal(t->t_uid, getuid());
	assert_int_equal(t->t_gid, getgid());

	assert_true(b->b_enabled);
	assert_string_equal(b->b_formats[0], "csv");
	assert_string_equal(b->b_formats[1], "jsonl");
	assert_null(b->b_formats[2]);
	assert_int_equal(b->b_max_file_size, 256ULL << 20);
	assert_int_equal(b->b_quota.q_window_ms, 7200000);
	assert_int_equal(b->b_quota.q_max_files, 500);
	assert_int_equal(b->b_quota.q_max_bytes, 2ULL << 30);
	assert_int_equal(b->b_max_concurrent, 2);
	assert_int_equal(b->b_weight, 3);
	assert_int_equal(b->b_retention_ms, 30ULL * 86400000);
	assert_int_equal(b->b_partial_grace_ms, 900000);
	assert_int_equal(b->b_napps, 2);

	a = &b->b_apps[0];
	assert_string_equal(a->a_name, "listings");
	snprintf(want, sizeof(want), "%s/bin/ingest", apps_dir);
	assert_string_equal(a->a_argv[0], want);
	assert_string_equal(a->a_argv[1], "--fast");
	assert_null(a->a_argv[2]);
	assert_string_equal(a->a_datasets[0], "listings");
	assert_string_equal(a->a_datasets[1], "prices");
	assert_null(a->a_datasets[2]);
	assert_int_equal(a->a_timeout_ms, 120000);
	assert_int_equal(a->a_retries, 5);
	assert_int_equal(a->a_stop_timeout_ms, 30000);
	assert_int_equal(a->a_limits.l_cpu_ms, 300000);
	assert_int_equal(a->a_limits.l_memory, 1ULL << 30);
	assert_int_equal(a->a_limits.l_open_files, 256);
	assert_int_equal(a->a_limits.l_file_size, 64ULL << 20);
	assert_int_equal(a->a_limits.l_processes, 64);

	/* The second app: defaults, and an absolute program kept as is. */
	a = &b->b_apps[1];
	assert_string_equal(a->a_name, "default");
	assert_string_equal(a->a_argv[0], "/usr/bin/true");
	assert_null(a->a_argv[1]);
	assert_non_null(a->a_datasets);
	assert_null(a->a_datasets[0]);
	assert_int_equal(a->a_timeout_ms, 600000);
	assert_int_equal(a->a_retries, 3);
	assert_int_equal(a->a_stop_timeout_ms, 10000);
	assert_int_equal(a->a_limits.l_cpu_ms, 0);
	assert_int_equal(a->a_limits.l_memory, 0);
	assert_int_equal(a->a_limits.l_open_files, 0);
	assert_int_equal(a->a_limits.l_file_size, 0);
	assert_int_equal(a->a_limits.l_processes, 0);
	conf_tenant_unref(t);
}

static void
tenant_file_defaults_fill_missing_settings(void **state)
{
	struct fixture *fx = *state;
	const char *file;
	struct conf_tenant *t;
	const struct conf_batch *b;

	file = fx_write(fx, "mini.cfg",
	    "id = \"mini\";\n"
	    "batch = {\n"
	    "  formats = [\"csv\"];\n"
	    "  apps = ( { app = \"run\"; } );\n"
	    "};\n");
	t = load_tenant_ok(fx, file, "/opt/apps");
	b = &t->t_batch;
	assert_string_equal(t->t_mongo_db, "mini");	/* the id */
	assert_null(t->t_mongo_url);
	assert_null(t->t_user);
	assert_true(b->b_enabled);
	assert_int_equal(b->b_max_file_size, 1ULL << 30);
	assert_int_equal(b->b_quota.q_window_ms, 3600000);
	assert_int_equal(b->b_quota.q_max_files, 0);
	assert_int_equal(b->b_quota.q_max_bytes, 0);
	assert_int_equal(b->b_max_concurrent, 1);
	assert_int_equal(b->b_weight, 1);
	assert_int_equal(b->b_retention_ms, 7ULL * 86400000);
	assert_int_equal(b->b_partial_grace_ms, 3600000);
	assert_int_equal(b->b_napps, 1);
	assert_string_equal(b->b_apps[0].a_name, "default");
	assert_string_equal(b->b_apps[0].a_argv[0], "/opt/apps/run");
	assert_null(b->b_apps[0].a_argv[1]);
	assert_null(b->b_apps[0].a_datasets[0]);
	assert_int_equal(b->b_apps[0].a_timeout_ms, 600000);
	assert_int_equal(b->b_apps[0].a_retries, 3);
	assert_int_equal(b->b_apps[0].a_stop_timeout_ms, 10000);
	conf_tenant_unref(t);
}

static void
tenant_without_batch_group_has_batch_disabled(void **state)
{
	struct fixture *fx = *state;
	const char *file = fx_write(fx, "idle.cfg", "id = \"idle\";\n");
	struct conf_tenant *t = load_tenant_ok(fx, file, "/opt/apps");

	assert_false(t->t_batch.b_enabled);
	assert_int_equal(t->t_batch.b_napps, 0);
	assert_null(t->t_batch.b_apps);
	assert_null(conf_batch_app_for(t, ""));
	assert_null(conf_batch_app_for(t, "cases"));
	conf_tenant_unref(t);
}

static void
tenant_sizes_accept_plain_integers(void **state)
{
	struct fixture *fx = *state;
	const char *file;
	struct conf_tenant *t;

	file = fx_write(fx, "ints.cfg",
	    "id = \"ints\";\n"
	    "batch = {\n"
	    "  formats = [\"csv\"];\n"
	    "  max_file_size = 1048576;\n"
	    "  quota = { max_bytes = 5000000000L; max_files = 7; };\n"
	    "  apps = ( { app = \"run\"; limits = { memory = 4096; }; } );\n"
	    "};\n");
	t = load_tenant_ok(fx, file, "/opt/apps");
	assert_int_equal(t->t_batch.b_max_file_size, 1048576);
	assert_int_equal(t->t_batch.b_quota.q_max_bytes, 5000000000ULL);
	assert_int_equal(t->t_batch.b_quota.q_max_files, 7);
	assert_int_equal(t->t_batch.b_apps[0].a_limits.l_memory, 4096);
	conf_tenant_unref(t);
}

/*
 * libconfig 1.5 reads an integer literal without the L suffix as 32 bits
 * and wraps larger ones (5000000000 would load as 705032704): conf.c must
 * refuse such a literal, naming the line, rather than take the wrapped
 * value.
 */
static void
tenant_size_integer_beyond_32_bits_is_not_wrapped(void **state)
{
	struct fixture *fx = *state;
	const char *file;
	struct conf_tenant *t;
	uint64_t max_bytes;

	file = fx_write(fx, "big.cfg",
	    "id = \"big\";\n"
	    "batch = {\n"
	    "  formats = [\"csv\"];\n"
	    "  quota = { max_bytes = 5000000000; };\n"
	    "  apps = ( { app = \"run\"; } );\n"
	    "};\n");
	t = conf_tenant_load(file, "/opt/apps", &fx->errs);
	/* Either read exactly or refused with an error on line 4. */
	if (t == NULL) {
		expect_count(&fx->errs, 1);
		expect_error(&fx->errs, "%s:4: batch.quota.max_bytes:", file);
		return;
	}
	expect_count(&fx->errs, 0);
	max_bytes = t->t_batch.b_quota.q_max_bytes;
	conf_tenant_unref(t);
	assert_int_equal(max_bytes, 5000000000ULL);
}

static void
tenant_user_is_looked_up(void **state)
{
	struct fixture *fx = *state;
	const char *file;
	struct conf_tenant *t;

	const struct passwd *pw = getpwnam("nobody");

	assert_non_null(pw);
	file = fx_write(fx, "owned.cfg",
	    "id = \"owned\";\n"
	    "user = \"nobody\";\n");
	t = load_tenant_ok(fx, file, "/opt/apps");
	assert_string_equal(t->t_user, "nobody");
	assert_int_equal(t->t_uid, pw->pw_uid);
	assert_int_equal(t->t_gid, pw->pw_gid);
	conf_tenant_unref(t);

	/* Root would run the tenant's apps with the daemons' rights. */
	file = fx_write(fx, "rooted.cfg",
	    "id = \"rooted\";\n"
	    "user = \"root\";\n");
	assert_null(conf_tenant_load(file, "/opt/apps", &fx->errs));
	expect_count(&fx->errs, 1);
	expect_message(&fx->errs, "\"root\": is root or in group root: the "
	    "tenant's apps would reach every tenant's files; name an "
	    "unprivileged user", "%s:2: user:", file);
	conf_errors_free(&fx->errs);

	file = fx_write(fx, "ghost.cfg",
	    "id = \"ghost\";\n"
	    "user = \"no-such-user-mysimbdp\";\n");
	assert_null(conf_tenant_load(file, "/opt/apps", &fx->errs));
	expect_count(&fx->errs, 1);
	expect_message(&fx->errs, "\"no-such-user-mysimbdp\": no such user on "
	    "this system", "%s:2: user:", file);
}

/* The tenant's cgroup limits: all 0 (none) by default, bounded. */
static void
tenant_resources_group(void **state)
{
	struct fixture *fx = *state;
	const char *file;
	struct conf_tenant *t;

	file = fx_write(fx, "plain.cfg", "id = \"plain\";\n");
	t = load_tenant_ok(fx, file, "/opt/apps");
	assert_int_equal(t->t_resources.r_memory, 0);
	assert_int_equal(t->t_resources.r_cpu_percent, 0);
	assert_int_equal(t->t_resources.r_processes, 0);
	conf_tenant_unref(t);

	file = fx_write(fx, "capped.cfg",
	    "id = \"capped\";\n"
	    "resources = { memory = \"2G\"; cpu_percent = 150; "
	    "processes = 256; };\n");
	t = load_tenant_ok(fx, file, "/opt/apps");
	assert_int_equal(t->t_resources.r_memory, 2ULL << 30);
	assert_int_equal(t->t_resources.r_cpu_percent, 150);
	assert_int_equal(t->t_resources.r_processes, 256);
	conf_tenant_unref(t);

	file = fx_write(fx, "greedy.cfg",
	    "id = \"greedy\";\n"
	    "resources = { cpu_percent = 100001; };\n");
	assert_null(conf_tenant_load(file, "/opt/apps", &fx->errs));
	expect_count(&fx->errs, 1);
	expect_error(&fx->errs, "%s:2: resources.cpu_percent:", file);
}

static void
tenant_app_argv_resolves_against_apps_dir(void **state)
{
	struct fixture *fx = *state;
	const char *file;
	struct conf_tenant *t;

	file = write_tenant_apps(fx, "paths",
	    "    { name = \"a\"; app = \"tenants/x/load\"; datasets = [\"a\"]; },\n"
	    "    { name = \"b\"; app = [\"./load\", \"rel/arg\"]; datasets = [\"b\"]; },\n"
	    "    { name = \"c\"; app = [\"/bin/sh\", \"-c\", \"x\"]; }\n");
	t = load_tenant_ok(fx, file, "/srv/mysimbdp");
	assert_string_equal(t->t_batch.b_apps[0].a_argv[0],
	    "/srv/mysimbdp/tenants/x/load");
	assert_string_equal(t->t_batch.b_apps[1].a_argv[0],
	    "/srv/mysimbdp/./load");
	/* Only the program is resolved, not its arguments. */
	assert_string_equal(t->t_batch.b_apps[1].a_argv[1], "rel/arg");
	assert_string_equal(t->t_batch.b_apps[2].a_argv[0], "/bin/sh");
	assert_string_equal(t->t_batch.b_apps[2].a_argv[2], "x");
	conf_tenant_unref(t);
}

static void
tenant_platform_apps_dir_resolves_tenant_programs(void **state)
{
	struct fixture *fx = *state;
	const char *pfile;
	struct conf_platform *p;
	struct conf_tenant_set set;
	char want[PATH_MAX * 2];

	pfile = fx_write(fx, "etc/mysimbdp.cfg",
	    "tenants_dir = \"tenants\";\n"
	    "apps_dir = \"..\";\n");
	fx_write(fx, "etc/tenants/acme.cfg",
	    "id = \"acme\";\n"
	    "batch = { formats = [\"csv\"];\n"
	    "  apps = ( { app = \"tenants/acme/load\"; } ); };\n");
	p = load_platform_ok(fx, pfile);
	assert_int_equal(conf_tenants_load(p->p_tenants_dir, p->p_apps_dir,
	    &set, &fx->errs), 0);
	expect_count(&fx->errs, 0);
	assert_int_equal(set.ts_count, 1);
	snprintf(want, sizeof(want), "%s/etc/../tenants/acme/load", fx->dir);
	assert_string_equal(set.ts_tenants[0]->t_batch.b_apps[0].a_argv[0],
	    want);
	/* The tenant has no mongo_url: it gets the platform's. */
	assert_ptr_equal(conf_tenant_mongo_url(p, set.ts_tenants[0]),
	    p->p_mongo_url);
	conf_tenant_set_free(&set);
	conf_platform_free(p);
}

static void
tenant_mongo_url_overrides_platform(void **state)
{
	struct fixture *fx = *state;
	const char *pfile = fx_write(fx, "mysimbdp.cfg", "\n");
	const char *tfile = fx_write(fx, "tenants/acme.cfg", acme_profile);
	struct conf_platform *p = load_platform_ok(fx, pfile);
	struct conf_tenant *t = load_tenant_ok(fx, tfile, "/opt");

	assert_string_equal(conf_tenant_mongo_url(p, t),
	    "mongodb://db.example:27017");
	conf_tenant_unref(t);
	conf_platform_free(p);
}

static void
tenant_ref_keeps_profile_alive(void **state)
{
	struct fixture *fx = *state;
	const char *file = fx_write(fx, "tenants/acme.cfg", acme_profile);
	struct conf_tenant *t = load_tenant_ok(fx, file, "/opt");

	assert_ptr_equal(conf_tenant_ref(t), t);
	assert_int_equal(t->t_refs, 2);
	conf_tenant_unref(t);
	assert_int_equal(t->t_refs, 1);
	assert_string_equal(t->t_id, "acme");	/* still usable */
	conf_tenant_unref(t);
	conf_tenant_unref(NULL);
}

static void
batch_app_for_maps_datasets_and_top_level(void **state)
{
	struct fixture *fx = *state;
	const char *file = fx_write(fx, "tenants/acme.cfg", acme_profile);
	struct conf_tenant *t = load_tenant_ok(fx, file, "/opt");
	const struct conf_batch_app *a;

	a = conf_batch_app_for(t, "listings");
	assert_ptr_equal(a, &t->t_batch.b_apps[0]);
	a = conf_batch_app_for(t, "prices");
	assert_ptr_equal(a, &t->t_batch.b_apps[0]);
	a = conf_batch_app_for(t, "");
	assert_ptr_equal(a, &t->t_batch.b_apps[1]);
	assert_null(conf_batch_app_for(t, "other"));
	assert_null(conf_batch_app_for(t, "listing"));
	conf_tenant_unref(t);
}

static void
batch_app_for_top_level_without_default_app(void **state)
{
	struct fixture *fx = *state;
	const char *file;
	struct conf_tenant *t;

	file = write_tenant_apps(fx, "sets",
	    "    { name = \"a\"; app = \"a\"; datasets = [\"x\"]; },\n"
	    "    { name = \"b\"; app = \"b\"; datasets = [\"y\", \"z\"]; }\n");
	t = load_tenant_ok(fx, file, "/opt");
	assert_null(conf_batch_app_for(t, ""));
	assert_ptr_equal(conf_batch_app_for(t, "x"), &t->t_batch.b_apps[0]);
	assert_ptr_equal(conf_batch_app_for(t, "z"), &t->t_batch.b_apps[1]);
	conf_tenant_unref(t);
}

static void
tenant_bad_id_is_reported(void **state)
{
	struct fixture *fx = *state;
	const char *file;

	file = fx_write(fx, "Acme.cfg",
	    "# upper case is not allowed\n"
	    "id = \"Acme\";\n");
	assert_null(conf_tenant_load(file, "/opt", &fx->errs));
	expect_count(&fx->errs, 1);
	expect_message(&fx->errs, "\"Acme\": must be 1 to 32 characters from "
	    "a-z, 0-9, '_' and '-'", "%s:2: id:", file);
}

static void
tenant_id_must_match_file_name(void **state)
{
	struct fixture *fx = *state;
	const char *file;

	file = fx_write(fx, "tenants/acme.cfg",
	    "\n"
	    "\n"
	    "id = \"globex\";\n");
	assert_null(conf_tenant_load(file, "/opt", &fx->errs));
	expect_count(&fx->errs, 1);
	expect_message(&fx->errs, "\"globex\" does not match the file name "
	    "(expected \"acme\")", "%s:3: id:", file);
}

static void
tenant_missing_id_is_reported(void **state)
{
	struct fixture *fx = *state;
	const char *file;

	file = fx_write(fx, "anon.cfg", "mongo_db = \"anon\";\n");
	assert_null(conf_tenant_load(file, "/opt", &fx->errs));
	expect_count(&fx->errs, 1);
	/* The root group has no line of its own. */
	expect_message(&fx->errs, "missing required setting", "%s: id:", file);
}

static void
tenant_missing_required_batch_settings_are_reported(void **state)
{
	struct fixture *fx = *state;
	const char *file;

	file = fx_write(fx, "req.cfg",
	    "id = \"req\";\n"			/* 1 */
	    "batch = {\n"			/* 2 */
	    "  weight = 2;\n"			/* 3 */
	    "};\n");
	assert_null(conf_tenant_load(file, "/opt", &fx->errs));
	expect_count(&fx->errs, 2);
	expect_message(&fx->errs, "missing required setting",
	    "%s:2: batch.formats:", file);
	expect_message(&fx->errs, "missing required setting",
	    "%s:2: batch.apps:", file);
}

static void
tenant_app_without_program_is_reported(void **state)
{
	struct fixture *fx = *state;
	const char *file;

	file = write_tenant_apps(fx, "noapp",
	    "    {\n"				/* 5 */
	    "      name = \"a\";\n"		/* 6 */
	    "    },\n"				/* 7 */
	    "    {\n"				/* 8 */
	    "      app = [];\n"			/* 9 */
	    "      datasets = [\"x\"];\n"	/* 10 */
	    "    },\n"				/* 11 */
	    "    {\n"				/* 12 */
	    "      app = \"\";\n"		/* 13 */
	    "      name = \"c\";\n"		/* 14 */
	    "      datasets = [\"y\"];\n"	/* 15 */
	    "    }\n");
	assert_null(conf_tenant_load(file, "/opt", &fx->errs));
	expect_count(&fx->errs, 3);
	expect_message(&fx->errs, "missing required setting",
	    "%s:5: batch.apps[0].app:", file);
	expect_message(&fx->errs, "must name a program",
	    "%s:9: batch.apps[1].app:", file);
	expect_message(&fx->errs, "must name a program",
	    "%s:13: batch.apps[2].app:", file);
}

static void
tenant_unknown_settings_are_reported_with_path(void **state)
{
	struct fixture *fx = *state;
	const char *file;

	file = write_tenant_apps(fx, "unk",
	    "    {\n"				/* 5 */
	    "      app = \"run\";\n"		/* 6 */
	    "      nice = 10;\n"		/* 7 */
	    "      limits = { cpu = \"1s\"; gpu = 1; };\n"	/* 8 */
	    "    }\n");
	assert_null(conf_tenant_load(file, "/opt", &fx->errs));
	expect_count(&fx->errs, 2);
	expect_message(&fx->errs, "unknown setting",
	    "%s:7: batch.apps[0].nice:", file);
	expect_message(&fx->errs, "unknown setting",
	    "%s:8: batch.apps[0].limits.gpu:", file);
}

static void
tenant_wrong_types_are_reported(void **state)
{
	struct fixture *fx = *state;
	const char *file;

	file = fx_write(fx, "types.cfg",
	    "id = \"types\";\n"			/* 1 */
	    "batch = {\n"			/* 2 */
	    "  formats = \"csv\";\n"		/* 3 */
	    "  quota = 5;\n"			/* 4 */
	    "  max_concurrent = \"2\";\n"	/* 5 */
	    "  max_file_size = true;\n"		/* 6 */
	    "  apps = { app = \"run\"; };\n"	/* 7 */
	    "};\n");
	assert_null(conf_tenant_load(file, "/opt", &fx->errs));
	expect_count(&fx->errs, 5);
	expect_message(&fx->errs, "must be an array of strings like "
	    "[\"a\", \"b\"]", "%s:3: batch.formats:", file);
	expect_message(&fx->errs, "must be a group { ... }",
	    "%s:4: batch.quota:", file);
	expect_message(&fx->errs, "must be an integer",
	    "%s:5: batch.max_concurrent:", file);
	expect_message(&fx->errs, "must be a size string like \"64M\"",
	    "%s:6: batch.max_file_size:", file);
	expect_message(&fx->errs, "must be a list of groups ( { ... }, ... )",
	    "%s:7: batch.apps:", file);
}

static void
tenant_out_of_range_values_are_reported(void **state)
{
	struct fixture *fx = *state;
	const char *file;

	file = fx_write(fx, "range.cfg",
	    "id = \"range\";\n"			/* 1 */
	    "batch = {\n"			/* 2 */
	    "  formats = [\"csv\"];\n"		/* 3 */
	    "  max_file_size = \"0\";\n"	/* 4 */
	    "  quota = { window = \"500ms\"; max_files = -1; };\n"	/* 5 */
	    "  max_concurrent = 2000;\n"	/* 6 */
	    "  weight = 0;\n"			/* 7 */
	    "  apps = (\n"			/* 8 */
	    "    {\n"				/* 9 */
	    "      app = \"run\";\n"		/* 10 */
	    "      timeout = \"0\";\n"		/* 11 */
	    "      retries = 101;\n"		/* 12 */
	    "      stop_timeout = \"2h\";\n"	/* 13 */
	    "      limits = { open_files = 2000000; };\n"	/* 14 */
	    "    }\n"
	    "  );\n"
	    "};\n");
	assert_null(conf_tenant_load(file, "/opt", &fx->errs));
	expect_count(&fx->errs, 9);
	expect_message(&fx->errs, "out of range (must be at least 1B)",
	    "%s:4: batch.max_file_size:", file);
	expect_message(&fx->errs, "out of range (must be at least 1s)",
	    "%s:5: batch.quota.window:", file);
	expect_message(&fx->errs, "out of range (must be at least 0)",
	    "%s:5: batch.quota.max_files:", file);
	expect_message(&fx->errs, "out of range (1 to 1024)",
	    "%s:6: batch.max_concurrent:", file);
	expect_message(&fx->errs, "out of range (1 to 100)",
	    "%s:7: batch.weight:", file);
	expect_message(&fx->errs, "out of range (must be at least 1ms)",
	    "%s:11: batch.apps[0].timeout:", file);
	expect_message(&fx->errs, "out of range (0 to 100)",
	    "%s:12: batch.apps[0].retries:", file);
	expect_message(&fx->errs, "out of range (0ms to 1h)",
	    "%s:13: batch.apps[0].stop_timeout:", file);
	expect_message(&fx->errs, "out of range (0 to 1048576)",
	    "%s:14: batch.apps[0].limits.open_files:", file);
}

static void
tenant_bad_units_are_reported(void **state)
{
	struct fixture *fx = *state;
	const char *file;

	file = fx_write(fx, "units.cfg",
	    "id = \"units\";\n"			/* 1 */
	    "batch = {\n"			/* 2 */
	    "  formats = [\"csv\"];\n"		/* 3 */
	    "  max_file_size = \"10Q\";\n"	/* 4 */
	    "  retention = \"7 days\";\n"	/* 5 */
	    "  apps = ( {\n"			/* 6 */
	    "    app = \"run\";\n"		/* 7 */
	    "    limits = { memory = \"lots\"; cpu = \"1M\"; };\n"	/* 8 */
	    "  } );\n"
	    "};\n");
	assert_null(conf_tenant_load(file, "/opt", &fx->errs));
	expect_count(&fx->errs, 4);
	expect_message(&fx->errs,
	    "\"10Q\": unknown size unit (use B, K, M, G or T)",
	    "%s:4: batch.max_file_size:", file);
	expect_message(&fx->errs,
	    "\"7 days\": missing duration unit (use ms, s, m, h, d, w)",
	    "%s:5: batch.retention:", file);
	expect_message(&fx->errs, "\"lots\": expected a number with an "
	    "optional unit (B, K, M, G, T)",
	    "%s:8: batch.apps[0].limits.memory:", file);
	expect_message(&fx->errs,
	    "\"1M\": unknown duration unit (use ms, s, m, h, d, w)",
	    "%s:8: batch.apps[0].limits.cpu:", file);
}

static void
tenant_bad_formats_and_dataset_ids_are_reported(void **state)
{
	struct fixture *fx = *state;
	const char *file;

	file = fx_write(fx, "ids.cfg",
	    "id = \"ids\";\n"			/* 1 */
	    "batch = {\n"			/* 2 */
	    "  formats = [\"csv\",\n"		/* 3 */
	    "             \".json\"];\n"	/* 4 */
	    "  apps = ( {\n"			/* 5 */
	    "    name = \"Main App\";\n"	/* 6 */
	    "    app = \"run\";\n"		/* 7 */
	    "    datasets = [\"cases\", \"Cases\"];\n"	/* 8 */
	    "  } );\n"
	    "};\n");
	assert_null(conf_tenant_load(file, "/opt", &fx->errs));
	expect_count(&fx->errs, 3);
	expect_message(&fx->errs, "\".json\": must be a file extension without "
	    "the dot, like \"csv\"", "%s:4: batch.formats:", file);
	expect_message(&fx->errs, "\"Main App\": must be 1 to 32 characters "
	    "from a-z, 0-9, '_' and '-'", "%s:6: batch.apps[0].name:", file);
	expect_message(&fx->errs, "\"Cases\": must be 1 to 32 characters "
	    "from a-z, 0-9, '_' and '-'", "%s:8: batch.apps[0].datasets:",
	    file);
}

static void
tenant_empty_apps_list_is_reported(void **state)
{
	struct fixture *fx = *state;
	const char *file;

	file = fx_write(fx, "none.cfg",
	    "id = \"none\";\n"
	    "batch = {\n"
	    "  formats = [\"csv\"];\n"
	    "  apps = ();\n"
	    "};\n");
	assert_null(conf_tenant_load(file, "/opt", &fx->errs));
	expect_count(&fx->errs, 1);
	expect_message(&fx->errs, "must not be empty", "%s:4: batch.apps:",
	    file);
}

static void
tenant_two_default_apps_are_reported(void **state)
{
	struct fixture *fx = *state;
	const char *file;

	file = write_tenant_apps(fx, "dflt",
	    "    {\n"				/* 5 */
	    "      name = \"first\";\n"		/* 6 */
	    "      app = \"a\";\n"		/* 7 */
	    "    },\n"				/* 8 */
	    "    {\n"				/* 9 */
	    "      name = \"second\";\n"	/* 10 */
	    "      app = \"b\";\n"		/* 11 */
	    "    }\n");
	assert_null(conf_tenant_load(file, "/opt", &fx->errs));
	expect_count(&fx->errs, 1);
	expect_message(&fx->errs, "apps \"first\" and \"second\" both serve "
	    "top-level files (give one of them datasets)",
	    "%s:9: batch.apps[1]:", file);
}

static void
tenant_dataset_served_twice_is_reported(void **state)
{
	struct fixture *fx = *state;
	const char *file;

	file = write_tenant_apps(fx, "twice",
	    "    {\n"				/* 5 */
	    "      name = \"a\";\n"		/* 6 */
	    "      app = \"a\";\n"		/* 7 */
	    "      datasets = [\"cases\", \"deaths\"];\n"	/* 8 */
	    "    },\n"				/* 9 */
	    "    {\n"				/* 10 */
	    "      name = \"b\";\n"		/* 11 */
	    "      app = \"b\";\n"		/* 12 */
	    "      datasets = [\"tests\", \"cases\"];\n"	/* 13 */
	    "    }\n");
	assert_null(conf_tenant_load(file, "/opt", &fx->errs));
	expect_count(&fx->errs, 1);
	expect_message(&fx->errs, "dataset \"cases\" is served by \"a\" "
	    "already", "%s:10: batch.apps[1]:", file);
}

static void
tenant_duplicate_app_name_is_reported(void **state)
{
	struct fixture *fx = *state;
	const char *file;

	file = write_tenant_apps(fx, "names",
	    "    { name = \"x\"; app = \"a\"; },\n"			/* 5 */
	    "    { name = \"x\"; app = \"b\"; datasets = [\"d\"]; }\n");	/* 6 */
	assert_null(conf_tenant_load(file, "/opt", &fx->errs));
	expect_count(&fx->errs, 1);
	expect_message(&fx->errs, "name \"x\" is used twice",
	    "%s:6: batch.apps[1]:", file);
}

/* A batch app named stream-x beside a stream x: one log for both. */
static void
tenant_app_named_like_a_stream_log_is_reported(void **state)
{
	struct fixture *fx = *state;
	const char *file;

	file = fx_write(fx, "tenants/logs.cfg",
	    "id = \"logs\";\n"						/* 1 */
	    "batch = { formats = [\"csv\"]; apps = (\n"			/* 2 */
	    "  { name = \"stream-x\"; app = \"a\"; },\n"			/* 3 */
	    "  { name = \"stream-y\"; app = \"b\"; datasets = [\"d\"]; }\n"	/* 4 */
	    "); };\n"
	    "streams = ( { name = \"x\"; app = \"s\"; } );\n");
	assert_null(conf_tenant_load(file, "/opt", &fx->errs));
	expect_count(&fx->errs, 1);
	expect_message(&fx->errs, "name \"stream-x\" is the log of stream "
	    "\"x\" (log/logs/stream-x.log): name the app otherwise",
	    "%s:3: batch.apps[0]:", file);
}

static void
tenant_several_errors_are_all_reported(void **state)
{
	struct fixture *fx = *state;
	const char *file;

	/* Table errors and cross-setting errors in one run. */
	file = fx_write(fx, "tenants/many.cfg",
	    "id = \"other\";\n"			/* 1 */
	    "colour = \"red\";\n"		/* 2 */
	    "batch = {\n"			/* 3 */
	    "  formats = [\"csv\"];\n"		/* 4 */
	    "  weight = 1000;\n"		/* 5 */
	    "  apps = (\n"			/* 6 */
	    "    { app = \"a\"; retries = \"3\"; },\n"	/* 7 */
	    "    { app = \"b\"; timeout = \"1x\"; }\n"	/* 8 */
	    "  );\n"
	    "};\n");
	assert_null(conf_tenant_load(file, "/opt", &fx->errs));
	expect_count(&fx->errs, 7);
	expect_error(&fx->errs, "%s:1: id: \"other\" does not match", file);
	expect_error(&fx->errs, "%s:2: colour: unknown setting", file);
	expect_error(&fx->errs, "%s:5: batch.weight: out of range", file);
	expect_error(&fx->errs, "%s:7: batch.apps[0].retries: must be an "
	    "integer", file);
	expect_error(&fx->errs, "%s:8: batch.apps[1].timeout: \"1x\"", file);
	expect_error(&fx->errs, "%s:8: batch.apps[1]: apps \"default\" and "
	    "\"default\" both serve", file);
	expect_error(&fx->errs, "%s:8: batch.apps[1]: name \"default\" is "
	    "used twice", file);
}

static void
tenant_syntax_error_names_file_and_line(void **state)
{
	struct fixture *fx = *state;
	const char *file;

	file = fx_write(fx, "tenants/broken.cfg",
	    "id = \"broken\";\n"		/* 1 */
	    "batch = {\n"			/* 2 */
	    "  formats = [\"csv\"];\n"		/* 3 */
	    "  apps = ( { app = \"a\" } \n"	/* 4 */
	    "};\n");				/* 5 */
	assert_null(conf_tenant_load(file, "/opt", &fx->errs));
	expect_count(&fx->errs, 1);
	expect_error(&fx->errs, "%s:5: syntax error", file);
}

/* Folders of profiles and conf_check_path. */

static void
tenants_load_reads_cfg_files_sorted_and_names_failures(void **state)
{
	struct fixture *fx = *state;
	const char *dir = fx_mkdir(fx, "tenants");
	const char *bad;
	struct conf_tenant_set set;

	fx_write(fx, "tenants/zeta.cfg", "id = \"zeta\";\n");
	fx_write(fx, "tenants/alpha.cfg", "id = \"alpha\";\n");
	bad = fx_write(fx, "tenants/bad.cfg", "id = \"bad\";\nx = 1;\n");
	fx_write(fx, "tenants/notes.txt", "not a profile {{{\n");
	fx_write(fx, "tenants/.hidden.cfg", "broken {{{\n");
	fx_write(fx, "tenants/zeta.cfg~", "broken {{{\n");
	assert_int_equal(conf_tenants_load(dir, "/opt", &set, &fx->errs), 0);
	expect_count(&fx->errs, 1);
	expect_message(&fx->errs, "unknown setting", "%s:2: x:", bad);
	assert_int_equal(set.ts_count, 2);
	assert_string_equal(set.ts_tenants[0]->t_id, "alpha");
	assert_string_equal(set.ts_tenants[1]->t_id, "zeta");
	assert_int_equal(set.ts_nfailed, 1);
	assert_string_equal(set.ts_failed[0], "bad");
	conf_tenant_set_free(&set);
	assert_int_equal(set.ts_count, 0);
	assert_null(set.ts_tenants);
}

static void
tenants_load_reports_folder_named_like_a_profile(void **state)
{
	struct fixture *fx = *state;
	const char *dir = fx_mkdir(fx, "tenants");
	const char *sub = fx_mkdir(fx, "tenants/sub.cfg");
	struct conf_tenant_set set;

	fx_write(fx, "tenants/acme.cfg", acme_profile);
	assert_int_equal(conf_tenants_load(dir, "/opt", &set, &fx->errs), 0);
	assert_int_equal(set.ts_count, 1);
	assert_int_equal(set.ts_nfailed, 1);
	assert_string_equal(set.ts_failed[0], "sub");
	expect_count(&fx->errs, 1);
	expect_error(&fx->errs, "%s: cannot read: ", sub);
	conf_tenant_set_free(&set);
}

/*
 * libconfig 1.5 sets no errno when asked to read a folder: the message
 * must still say why ("Is a directory"), not "Success".
 */
static void
tenants_load_folder_named_like_a_profile_says_why(void **state)
{
	struct fixture *fx = *state;
	const char *dir = fx_mkdir(fx, "tenants");
	const char *sub = fx_mkdir(fx, "tenants/sub.cfg");
	struct conf_tenant_set set;
	char want[PATH_MAX * 2];

	errno = 0;
	assert_int_equal(conf_tenants_load(dir, "/opt", &set, &fx->errs), 0);
	conf_tenant_set_free(&set);
	expect_count(&fx->errs, 1);
	snprintf(want, sizeof(want), "%s: cannot read: %s", sub,
	    strerror(EISDIR));
	assert_string_equal(fx->errs.e_msgs[0], want);
}

static void
tenants_load_empty_folder(void **state)
{
	struct fixture *fx = *state;
	const char *dir = fx_mkdir(fx, "tenants");
	struct conf_tenant_set set;

	assert_int_equal(conf_tenants_load(dir, "/opt", &set, &fx->errs), 0);
	expect_count(&fx->errs, 0);
	assert_int_equal(set.ts_count, 0);
	assert_int_equal(set.ts_nfailed, 0);
	conf_tenant_set_free(&set);
}

static void
tenants_load_missing_folder_fails(void **state)
{
	struct fixture *fx = *state;
	const char *dir = fx_path(fx, "nowhere");
	struct conf_tenant_set set;
	char want[PATH_MAX * 2];

	assert_int_equal(conf_tenants_load(dir, "/opt", &set, &fx->errs), -1);
	expect_count(&fx->errs, 1);
	snprintf(want, sizeof(want), "%s: cannot read tenants folder: %s",
	    dir, strerror(ENOENT));
	assert_string_equal(fx->errs.e_msgs[0], want);
	conf_tenant_set_free(&set);
}

static void
check_path_platform_file_checks_its_tenants(void **state)
{
	struct fixture *fx = *state;
	const char *pfile, *bad;

	pfile = fx_write(fx, "mysimbdp.cfg", "tenants_dir = \"profiles\";\n");
	fx_write(fx, "profiles/acme.cfg", acme_profile);
	bad = fx_write(fx, "profiles/globex.cfg",
	    "id = \"globex\";\n"
	    "batch = { formats = [\"csv\"]; apps = ( { app = \"a\"; "
	    "retries = -1; } ); };\n");
	assert_int_equal(conf_check_path(pfile, &fx->errs, NULL), 1);
	expect_count(&fx->errs, 1);
	expect_message(&fx->errs, "out of range (0 to 100)",
	    "%s:2: batch.apps[0].retries:", bad);
}

static void
check_path_platform_errors_stop_before_tenants(void **state)
{
	struct fixture *fx = *state;
	const char *pfile;

	pfile = fx_write(fx, "mysimbdp.cfg", "batch = { workers = 0; };\n");
	fx_write(fx, "tenants/bad.cfg", "id = \"bad\"; x = 1;\n");
	assert_int_equal(conf_check_path(pfile, &fx->errs, NULL), 1);
	expect_message(&fx->errs, "out of range (1 to 4096)",
	    "%s:1: batch.workers:", pfile);
}

static void
check_path_tenant_file_and_folder(void **state)
{
	struct fixture *fx = *state;
	const char *good, *bad, *dir;

	good = fx_write(fx, "tenants/acme.cfg", acme_profile);
	bad = fx_write(fx, "tenants/globex.cfg",
	    "id = \"globex\";\n"
	    "user = 5;\n"
	    "batch = { formats = [\"csv\"]; };\n");
	dir = fx_path(fx, "tenants");
	assert_int_equal(conf_check_path(good, &fx->errs, NULL), 0);
	expect_count(&fx->errs, 0);
	/* A file with a top-level id is checked as a tenant profile. */
	assert_int_equal(conf_check_path(bad, &fx->errs, NULL), 2);
	expect_message(&fx->errs, "must be a string", "%s:2: user:", bad);
	expect_message(&fx->errs, "missing required setting",
	    "%s:3: batch.apps:", bad);
	conf_errors_free(&fx->errs);
	assert_int_equal(fx->errs.e_count, 0);
	assert_null(fx->errs.e_msgs);
	/* A folder is checked as a folder of profiles. */
	assert_int_equal(conf_check_path(dir, &fx->errs, NULL), 2);
	expect_error(&fx->errs, "%s:2: user:", bad);
}

static void
check_path_missing_path_is_one_error(void **state)
{
	struct fixture *fx = *state;
	const char *path = fx_path(fx, "missing.cfg");
	char want[PATH_MAX * 2];

	assert_int_equal(conf_check_path(path, &fx->errs, NULL), 1);
	expect_count(&fx->errs, 1);
	snprintf(want, sizeof(want), "%s: %s", path, strerror(ENOENT));
	assert_string_equal(fx->errs.e_msgs[0], want);
}

static void
valid_id_accepts_lowercase_digits_dash_underscore(void **state)
{
	assert_true(conf_valid_id("acme"));
	assert_true(conf_valid_id("a"));
	assert_true(conf_valid_id("0"));
	assert_true(conf_valid_id("tenant_01-eu"));
	assert_true(conf_valid_id("-"));
	assert_true(conf_valid_id("abcdefghijklmnopqrstuvwxyz012345"));	/* 32 */
}

static void
valid_id_rejects_empty_long_and_other_characters(void **state)
{
	assert_false(conf_valid_id(""));
	assert_false(conf_valid_id("abcdefghijklmnopqrstuvwxyz0123456"));	/* 33 */
	assert_false(conf_valid_id("Acme"));
	assert_false(conf_valid_id("a.b"));
	assert_false(conf_valid_id("a b"));
	assert_false(conf_valid_id("a/b"));
	assert_false(conf_valid_id(".."));
	assert_false(conf_valid_id("caf\xc3\xa9"));
	assert_false(conf_valid_id("a\n"));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

static void
stream_defaults_and_values(void **state)
{
	struct fixture *fx = *state;
	const char *file;
	struct conf_tenant *t;
	const struct conf_stream *c;

	file = fx_write(fx, "live.cfg",
	    "id = \"live\";\n"
	    "streams = (\n"
	    "  { app = \"bin/consume\"; },\n"
	    "  { name = \"audit\"; app = [\"/bin/cat\", \"-u\"];\n"
	    "    instances = { min = 2; max = 8; initial = 3; };\n"
	    "    max_message_size = \"64K\"; max_queue_bytes = \"1M\";\n"
	    "    max_messages_per_second = 500; durability = \"os\";\n"
	    "    ack_timeout = \"5s\"; max_deliveries = 2;\n"
	    "    stop_timeout = \"3s\"; start_timeout = \"2m\";\n"
	    "    limits = { memory = \"256M\"; }; }\n"
	    ");\n");
	t = load_tenant_ok(fx, file, "/srv");
	assert_int_equal(t->t_nstreams, 2);
	c = conf_stream_find(t, "default");
	assert_non_null(c);
	assert_string_equal(c->s_argv[0], "/srv/bin/consume");
	assert_int_equal(c->s_instances.i_min, 1);
	assert_int_equal(c->s_instances.i_max, 1);
	assert_int_equal(c->s_instances.i_initial, 1);	/* min */
	assert_int_equal(c->s_max_message_size, 1 << 20);
	assert_string_equal(c->s_durability, "fsync");
	assert_int_equal(c->s_max_messages_per_second, 0);
	assert_int_equal(c->s_ack_timeout_ms, 30000);
	assert_int_equal(c->s_max_deliveries, 5);
	assert_int_equal(c->s_start_timeout_ms, 30000);
	c = conf_stream_find(t, "audit");
	assert_non_null(c);
	assert_int_equal(c->s_instances.i_initial, 3);
	assert_int_equal(c->s_max_message_size, 64 << 10);
	assert_int_equal(c->s_max_queue_bytes, 1 << 20);
	assert_int_equal(c->s_max_messages_per_second, 500);
	assert_string_equal(c->s_durability, "os");
	assert_int_equal(c->s_ack_timeout_ms, 5000);
	assert_int_equal(c->s_max_deliveries, 2);
	assert_int_equal(c->s_start_timeout_ms, 120000);
	assert_int_equal(c->s_limits.l_memory, 256 << 20);
	assert_null(conf_stream_find(t, "nope"));
	conf_tenant_unref(t);
}

static void
stream_errors_name_line_and_setting(void **state)
{
	struct fixture *fx = *state;
	const char *file;

	file = fx_write(fx, "bad.cfg",
	    "id = \"bad\";\n"
	    "streams = (\n"
	    "  { app = \"a\"; instances = { min = 3; max = 2; }; },\n"
	    "  { name = \"default\"; app = \"b\"; },\n"
	    "  { name = \"x\"; durability = \"disk\"; app = \"c\";\n"
	    "    instances = { max = 4; initial = 9; }; credit = 5; },\n"
	    "  { name = \"y\"; app = \"d\"; start_timeout = \"0s\"; },\n"
	    "  { name = \"z\"; app = \"e\"; start_timeout = \"2d\"; }\n"
	    ");\n");
	assert_null(conf_tenant_load(file, "/srv", &fx->errs));
	expect_error(&fx->errs, "%s:3: streams[0].instances: min 3 is above "
	    "max 2", file);
	expect_error(&fx->errs, "%s:4: streams[1]: name \"default\" is used "
	    "twice", file);
	expect_error(&fx->errs, "%s:5: streams[2].durability: \"disk\": must "
	    "be \"fsync\", \"os\" or \"memory\"", file);
	expect_error(&fx->errs, "%s:6: streams[2].instances: initial 9 is "
	    "outside min..max (1..4)", file);
	expect_error(&fx->errs, "%s:6: streams[2].credit: unknown setting",
	    file);
	/* Killed before it could say HELLO, or left starting for days. */
	expect_error(&fx->errs, "%s:7: streams[3].start_timeout: out of range "
	    "(100ms to 1d)", file);
	expect_error(&fx->errs, "%s:8: streams[4].start_timeout: out of range "
	    "(100ms to 1d)", file);
	expect_count(&fx->errs, 7);
}

static void
subscriptions_take_their_stream_settings(void **state)
{
	struct fixture *fx = *state;
	const char *file;
	struct conf_tenant *t;
	const struct conf_stream *st, *c;

	file = fx_write(fx, "fan.cfg",
	    "id = \"fan\";\n"
	    "streams = ( { name = \"events\"; app = \"bin/main\";\n"
	    "  durability = \"os\"; max_queue_bytes = \"1M\";\n"
	    "  subscriptions = ( { name = \"search\"; app = \"bin/index\";\n"
	    "    instances = { min = 2; max = 4; }; max_deliveries = 9; } );\n"
	    "} );\n");
	t = load_tenant_ok(fx, file, "/srv");
	st = conf_stream_find(t, "events");
	assert_non_null(st);
	assert_null(st->s_parent);
	assert_int_equal(st->s_nsubs, 1);
	c = conf_stream_find(t, "events.search");
	assert_ptr_equal(c, &st->s_subs[0]);
	assert_ptr_equal(c->s_parent, st);
	assert_string_equal(c->s_argv[0], "/srv/bin/index");
	assert_int_equal(c->s_instances.i_initial, 2);
	assert_int_equal(c->s_max_deliveries, 9);
	assert_int_equal(c->s_ack_timeout_ms, 30000);
	assert_int_equal(c->s_start_timeout_ms, 30000);
	assert_string_equal(c->s_durability, "os");
	assert_int_equal(c->s_max_queue_bytes, 1 << 20);
	assert_int_equal(c->s_max_message_size, 1 << 20);
	assert_null(conf_stream_find(t, "search"));
	assert_true(conf_valid_stream_name("events.search"));
	assert_false(conf_valid_stream_name("events.search.x"));
	assert_false(conf_valid_stream_name("events."));
	assert_false(conf_valid_stream_name(".search"));
	conf_tenant_unref(t);
}

static void
subscription_errors_name_line_and_setting(void **state)
{
	struct fixture *fx = *state;
	const char *file;

	file = fx_write(fx, "bad.cfg",
	    "id = \"bad\";\n"
	    "streams = ( { app = \"a\"; subscriptions = (\n"
	    "  { name = \"s\"; app = \"b\"; },\n"
	    "  { name = \"s\"; app = \"c\"; instances = { min = 3; max = 2; }; },\n"
	    "  { name = \"t\"; app = \"d\"; durability = \"os\"; },\n"
	    "  { app = \"e\"; }\n"
	    ") } );\n");
	assert_null(conf_tenant_load(file, "/srv", &fx->errs));
	expect_error(&fx->errs, "%s:4: streams[0].subscriptions[1]: name "
	    "\"s\" is used twice", file);
	expect_error(&fx->errs, "%s:4: streams[0].subscriptions[1].instances: "
	    "min 3 is above max 2", file);
	expect_error(&fx->errs, "%s:5: streams[0].subscriptions[2].durability: "
	    "unknown setting", file);
	expect_error(&fx->errs, "%s:6: streams[0].subscriptions[3].name: "
	    "missing required setting", file);
	expect_count(&fx->errs, 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(platform_file_loads_given_values),
		T(platform_file_defaults_fill_missing_settings),
		T(platform_partial_batch_group_keeps_other_defaults),
		T(tenant_app_logs_override_the_platform),
		T(app_mongo_url_write_concern),
		T(platform_stream_sizes_are_checked),
		T(platform_app_logs_rate),
		T(platform_relative_paths_resolve_against_its_folder),
		T(platform_relative_file_name_resolves_against_cwd),
		T(platform_unknown_settings_are_reported_with_path),
		T(platform_wrong_types_are_reported),
		T(platform_batch_must_be_a_group),
		T(platform_out_of_range_values_are_reported),
		T(platform_workers_upper_bound),
		T(platform_bad_units_are_reported),
		T(platform_string_checks_are_reported),
		T(platform_several_errors_are_all_reported),
		T(platform_syntax_error_names_file_and_line),
		T(platform_duplicate_setting_is_a_syntax_error),
		T(platform_missing_file_is_reported),
		T(errors_are_appended_to_earlier_ones),
		T(tenant_file_loads_given_values),
		T(tenant_file_defaults_fill_missing_settings),
		T(tenant_resources_group),
		T(tenant_without_batch_group_has_batch_disabled),
		T(tenant_sizes_accept_plain_integers),
		T(tenant_size_integer_beyond_32_bits_is_not_wrapped),
		T(tenant_user_is_looked_up),
		T(tenant_app_argv_resolves_against_apps_dir),
		T(tenant_platform_apps_dir_resolves_tenant_programs),
		T(tenant_mongo_url_overrides_platform),
		T(tenant_ref_keeps_profile_alive),
		T(batch_app_for_maps_datasets_and_top_level),
		T(batch_app_for_top_level_without_default_app),
		T(tenant_bad_id_is_reported),
		T(tenant_id_must_match_file_name),
		T(tenant_missing_id_is_reported),
		T(tenant_missing_required_batch_settings_are_reported),
		T(tenant_app_without_program_is_reported),
		T(tenant_unknown_settings_are_reported_with_path),
		T(tenant_wrong_types_are_reported),
		T(tenant_out_of_range_values_are_reported),
		T(tenant_bad_units_are_reported),
		T(tenant_bad_formats_and_dataset_ids_are_reported),
		T(tenant_empty_apps_list_is_reported),
		T(tenant_two_default_apps_are_reported),
		T(tenant_dataset_served_twice_is_reported),
		T(tenant_duplicate_app_name_is_reported),
		T(tenant_app_named_like_a_stream_log_is_reported),
		T(tenant_several_errors_are_all_reported),
		T(tenant_syntax_error_names_file_and_line),
		T(tenants_load_reads_cfg_files_sorted_and_names_failures),
		T(tenants_load_reports_folder_named_like_a_profile),
		T(tenants_load_folder_named_like_a_profile_says_why),
		T(tenants_load_empty_folder),
		T(tenants_load_missing_folder_fails),
		T(check_path_platform_file_checks_its_tenants),
		T(check_path_platform_errors_stop_before_tenants),
		T(check_path_tenant_file_and_folder),
		T(check_path_missing_path_is_one_error),
		T(valid_id_accepts_lowercase_digits_dash_underscore),
		T(valid_id_rejects_empty_long_and_other_characters),
		T(stream_defaults_and_values),
		T(subscriptions_take_their_stream_settings),
		T(subscription_errors_name_line_and_setting),
		T(stream_errors_name_line_and_setting),
	};

	return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
