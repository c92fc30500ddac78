/*
 * Unit tests for the monitor's settings in common/conf.c: the platform
 * file's "monitor" group and each stream's "scaling" group. Every error
 * names the file, the line and the setting path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"

struct fixture {
	char		 dir[PATH_MAX];
	char		 file[PATH_MAX + 64];
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
	snprintf(tmpl, sizeof(tmpl), "%s/mysimbdp-unit-confmon-XXXXXX",
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
	nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* Writes text to name in the test folder; returns the path. */
static const char *
fx_write(struct fixture *fx, const char *name, const char *text)
{
	FILE *f;

	snprintf(fx->file, sizeof(fx->file), "%s/%s", fx->dir, name);
	if ((f = fopen(fx->file, "w")) == NULL)
		fail_msg("fopen %s", fx->file);
	fputs(text, f);
	fclose(f);
	return fx->file;
}

/* Fails unless some error is "<file>:<line>: <rest>". */
static void
expect_error(const struct fixture *fx, int line, const char *rest)
{
	char want[PATH_MAX + 256];

	snprintf(want, sizeof(want), "%s:%d: %s", fx->file, line, rest);
	for (size_t i = 0; i < fx->errs.e_count; i++)
		if (strncmp(fx->errs.e_msgs[i], want, strlen(want)) == 0)
			return;
	for (size_t i = 0; i < fx->errs.e_count; i++)
		print_error("  %s\n", fx->errs.e_msgs[i]);
	fail_msg("no error \"%s\"", want);
}

static void
monitor_defaults(void **state)
{
	struct fixture *fx = *state;
	struct conf_platform *p;

	p = conf_platform_load(fx_write(fx, "p.cfg", "state_dir = \"v\";\n"),
	    &fx->errs);
	assert_non_null(p);
	assert_int_equal(p->p_monitor.pm_interval_ms, 1000);
	assert_true(p->p_monitor.pm_http);
	assert_string_equal(p->p_monitor.pm_http_address, "127.0.0.1");
	assert_int_equal(p->p_monitor.pm_http_port, 9470);
	assert_int_equal(p->p_monitor.pm_report_ttl_ms, 5000);
	assert_int_equal(p->p_monitor.pm_max_report_size, 4096);
	assert_int_equal(p->p_monitor.pm_control_timeout_ms, 2000);
	assert_int_equal(p->p_monitor.pm_max_reports_per_second, 10000);
	assert_int_equal(p->p_monitor.pm_max_report_bytes, 4 << 20);
	conf_platform_free(p);
}

static void
monitor_values(void **state)
{
	struct fixture *fx = *state;
	struct conf_platform *p;

	p = conf_platform_load(fx_write(fx, "p.cfg",
	    "monitor = { interval = \"250ms\"; http = false;\n"
	    "  http_address = \"::1\"; http_port = 0; report_ttl = \"3s\";\n"
	    "  max_report_size = \"16K\"; control_timeout = \"500ms\";\n"
	    "  max_reports_per_second = 0;\n"
	    "  max_report_bytes_per_second = \"16K\"; };\n"),
	    &fx->errs);
	assert_non_null(p);
	assert_int_equal(p->p_monitor.pm_interval_ms, 250);
	assert_false(p->p_monitor.pm_http);
	assert_string_equal(p->p_monitor.pm_http_address, "::1");
	assert_int_equal(p->p_monitor.pm_http_port, 0);
	assert_int_equal(p->p_monitor.pm_report_ttl_ms, 3000);
	assert_int_equal(p->p_monitor.pm_max_report_size, 16384);
	assert_int_equal(p->p_monitor.pm_control_timeout_ms, 500);
	assert_int_equal(p->p_monitor.pm_max_reports_per_second, 0);
	assert_int_equal(p->p_monitor.pm_max_report_bytes, 16384);
	conf_platform_free(p);
}

/* A CURVE public key (RFC 26's example server key). */
#define OP_KEY "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"

