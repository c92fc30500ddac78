/*
 * sshd-config [TENANT]: the OpenSSH sshd Match block of each tenant with
 * a `user` (or of TENANT), for uploads over SSH into its staging folder
 * (docs/deployment.md, "Uploads over SSH"): chrooted into
 * staging/<tenant>, starting in incoming/, no forwarding, no terminal.
 * A staging folder made ready by sshd-jail gets the upload shell as its
 * ForceCommand (sftp, scp and rsync); any other, internal-sftp (sftp and
 * scp).
 *
 * sshd-jail [TENANT]: puts the upload shell, sftp-server and rsync, with
 * their libraries, into each such staging folder (sshjail.h), the upload
 * shell also at the user's login shell's path, which sshd runs it with.
 *
 * sshd chroots only into a folder whose every component is owned by root
 * and not writable by group or others; each is checked, and a problem is
 * said on stderr (sshd-config prints the blocks all the same).
 *
 * Exit status: 0 done; 64 usage; 65 TENANT is unknown or has no user;
 * 69 (sshd-jail) a program to put there is missing; 73 (sshd-jail) a
 * file cannot be written; 77 (sshd-jail) not root; 78 a bad
 * configuration, or a folder sshd would refuse to chroot into.
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build_config.h"
#include "cli.h"
#include "conf.h"
#include "sshjail.h"
#include "state.h"
#include "upcmd.h"

/* Whether sshd would chroot into dir: root's all the way up, no w for g/o. */
static bool
chroot_ok(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;
	bool ok = true;
	char *slash;

	snprintf(path, sizeof(path), "%s", dir);
	for (;;) {
		if (stat(*path ? path : "/", &st) < 0) {
			fprintf(stderr, "mysimbdp sshd-config: %s: not there "
			    "yet (start batchmgr once)\n", path);
			return false;
		}
		if (st.st_uid != 0 || (st.st_mode & 022)) {
			fprintf(stderr, "mysimbdp sshd-config: %s: sshd "
			    "chroots only below folders owned by root and not "
			    "writable by group or others (uid %u, mode %04o)\n",
			    *path ? path : "/", (unsigned)st.st_uid,
			    (unsigned)(st.st_mode & 07777));
			ok = false;
		}
		if ((slash = strrchr(path, '/')) == NULL || *path == '\0')
			break;
		*slash = '\0';
	}
	return ok;
}

/* Whether sshd-jail made staging ready for the upload shell. */
static bool
jailed(const char *staging)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s%s", staging, UPCMD_JAIL_SHELL);
	return access(path, X_OK) == 0;
}

static void
print_block(const struct conf_tenant *t, const char *staging)
{
	bool jail = jailed(staging);

	printf("\n# tenant %s: %s into %s/incoming only\n"
	    "Match User %s\n"
	    "\tChrootDirectory %s\n"
	    "\tForceCommand %s\n"
	    "\tAllowTcpForwarding no\n"
	    "\tAllowAgentForwarding no\n"
	    "\tAllowStreamLocalForwarding no\n"
	    "\tPermitTunnel no\n"
	    "\tPermitTTY no\n"
	    "\tPermitUserRC no\n"
	    "\tX11Forwarding no\n", t->t_id,
	    jail ? "sftp, scp and rsync" : "sftp and scp (no sshd-jail)",
	    staging, t->t_user, staging,
	    jail ? UPCMD_JAIL_SHELL : "internal-sftp -d /incoming -u 0027");
}

/*
 * Loads the platform and this node's tenants into *p and set. Returns 0,
 * or a sysexits code after printing why.
 */
static int
load(const struct cli *cli, struct conf_platform **p,
    struct conf_tenant_set *set)
{
	struct conf_errors errs = { 0 };

	if ((*p = cli_load_platform(cli)) == NULL)
		return EX_CONFIG;
	if (conf_tenants_load((*p)->p_tenants_dir, (*p)->p_apps_dir, set,
	    &errs) < 0 || errs.e_count > 0) {
		conf_errors_print(&errs);
		conf_errors_free(&errs);
		conf_tenant_set_free(set);
		conf_platform_free(*p);
		return EX_CONFIG;
	}
	conf_tenant_set_keep_served(*p, set);
	return EX_OK;
}

/* The tenants a command is about: TENANT, or every one with a user. */
static bool
selected(const struct conf_tenant *t, const char *only)
{
	return t->t_user != NULL && (only == NULL || strcmp(t->t_id, only) == 0);
}

