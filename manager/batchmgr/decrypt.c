#include "decrypt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "spawn.h"

#define AGE_BINARY	"age-encryption.org/v1\n"
#define AGE_ARMOR	"-----BEGIN AGE ENCRYPTED FILE-----"
#define WHY_MAX		300	/* of age's message */

/*
 * Whether the file starts as age's binary or armored format does. Only
 * a regular file is read: the open of a fifo without O_NONBLOCK would
 * wait for a writer, and stop the whole daemon with it.
 */
static int
looks_like_age(const char *path, char *why, size_t whylen)
{
	char head[sizeof(AGE_ARMOR)];
	struct stat st;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC)) < 0) {
		snprintf(why, whylen, "decrypt: open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(why, whylen, "not-regular: not a regular file");
		return 0;
	}
	n = pread(fd, head, sizeof(head) - 1, 0);
	close(fd);
	if (n < 0) {
		snprintf(why, whylen, "decrypt: read: %s", strerror(errno));
		return -1;
	}
	head[n] = '\0';
	if (strncmp(head, AGE_BINARY, strlen(AGE_BINARY)) == 0 ||
	    strncmp(head, AGE_ARMOR, strlen(AGE_ARMOR)) == 0)
		return 1;
	snprintf(why, whylen, "encryption: not an age file (batch.encryption "
	    "wants files encrypted with age for this tenant's key)");
	return 0;
}

/*
 * argv for age: --decrypt, each identity, the file. Only argv[0] and the
 * last are allocated (argv_free).
 */
static char **
age_argv(const char *age, char *const *keys, const char *path)
{
	size_t nkeys = 0, n = 0;
	char **argv;

	while (keys[nkeys] != NULL)
		nkeys++;
	argv = calloc(2 * nkeys + 5, sizeof(*argv));

	if (argv == NULL || (argv[n++] = strdup(age)) == NULL)
		fatal("%s: calloc", __func__);
	argv[n++] = "--decrypt";
	for (size_t k = 0; k < nkeys; k++) {
		argv[n++] = "-i";
		argv[n++] = keys[k];
	}
	argv[n++] = "--";
	if ((argv[n] = strdup(path)) == NULL)
		fatal("%s: strdup", __func__);
	return argv;
}

static void
argv_free(char **argv)
{
	size_t n = 0;

	while (argv[n + 1] != NULL)
		n++;
	free(argv[0]);
	free(argv[n]);
	free(argv);
}

enum decrypt_start
decrypt_start(const struct conf_platform *p, char *const *keys,
    const char *path, struct decrypt *d, const char **stage, char *why,
    size_t whylen)
{
	static char *const envp[] = { "PATH=/usr/bin:/bin", "LANG=C.UTF-8",
	    NULL };
	struct spawn_req req;
	char **argv;
	int rc, err;

	*d = (struct decrypt){ 0, -1, -1 };
	*stage = "open";
	switch (looks_like_age(path, why, whylen)) {
	case 0:
		return DECRYPT_NOT_AGE;
	case -1:
		return DECRYPT_FAILED;
	}
	*stage = "memfd_create";
	/* Sealing lets the app trust the plaintext no longer changes. */
	d->d_plain = memfd_create("mysimbdp-plaintext",
	    MFD_CLOEXEC | MFD_ALLOW_SEALING);
	d->d_err = memfd_create("mysimbdp-age-stderr", MFD_CLOEXEC);
	if (d->d_plain < 0 || d->d_err < 0) {
		err = errno;
		decrypt_discard(d);
		errno = err;
		return DECRYPT_FAILED;
	}
	argv = age_argv(p->p_batch.pb_age, keys, path);
	req = (struct spawn_req){
		.sr_argv = argv,
		.sr_envp = envp,
		.sr_cwd = "/",
		.sr_out_fd = d->d_plain,
		.sr_err_fd = d->d_err,
		.sr_nice = (int)p->p_batch.pb_app_nice,
	};
	rc = spawn_start(&req, &d->d_pid, stage);
	err = errno;
	argv_free(argv);
	if (rc < 0) {
		decrypt_discard(d);
		errno = err;
		return DECRYPT_FAILED;
	}
	return DECRYPT_STARTED;
}

/* age's first line on stderr, printable, without its "age: " prefix. */
static void
age_reason(int fd, char *why, size_t whylen)
{
	char buf[WHY_MAX + 1], *s = buf, *nl;
	ssize_t n = pread(fd, buf, WHY_MAX, 0);

	buf[n > 0 ? n : 0] = '\0';
	if ((nl = strchr(buf, '\n')) != NULL)
		*nl = '\0';
	if (strncmp(s, "age: ", 5) == 0)
		s += 5;
	if (strncmp(s, "error: ", 7) == 0)
		s += 7;
	for (char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			*c = '?';
	snprintf(why, whylen, "decrypt: %s", *s ? s : "age failed without "
	    "a reason");
}

int
decrypt_finish(struct decrypt *d, int status, char *why, size_t whylen)
{
	int fd = -1;

	why[0] = '\0';
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		if (fcntl(d->d_plain, F_ADD_SEALS, F_SEAL_SHRINK |
		    F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
			snprintf(why, whylen, "decrypt: seal: %s",
			    strerror(errno));
		else {
			fd = d->d_plain;
			d->d_plain = -1;
		}
	} else if (WIFEXITED(status))
		age_reason(d->d_err, why, whylen);
	else
		snprintf(why, whylen, "decrypt: age ended by signal %d",
		    WTERMSIG(status));
	decrypt_discard(d);
	return fd;
}

void
decrypt_discard(struct decrypt *d)
{
	if (d->d_plain >= 0)
		close(d->d_plain);
	if (d->d_err >= 0)
		close(d->d_err);
	d->d_plain = d->d_err = -1;
	d->d_pid = 0;
}
