/*
 * Deterministic document ids. A batch run may be repeated (a retry, a
 * crash of the manager), so a document's id must come from what it is,
 * not from when it was written: the content hash of its input file and
 * its row number. 24 hex digits (96 bits) keep ids short and collisions
 * out of reach.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mysimbdp-internal.h"

#define ID_HEX 24

int
msb__fd_hash(int fd, char hex[MSB_HASH_HEX_SIZE])
{
	struct msb__sha256 ctx;
	unsigned char md[32], buf[65536];
	ssize_t n;

	msb__sha256_init(&ctx);
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		msb__sha256_update(&ctx, buf, (size_t)n);
	}
	if (n == -1)
		return MSB_ERROR;
	msb__sha256_final(&ctx, md);
	msb__hex(md, sizeof(md), hex);
	return MSB_OK;
}

int
msb__fd_mark(int fd, struct msb__fd_mark *mark)
{
	struct stat st;

	if (fstat(fd, &st) == -1)
		return -1;
	mark->fm_ino = st.st_ino;
	mark->fm_size = st.st_size;
	mark->fm_ctime = st.st_ctim;
	return 0;
}

bool
msb__fd_unchanged(int fd, const struct msb__fd_mark *mark)
{
	struct msb__fd_mark now;

	return msb__fd_mark(fd, &now) == 0 && now.fm_ino == mark->fm_ino &&
	    now.fm_size == mark->fm_size &&
	    now.fm_ctime.tv_sec == mark->fm_ctime.tv_sec &&
	    now.fm_ctime.tv_nsec == mark->fm_ctime.tv_nsec;
}

bool
msb__read_as_hashed(struct msb__sha256 *ctx, const char *hashed,
    char read[MSB_HASH_HEX_SIZE])
{
	unsigned char md[32];

	msb__sha256_final(ctx, md);
	msb__hex(md, sizeof(md), read);
	return strcmp(read, hashed) == 0;
}

int
msb_file_hash(const char *path, char hex[MSB_HASH_HEX_SIZE])
{
	int fd, rc, saved;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return MSB_ERROR;
	rc = msb__fd_hash(fd, hex);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

static char later_mark[ID_HEX];
static pthread_once_t later_once = PTHREAD_ONCE_INIT;

/* The mark of an id waiting for its hash (mysimbdp-internal.h). */
static void
later_mark_make(void)
{
	unsigned char r[ID_HEX];
	struct timespec ts;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		/* No entropy to be had: a guess is still needed to hit it. */
		uint64_t x;

		clock_gettime(CLOCK_REALTIME, &ts);
		x = (uint64_t)ts.tv_nsec ^ (uint64_t)getpid() << 32;
		for (int i = 0; i < ID_HEX; i++) {
			x = x * 6364136223846793005u + 1442695040888963407u;
			r[i] = (unsigned char)(x >> 56);
		}
	}
	for (int i = 0; i < ID_HEX; i++)
		later_mark[i] = (char)('G' + r[i] % 20);	/* G..Z */
}

static const char *
later(void)
{
	(void)pthread_once(&later_once, later_mark_make);
	return later_mark;
}

/* The id's first 24 characters: the hash's, in lowercase, or what
 * MSB_HASH_LATER stands for until the sink writes the hash in. */
static bool
id_hex(char *buf, const char *content_hash)
{
	if (strcmp(content_hash, MSB_HASH_LATER) == 0) {
		memcpy(buf, later(), ID_HEX);
		return true;
	}
	for (int i = 0; i < ID_HEX; i++) {
		char c = content_hash[i];

		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))
			buf[i] = c;
		else if (c >= 'A' && c <= 'F')
			buf[i] = (char)(c - 'A' + 'a');
		else
			return false;
	}
	return true;
}

char *
msb_doc_id(char buf[MSB_DOC_ID_SIZE], const char *content_hash, uint64_t row)
{
	char digits[20], *p = buf + ID_HEX;
	int n = 0;

	if (content_hash == NULL || !id_hex(buf, content_hash)) {
		errno = EINVAL;
		return NULL;
	}
	/* The row in decimal by hand: this runs once per document, and
	 * snprintf was a visible share of a CSV load. */
	do
		digits[n++] = (char)('0' + row % 10);
	while ((row /= 10) != 0);
	*p++ = ':';
	while (n > 0)
		*p++ = digits[--n];
	*p = '\0';
	return buf;
}

bool
msb__id_later(const char *s, size_t len)
{
	return len > ID_HEX && s[ID_HEX] == ':' &&
	    memcmp(s, later(), ID_HEX) == 0;
}

bool
msb__first_id_later(const uint8_t *doc, size_t len)
{
	return len >= MSB__ID_HEAD && doc[4] == BSON_TYPE_UTF8 &&
	    memcmp(doc + 5, "_id", 4) == 0 &&
	    msb__id_later((const char *)doc + MSB__ID_AT, ID_HEX + 1);
}

void
msb__id_patch(char *id, const char *content_hash)
{
	memcpy(id, content_hash, ID_HEX);
}

int
msb_doc_append_id(bson_t *doc, const char *content_hash, uint64_t row)
{
	char id[MSB_DOC_ID_SIZE];

	if (msb_doc_id(id, content_hash, row) == NULL)
		return MSB_ERROR;
	if (!BSON_APPEND_UTF8(doc, "_id", id)) {
		errno = EOVERFLOW;
		return MSB_ERROR;
	}
	return MSB_OK;
}
