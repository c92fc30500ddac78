/*
 * Unit tests for manager/batchmgr/check.c: the rules a staged file must pass before
 * a tenant app sees it. The stat results and the profile are built by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "check.h"

static char fmt_csv[] = "csv", fmt_jsonl[] = "jsonl";
static char *formats[] = { fmt_csv, fmt_jsonl, NULL };

static struct conf_batch
batch_profile(uint64_t max_file_size)
{
	struct conf_batch b;

	memset(&b, 0, sizeof(b));
	b.b_enabled = true;
	b.b_formats = formats;
	b.b_max_file_size = max_file_size;
	b.b_max_concurrent = 1;
	b.b_weight = 1;
	return b;
}

static struct stat
stat_of(mode_t mode, nlink_t nlink, off_t size)
{
	struct stat st;

	memset(&st, 0, sizeof(st));
	st.st_mode = mode;
	st.st_nlink = nlink;
	st.st_size = size;
	return st;
}

static void
name_partial_hidden_files(void **state)
{
	assert_true(check_name_partial(".hidden"));
	assert_true(check_name_partial(".data.csv"));
	assert_true(check_name_partial(".part"));
	assert_true(check_name_partial("."));
}

static void
name_partial_upload_suffixes(void **state)
{
	assert_true(check_name_partial("a.part"));
	assert_true(check_name_partial("a.partial"));
	assert_true(check_name_partial("a.tmp"));
	assert_true(check_name_partial("a.filepart"));
	assert_true(check_name_partial("a.crdownload"));
	assert_true(check_name_partial("a~"));
	assert_true(check_name_partial("data.csv.part"));
	assert_true(check_name_partial("data.csv~"));
}

static void
name_partial_suffixes_ignore_case(void **state)
{
	assert_true(check_name_partial("a.PART"));
	assert_true(check_name_partial("a.Tmp"));
	assert_true(check_name_partial("a.CRDOWNLOAD"));
}

static void
name_partial_complete_names_are_not_partial(void **state)
{
	assert_false(check_name_partial("data.csv"));
	assert_false(check_name_partial("a.tmp.csv"));
	assert_false(check_name_partial("a.parts"));
	assert_false(check_name_partial("apart"));
	assert_false(check_name_partial("data_tmp"));
	assert_false(check_name_partial("a~b"));
	assert_false(check_name_partial("README"));
	assert_false(check_name_partial(""));
	/* A bare suffix is a whole name, not a suffix. */
	assert_false(check_name_partial("tmp"));
	assert_false(check_name_partial("~"));
}

static void
stat_accepts_regular_file_within_size(void **state)
{
	struct conf_batch b = batch_profile(1048576);
	struct stat st;
	char buf[256];

	st = stat_of(S_IFREG | 0644, 1, 100);
	assert_null(check_stat(&st, &b, buf, sizeof(buf)));
	st = stat_of(S_IFREG | 0600, 1, 0);
	assert_null(check_stat(&st, &b, buf, sizeof(buf)));
	/* Exactly max_file_size is allowed. */
	st = stat_of(S_IFREG | 0644, 1, 1048576);
	assert_null(check_stat(&st, &b, buf, sizeof(buf)));
}

static void
stat_refuses_symlink(void **state)
{
	struct conf_batch b = batch_profile(1048576);
	struct stat st = stat_of(S_IFLNK | 0777, 1, 10);
	char buf[256];
	const char *why = check_stat(&st, &b, buf, sizeof(buf));

	assert_ptr_equal(why, buf);
	assert_string_equal(why, "symlink: symbolic links are not accepted");
}

static void
stat_refuses_fifo_directory_socket_and_devices(void **state)
{
	static const struct {
		mode_t mode;
		const char *why;
	} cases[] = {
		{ S_IFIFO | 0644,
		    "not-regular: a fifo, not a regular file" },
		{ S_IFDIR | 0755,
		    "not-regular: a directory, not a regular file" },
		{ S_IFSOCK | 0755,
		    "not-regular: a socket, not a regular file" },
		{ S_IFCHR | 0644,
		    "not-regular: a character device, not a regular file" },
		{ S_IFBLK | 0644,
		    "not-regular: a block device, not a regular file" },
	};
	struct conf_batch b = batch_profile(1048576);
	char buf[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct stat st = stat_of(cases[i].mode, 1, 0);
		const char *why = check_stat(&st, &b, buf, sizeof(buf));

		assert_non_null(why);
		assert_string_equal(why, cases[i].why);
	}
}

