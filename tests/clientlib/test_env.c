/*
 * The environment contract: msb_env_load() accepts a well-formed
 * environment and names every missing or malformed variable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <mysimbdp.h>

static const char *const vars[] = {
	"MYSIMBDP_TENANT", "MYSIMBDP_INSTANCE", "MONGO_URL", "MONGO_DB",
	"ZMQ_METRICS_ENDPOINT", "MYSIMBDP_INPUT_FILE", "MYSIMBDP_DATASET",
	"MYSIMBDP_RESULT_FILE", "MYSIMBDP_STREAM", "ZMQ_STREAM_ENDPOINT",
};

/* A complete batch environment, as batchmgr sets it. */
static int
set_batch_env(void **state)
{
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	setenv("MYSIMBDP_TENANT", "acme", 1);
	setenv("MYSIMBDP_INSTANCE", "job-42", 1);
	setenv("MONGO_URL", "file:///var/lib/mysimbdp/coredms", 1);
	setenv("MONGO_DB", "acme", 1);
	setenv("ZMQ_METRICS_ENDPOINT", "ipc:///run/acme/metrics.sock", 1);
	setenv("MYSIMBDP_INPUT_FILE", "/staging/acme/processing/a.csv", 1);
	setenv("MYSIMBDP_RESULT_FILE", "/work/acme/result.json", 1);
	return 0;
}

/* Loads the environment and fails unless it is refused naming want. */
static void
expect_error(const char *want)
{
	struct msb_env env;
	char err[1024];

	assert_int_equal(msb_env_load(&env, err, sizeof(err)), MSB_ERROR);
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" does not contain \"%s\"", err, want);
}

static void
batch_environment_loads(void **state)
{
	struct msb_env env;
	char err[256] = "junk";

	assert_int_equal(msb_env_load(&env, err, sizeof(err)), MSB_OK);
	assert_string_equal(err, "");
	assert_int_equal(env.kind, MSB_APP_BATCH);
	assert_string_equal(env.tenant, "acme");
	assert_string_equal(env.instance, "job-42");
	assert_string_equal(env.mongo_url, "file:///var/lib/mysimbdp/coredms");
	assert_string_equal(env.mongo_db, "acme");
	assert_string_equal(env.metrics_endpoint,
	    "ipc:///run/acme/metrics.sock");
	assert_string_equal(env.input_file, "/staging/acme/processing/a.csv");
	assert_string_equal(env.result_file, "/work/acme/result.json");
	assert_null(env.dataset);
	assert_null(env.stream);
}

static void
optional_variables(void **state)
{
	struct msb_env env;

	setenv("MYSIMBDP_DATASET", "cases", 1);
	setenv("MYSIMBDP_RESULT_FILE", "", 1);
	assert_int_equal(msb_env_load(&env, NULL, 0), MSB_OK);
	assert_string_equal(env.dataset, "cases");
	assert_null(env.result_file);

	setenv("MYSIMBDP_DATASET", "../etc", 1);
	expect_error("MYSIMBDP_DATASET: must be a folder name");
}

static void
missing_variables_are_named(void **state)
{
	unsetenv("MONGO_URL");
	expect_error("MONGO_URL: not set");
	set_batch_env(state);
	setenv("MONGO_DB", "", 1);	/* empty counts as unset */
	expect_error("MONGO_DB: not set");
	set_batch_env(state);
	unsetenv("MYSIMBDP_TENANT");
	expect_error("MYSIMBDP_TENANT: not set");
	set_batch_env(state);
	unsetenv("MYSIMBDP_INSTANCE");
	expect_error("MYSIMBDP_INSTANCE: not set");
	set_batch_env(state);
	unsetenv("MYSIMBDP_INPUT_FILE");
	expect_error("MYSIMBDP_INPUT_FILE: not set");
	set_batch_env(state);
	unsetenv("ZMQ_METRICS_ENDPOINT");
	expect_error("ZMQ_METRICS_ENDPOINT: not set");
}