/* A byte rate below the largest report would drop every large one. */
static void
report_bytes_below_report_size(void **state)
{
	struct fixture *fx = *state;
	struct conf_platform *p;

	assert_null(conf_platform_load(fx_write(fx, "p.cfg",
	    "monitor = {\n"				/* 1 */
	    "  max_report_size = \"8K\";\n"		/* 2 */
	    "  max_report_bytes_per_second = \"4K\";\n"	/* 3 */
	    "};\n"), &fx->errs));
	expect_error(fx, 3, "monitor.max_report_bytes_per_second: 4096 is "
	    "below monitor.max_report_size (8192): such a report could never "
	    "pass");
	assert_int_equal(fx->errs.e_count, 1);
	conf_errors_free(&fx->errs);
	p = conf_platform_load(fx_write(fx, "p.cfg",
	    "monitor = { max_report_size = \"8K\";\n"
	    "  max_report_bytes_per_second = 0; };\n"), &fx->errs);
	assert_non_null(p);
	conf_platform_free(p);

	/* Told with the other cross-check's error, at once. */
	assert_null(conf_platform_load(fx_write(fx, "p.cfg",
	    "remote = { listen = \"tcp://127.0.0.1:*\";\n"	/* 1 */
	    "  operator_keys = [ \"" OP_KEY "\" ]; };\n"	/* 2 */
	    "monitor = { max_report_bytes_per_second = \"1K\"; };\n"), /* 3 */
	    &fx->errs));
	expect_error(fx, 2, "remote.operator_keys: needs remote.listen");
	expect_error(fx, 3, "monitor.max_report_bytes_per_second: 1024 is "
	    "below");
	assert_int_equal(fx->errs.e_count, 2);
}

static void
monitor_errors(void **state)
{
	struct fixture *fx = *state;

	assert_null(conf_platform_load(fx_write(fx, "p.cfg",
	    "monitor = {\n"				/* 1 */
	    "  interval = \"10ms\";\n"			/* 2 */
	    "  http = 1;\n"				/* 3 */
	    "  http_address = \"localhost\";\n"		/* 4 */
	    "  http_port = 70000;\n"			/* 5 */
	    "  max_report_size = \"1M\";\n"		/* 6 */
	    "  colour = \"blue\";\n"			/* 7 */
	    "  max_reports_per_second = -1;\n"		/* 8 */
	    "};\n"), &fx->errs));
	expect_error(fx, 2, "monitor.interval: out of range (100ms to 1h)");
	expect_error(fx, 3, "monitor.http: must be true or false");
	expect_error(fx, 4, "monitor.http_address: \"localhost\": must be a "
	    "numeric IP address");
	expect_error(fx, 5, "monitor.http_port: out of range (0 to 65535)");
	expect_error(fx, 6, "monitor.max_report_size: out of range");
	expect_error(fx, 7, "monitor.colour: unknown setting");
	expect_error(fx, 8, "monitor.max_reports_per_second: out of range "
	    "(0 to 100000000)");
	assert_int_equal(fx->errs.e_count, 7);
}

static void
http_address_must_be_numeric(void **state)
{
	struct fixture *fx = *state;
	static const char *const good[] = { "127.0.0.2", "0.0.0.0",
	    "10.0.0.1", "2001:db8::1", "::1" };
	struct conf_platform *p;
	char text[128];

	assert_null(conf_platform_load(fx_write(fx, "p.cfg",
	    "monitor = { http_address = \"localhost\"; };\n"), &fx->errs));
	expect_error(fx, 1, "monitor.http_address: \"localhost\": must be a "
	    "numeric IP address");
	conf_errors_free(&fx->errs);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text), "monitor = { http_address = "
		    "\"%s\"; };\n", good[i]);
		p = conf_platform_load(fx_write(fx, "p.cfg", text), &fx->errs);
		assert_non_null(p);
		assert_string_equal(p->p_monitor.pm_http_address, good[i]);
		conf_platform_free(p);
	}
}

static void
stream_without_scaling_is_only_watched(void **state)
{
	struct fixture *fx = *state;
	struct conf_tenant *t;

	t = conf_tenant_load(fx_write(fx, "acme.cfg", "id = \"acme\";\n"
	    "streams = ( { app = \"a\"; } );\n"), "/srv", &fx->errs);
	assert_non_null(t);
	assert_false(t->t_streams[0].s_scaling.sc_enabled);
	conf_tenant_unref(t);
}