/* Parses [TENANT] into *only. Returns -1 to go on, or an exit status. */
static int
parse_args(int argc, char **argv, const char **only)
{
	static const struct cli_opt opts[] = { CLI_OPT_END };
	int rc;

	*only = NULL;
	if ((rc = cli_opts_parse(argc, argv, opts, NULL)) >= 0)
		return rc;
	if (argc - optind > 1)
		return cli_usage_error(argv[0]);
	if (argc - optind == 1 && !cli_valid_tenant(argv[0],
	    *only = argv[optind]))
		return EX_USAGE;
	return -1;
}

static int
no_such_tenant(const char *cmd, const char *only)
{
	fprintf(stderr, "mysimbdp %s: no tenant %s with a user on this node\n",
	    cmd, only);
	return EX_DATAERR;
}

int
cmd_sshd_config(const struct cli *cli, int argc, char **argv)
{
	struct conf_tenant_set set;
	struct conf_platform *p;
	const char *only;
	int rc, shown = 0;

	if ((rc = parse_args(argc, argv, &only)) >= 0)
		return rc;
	if ((rc = load(cli, &p, &set)) != EX_OK)
		return rc;
	printf("# mysimbdp: uploads over SSH, one block per tenant with a "
	    "user\n# (docs/deployment.md, \"Uploads over SSH\"). Made by "
	    "`mysimbdp sshd-config`\n# from %s.\n", p->p_file);
	for (size_t i = 0; i < set.ts_count; i++) {
		const struct conf_tenant *t = set.ts_tenants[i];
		char *staging;

		if (!selected(t, only))
			continue;
		staging = state_path(p, "staging/%s", t->t_id);
		if (!chroot_ok(staging))
			rc = EX_CONFIG;
		print_block(t, staging);
		free(staging);
		shown++;
	}
	if (only && shown == 0)
		rc = no_such_tenant(argv[0], only);
	conf_tenant_set_free(&set);
	conf_platform_free(p);
	return rc;
}

/*
 * The upload shell on this host: beside the mysimbdp program (a build
 * tree), else where it is installed.
 */
static void
upload_shell_path(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL) {
			*slash = '\0';
			if (snprintf(buf, len, "%s/mysimbdp-upload-shell",
			    exe) < (int)len && access(buf, X_OK) == 0)
				return;
		}
	}
	snprintf(buf, len, "%s/mysimbdp-upload-shell", MYSIMBDP_LIBEXEC_DIR);
}

/* The first of paths that can be run, or NULL. */
static const char *
first_program(const char *const *paths)
{
	for (; *paths != NULL; paths++)
		if (access(*paths, X_OK) == 0)
			return *paths;
	return NULL;
}

/*
 * Where sshd runs the user's login shell from, inside the chroot: its
 * passwd entry's shell. A path into a tenant's own folders (incoming/...)
 * is refused: the tenant could replace it.
 */
static const char *
login_shell(const struct conf_tenant *t, const char *cmd)
{
	const struct passwd *pw = getpwnam(t->t_user);
	const char *sh;

	if (pw == NULL) {
		fprintf(stderr, "mysimbdp %s: tenant %s: user %s: no such "
		    "user\n", cmd, t->t_id, t->t_user);
		return NULL;
	}
	sh = pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/sh";
	for (int a = 0; a < AREA_COUNT; a++) {
		size_t len = strlen(state_area_names[a]);

		if (sh[0] == '/' && strncmp(sh + 1, state_area_names[a],
		    len) == 0 && (sh[len + 1] == '/' || sh[len + 1] == '\0'))
			sh = "";
	}
	if (sh[0] != '/' || strstr(sh, "/..") != NULL) {
		fprintf(stderr, "mysimbdp %s: tenant %s: user %s: login "
		    "shell %s: not a path the jail may hold\n", cmd, t->t_id,
		    t->t_user, pw->pw_shell);
		return NULL;
	}
	return sh;
}