/* The names reasons give file types (a claim swapped for one, say). */
static void
file_kind_names_every_type(void **state)
{
	assert_string_equal(check_file_kind(S_IFREG | 0644), "regular file");
	assert_string_equal(check_file_kind(S_IFLNK | 0777), "symlink");
	assert_string_equal(check_file_kind(S_IFIFO | 0644), "fifo");
	assert_string_equal(check_file_kind(S_IFDIR | 0755), "directory");
}

static void
stat_refuses_hard_link(void **state)
{
	struct conf_batch b = batch_profile(1048576);
	struct stat st = stat_of(S_IFREG | 0644, 2, 10);
	char buf[256];
	const char *why = check_stat(&st, &b, buf, sizeof(buf));

	assert_non_null(why);
	assert_string_equal(why, "hard-link: the file has 2 links; hard links "
	    "are not accepted");
	st.st_nlink = 7;
	assert_string_equal(check_stat(&st, &b, buf, sizeof(buf)),
	    "hard-link: the file has 7 links; hard links are not accepted");
}

static void
stat_refuses_file_larger_than_max_file_size(void **state)
{
	struct conf_batch b = batch_profile(1048576);
	struct stat st = stat_of(S_IFREG | 0644, 1, 1572864);
	char buf[256];
	const char *why = check_stat(&st, &b, buf, sizeof(buf));

	assert_non_null(why);
	assert_string_equal(why, "too-large: 1.5M (1572864 bytes) exceeds "
	    "max_file_size 1M");
	st.st_size = 1048577;
	why = check_stat(&st, &b, buf, sizeof(buf));
	assert_non_null(why);
	assert_memory_equal(why, "too-large: ", 11);
}

static void
stat_symlink_and_type_are_checked_before_links_and_size(void **state)
{
	struct conf_batch b = batch_profile(10);
	struct stat st;
	char buf[256];

	st = stat_of(S_IFLNK | 0777, 3, 1000);
	assert_memory_equal(check_stat(&st, &b, buf, sizeof(buf)),
	    "symlink: ", 9);
	st = stat_of(S_IFDIR | 0755, 3, 1000);
	assert_memory_equal(check_stat(&st, &b, buf, sizeof(buf)),
	    "not-regular: ", 13);
	st = stat_of(S_IFREG | 0644, 3, 1000);
	assert_memory_equal(check_stat(&st, &b, buf, sizeof(buf)),
	    "hard-link: ", 11);
}

static void
stat_reason_fits_small_buffer(void **state)
{
	struct conf_batch b = batch_profile(1048576);
	struct stat st = stat_of(S_IFREG | 0644, 1, 1572864);
	char buf[16];
	const char *why = check_stat(&st, &b, buf, 12);

	assert_non_null(why);
	assert_string_equal(why, "too-large: ");
}

static void
format_accepts_listed_extension_in_any_case(void **state)
{
	struct conf_batch b = batch_profile(1048576);
	char buf[256];

	assert_null(check_format("data.csv", &b, buf, sizeof(buf)));
	assert_null(check_format("DATA.CSV", &b, buf, sizeof(buf)));
	assert_null(check_format("x.Csv", &b, buf, sizeof(buf)));
	assert_null(check_format("2024-01-01.jsonl", &b, buf, sizeof(buf)));
	assert_null(check_format("a.b.JSONL", &b, buf, sizeof(buf)));
}

static void
format_refuses_other_extension_and_lists_formats(void **state)
{
	struct conf_batch b = batch_profile(1048576);
	char buf[256];
	const char *why;

	why = check_format("data.json", &b, buf, sizeof(buf));
	assert_ptr_equal(why, buf);
	assert_string_equal(why, "format: extension \"json\" not accepted "
	    "(formats: csv jsonl)");
	/* Only the last extension counts. */
	why = check_format("data.csv.gz", &b, buf, sizeof(buf));
	assert_non_null(why);
	assert_string_equal(why, "format: extension \"gz\" not accepted "
	    "(formats: csv jsonl)");
	why = check_format("data.", &b, buf, sizeof(buf));
	assert_non_null(why);
	assert_string_equal(why, "format: extension \"\" not accepted "
	    "(formats: csv jsonl)");
	/* A prefix or suffix of a format is not the format. */
	assert_non_null(check_format("data.cs", &b, buf, sizeof(buf)));
	assert_non_null(check_format("data.csvx", &b, buf, sizeof(buf)));
	assert_non_null(check_format("data.json", &b, buf, sizeof(buf)));
}

