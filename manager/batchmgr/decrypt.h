/*
 * Decrypting a tenant's age-encrypted file into memory before its app
 * runs (docs/encryption.md). The age program runs as the platform's user
 * (the identities are not the tenant's to read), its output a sealed
 * memfd that becomes the app's stdin: the plaintext never has a name on
 * a disk. batchmgr's loop reaps it like an app (job.c).
 */
#ifndef MYSIMBDP_DECRYPT_H
#define MYSIMBDP_DECRYPT_H

#include <stddef.h>
#include <sys/types.h>

#include "conf.h"

/* A decryption under way. */
struct decrypt {
	pid_t	 d_pid;
	int	 d_plain;	/* memfd: age's stdout, the plaintext */
	int	 d_err;		/* memfd: age's stderr, the reason */
};

enum decrypt_start {
	DECRYPT_STARTED,
	DECRYPT_NOT_AGE,	/* not age's format, or not a regular file:
				   why says so */
	DECRYPT_FAILED		/* errno and *stage say why age did not start */
};

/*
 * Checks that path (a claimed file in processing/) is a regular file
 * (opened without following a link or waiting on a fifo) and begins as
 * an age file does, then starts age on it with the identities keys. The identity
 * files are named, not read, here.
 */
enum decrypt_start decrypt_start(const struct conf_platform *p,
    char *const *keys, const char *path, struct decrypt *d,
    const char **stage, char *why, size_t whylen);

/*
 * age has exited with status: returns the sealed plaintext's fd (the
 * caller's to close) or -1 with why ("decrypt: " and age's own reason).
 * Either way d's other descriptors are closed.
 */
int decrypt_finish(struct decrypt *d, int status, char *why, size_t whylen);

/* Closes what d holds (age stopped or never started). */
void decrypt_discard(struct decrypt *d);

#endif
