/*
 * CurveZMQ key files (curvekey.h). Also compiled into libmysimbdp, so it
 * uses nothing of the daemons' (no log.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "curvekey.h"

#define KEYFILE_MAX 4096

bool
curvekey_valid(const char *s)
{
	unsigned char raw[32];

	return s != NULL && strlen(s) == CURVEKEY_Z85_LEN &&
	    zmq_z85_decode(raw, s) != NULL;
}

/*
 * Finds `name = "KEY"` in text (at the start of a line, after blanks)
 * and copies KEY into out. Returns 1 found and valid, 0 absent, -1 bad.
 */
static int
find_key(const char *text, const char *name, char out[CURVEKEY_Z85_LEN + 1])
{
	size_t nlen = strlen(name);

	for (const char *l = text; l != NULL && *l; l = strchr(l, '\n'),
	    l = l ? l + 1 : NULL) {
		const char *p = l + strspn(l, " \t"), *q;

		if (strncmp(p, name, nlen) != 0)
			continue;
		p += nlen;
		p += strspn(p, " \t");
		if (*p++ != '=')
			continue;
		p += strspn(p, " \t");
		if (*p++ != '"' || (q = strchr(p, '"')) == NULL ||
		    q - p != CURVEKEY_Z85_LEN)
			return -1;
		memcpy(out, p, CURVEKEY_Z85_LEN);
		out[CURVEKEY_Z85_LEN] = '\0';
		return curvekey_valid(out) ? 1 : -1;
	}
	return 0;
}

/* A file of just a key: 40 characters, then at most a newline. */
static bool
bare_key(const char *text, char out[CURVEKEY_Z85_LEN + 1])
{
	size_t n = strcspn(text, "\r\n");

	if (n != CURVEKEY_Z85_LEN || text[n + strspn(text + n, "\r\n")])
		return false;
	memcpy(out, text, n);
	out[n] = '\0';
	return curvekey_valid(out);
}

/* Reads a small file into buf (NUL-terminated); *mode its permissions. */
static int
read_small(const char *file, mode_t *mode, char *buf, size_t buflen,
    char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	int fd;

	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", file);
		close(fd);
		return -1;
	}
	*mode = st.st_mode & 07777;
	n = read(fd, buf, buflen - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return -1;
	}
	buf[n] = '\0';
	return 0;
}

/*
 * Refuses a key file: forgets what was read of it, the secret too (into
 * k or still in buf), on every path. Returns -1.
 */
static int
refuse(struct curvekey *k, char *buf, size_t buflen)
{
	explicit_bzero(k, sizeof(*k));
	explicit_bzero(buf, buflen);
	return -1;
}

