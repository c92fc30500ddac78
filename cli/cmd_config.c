/*
 * check-config [FILE|DIR] [--json]: validates the platform file (and the
 * tenants folder it names), one tenant profile, or a folder of them, and
 * prints every error as "file:line: setting: problem" on stderr, or
 * "configuration OK". What loads but will not work (an app that is not an
 * executable file) is a warning, "warning: file:line: setting: problem",
 * which does not fail the check. With --json the verdict is one object on
 * stdout:
 *
 *   {"path":"conf/mysimbdp.cfg","valid":false,"errors":[{"file":"...",
 *    "line":12,"setting":"batch.workers","problem":"..."}],"warnings":[]}
 *
 * where "line" and "setting" are null when an error has none.
 *
 * Exit status: 0 valid; 64 usage; 66 the path does not exist; 77 it may
 * not be read; 78 configuration errors.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "jsonline.h"

static void
append_list(bson_t *root, const char *name, const struct conf_errors *errs)
{
	bson_t arr, item;
	char key[24];

	BSON_APPEND_ARRAY_BEGIN(root, name, &arr);
	for (size_t i = 0; i < errs->e_count; i++) {
		const struct conf_error *e = &errs->e_list[i];

		snprintf(key, sizeof(key), "%zu", i);
		BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &item);
		jsonline_append_text(&item, "file", e->ce_file);
		if (e->ce_line > 0)
			BSON_APPEND_INT64(&item, "line", e->ce_line);
		else
			BSON_APPEND_NULL(&item, "line");
		if (e->ce_setting != NULL)
			jsonline_append_text(&item, "setting", e->ce_setting);
		else
			BSON_APPEND_NULL(&item, "setting");
		jsonline_append_text(&item, "problem", e->ce_problem);
		bson_append_document_end(&arr, &item);
	}
	bson_append_array_end(root, &arr);
}

static void
print_json(const char *path, const struct conf_errors *errs,
    const struct conf_errors *warns)
{
	bson_t root = BSON_INITIALIZER;

	jsonline_append_text(&root, "path", path);
	BSON_APPEND_BOOL(&root, "valid", errs->e_count == 0);
	append_list(&root, "errors", errs);
	append_list(&root, "warnings", warns);
	cli_print_json(&root);
	bson_destroy(&root);
}

/* Whether path is there to be read: 0, or the exit status after saying why. */
static int
check_path(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0 && access(path, R_OK) == 0)
		return EX_OK;
	fprintf(stderr, "mysimbdp check-config: %s: %s\n", path,
	    strerror(errno));
	return errno == EACCES || errno == EPERM ? EX_NOPERM :
	    EX_NOINPUT;
}

int
cmd_check_config(const struct cli *cli, int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		/* The one option: its value is the bool itself. */
		{ .co_long = "json", .co_short = 'j',
		    .co_kind = CLI_OPT_FLAG },
		CLI_OPT_END,
	};
	struct conf_errors errs = { 0 }, warns = { 0 };
	const char *path = cli->c_conf;
	bool json = false;
	size_t n;
	int rc;

	if ((rc = cli_opts_parse(argc, argv, opts, &json)) >= 0)
		return rc;
	if (argc - optind > 1)
		return cli_usage_error(argv[0]);
	if (argc - optind == 1)
		path = argv[optind];
	if ((rc = check_path(path)) != EX_OK)
		return rc;
	n = conf_check_path(path, &errs, &warns);
	if (json)
		print_json(path, &errs, &warns);
	else {
		conf_errors_print(&errs);
		for (size_t i = 0; i < warns.e_count; i++)
			fprintf(stderr, "warning: %s\n", warns.e_msgs[i]);
	}
	conf_errors_free(&errs);
	conf_errors_free(&warns);
	if (n) {
		fprintf(stderr, "%s: %zu configuration error%s\n", path, n,
		    n == 1 ? "" : "s");
		return EX_CONFIG;
	}
	if (!json)
		printf("configuration OK\n");
	return EX_OK;
}
