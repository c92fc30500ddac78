/*
 * Error messages. Functions that can fail in more than one way write a
 * message into a buffer the caller gives (err, errlen); these helpers
 * format it and never overflow or leave it unterminated, nor cut a
 * UTF-8 character in two.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mysimbdp-internal.h"

size_t
msb__utf8_cut(const char *s, size_t len)
{
	size_t k = len, need;
	unsigned char c;

	/* Back to the last lead byte: a character has 3 more at most. */
	while (k > 0 && len - k < 3 && ((unsigned char)s[k - 1] & 0xC0) == 0x80)
		k--;
	if (k == 0 || (c = (unsigned char)s[k - 1]) < 0xC0)
		return len;
	need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
	return len - (k - 1) < need ? k - 1 : len;
}

/*
 * What vsnprintf wrote into the size bytes at s, given its answer n: a
 * message cut to fit loses the character it split, so that the message
 * stays UTF-8 (a result file or a JSON line carries it).
 */
static void
fit(char *s, size_t size, int n)
{
	if (n >= 0 && (size_t)n >= size)
		s[msb__utf8_cut(s, size - 1)] = '\0';
}

void
msb__vseterr(char *err, size_t errlen, const char *fmt, va_list ap)
{
	if (err == NULL || errlen == 0)
		return;
	fit(err, errlen, vsnprintf(err, errlen, fmt, ap));
}

void
msb__seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msb__vseterr(err, errlen, fmt, ap);
	va_end(ap);
}

void
msb__adderr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	size_t used;

	if (err == NULL || errlen == 0)
		return;
	used = strnlen(err, errlen);
	if (used >= errlen - 1)
		return;
	if (used > 0) {
		snprintf(err + used, errlen - used, "; ");
		used = strnlen(err, errlen);
		if (used >= errlen - 1)
			return;
	}
	va_start(ap, fmt);
	fit(err + used, errlen - used, vsnprintf(err + used, errlen - used,
	    fmt, ap));
	va_end(ap);
}

const char *
msb__quote(const char *s, size_t len, char *buf, size_t buflen)
{
	size_t o = 0;

	if (buflen == 0)
		return buf;
	for (size_t i = 0; i < len && i < 40; i++) {
		unsigned char c = (unsigned char)s[i];
		char tmp[8];
		size_t n;

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			tmp[0] = (char)c;
			n = 1;
		} else
			n = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", c);
		if (o + n + 4 >= buflen)
			break;
		memcpy(buf + o, tmp, n);
		o += n;
	}
	if (len > 40 && o + 4 < buflen) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

int
msb__errno_rc(int e)
{
	switch (e) {
	case ENOSPC:
	case EDQUOT:
	case EMFILE:
	case ENFILE:
	case ENOMEM:
	case EAGAIN:
	case EBUSY:
	case EINTR:
	case ETIMEDOUT:
		return MSB_TEMPFAIL;
	default:
		return MSB_ERROR;
	}
}