static void
scaling_defaults_and_values(void **state)
{
	struct fixture *fx = *state;
	const struct conf_scaling *a, *b;
	struct conf_tenant *t;

	t = conf_tenant_load(fx_write(fx, "acme.cfg", "id = \"acme\";\n"
	    "streams = (\n"
	    "  { name = \"a\"; app = \"a\";\n"
	    "    scaling = { target_backlog_per_instance = 500; }; },\n"
	    "  { name = \"b\"; app = \"b\";\n"
	    "    scaling = { max_ingest_time = \"20ms\"; tolerance_percent = 0;\n"
	    "      scale_down_delay = \"1m\"; cooldown = \"0\";\n"
	    "      pause_after = \"10s\"; }; }\n"
	    ");\n"), "/srv", &fx->errs);
	assert_non_null(t);
	a = &t->t_streams[0].s_scaling;
	b = &t->t_streams[1].s_scaling;
	assert_true(a->sc_enabled);
	assert_int_equal(a->sc_target_backlog, 500);
	assert_int_equal(a->sc_max_ingest_time_ms, 0);
	assert_int_equal(a->sc_tolerance_pct, 10);
	assert_int_equal(a->sc_scale_down_delay_ms, 300000);
	assert_int_equal(a->sc_cooldown_ms, 3000);
	assert_int_equal(a->sc_pause_after_ms, 0);
	assert_true(b->sc_enabled);
	assert_int_equal(b->sc_target_backlog, 0);
	assert_int_equal(b->sc_max_ingest_time_ms, 20);
	assert_int_equal(b->sc_tolerance_pct, 0);
	assert_int_equal(b->sc_scale_down_delay_ms, 60000);
	assert_int_equal(b->sc_cooldown_ms, 0);
	assert_int_equal(b->sc_pause_after_ms, 10000);
	conf_tenant_unref(t);
}

static void
scaling_errors(void **state)
{
	struct fixture *fx = *state;

	assert_null(conf_tenant_load(fx_write(fx, "acme.cfg",
	    "id = \"acme\";\n"					/* 1 */
	    "streams = (\n"					/* 2 */
	    "  { name = \"a\"; app = \"a\";\n"			/* 3 */
	    "    scaling = { cooldown = \"1s\"; }; },\n"	/* 4 */
	    "  { name = \"b\"; app = \"b\"; scaling = {\n"	/* 5 */
	    "    target_backlog_per_instance = -1;\n"		/* 6 */
	    "    tolerance_percent = 101;\n"			/* 7 */
	    "    max_ingest_time = \"2h\";\n"			/* 8 */
	    "    scale_down_delay = 30;\n"			/* 9 */
	    "    target = 5; }; }\n"				/* 10 */
	    ");\n"), "/srv", &fx->errs));
	expect_error(fx, 4, "streams[0].scaling: set "
	    "target_backlog_per_instance or max_ingest_time");
	expect_error(fx, 6, "streams[1].scaling.target_backlog_per_instance: "
	    "out of range (must be at least 0)");
	expect_error(fx, 7, "streams[1].scaling.tolerance_percent: out of "
	    "range (0 to 100)");
	expect_error(fx, 8, "streams[1].scaling.max_ingest_time: out of range "
	    "(0ms to 1h)");
	expect_error(fx, 9, "streams[1].scaling.scale_down_delay: must be a "
	    "duration string");
	expect_error(fx, 10, "streams[1].scaling.target: unknown setting");
	/* Both of its metrics were refused, so it names none. */
	expect_error(fx, 5, "streams[1].scaling: set "
	    "target_backlog_per_instance or max_ingest_time");
	assert_int_equal(fx->errs.e_count, 7);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(monitor_defaults),
		T(monitor_values),
		T(monitor_errors),
		T(report_bytes_below_report_size),
		T(http_address_must_be_numeric),
		T(stream_without_scaling_is_only_watched),
		T(scaling_defaults_and_values),
		T(scaling_errors),
	};

	return cmocka_run_group_tests_name("conf_monitor", tests, NULL, NULL);
}
