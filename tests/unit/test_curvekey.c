/*
 * Unit tests for common/curvekey.c (key files as ZeroMQ's tools write
 * them) and streammgr's remote.c route frames: a generated pair reads
 * back and matches, a secret key others may read or a .pub given as a
 * secret is refused, a mismatched pair is caught, a refused file leaves
 * no secret behind in the key given, and only
 * "TENANT/STREAM" of two valid ids routes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "curvekey.h"
#include "remote.h"

static char dir[] = "/tmp/curvekey.XXXXXX";

static void
path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void
write_text(const char *file, const char *text, mode_t mode)
{
	FILE *f = fopen(file, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(file, mode);
}

static bool
all_zero(const void *p, size_t len)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < len; i++)
		if (c[i] != 0)
			return false;
	return true;
}

static void
generated_pair_reads_back(void **state)
{
	char file[128], pub[160], err[300], again[CURVEKEY_Z85_LEN + 1];
	struct curvekey k, r;
	struct stat st;

	(void)state;
	path(file, sizeof(file), "a.key");
	path(pub, sizeof(pub), "a.key.pub");
	assert_int_equal(curvekey_generate(file, &k, err, sizeof(err)), 0);
	assert_true(curvekey_valid(k.ck_public));
	assert_true(curvekey_valid(k.ck_secret));
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(curvekey_load(file, true, &r, err, sizeof(err)), 0);
	assert_string_equal(r.ck_public, k.ck_public);
	assert_string_equal(r.ck_secret, k.ck_secret);
	/* The .pub has no secret: fine as a public key, not as a pair. */
	assert_int_equal(curvekey_load(pub, false, &r, err, sizeof(err)), 0);
	assert_string_equal(r.ck_public, k.ck_public);
	assert_string_equal(r.ck_secret, "");
	assert_int_equal(curvekey_load(pub, true, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no secret-key"));
	/* A public key given as itself or as its file. */
	assert_int_equal(curvekey_public(pub, again, err, sizeof(err)), 0);
	assert_string_equal(again, k.ck_public);
	assert_int_equal(curvekey_public(k.ck_public, again, err,
	    sizeof(err)), 0);
	assert_string_equal(again, k.ck_public);
	/* Never replaced. */
	assert_int_equal(curvekey_generate(file, &k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "File exists"));
}

static void
bad_files_are_refused(void **state)
{
	char file[128], err[300], text[400];
	struct curvekey a, b, r;

	(void)state;
	path(file, sizeof(file), "b.key");
	assert_int_equal(curvekey_generate(file, &a, err, sizeof(err)), 0);
	chmod(file, 0640);
	assert_int_equal(curvekey_load(file, true, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "others may read this secret key"));

	path(file, sizeof(file), "c.key");
	assert_int_equal(curvekey_generate(file, &b, err, sizeof(err)), 0);
	path(file, sizeof(file), "mixed");
	snprintf(text, sizeof(text), "curve\n public-key = \"%s\"\n "
	    "secret-key = \"%s\"\n", a.ck_public, b.ck_secret);
	write_text(file, text, 0600);
	assert_int_equal(curvekey_load(file, true, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "does not belong"));

	path(file, sizeof(file), "short");
	write_text(file, "public-key = \"abc\"\n", 0600);
	assert_int_equal(curvekey_load(file, false, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not 40 characters"));

	path(file, sizeof(file), "bare");
	snprintf(text, sizeof(text), "%s\n", a.ck_public);
	write_text(file, text, 0644);
	assert_int_equal(curvekey_load(file, false, &r, err, sizeof(err)), 0);
	assert_string_equal(r.ck_public, a.ck_public);

	/* A secret key without its public half: refused, and the secret
	 * read is not left in r for a caller that only checks the -1. */
	path(file, sizeof(file), "secret-only");
	snprintf(text, sizeof(text), "curve\n secret-key = \"%s\"\n",
	    a.ck_secret);
	write_text(file, text, 0600);
	memset(&r, 'x', sizeof(r));
	assert_int_equal(curvekey_load(file, true, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no public-key"));
	assert_true(all_zero(&r, sizeof(r)));
	/* A valid secret key beside a malformed public one: the same. */
	snprintf(text, sizeof(text), "curve\n secret-key = \"%s\"\n "
	    "public-key = \"abc\"\n", a.ck_secret);
	write_text(file, text, 0600);
	assert_int_equal(curvekey_load(file, true, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not 40 characters"));
	assert_true(all_zero(&r, sizeof(r)));

	assert_false(curvekey_valid("not a key"));
	assert_false(curvekey_valid(NULL));
	path(file, sizeof(file), "none");
	assert_int_equal(curvekey_load(file, false, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
}

static void
route_frames(void **state)
{
	char t[40], s[40];

	(void)state;
	assert_int_equal(remote_parse_route("acme/default", 12, t, s), 0);
	assert_string_equal(t, "acme");
	assert_string_equal(s, "default");
	assert_int_equal(remote_parse_route("acme/default", 7, t, s), 0);
	assert_string_equal(s, "de");
	assert_int_equal(remote_parse_route("acme/default", 5, t, s), -1);
	assert_int_equal(remote_parse_route("acme", 4, t, s), -1);
	assert_int_equal(remote_parse_route("/x", 2, t, s), -1);
	assert_int_equal(remote_parse_route("a/", 2, t, s), -1);
	assert_int_equal(remote_parse_route("a/b/c", 5, t, s), -1);
	assert_int_equal(remote_parse_route("../x", 4, t, s), -1);
	assert_int_equal(remote_parse_route("a\0/b", 4, t, s), -1);
	assert_int_equal(remote_parse_route(
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/b", 35, t, s), -1);
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[64];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(generated_pair_reads_back),
		cmocka_unit_test(bad_files_are_refused),
		cmocka_unit_test(route_frames),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