/* The programs every jail holds, and the selected tenants' login shells. */
static int
jail_list(struct sshjail *j, const struct conf_tenant_set *set,
    const char *only, const char *cmd)
{
	static const char *const sftp_servers[] = {
		"/usr/lib/openssh/sftp-server",
		"/usr/libexec/openssh/sftp-server",
		"/usr/libexec/sftp-server", NULL,
	};
	static const char *const rsyncs[] = {
		"/usr/bin/rsync", "/usr/local/bin/rsync", NULL,
	};
	const char *sftp = first_program(sftp_servers);
	const char *rsync = first_program(rsyncs);
	char shell[PATH_MAX], err[512];
	int shells = 0;

	upload_shell_path(shell, sizeof(shell));
	if (sftp == NULL || rsync == NULL) {
		fprintf(stderr, "mysimbdp %s: no %s on this host (Debian's "
		    "%s)\n", cmd, sftp ? "rsync" : "sftp-server",
		    sftp ? "rsync" : "openssh-sftp-server");
		return EX_UNAVAILABLE;
	}
	if (sshjail_add(j, shell, UPCMD_JAIL_SHELL, true, err, sizeof(err)) ||
	    sshjail_add(j, sftp, UPCMD_JAIL_SFTP, true, err, sizeof(err)) ||
	    sshjail_add(j, rsync, UPCMD_JAIL_RSYNC, true, err, sizeof(err))) {
		fprintf(stderr, "mysimbdp %s: %s\n", cmd, err);
		return EX_UNAVAILABLE;
	}
	for (size_t i = 0; i < set->ts_count; i++) {
		const char *sh;

		if (!selected(set->ts_tenants[i], only))
			continue;
		if ((sh = login_shell(set->ts_tenants[i], cmd)) == NULL)
			return EX_CONFIG;
		if (sshjail_add(j, shell, sh, false, err, sizeof(err)) < 0) {
			fprintf(stderr, "mysimbdp %s: %s\n", cmd, err);
			return EX_CONFIG;
		}
		shells++;
	}
	/* Nothing is written for a tenant that is not there. */
	return only && shells == 0 ? no_such_tenant(cmd, only) : EX_OK;
}

static int
jail_tenants(const struct sshjail *j, const struct conf_platform *p,
    const struct conf_tenant_set *set, const char *only, const char *cmd)
{
	char err[PATH_MAX + 128], *stock = state_path(p, "sshd-jail");
	int rc = EX_OK;

	if ((mkdir(stock, 0755) < 0 && errno != EEXIST) ||
	    chmod(stock, 0755) < 0) {
		fprintf(stderr, "mysimbdp %s: %s: %s\n", cmd, stock,
		    strerror(errno));
		free(stock);
		return EX_CANTCREAT;
	}
	if (sshjail_stock(j, stock, err, sizeof(err)) < 0) {
		fprintf(stderr, "mysimbdp %s: %s\n", cmd, err);
		free(stock);
		return EX_CANTCREAT;
	}
	for (size_t i = 0; i < set->ts_count; i++) {
		const struct conf_tenant *t = set->ts_tenants[i];
		char *staging;

		if (!selected(t, only))
			continue;
		staging = state_path(p, "staging/%s", t->t_id);
		if (!chroot_ok(staging))
			rc = EX_CONFIG;
		else if (sshjail_fill(j, stock, staging, err, sizeof(err)) < 0 ||
		    sshjail_user(staging, t->t_user, err, sizeof(err)) < 0) {
			fprintf(stderr, "mysimbdp %s: tenant %s: %s\n", cmd,
			    t->t_id, err);
			rc = EX_CANTCREAT;
		} else
			printf("%s: sftp, scp and rsync ready in %s\n",
			    t->t_id, staging);
		free(staging);
	}
	free(stock);
	return rc;
}

int
cmd_sshd_jail(const struct cli *cli, int argc, char **argv)
{
	struct conf_tenant_set set;
	struct conf_platform *p;
	struct sshjail *j;
	const char *only;
	int rc;

	if ((rc = parse_args(argc, argv, &only)) >= 0)
		return rc;
	if (geteuid() != 0) {
		fprintf(stderr, "mysimbdp %s: only root may write into the "
		    "staging folders sshd chroots into\n", argv[0]);
		return EX_NOPERM;
	}
	if ((rc = load(cli, &p, &set)) != EX_OK)
		return rc;
	if ((j = sshjail_new()) == NULL)
		rc = EX_OSERR;
	else if ((rc = jail_list(j, &set, only, argv[0])) == EX_OK)
		rc = jail_tenants(j, p, &set, only, argv[0]);
	sshjail_free(j);
	conf_tenant_set_free(&set);
	conf_platform_free(p);
	return rc;
}
