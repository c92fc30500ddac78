/*
 * keygen FILE: a new CURVE key pair, written the way ZeroMQ's tools
 * (czmq's zcert) write one: FILE holds both keys and is made with mode
 * 0600, FILE.pub holds the public key. Neither is replaced if it exists.
 *
 * keygen --tenant T --encryption [FILE]: a new age identity for T's
 * encrypted files (docs/encryption.md), made by age-keygen (beside the
 * platform's batch.age) with mode 0600, by default in the state folder's
 * keys/T/ (mode 0700): the platform's, never the tenant's user's. Prints
 * the public key (the recipient tenants encrypt for) on stdout.
 *
 * Exit status: 0 written; 64 usage; 70 libzmq has no CURVE, or age-keygen
 * failed; 73 FILE or FILE.pub exists, or cannot be written; 78 a bad
 * platform file.
 */
#include <errno.h>
#include <libgen.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "curvekey.h"
#include "state.h"

#define PUBLIC_LINE "# public key: "

struct keygen_opts {
	const char	*k_tenant;
	bool		 k_encryption;
};

static int
curve_pair(const char *file)
{
	struct curvekey k = { 0 };	/* no key made: ck_public stays "" */
	char err[600];

	if (curvekey_generate(file, &k, err, sizeof(err)) < 0) {
		fprintf(stderr, "mysimbdp keygen: %s\n", err);
		return k.ck_public[0] ? EX_CANTCREAT : EX_SOFTWARE;
	}
	/* The public key only: the secret stays in the file. */
	printf("%s\n", k.ck_public);
	return EX_OK;
}

/* <state>/keys/T/age-<UTC time>.key, its folders made 0700. */
static char *
default_key_file(const struct conf_platform *p, const char *tenant)
{
	char stamp[32], *dir;
	time_t now = time(NULL);
	struct tm tm;

	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", gmtime_r(&now, &tm));
	dir = state_path(p, "keys");
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		fprintf(stderr, "mysimbdp keygen: mkdir %s: %s\n", dir,
		    strerror(errno));
	free(dir);
	dir = state_path(p, "keys/%s", tenant);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		fprintf(stderr, "mysimbdp keygen: mkdir %s: %s\n", dir,
		    strerror(errno));
	free(dir);
	return state_path(p, "keys/%s/age-%s.key", tenant, stamp);
}

/* Runs age-keygen -o file, its own chatter to /dev/null. */
static int
run_age_keygen(const char *age, const char *file)
{
	char *copy = strdup(age), *keygen = NULL;
	int status = -1, fd;
	pid_t pid;

	if (copy == NULL || asprintf(&keygen, "%s/age-keygen",
	    dirname(copy)) < 0)
		return -1;
	free(copy);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		if ((fd = open("/dev/null", O_WRONLY)) >= 0)
			dup2(fd, STDERR_FILENO);
		execl(keygen, keygen, "-o", file, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		fprintf(stderr, "mysimbdp keygen: %s -o %s failed (it is not "
		    "there, the file exists already, or it cannot be "
		    "written)\n", keygen, file);
	free(keygen);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* The recipient age-keygen wrote into file's comment. */
static int
print_recipient(const char *file)
{
	char line[256];
	FILE *f = fopen(file, "r");
	int rc = -1;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, PUBLIC_LINE, strlen(PUBLIC_LINE)) == 0) {
			fputs(line + strlen(PUBLIC_LINE), stdout);
			rc = 0;
			break;
		}
	if (f != NULL)
		fclose(f);
	if (rc < 0)
		fprintf(stderr, "mysimbdp keygen: %s: no public key in it\n",
		    file);
	return rc;
}

static int
age_identity(const struct cli *cli, const char *tenant, const char *file)
{
	struct conf_platform *p;
	char *path = NULL;
	int rc = EX_OK;

	if ((p = cli_load_platform(cli)) == NULL)
		return EX_CONFIG;
	if (file == NULL)
		file = path = default_key_file(p, tenant);
	if (access(file, F_OK) == 0) {
		fprintf(stderr, "mysimbdp keygen: %s exists already\n", file);
		rc = EX_CANTCREAT;
	} else if (run_age_keygen(p->p_batch.pb_age, file) < 0)
		rc = EX_CANTCREAT;
	else if (print_recipient(file) < 0)
		rc = EX_SOFTWARE;
	else
		fprintf(stderr, "mysimbdp keygen: wrote %s\n"
		    "  list it in %s's profile: batch.encryption.keys\n"
		    "  give the tenant the public key above; it encrypts with\n"
		    "    age -r PUBLIC_KEY -o FILE.csv.age FILE.csv\n", file,
		    tenant);
	free(path);
	conf_platform_free(p);
	return rc;
}

int
cmd_keygen(const struct cli *cli, int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		CLI_OPT("tenant", 'T', CLI_OPT_TENANT, struct keygen_opts,
		    k_tenant),
		CLI_OPT("encryption", 'e', CLI_OPT_FLAG, struct keygen_opts,
		    k_encryption),
		CLI_OPT_END,
	};
	struct keygen_opts o = { 0 };
	int rc;

	if ((rc = cli_opts_parse(argc, argv, opts, &o)) >= 0)
		return rc;
	if (o.k_encryption != (o.k_tenant != NULL))
		return cli_usage_error(argv[0]);
	if (o.k_encryption) {
		if (argc - optind > 1)
			return cli_usage_error(argv[0]);
		return age_identity(cli, o.k_tenant,
		    argc > optind ? argv[optind] : NULL);
	}
	if (argc - optind != 1)
		return cli_usage_error(argv[0]);
	return curve_pair(argv[optind]);
}
