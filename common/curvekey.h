/*
 * CurveZMQ key pairs in files, as ZeroMQ's own tools keep them (czmq's
 * zcert): text with `public-key = "..."` and, in the secret file only,
 * `secret-key = "..."`, each 40 characters of Z85. `mysimbdp keygen FILE`
 * writes FILE (both keys, mode 0600) and FILE.pub (the public key).
 */
#ifndef MYSIMBDP_CURVEKEY_H
#define MYSIMBDP_CURVEKEY_H

#include <stdbool.h>
#include <stddef.h>

#define CURVEKEY_Z85_LEN 40

struct curvekey {
	char	 ck_public[CURVEKEY_Z85_LEN + 1];
	char	 ck_secret[CURVEKEY_Z85_LEN + 1];	/* "" if none */
};

/* Whether s is a key in Z85: 40 characters that decode to 32 bytes. */
bool curvekey_valid(const char *s);

/*
 * Reads a key file. A bare 40-character key on a line of its own is
 * read as a public key, so a public key may be given as a file of just
 * the key. A file with a secret key that others may read (group or
 * world bits) is refused, and with need_secret one without a secret
 * key. Returns 0, or -1 with "FILE: problem" in err.
 */
int curvekey_load(const char *file, bool need_secret, struct curvekey *k,
    char *err, size_t errlen);

/*
 * A public key given either as 40 characters of Z85 or as a file that
 * holds one. Returns 0, or -1 with the problem in err.
 */
int curvekey_public(const char *key_or_file, char out[CURVEKEY_Z85_LEN + 1],
    char *err, size_t errlen);

/*
 * Makes a key pair and writes FILE (mode 0600, refusing to replace one)
 * and FILE.pub. Returns 0, or -1 with the problem in err.
 */
int curvekey_generate(const char *file, struct curvekey *k, char *err,
    size_t errlen);

/*
 * Makes ZeroMQ socket sock a CURVE client before it connects: the key
 * pair of key_file (curvekey_load, secret needed) and the server's
 * public key server_key (curvekey_public). Returns 0, or -1 with the
 * problem in err.
 */
int curvekey_client(void *sock, const char *key_file, const char *server_key,
    char *err, size_t errlen);

#endif
