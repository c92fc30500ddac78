/*
 * Unit tests for cli/upcmd.c: how the upload shell splits the command an
 * ssh client sends (rsync quotes its file names) and what it lets run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "upcmd.h"

static char buf[4096];
static char *words[UPCMD_WORDS_MAX];

static int
split(const char *cmd, const char **why)
{
	return upcmd_split(cmd, words, UPCMD_WORDS_MAX, buf, sizeof(buf), why);
}

static enum upcmd_kind
judge(const char *cmd, const char **why)
{
	*why = NULL;
	assert_true(split(cmd, why) >= 0);
	return upcmd_judge(words, why);
}

static void
test_split_quoting(void **state)
{
	const char *why = NULL;

	(void)state;
	assert_int_equal(split("  rsync --server\t-e.LsfxC . 'a b'/c\\ d"
	    " \"x\\\"y\\z\" ''", &why), 7);
	assert_string_equal(words[0], "rsync");
	assert_string_equal(words[2], "-e.LsfxC");
	assert_string_equal(words[4], "a b/c d");
	assert_string_equal(words[5], "x\"y\\z");
	assert_string_equal(words[6], "");
	assert_null(words[7]);
	assert_int_equal(split("", &why), 0);
	assert_null(words[0]);
}

static void
test_split_refusals(void **state)
{
	const char *why = NULL;
	char many[2 * UPCMD_WORDS_MAX + 1];

	(void)state;
	assert_int_equal(split("rsync 'open", &why), -1);
	assert_string_equal(why, "unbalanced quotes");
	assert_int_equal(split("rsync \"open", &why), -1);
	for (size_t i = 0; i < UPCMD_WORDS_MAX; i++)
		memcpy(many + 2 * i, "a ", 2);
	many[2 * UPCMD_WORDS_MAX] = '\0';
	assert_int_equal(split(many, &why), -1);
	assert_string_equal(why, "too many words");
	assert_int_equal(upcmd_split("abc", words, UPCMD_WORDS_MAX, buf, 3,
	    &why), -1);
}

static void
test_judge(void **state)
{
	const char *why;

	(void)state;
	assert_int_equal(judge("internal-sftp", &why), UPCMD_SFTP);
	assert_int_equal(judge("/usr/lib/openssh/sftp-server -l INFO", &why),
	    UPCMD_SFTP);
	assert_int_equal(judge("rsync --server -logDtpre.iLsfxCIvu . a.csv",
	    &why), UPCMD_RSYNC);
	assert_int_equal(judge("rsync --server --sender -e.LsfxC . x", &why),
	    UPCMD_RSYNC);
	assert_int_equal(judge("id", &why), UPCMD_REFUSED);
	assert_non_null(why);
	assert_int_equal(judge("", &why), UPCMD_REFUSED);
	assert_int_equal(judge("scp -t .", &why), UPCMD_REFUSED);
	assert_int_equal(judge("rsync a.csv /tmp", &why), UPCMD_REFUSED);
	assert_int_equal(judge("rsync --server --daemon .", &why),
	    UPCMD_REFUSED);
	assert_int_equal(judge("rsync --server --log-file=/x . y", &why),
	    UPCMD_REFUSED);
	assert_int_equal(judge("rsync --server --config=x . y", &why),
	    UPCMD_REFUSED);
	assert_int_equal(judge("rsync --server --write-devices . y", &why),
	    UPCMD_REFUSED);
	/* A name that begins like an option is not one. */
	assert_int_equal(judge("rsync --server . --daemonic.csv", &why),
	    UPCMD_RSYNC);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_quoting),
		cmocka_unit_test(test_split_refusals),
		cmocka_unit_test(test_judge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