static void
malformed_variables_are_named(void **state)
{
	setenv("MONGO_URL", "http://db.example:27017", 1);
	expect_error("MONGO_URL: must start with mongodb:// or file://");
	setenv("MONGO_URL", "file://", 1);
	expect_error("MONGO_URL: file:// needs a folder");
	set_batch_env(state);
	setenv("MYSIMBDP_TENANT", "Acme Corp", 1);
	expect_error("MYSIMBDP_TENANT: must match [a-z0-9_-]{1,32}");
	set_batch_env(state);
	setenv("MONGO_DB", "acme.prod", 1);
	expect_error("MONGO_DB: must be 1 to 63 characters");
	set_batch_env(state);
	setenv("MYSIMBDP_INPUT_FILE", "incoming/a.csv", 1);
	expect_error("MYSIMBDP_INPUT_FILE: must be an absolute path");
	set_batch_env(state);
	setenv("ZMQ_METRICS_ENDPOINT", "/run/acme/metrics.sock", 1);
	expect_error("ZMQ_METRICS_ENDPOINT: must be an ipc:// or tcp://");
	set_batch_env(state);
	setenv("MYSIMBDP_INSTANCE", "job 42", 1);
	expect_error("MYSIMBDP_INSTANCE: must be");
}

static void
every_problem_is_reported_at_once(void **state)
{
	struct msb_env env;
	char err[1024], small[8];

	unsetenv("MONGO_DB");
	setenv("MONGO_URL", "postgres://x", 1);
	unsetenv("MYSIMBDP_INPUT_FILE");
	assert_int_equal(msb_env_load(&env, err, sizeof(err)), MSB_ERROR);
	assert_non_null(strstr(err, "MONGO_URL: must start with"));
	assert_non_null(strstr(err, "MONGO_DB: not set"));
	assert_non_null(strstr(err, "MYSIMBDP_INPUT_FILE: not set"));
	/* Without an err buffer the failure is still reported. */
	assert_int_equal(msb_env_load(&env, NULL, 0), MSB_ERROR);
	/* A short buffer is truncated, never overrun. */
	assert_int_equal(msb_env_load(&env, small, sizeof(small)), MSB_ERROR);
	assert_int_equal(strlen(small), sizeof(small) - 1);
}

static void
empty_metrics_endpoint_means_no_monitor(void **state)
{
	struct msb_env env;

	setenv("ZMQ_METRICS_ENDPOINT", "", 1);
	assert_int_equal(msb_env_load(&env, NULL, 0), MSB_OK);
	assert_null(env.metrics_endpoint);
}

static void
stream_environment(void **state)
{
	struct msb_env env;
	char err[512];

	unsetenv("MYSIMBDP_INPUT_FILE");
	setenv("MYSIMBDP_STREAM", "default", 1);
	setenv("ZMQ_STREAM_ENDPOINT", "ipc:///run/acme/default.work", 1);
	assert_int_equal(msb_env_load(&env, err, sizeof(err)), MSB_OK);
	assert_int_equal(env.kind, MSB_APP_STREAM);
	assert_string_equal(env.stream, "default");
	assert_null(env.input_file);

	unsetenv("ZMQ_STREAM_ENDPOINT");
	expect_error("ZMQ_STREAM_ENDPOINT: not set");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(batch_environment_loads, set_batch_env),
		cmocka_unit_test_setup(optional_variables, set_batch_env),
		cmocka_unit_test_setup(missing_variables_are_named,
		    set_batch_env),
		cmocka_unit_test_setup(malformed_variables_are_named,
		    set_batch_env),
		cmocka_unit_test_setup(every_problem_is_reported_at_once,
		    set_batch_env),
		cmocka_unit_test_setup(empty_metrics_endpoint_means_no_monitor,
		    set_batch_env),
		cmocka_unit_test_setup(stream_environment, set_batch_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
