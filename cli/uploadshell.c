/*
 * mysimbdp-upload-shell: what sshd runs for a tenant's user chrooted
 * into its staging folder by `mysimbdp sshd-config`'s Match block
 * (docs/deployment.md, "Uploads over SSH"). `mysimbdp sshd-jail` puts it
 * there, at UPCMD_JAIL_SHELL and at the user's login shell's path, with
 * sftp-server and rsync beside it.
 *
 * The block's ForceCommand makes sshd put what the client asked for in
 * SSH_ORIGINAL_COMMAND (for the sftp subsystem, the Subsystem line's
 * command). The sftp subsystem gets sftp-server starting in /incoming,
 * `rsync --server ...` gets rsync run from /incoming; both with umask
 * 0027, as internal-sftp -u 0027. Anything else, a shell included, is
 * refused on stderr with exit 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "upcmd.h"

#define INCOMING	"/incoming"

static int
refuse(const char *why)
{
	fprintf(stderr, "mysimbdp: %s\n", why);
	return 1;
}

int
main(void)
{
	static char *words[UPCMD_WORDS_MAX];
	const char *cmd = getenv("SSH_ORIGINAL_COMMAND");
	const char *why = NULL;
	char *buf;

	if (cmd == NULL)
		return refuse("no shell here: upload with sftp, scp or rsync");
	if (chdir(INCOMING) < 0)
		return refuse("not inside a tenant's staging folder");
	if ((buf = malloc(strlen(cmd) + 1)) == NULL)
		return refuse("out of memory");
	if (upcmd_split(cmd, words, UPCMD_WORDS_MAX, buf, strlen(cmd) + 1,
	    &why) < 0)
		return refuse(why);
	umask(0027);
	switch (upcmd_judge(words, &why)) {
	case UPCMD_SFTP:
		execl(UPCMD_JAIL_SFTP, "sftp-server", "-d", INCOMING, "-u",
		    "0027", (char *)NULL);
		break;
	case UPCMD_RSYNC:
		execv(UPCMD_JAIL_RSYNC, words);
		break;
	case UPCMD_REFUSED:
		return refuse(why);
	}
	fprintf(stderr, "mysimbdp: %s: %s\n", words[0], strerror(errno));
	return 1;
}
