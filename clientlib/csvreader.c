/*
 * A streaming CSV reader over libcsv. libcsv hands over one field at a
 * time, valid only during its callback; the reader copies the fields of
 * the current record into one buffer and calls the app back once per
 * record with all of them, so memory stays at one record whatever the
 * file size.
 */
#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mysimbdp-internal.h"

#define DEFAULT_MAX_RECORD (64 * 1024 * 1024)

static const unsigned char bom[3] = { 0xef, 0xbb, 0xbf };

struct msb_csv {
	struct csv_parser	 c_parser;
	struct msb_csv_options	 c_opts;
	msb_csv_cb		 c_cb;
	void			*c_arg;

	/* The record being assembled: field bytes, each followed by NUL. */
	char			*c_data;
	size_t			 c_datalen;
	size_t			 c_datacap;
	size_t			*c_offs;
	size_t			*c_lens;
	const char		**c_fields;
	size_t			 c_nfields;
	size_t			 c_fieldcap;

	uint64_t		 c_nrec;	/* data records delivered */
	bool			 c_header_seen;
	bool			 c_finished;
	int			 c_stop;	/* non-zero: the result */
	unsigned char		 c_bom[3];	/* the first bytes */
	size_t			 c_nbom;
	bool			 c_bom_done;
	char			 c_err[256];
};

static int
stop(struct msb_csv *csv, int rc, const char *fmt, ...) MSB__FMT(3, 4);

static int
stop(struct msb_csv *csv, int rc, const char *fmt, ...)
{
	va_list ap;

	if (fmt != NULL) {
		va_start(ap, fmt);
		msb__vseterr(csv->c_err, sizeof(csv->c_err), fmt, ap);
		va_end(ap);
	}
	csv->c_stop = rc;
	return rc;
}

/* The record number the parser is in, for messages. */
static uint64_t
current(const struct msb_csv *csv)
{
	return csv->c_nrec + 1;
}

static int
grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 16;
	void *np;

	while (n < need)
		n *= 2;
	if ((np = realloc(*p, n * size)) == NULL)
		return -1;
	*p = np;
	*cap = n;
	return 0;
}

static void
on_field(void *field, size_t len, void *arg)
{
	struct msb_csv *csv = arg;
	size_t need = csv->c_datalen + len + 1;

	if (csv->c_stop)
		return;
	if (need > csv->c_opts.max_record) {
		stop(csv, MSB_ERROR, "record %" PRIu64 ": larger than %zu "
		    "bytes (an unclosed quote?)", current(csv),
		    csv->c_opts.max_record);
		return;
	}
	if (csv->c_nfields + 1 > csv->c_fieldcap) {
		size_t cap = csv->c_fieldcap;

		/* Three arrays of the same capacity: grow them together. */
		if (grow((void **)&csv->c_offs, &cap, csv->c_nfields + 1,
		    sizeof(size_t)) == -1) {
			stop(csv, MSB_TEMPFAIL, "out of memory");
			return;
		}
		cap = csv->c_fieldcap;
		if (grow((void **)&csv->c_lens, &cap, csv->c_nfields + 1,
		    sizeof(size_t)) == -1) {
			stop(csv, MSB_TEMPFAIL, "out of memory");
			return;
		}
		cap = csv->c_fieldcap;
		if (grow((void **)&csv->c_fields, &cap, csv->c_nfields + 1,
		    sizeof(char *)) == -1) {
			stop(csv, MSB_TEMPFAIL, "out of memory");
			return;
		}
		csv->c_fieldcap = cap;
	}
	if (need > csv->c_datacap && grow((void **)&csv->c_data,
	    &csv->c_datacap, need, 1) == -1) {
		stop(csv, MSB_TEMPFAIL, "out of memory");
		return;
	}
	if (len > 0)
		memcpy(csv->c_data + csv->c_datalen, field, len);
	csv->c_data[csv->c_datalen + len] = '\0';
	csv->c_offs[csv->c_nfields] = csv->c_datalen;
	csv->c_lens[csv->c_nfields] = len;
	csv->c_nfields++;
	csv->c_datalen = need;
}

static void
on_record(int c, void *arg)
{
	struct msb_csv *csv = arg;
	struct msb_csv_record rec;
	int rc = 0;

	if (csv->c_stop)
		return;
	/* The data buffer may have moved: point at the fields only now. */
	for (size_t i = 0; i < csv->c_nfields; i++)
		csv->c_fields[i] = csv->c_data + csv->c_offs[i];
	rec.nfields = csv->c_nfields;
	rec.fields = csv->c_fields;
	rec.lens = csv->c_lens;
	if ((csv->c_opts.flags & MSB_CSV_HEADER) && !csv->c_header_seen) {
		csv->c_header_seen = true;
		rec.num = 0;
		if (csv->c_opts.on_header != NULL)
			rc = csv->c_opts.on_header(&rec, csv->c_arg);
	} else {
		rec.num = ++csv->c_nrec;
		rc = csv->c_cb(&rec, csv->c_arg);
	}
	if (rc != 0)
		stop(csv, rc, NULL);
	csv->c_nfields = 0;
	csv->c_datalen = 0;
}

