/*
 * SHA-256 of the input file. The hash is a full pass over the file before
 * the first row can get its id, so its speed counts: OpenSSL's libcrypto
 * uses the CPU's SHA instructions (over 1 GB/s where the portable code in
 * libmysimbdp does about 130 MB/s), and is used when the build found it.
 * Both give the same digest: SHA-256 is SHA-256.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "hash.h"

#ifdef HAVE_LIBCRYPTO
#include <openssl/evp.h>

#define HASH_BUF (1024 * 1024)

static int
digest_fd(int fd, unsigned char md[32])
{
	static unsigned char buf[HASH_BUF];
	EVP_MD_CTX *ctx;
	unsigned int mdlen = 0;
	ssize_t n;
	int rc = -1;

	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto out;
		if (n == 0)
			break;
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
			goto out;
	}
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32)
		rc = 0;
out:
	if (rc == -1 && errno == 0)
		errno = EIO;
	EVP_MD_CTX_free(ctx);
	return rc;
}

int
content_hash(int fd, char hex[MSB_HASH_HEX_SIZE])
{
	unsigned char md[32];

	errno = 0;
	if (lseek(fd, 0, SEEK_SET) == -1 || digest_fd(fd, md) == -1 ||
	    lseek(fd, 0, SEEK_SET) == -1)
		return -1;
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

#else

int
content_hash(int fd, char hex[MSB_HASH_HEX_SIZE])
{
	char path[64];

	/* libmysimbdp hashes by path; /proc/self/fd names this very file. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (msb_file_hash(path, hex) != MSB_OK)
		return -1;
	return lseek(fd, 0, SEEK_SET) == -1 ? -1 : 0;
}

#endif
