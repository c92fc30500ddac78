/*
 * csvparse: the parse-only reference of scripts/bench csv: reads FILE in
 * 1 MiB chunks through libcsv with callbacks that only count fields and
 * records, as fast as the CSV parser alone goes (acme-listings uses the
 * same parser, through libmysimbdp's reader, and then types, hashes,
 * builds BSON and writes). Prints {"records":N,"fields":N,"seconds":S}.
 *
 * usage: csvparse FILE
 */
#include <csv.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHUNK (1024 * 1024)

struct counts {
	unsigned long long records, fields;
};

static void
on_field(void *data, size_t len, void *arg)
{
	(void)data;
	(void)len;
	((struct counts *)arg)->fields++;
}

static void
on_record(int c, void *arg)
{
	(void)c;
	((struct counts *)arg)->records++;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char *argv[])
{
	struct csv_parser p;
	struct counts n = { 0, 0 };
	char *buf = malloc(CHUNK);
	FILE *fp;
	size_t got;
	double t0;

	if (argc != 2 || buf == NULL) {
		fprintf(stderr, "usage: csvparse FILE\n");
		return 64;
	}
	if ((fp = fopen(argv[1], "rb")) == NULL) {
		perror(argv[1]);
		return 66;
	}
	/* The options libmysimbdp's reader gives libcsv. */
	if (csv_init(&p, 0) != 0)
		return 70;
	t0 = now();
	while ((got = fread(buf, 1, CHUNK, fp)) > 0)
		if (csv_parse(&p, buf, got, on_field, on_record, &n) != got) {
			fprintf(stderr, "%s: %s\n", argv[1],
			    csv_strerror(csv_error(&p)));
			return 65;
		}
	csv_fini(&p, on_field, on_record, &n);
	printf("{\"records\":%llu,\"fields\":%llu,\"seconds\":%.4f}\n",
	    n.records, n.fields, now() - t0);
	csv_free(&p);
	fclose(fp);
	free(buf);
	return 0;
}
