#include "jsonline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Kept, the stump of a line the disk or the file-size limit cut short
 * would have the next line glued to it and both be unreadable. The write
 * ended at the fd's offset; when another writer appended since, its line
 * is not cut and the stump stays.
 */
int
jsonline_untear(int fd, size_t n)
{
	off_t end = lseek(fd, 0, SEEK_CUR);
	struct rlimit rl;
	struct stat st;

	if (n > 0 && end >= (off_t)n && fstat(fd, &st) == 0 &&
	    st.st_size == end)
		(void)ftruncate(fd, end - (off_t)n);
	if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (uint64_t)end >= (uint64_t)rl.rlim_cur)
		return EFBIG;
	return ENOSPC;
}

off_t
jsonline_cut_torn(int fd)
{
	char buf[64 * 1024];
	struct stat st;
	off_t end, at;
	ssize_t n;

	if (fstat(fd, &st) < 0)
		return -1;
	for (end = at = st.st_size; at > 0; end = at) {
		at = end > (off_t)sizeof(buf) ? end - (off_t)sizeof(buf) : 0;
		if ((n = pread(fd, buf, (size_t)(end - at), at)) !=
		    (ssize_t)(end - at)) {
			if (n >= 0)
				errno = EIO;
			return -1;
		}
		for (ssize_t k = n - 1; k >= 0; k--)
			if (buf[k] == '\n') {
				at += k + 1;
				goto found;
			}
	}
found:
	if (at < st.st_size && ftruncate(fd, at) < 0)
		return -1;
	return st.st_size - at;
}

size_t
jsonline_utf8_char(const char *s, size_t len)
{
	const unsigned char c = (unsigned char)s[0];
	size_t seq = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 :
	    (c >> 3) == 30 ? 4 : 0;

	return seq && seq <= len && bson_utf8_validate(s, seq, false) ?
	    seq : 0;
}

size_t
jsonline_text(const char *s, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	if (outlen == 0)
		return 0;
	for (size_t i = 0; i < len;) {
		size_t seq = jsonline_utf8_char(s + i, len - i);

		if (o + (seq ? seq : 4) >= outlen)
			break;
		if (seq) {
			memcpy(out + o, s + i, seq);
			o += seq;
			i += seq;
		} else
			o += (size_t)snprintf(out + o, 5, "\\x%02X",
			    (unsigned char)s[i++]);
	}
	out[o] = '\0';
	return o;
}

bool
jsonline_append_text(bson_t *doc, const char *key, const char *s)
{
	size_t len = strlen(s);
	char *clean;
	bool ok;

	if (bson_utf8_validate(s, len, false))
		return BSON_APPEND_UTF8(doc, key, s);
	if ((clean = malloc(len * 4 + 1)) == NULL)
		return false;
	jsonline_text(s, len, clean, len * 4 + 1);
	ok = BSON_APPEND_UTF8(doc, key, clean);
	free(clean);
	return ok;
}

size_t
jsonline_compact(char *s, size_t n)
{
	bool in_string = false;
	size_t out = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (in_string) {
			s[out++] = c;
			if (c == '\\' && i + 1 < n)
				s[out++] = s[++i];
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			continue;
		if (c == '"')
			in_string = true;
		s[out++] = c;
	}
	return out;
}

char *
jsonline(const bson_t *doc, size_t *len)
{
	size_t n, full;
	char *json = bson_as_relaxed_extended_json(doc, &full);

	if (json == NULL)
		return NULL;
	n = jsonline_compact(json, full);
	/* libbson always writes spaces, but room for '\n' must be sure. */
	if (n == full)
		json = bson_realloc(json, n + 2);
	json[n++] = '\n';
	json[n] = '\0';
	*len = n;
	return json;
}