static void
format_refuses_name_without_extension(void **state)
{
	struct conf_batch b = batch_profile(1048576);
	char buf[256];
	const char *why;

	why = check_format("README", &b, buf, sizeof(buf));
	assert_non_null(why);
	assert_string_equal(why, "format: no extension not accepted "
	    "(formats: csv jsonl)");
	/* The name is the extension's spelling, but it has no dot. */
	why = check_format("csv", &b, buf, sizeof(buf));
	assert_non_null(why);
	assert_string_equal(why, "format: no extension not accepted "
	    "(formats: csv jsonl)");
	/* A leading dot marks a hidden name, not an extension. */
	why = check_format(".csv", &b, buf, sizeof(buf));
	assert_non_null(why);
	assert_string_equal(why, "format: no extension not accepted "
	    "(formats: csv jsonl)");
}

static void
format_with_encryption_wants_age_after_the_format(void **state)
{
	struct conf_batch b = batch_profile(1048576);
	char buf[256];
	const char *why;

	b.b_encryption.e_enabled = true;
	assert_null(check_format("data.csv.age", &b, buf, sizeof(buf)));
	assert_null(check_format("DATA.JSONL.AGE", &b, buf, sizeof(buf)));
	why = check_format("data.csv", &b, buf, sizeof(buf));
	assert_non_null(why);
	assert_string_equal(why, "encryption: not named *.age: this tenant's "
	    "files must be encrypted with age (batch.encryption)");
	why = check_format("data.json.age", &b, buf, sizeof(buf));
	assert_non_null(why);
	assert_string_equal(why, "format: extension \"json\" not accepted "
	    "(formats: csv jsonl)");
	why = check_format("data.age", &b, buf, sizeof(buf));
	assert_non_null(why);
	assert_string_equal(why, "format: no extension not accepted "
	    "(formats: csv jsonl)");
	assert_non_null(check_format(".age", &b, buf, sizeof(buf)));
	assert_non_null(check_format(".csv.age", &b, buf, sizeof(buf)));
}

static void
format_reason_fits_small_buffer(void **state)
{
	struct conf_batch b = batch_profile(1048576);
	char buf[64];
	const char *why;

	memset(buf, 'x', sizeof(buf));
	why = check_format("data.json", &b, buf, 20);
	assert_non_null(why);
	assert_string_equal(why, "format: extension \"");
	assert_int_equal(buf[20], 'x');
	/* Cut inside the list of formats. */
	why = check_format("data.json", &b, buf, 50);
	assert_int_equal(strlen(why), 49);
	assert_memory_equal(why, "format: extension \"json\" not accepted "
	    "(formats: csv", 49);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(name_partial_hidden_files),
		cmocka_unit_test(name_partial_upload_suffixes),
		cmocka_unit_test(name_partial_suffixes_ignore_case),
		cmocka_unit_test(name_partial_complete_names_are_not_partial),
		cmocka_unit_test(stat_accepts_regular_file_within_size),
		cmocka_unit_test(stat_refuses_symlink),
		cmocka_unit_test(stat_refuses_fifo_directory_socket_and_devices),
		cmocka_unit_test(file_kind_names_every_type),
		cmocka_unit_test(stat_refuses_hard_link),
		cmocka_unit_test(stat_refuses_file_larger_than_max_file_size),
		cmocka_unit_test(
		    stat_symlink_and_type_are_checked_before_links_and_size),
		cmocka_unit_test(stat_reason_fits_small_buffer),
		cmocka_unit_test(format_accepts_listed_extension_in_any_case),
		cmocka_unit_test(format_refuses_other_extension_and_lists_formats),
		cmocka_unit_test(format_refuses_name_without_extension),
		cmocka_unit_test(format_with_encryption_wants_age_after_the_format),
		cmocka_unit_test(format_reason_fits_small_buffer),
	};

	return cmocka_run_group_tests_name("check", tests, NULL, NULL);
}
