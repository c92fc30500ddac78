/*
 * sshd-config [TENANT]: the OpenSSH sshd Match block of each tenant with
 * a `user` (or of TENANT), for uploads over SSH into its staging folder
 * (docs/deployment.md, "Uploads over SSH"): sftp only (scp and sftp
 * clients both speak it), chrooted into staging/<tenant>, starting in
 * incoming/, no forwarding, no terminal.
 *
 * sshd chroots only into a folder whose every component is owned by root
 * and not writable by group or others; each is checked, and a problem is
 * said on stderr (the blocks are printed all the same).
 *
 * Exit status: 0 printed; 64 usage; 65 TENANT is unknown or has no user;
 * 78 a bad configuration, or a folder sshd would refuse to chroot into.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "conf.h"
#include "state.h"

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

static void
print_block(const struct conf_tenant *t, const char *staging)
{
	printf("\n# tenant %s: sftp and scp into %s/incoming only\n"
	    "Match User %s\n"
	    "\tChrootDirectory %s\n"
	    "\tForceCommand internal-sftp -d /incoming -u 0027\n"
	    "\tAllowTcpForwarding no\n"
	    "\tAllowAgentForwarding no\n"
	    "\tAllowStreamLocalForwarding no\n"
	    "\tPermitTunnel no\n"
	    "\tPermitTTY no\n"
	    "\tPermitUserRC no\n"
	    "\tX11Forwarding no\n", t->t_id, staging, t->t_user, staging);
}

int
cmd_sshd_config(const struct cli *cli, int argc, char **argv)
{
	static const struct cli_opt opts[] = { CLI_OPT_END };
	struct conf_errors errs = { 0 };
	struct conf_tenant_set set;
	struct conf_platform *p;
	const char *only = NULL;
	int rc, shown = 0;

	if ((rc = cli_opts_parse(argc, argv, opts, NULL)) >= 0)
		return rc;
	if (argc - optind > 1)
		return cli_usage_error(argv[0]);
	if (argc - optind == 1 && !cli_valid_tenant(argv[0],
	    only = argv[optind]))
		return EX_USAGE;
	if ((p = cli_load_platform(cli)) == NULL)
		return EX_CONFIG;
	if (conf_tenants_load(p->p_tenants_dir, p->p_apps_dir, &set,
	    &errs) < 0 || errs.e_count > 0) {
		conf_errors_print(&errs);
		conf_errors_free(&errs);
		conf_tenant_set_free(&set);
		conf_platform_free(p);
		return EX_CONFIG;
	}
	conf_tenant_set_keep_served(p, &set);
	rc = EX_OK;
	printf("# mysimbdp: uploads over SSH, one block per tenant with a "
	    "user\n# (docs/deployment.md, \"Uploads over SSH\"). Made by "
	    "`mysimbdp sshd-config`\n# from %s.\n", p->p_file);
	for (size_t i = 0; i < set.ts_count; i++) {
		const struct conf_tenant *t = set.ts_tenants[i];
		char *staging;

		if ((only && strcmp(t->t_id, only) != 0) || t->t_user == NULL)
			continue;
		staging = state_path(p, "staging/%s", t->t_id);
		if (!chroot_ok(staging))
			rc = EX_CONFIG;
		print_block(t, staging);
		free(staging);
		shown++;
	}
	if (only && shown == 0) {
		fprintf(stderr, "mysimbdp sshd-config: no tenant %s with a "
		    "user on this node\n", only);
		rc = EX_DATAERR;
	}
	conf_tenant_set_free(&set);
	conf_platform_free(p);
	return rc;
}
