/*
 * load-csv SCHEMA COLLECTION: a complete batch app. Loads the CSV file the
 * platform gives it (MYSIMBDP_INPUT_FILE) into COLLECTION, typed by the
 * schema file, and writes its summary. Exit 0 done, 75 try again later.
 * (The example of clientlib/README.md; tests/clientlib/t_example.sh.)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <mysimbdp.h>

struct job {
	struct msb_schema	*schema;
	struct msb_sink		*sink;
	struct msb_metrics	*metrics;
	char			 hash[MSB_HASH_HEX_SIZE];
	char			 err[512];
};

static int
header(const struct msb_csv_record *rec, void *arg)
{
	struct job *j = arg;

	return msb_schema_bind(j->schema, rec, j->err, sizeof(j->err));
}

static int
row(const struct msb_csv_record *rec, void *arg)
{
	struct job *j = arg;
	bson_t doc = BSON_INITIALIZER;
	char why[512];
	int rc = MSB_OK;

	/* The id comes from the file's content and the row number. */
	msb_doc_append_id(&doc, j->hash, rec->num);
	if (msb_schema_convert(j->schema, rec, &doc, why, sizeof(why)) ==
	    MSB_OK) {
		rc = msb_sink_add(j->sink, &doc);
		msb_metrics_add(j->metrics, MSB_M_ROWS, 1);
	} else
		fprintf(stderr, "rejected: %s\n", why);	/* counted, skipped */
	bson_destroy(&doc);
	return rc;
}

int
main(int argc, char **argv)
{
	struct msb_csv_options opts = {
		.flags = MSB_CSV_HEADER, .on_header = header,
	};
	struct job j = { 0 };
	struct msb_env env;
	uint64_t rows, rejected;
	int rc = MSB_ERROR;

	if (argc != 3) {
		fprintf(stderr, "usage: load-csv SCHEMA COLLECTION\n");
		return 1;
	}
	msb_init();
	if (msb_env_load(&env, j.err, sizeof(j.err)) != MSB_OK ||
	    (j.schema = msb_schema_load(argv[1], j.err, sizeof(j.err))) == NULL)
		goto out;
	if (msb_file_hash(env.input_file, j.hash) != MSB_OK) {
		snprintf(j.err, sizeof(j.err), "%s: %s", env.input_file,
		    strerror(errno));
		goto out;
	}
	j.metrics = msb_metrics_open_env(&env);	/* NULL: no metrics, go on */
	rc = msb_sink_open_env(&j.sink, &env, argv[2], j.err, sizeof(j.err));
	if (rc == MSB_OK)
		rc = msb_csv_read_file(env.input_file, &opts, row, &j, j.err,
		    sizeof(j.err));
	if (rc == MSB_OK)	/* the content hash names the unit of work */
		rc = msb_sink_commit(j.sink, j.hash);
	if (rc != MSB_OK && j.sink != NULL && j.err[0] == '\0')
		snprintf(j.err, sizeof(j.err), "%s", msb_sink_error(j.sink));
	if (rc == MSB_OK) {
		msb_schema_counts(j.schema, &rows, &rejected);
		if (msb_result_write(env.result_file, rows, rejected, NULL) !=
		    MSB_OK)
			perror("result file");
		printf("%s: %llu rows, %llu rejected\n", env.input_file,
		    (unsigned long long)rows, (unsigned long long)rejected);
	}
out:
	if (rc != MSB_OK)
		fprintf(stderr, "load-csv: %s\n", j.err);
	msb_metrics_close(j.metrics);
	msb_sink_close(j.sink);
	msb_schema_free(j.schema);
	msb_cleanup();
	return msb_exit_code(rc);
}