struct msb_csv *
msb_csv_new(const struct msb_csv_options *opts, msb_csv_cb cb, void *arg)
{
	struct msb_csv *csv;
	unsigned char flags = 0;

	if (cb == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if ((csv = calloc(1, sizeof(*csv))) == NULL)
		return NULL;
	if (opts != NULL)
		csv->c_opts = *opts;
	if (csv->c_opts.delimiter == 0)
		csv->c_opts.delimiter = ',';
	if (csv->c_opts.quote == 0)
		csv->c_opts.quote = '"';
	if (csv->c_opts.max_record == 0)
		csv->c_opts.max_record = DEFAULT_MAX_RECORD;
	if (csv->c_opts.flags & MSB_CSV_STRICT)
		flags |= CSV_STRICT | CSV_STRICT_FINI;
	if (csv_init(&csv->c_parser, flags) != 0) {
		free(csv);
		errno = ENOMEM;
		return NULL;
	}
	csv_set_delim(&csv->c_parser, (unsigned char)csv->c_opts.delimiter);
	csv_set_quote(&csv->c_parser, (unsigned char)csv->c_opts.quote);
	csv->c_cb = cb;
	csv->c_arg = arg;
	return csv;
}

static int
parse(struct msb_csv *csv, const void *buf, size_t len)
{
	size_t n;

	if (len == 0 || csv->c_stop)
		return csv->c_stop;
	n = csv_parse(&csv->c_parser, buf, len, on_field, on_record, csv);
	if (n != len && !csv->c_stop) {
		int e = csv_error(&csv->c_parser);

		return stop(csv, e == CSV_ENOMEM ? MSB_TEMPFAIL : MSB_ERROR,
		    "record %" PRIu64 ": malformed CSV (%s)", current(csv),
		    csv_strerror(e));
	}
	return csv->c_stop;
}

int
msb_csv_feed(struct msb_csv *csv, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	if (csv->c_stop)
		return csv->c_stop;
	if (csv->c_finished)
		return stop(csv, MSB_ERROR, "input already finished");
	/* A UTF-8 byte-order mark may arrive split over several calls. */
	while (!csv->c_bom_done && len > 0) {
		csv->c_bom[csv->c_nbom++] = *p++;
		len--;
		if (csv->c_bom[csv->c_nbom - 1] != bom[csv->c_nbom - 1]) {
			csv->c_bom_done = true;
			if (parse(csv, csv->c_bom, csv->c_nbom) != 0)
				return csv->c_stop;
		} else if (csv->c_nbom == sizeof(bom))
			csv->c_bom_done = true;
	}
	return parse(csv, p, len);
}

int
msb_csv_finish(struct msb_csv *csv)
{
	if (csv->c_stop)
		return csv->c_stop;
	if (csv->c_finished)
		return MSB_OK;
	csv->c_finished = true;
	if (!csv->c_bom_done) {
		csv->c_bom_done = true;
		if (parse(csv, csv->c_bom, csv->c_nbom) != 0)
			return csv->c_stop;
	}
	if (csv_fini(&csv->c_parser, on_field, on_record, csv) != 0 &&
	    !csv->c_stop)
		return stop(csv, MSB_ERROR, "record %" PRIu64 ": malformed "
		    "CSV at the end of the input (an unclosed quote?)",
		    current(csv));
	return csv->c_stop;
}

const char *
msb_csv_error(const struct msb_csv *csv)
{
	return csv->c_err;
}

uint64_t
msb_csv_records(const struct msb_csv *csv)
{
	return csv->c_nrec;
}

void
msb_csv_free(struct msb_csv *csv)
{
	if (csv == NULL)
		return;
	csv_free(&csv->c_parser);
	free(csv->c_data);
	free(csv->c_offs);
	free(csv->c_lens);
	free(csv->c_fields);
	free(csv);
}

int
msb_csv_read_file(const char *path, const struct msb_csv_options *opts,
    msb_csv_cb cb, void *arg, char *err, size_t errlen)
{
	struct msb_csv *csv;
	char buf[65536];
	ssize_t n;
	int fd, rc = MSB_OK;

	msb__seterr(err, errlen, "%s", "");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		int e = errno;

		msb__seterr(err, errlen, "%s: %s", path, strerror(e));
		return msb__errno_rc(e);
	}
	if ((csv = msb_csv_new(opts, cb, arg)) == NULL) {
		msb__seterr(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return MSB_ERROR;
	}
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			int e = errno;

			msb__seterr(err, errlen, "%s: read: %s", path,
			    strerror(e));
			rc = msb__errno_rc(e);
			break;
		}
		if (n == 0) {
			rc = msb_csv_finish(csv);
			break;
		}
		if ((rc = msb_csv_feed(csv, buf, (size_t)n)) != MSB_OK)
			break;
	}
	if (rc != MSB_OK && csv->c_err[0] != '\0')
		msb__seterr(err, errlen, "%s: %s", path, csv->c_err);
	msb_csv_free(csv);
	close(fd);
	return rc;
}
