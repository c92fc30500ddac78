#include "shipstate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"

#define ROTATED_MAX 100		/* monitor.logs.backups' upper bound */

int
shipstate_read(const char *path, struct ship_mark *marks, int n)
{
	FILE *f = fopen(path, "re");
	char line[256], name[SHIP_LOG_NAME_MAX];
	unsigned long long ino, off, base, birth;
	unsigned int headlen, head;
	int k = 0, got;

	if (f == NULL)
		return errno == ENOENT ? 0 : -1;
	while (k < n && fgets(line, sizeof(line), f) != NULL) {
		got = sscanf(line, "%15s %llu %llu %llu %llu %u %u", name, &ino,
		    &off, &base, &birth, &headlen, &head);
		if (got < 4)
			break;
		if (got < 7 || headlen > SHIP_HEAD_MAX)
			birth = 0, headlen = 0, head = 0;	/* unknown */
		memset(&marks[k], 0, sizeof(marks[k]));
		snprintf(marks[k].sm_log, sizeof(marks[k].sm_log), "%s", name);
		marks[k].sm_ino = (ino_t)ino;
		marks[k].sm_off = off;
		marks[k].sm_base = base;
		marks[k].sm_birth = birth;
		marks[k].sm_headlen = headlen;
		marks[k].sm_head = head;
		k++;
	}
	fclose(f);
	return k;
}

int
shipstate_write(const char *path, const struct ship_mark *marks, int n)
{
	char tmp[4096];
	FILE *f;
	int saved;

	if (snprintf(tmp, sizeof(tmp), "%s.new", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((f = fopen(tmp, "we")) == NULL)
		return -1;
	for (int k = 0; k < n; k++)
		fprintf(f, "%s %llu %llu %llu %llu %u %u\n", marks[k].sm_log,
		    (unsigned long long)marks[k].sm_ino,
		    (unsigned long long)marks[k].sm_off,
		    (unsigned long long)marks[k].sm_base,
		    (unsigned long long)marks[k].sm_birth,
		    marks[k].sm_headlen, marks[k].sm_head);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		saved = errno;
		fclose(f);
		unlink(tmp);
		errno = saved;
		return -1;
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	return 0;
}

char *
shipstate_path(const char *path, int k)
{
	char *p;

	if ((k == 0 ? asprintf(&p, "%s", path) : asprintf(&p, "%s.%d", path,
	    k)) < 0)
		return NULL;
	return p;
}

/* The birth time of the file open at fd in nanoseconds; 0 when the
 * filesystem does not keep it. */
static uint64_t
birth(int fd)
{
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_BTIME, &stx) != 0 ||
	    (stx.stx_mask & STATX_BTIME) == 0)
		return 0;
	return (uint64_t)stx.stx_btime.tv_sec * 1000000000 +
	    stx.stx_btime.tv_nsec;
}

/* The CRC-32C of the first len bytes of fd into *crc; returns how many
 * there were (fewer at its end), -1 when it cannot be read. */
static ssize_t
head(int fd, size_t len, uint32_t *crc)
{
	char buf[SHIP_HEAD_MAX];
	ssize_t n;

	if (len > sizeof(buf))
		len = sizeof(buf);
	if ((n = pread(fd, buf, len, 0)) >= 0)
		*crc = crc32c(0, buf, (size_t)n);
	return n;
}

int
shipstate_mark_file(struct ship_mark *mark, int fd)
{
	struct stat st;
	uint32_t crc = 0;
	ssize_t n;

	if (fstat(fd, &st) != 0 || (n = head(fd, SHIP_HEAD_MAX, &crc)) < 0)
		return -1;
	mark->sm_ino = st.st_ino;
	mark->sm_birth = birth(fd);
	mark->sm_headlen = (uint32_t)n;
	mark->sm_head = n > 0 ? crc : 0;
	return 0;
}

bool
shipstate_same(const struct ship_mark *mark, int fd)
{
	struct stat st;
	uint64_t born;
	uint32_t crc;

	if (fstat(fd, &st) != 0 || st.st_ino != mark->sm_ino)
		return false;
	if (mark->sm_birth != 0 && (born = birth(fd)) != 0 &&
	    born != mark->sm_birth)
		return false;
	if (mark->sm_headlen > 0 && (head(fd, mark->sm_headlen, &crc) !=
	    (ssize_t)mark->sm_headlen || crc != mark->sm_head))
		return false;
	return true;
}

/* Whether the file at p is mark's (st: its stat). */
static bool
same_path(const char *p, const struct stat *st, const struct ship_mark *mark)
{
	bool same;
	int fd;

	if (mark == NULL || st->st_ino != mark->sm_ino ||
	    (fd = open(p, O_RDONLY | O_CLOEXEC)) == -1)
		return false;
	same = shipstate_same(mark, fd);
	close(fd);
	return same;
}

int
shipstate_index(const char *path, const struct ship_mark *mark, int *oldest)
{
	struct stat st;
	int found = -1;
	char *p;

	*oldest = 0;
	for (int k = 0; k <= ROTATED_MAX; k++) {
		if ((p = shipstate_path(path, k)) == NULL)
			break;
		if (stat(p, &st) != 0) {
			free(p);
			if (k > 0)
				break;	/* rotated files are numbered 1.. */
			continue;
		}
		if (k > 0)
			*oldest = k;
		if (found < 0 && same_path(p, &st, mark))
			found = k;
		free(p);
	}
	return found;
}

uint64_t
shipstate_backlog(const char *path, const struct ship_mark *mark)
{
	struct stat st;
	uint64_t behind = 0, size;
	int k, oldest;
	char *p;

	/* The rest of mark's file and all of the newer ones; when its file
	 * is gone, all there is. */
	k = mark->sm_ino == 0 ? 0 : shipstate_index(path, mark, &oldest);
	for (int j = k < 0 ? oldest : k; j >= 0; j--) {
		if ((p = shipstate_path(path, j)) == NULL)
			break;
		if (stat(p, &st) == 0) {
			size = (uint64_t)st.st_size;
			if (j == k)
				size = size > mark->sm_off ?
				    size - mark->sm_off : 0;
			behind += size;
		}
		free(p);
	}
	return behind;
}
