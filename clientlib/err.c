/*
 * Error messages. Functions that can fail in more than one way write a
 * message into a buffer the caller gives (err, errlen); these helpers
 * format it and never overflow or leave it unterminated.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mysimbdp-internal.h"

void
msb__vseterr(char *err, size_t errlen, const char *fmt, va_list ap)
{
	if (err == NULL || errlen == 0)
		return;
	vsnprintf(err, errlen, fmt, ap);
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
	vsnprintf(err + used, errlen - used, fmt, ap);
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
