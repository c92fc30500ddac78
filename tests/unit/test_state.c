/*
 * common/state.c's moves and files beside tenants' files: a name a
 * tenant's file holds is never replaced (a ".1", ".2"... instead), and
 * a tenant's file named like the daemon's temporary ones is left alone;
 * a name too long for its suffix fails, never cut.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "state.h"

struct fx {
	char	 dir[64];
	int	 dfd;
};

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test-state-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	fx->dfd = open(fx->dir, O_RDONLY | O_DIRECTORY);
	assert_true(fx->dfd >= 0);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];

	close(fx->dfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

static void
put(const struct fx *fx, const char *name, const char *text)
{
	int fd = openat(fx->dfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* The file's text ("" when it is not there). */
static const char *
text_of(const struct fx *fx, const char *name)
{
	static char buf[256];
	int fd = openat(fx->dfd, name, O_RDONLY);
	ssize_t n = fd < 0 ? 0 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static int
entries(const struct fx *fx)
{
	DIR *d = opendir(fx->dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.' || (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0);
	closedir(d);
	return n;
}

static void
publish_takes_a_free_name(void **state)
{
	struct fx *fx = *state;
	char final[NAME_MAX + 1];

	assert_int_equal(state_publish(fx->dfd, "a.reason", "why\n", 4, final,
	    sizeof(final)), 0);
	assert_string_equal(final, "a.reason");
	assert_string_equal(text_of(fx, "a.reason"), "why\n");
	assert_int_equal(entries(fx), 1);	/* no temporary left */
}

static void
publish_never_replaces_a_tenants_file(void **state)
{
	struct fx *fx = *state;
	char final[NAME_MAX + 1], tmp[64];

	put(fx, "a.reason", "the tenant's");
	put(fx, "a.reason.1", "the tenant's too");
	/* Tenants' files with names like the daemon's temporary ones. */
	for (unsigned i = 0; i < 200; i++) {
		snprintf(tmp, sizeof(tmp), ".mysimbdp-%016x.tmp", i);
		put(fx, tmp, "hidden");
	}
	assert_int_equal(state_publish(fx->dfd, "a.reason", "why\n", 4, final,
	    sizeof(final)), 0);
	assert_string_equal(final, "a.reason.2");
	assert_string_equal(text_of(fx, "a.reason"), "the tenant's");
	assert_string_equal(text_of(fx, "a.reason.1"), "the tenant's too");
	assert_string_equal(text_of(fx, "a.reason.2"), "why\n");
	assert_string_equal(text_of(fx, tmp), "hidden");
	assert_int_equal(entries(fx), 203);
}

static void
rename_unique_keeps_both(void **state)
{
	struct fx *fx = *state;
	char final[NAME_MAX + 1];

	put(fx, "x.rejects.jsonl", "the tenant's");
	put(fx, "made", "the app's");
	assert_int_equal(state_rename_unique(fx->dfd, "made", fx->dfd,
	    "x.rejects.jsonl", final, sizeof(final)), 0);
	assert_string_equal(final, "x.rejects.jsonl.1");
	assert_string_equal(text_of(fx, "x.rejects.jsonl"), "the tenant's");
	assert_string_equal(text_of(fx, "x.rejects.jsonl.1"), "the app's");
}

/* A name taken 10,000 times (an upload a minute for a week) still gets
 * a place, in a few tries. */
static void
rename_unique_past_many(void **state)
{
	struct fx *fx = *state;
	char final[NAME_MAX + 1], name[32];

	put(fx, "latest.csv", "old");
	/* Links of one file: making 10,000 files would take seconds. */
	for (unsigned i = 1; i < 10000; i++) {
		snprintf(name, sizeof(name), "latest.csv.%u", i);
		assert_int_equal(linkat(fx->dfd, "latest.csv", fx->dfd, name, 0),
		    0);
	}
	put(fx, "new", "new");
	assert_int_equal(state_rename_unique(fx->dfd, "new", fx->dfd,
	    "latest.csv", final, sizeof(final)), 0);
	assert_true(strncmp(final, "latest.csv.", 11) == 0);
	assert_true(strtoul(final + 11, NULL, 10) >= 100);
	assert_string_equal(text_of(fx, final), "new");
	assert_string_equal(text_of(fx, "latest.csv.9999"), "old");
	assert_int_equal(entries(fx), 10001);
}

/*
 * A name with its suffix past NAME_MAX fails; cut, the file would take
 * another name (`retry` of a cut "name.N" gave it back without its
 * extension), and a reason would take its file's own name.
 */
static void
rename_unique_never_cuts(void **state)
{
	struct fx *fx = *state;
	char final[NAME_MAX + 1], name[NAME_MAX + 1], reason[NAME_MAX + 8];

	memset(name, 'x', NAME_MAX - 4);
	snprintf(name + NAME_MAX - 4, 5, ".csv");
	put(fx, name, "old");
	put(fx, "new", "new");
	errno = 0;
	assert_int_equal(state_rename_unique(fx->dfd, "new", fx->dfd, name,
	    final, sizeof(final)), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	assert_string_equal(text_of(fx, name), "old");
	assert_string_equal(text_of(fx, "new"), "new");
	assert_int_equal(entries(fx), 2);

	/* 250 bytes plus ".reason": no reason under a cut name. */
	snprintf(reason, sizeof(reason), "%s.reason", name + 5);
	errno = 0;
	assert_int_equal(state_publish(fx->dfd, reason, "why\n", 4, final,
	    sizeof(final)), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	assert_int_equal(entries(fx), 2);	/* no temporary left */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(publish_takes_a_free_name),
		T(publish_never_replaces_a_tenants_file),
		T(rename_unique_keeps_both),
		T(rename_unique_past_many),
		T(rename_unique_never_cuts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
