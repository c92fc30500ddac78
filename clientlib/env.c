/*
 * The environment contract: the managers start an app with a clean
 * environment holding only the variables read here. Every problem is
 * reported in one message, each part naming its variable, so a
 * misconfigured app says everything that is wrong in one run.
 */
#include <stdlib.h>
#include <string.h>

#include "mysimbdp-internal.h"

/* getenv, with "" as NULL: an empty variable is an unset one. */
static const char *
get(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

static bool
is_tenant_id(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 32)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static bool
is_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s == 0x7f)
			return false;
	return true;
}

/* MongoDB's rules for database names, which the file store shares. */
static bool
is_db_name(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 63 && strpbrk(s, "/\\. \"$*<>:|?") == NULL &&
	    is_printable(s);
}

static bool
is_dataset(const char *s)
{
	size_t n = strlen(s);

	return n <= 255 && s[0] != '.' && strspn(s,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") == n;
}

static bool
has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Checks one required variable; returns its value or NULL (and says why). */
static const char *
require(const char *name, char *err, size_t errlen)
{
	const char *v = get(name);

	if (v == NULL)
		msb__adderr(err, errlen, "%s: not set", name);
	return v;
}

/*
 * Problems are collected in a buffer of our own, so they are found even
 * when the caller passes no err.
 */
static int
load(struct msb_env *env, char *err, size_t errlen)
{
	const char *v;

	if ((v = require("MYSIMBDP_TENANT", err, errlen)) != NULL) {
		if (is_tenant_id(v))
			env->tenant = v;
		else
			msb__adderr(err, errlen,
			    "MYSIMBDP_TENANT: must match [a-z0-9_-]{1,32}");
	}
	if ((v = require("MYSIMBDP_INSTANCE", err, errlen)) != NULL) {
		if (strlen(v) <= 128 && is_printable(v))
			env->instance = v;
		else
			msb__adderr(err, errlen, "MYSIMBDP_INSTANCE: must be "
			    "1 to 128 printable characters without spaces");
	}
	if ((v = require("MONGO_URL", err, errlen)) != NULL) {
		if (has_prefix(v, "mongodb://") ||
		    has_prefix(v, "mongodb+srv://"))
			env->mongo_url = v;
		else if (has_prefix(v, "file://")) {
			if (v[strlen("file://")] != '\0')
				env->mongo_url = v;
			else
				msb__adderr(err, errlen,
				    "MONGO_URL: file:// needs a folder, "
				    "e.g. file:///var/lib/mysimbdp/coredms");
		} else
			msb__adderr(err, errlen, "MONGO_URL: must start "
			    "with mongodb:// or file://");
	}
	if ((v = require("MONGO_DB", err, errlen)) != NULL) {
		if (is_db_name(v))
			env->mongo_db = v;
		else
			msb__adderr(err, errlen, "MONGO_DB: must be 1 to 63 "
			    "characters without /\\. \"$*<>:|?");
	}

	/* Set but empty is allowed: it means "no monitor". */
	v = getenv("ZMQ_METRICS_ENDPOINT");
	if (v == NULL)
		msb__adderr(err, errlen, "ZMQ_METRICS_ENDPOINT: not set");
	else if (*v == '\0')
		env->metrics_endpoint = NULL;
	else if (has_prefix(v, "ipc://") || has_prefix(v, "tcp://") ||
	    has_prefix(v, "inproc://"))
		env->metrics_endpoint = v;
	else
		msb__adderr(err, errlen, "ZMQ_METRICS_ENDPOINT: must be an "
		    "ipc:// or tcp:// endpoint");

	env->stream = get("MYSIMBDP_STREAM");
	env->stream_endpoint = get("ZMQ_STREAM_ENDPOINT");
	if (env->stream != NULL || env->stream_endpoint != NULL) {
		env->kind = MSB_APP_STREAM;
		if (env->stream == NULL)
			msb__adderr(err, errlen, "MYSIMBDP_STREAM: not set "
			    "(ZMQ_STREAM_ENDPOINT is)");
		if (env->stream_endpoint == NULL)
			msb__adderr(err, errlen, "ZMQ_STREAM_ENDPOINT: not set "
			    "(MYSIMBDP_STREAM is)");
	} else {
		env->kind = MSB_APP_BATCH;
		if ((v = require("MYSIMBDP_INPUT_FILE", err, errlen)) != NULL) {
			if (v[0] == '/')
				env->input_file = v;
			else
				msb__adderr(err, errlen, "MYSIMBDP_INPUT_FILE: "
				    "must be an absolute path");
		}
		if ((v = get("MYSIMBDP_DATASET")) != NULL) {
			if (is_dataset(v))
				env->dataset = v;
			else
				msb__adderr(err, errlen, "MYSIMBDP_DATASET: "
				    "must be a folder name ([A-Za-z0-9._-], "
				    "not starting with '.')");
		}
		env->result_file = get("MYSIMBDP_RESULT_FILE");
	}

	return err[0] != '\0' ? MSB_ERROR : MSB_OK;
}

int
msb_env_load(struct msb_env *env, char *err, size_t errlen)
{
	char buf[2048] = "";
	int rc;

	memset(env, 0, sizeof(*env));
	rc = load(env, buf, sizeof(buf));
	if (rc != MSB_OK)
		msb__seterr(err, errlen, "%s", buf);
	else if (err != NULL && errlen > 0)
		err[0] = '\0';
	return rc;
}
