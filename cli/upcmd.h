/*
 * What the upload shell (uploadshell.c) lets a tenant's user run over
 * SSH inside its staging folder: the command sshd hands it, split into
 * words the way a POSIX shell would for the quoting ssh clients use, and
 * judged. There is no shell: nothing else ever runs.
 */
#ifndef MYSIMBDP_UPCMD_H
#define MYSIMBDP_UPCMD_H

#include <stddef.h>

#define UPCMD_WORDS_MAX	256

/* The programs' paths inside a staging folder made by `sshd-jail`. */
#define UPCMD_JAIL_DIR		"/usr/libexec/mysimbdp"
#define UPCMD_JAIL_SHELL	UPCMD_JAIL_DIR "/upload-shell"
#define UPCMD_JAIL_SFTP		UPCMD_JAIL_DIR "/sftp-server"
#define UPCMD_JAIL_RSYNC	UPCMD_JAIL_DIR "/rsync"

enum upcmd_kind {
	UPCMD_REFUSED,
	UPCMD_SFTP,	/* the sftp subsystem (sftp, and scp without -O) */
	UPCMD_RSYNC,	/* rsync's server side (rsync -e ssh) */
};

/*
 * Splits cmd into at most max - 1 words, NULL-terminated in words, their
 * bytes in buf (longer than cmd): blanks separate words; a backslash
 * quotes the next byte; '...' quotes everything to the next quote;
 * "..." too, except that a backslash there quotes \ " $ and `. Returns
 * the word count, or -1 with *why set (unbalanced quotes, too many
 * words, buf too short).
 */
int upcmd_split(const char *cmd, char **words, size_t max, char *buf,
    size_t buflen, const char **why);

/*
 * What words ask for: the sftp subsystem (internal-sftp or an
 * sftp-server, whatever its arguments: the shell starts its own), or
 * `rsync --server` without an option that makes it a daemon or writes
 * outside the transfer (--daemon, --config, --log-file, --write-devices,
 * --copy-devices). Anything else is refused with *why set.
 */
enum upcmd_kind upcmd_judge(char *const *words, const char **why);

#endif