int
curvekey_load(const char *file, bool need_secret, struct curvekey *k,
    char *err, size_t errlen)
{
	char buf[KEYFILE_MAX], derived[CURVEKEY_Z85_LEN + 1];
	mode_t mode;
	int pub, sec;

	memset(k, 0, sizeof(*k));
	if (read_small(file, &mode, buf, sizeof(buf), err, errlen) < 0)
		return refuse(k, buf, sizeof(buf));
	pub = find_key(buf, "public-key", k->ck_public);
	sec = find_key(buf, "secret-key", k->ck_secret);
	if (pub == 0 && sec == 0 && bare_key(buf, k->ck_public))
		pub = 1;
	if (pub < 0 || sec < 0) {
		snprintf(err, errlen, "%s: a key is not 40 characters of Z85",
		    file);
		return refuse(k, buf, sizeof(buf));
	}
	if (pub == 0) {
		snprintf(err, errlen, "%s: no public-key (not a key file?)",
		    file);
		return refuse(k, buf, sizeof(buf));
	}
	if (need_secret && sec == 0) {
		snprintf(err, errlen, "%s: no secret-key (is it the .pub "
		    "file?)", file);
		return refuse(k, buf, sizeof(buf));
	}
	if (sec == 1 && (mode & 077)) {
		snprintf(err, errlen, "%s: others may read this secret key "
		    "(mode %04o): chmod 600 it", file, (unsigned)mode);
		return refuse(k, buf, sizeof(buf));
	}
	if (sec == 1 && (zmq_curve_public(derived, k->ck_secret) != 0 ||
	    strcmp(derived, k->ck_public) != 0)) {
		snprintf(err, errlen, "%s: public-key does not belong to "
		    "secret-key", file);
		return refuse(k, buf, sizeof(buf));
	}
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

int
curvekey_public(const char *key_or_file, char out[CURVEKEY_Z85_LEN + 1],
    char *err, size_t errlen)
{
	struct curvekey k;

	if (curvekey_valid(key_or_file)) {
		memcpy(out, key_or_file, CURVEKEY_Z85_LEN + 1);
		return 0;
	}
	if (curvekey_load(key_or_file, false, &k, err, errlen) < 0)
		return -1;
	memcpy(out, k.ck_public, sizeof(k.ck_public));
	explicit_bzero(&k, sizeof(k));
	return 0;
}

static int
write_file(const char *file, mode_t mode, const char *text, char *err,
    size_t errlen)
{
	size_t len = strlen(text);
	int fd;

	fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return -1;
	}
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		close(fd);
		unlink(file);
		return -1;
	}
	close(fd);
	return 0;
}

int
curvekey_generate(const char *file, struct curvekey *k, char *err,
    size_t errlen)
{
	char text[1024], pubfile[4096], when[32];
	time_t now = time(NULL);
	struct tm tm;
	int rc;

	if (zmq_curve_keypair(k->ck_public, k->ck_secret) != 0) {
		snprintf(err, errlen, "zmq_curve_keypair: %s (libzmq built "
		    "without CURVE?)", zmq_strerror(errno));
		return -1;
	}
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if ((size_t)snprintf(pubfile, sizeof(pubfile), "%s.pub", file) >=
	    sizeof(pubfile)) {
		snprintf(err, errlen, "%s: name too long", file);
		return -1;
	}
	snprintf(text, sizeof(text),
	    "#   ZeroMQ CURVE **Secret** Certificate, made %s by mysimbdp\n"
	    "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its "
	    "permissions.\n\nmetadata\ncurve\n    public-key = \"%s\"\n"
	    "    secret-key = \"%s\"\n", when, k->ck_public, k->ck_secret);
	rc = write_file(file, 0600, text, err, errlen);
	explicit_bzero(text, sizeof(text));
	if (rc < 0)
		return -1;
	snprintf(text, sizeof(text),
	    "#   ZeroMQ CURVE Public Certificate, made %s by mysimbdp\n"
	    "#   Exchange securely, or use a secure mechanism to verify "
	    "the contents\n#   of this file after exchange.\n\nmetadata\n"
	    "curve\n    public-key = \"%s\"\n", when, k->ck_public);
	if (write_file(pubfile, 0644, text, err, errlen) < 0) {
		unlink(file);
		return -1;
	}
	return 0;
}

int
curvekey_client(void *sock, const char *key_file, const char *server_key,
    char *err, size_t errlen)
{
	char server[CURVEKEY_Z85_LEN + 1];
	struct curvekey k;
	int rc = 0;

	if (curvekey_load(key_file, true, &k, err, errlen) < 0)
		return -1;
	if (curvekey_public(server_key, server, err, errlen) < 0) {
		explicit_bzero(&k, sizeof(k));
		return -1;
	}
	if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server,
	    sizeof(server)) == -1 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, k.ck_public,
	    sizeof(k.ck_public)) == -1 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, k.ck_secret,
	    sizeof(k.ck_secret)) == -1) {
		snprintf(err, errlen, "CURVE: %s (libzmq built without "
		    "CURVE?)", zmq_strerror(errno));
		rc = -1;
	}
	explicit_bzero(&k, sizeof(k));
	return rc;
}
