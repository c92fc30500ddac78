/*
 * One listing: how a record of acme's listings CSV becomes a document.
 * The columns are found by name in the header, so their order in the
 * export does not matter; each has a type and, when its value is bad, a
 * reason the row is rejected for. The stream app (update.c) builds its
 * records from JSON fields in the columns' own order instead.
 */
#ifndef ACME_LISTING_H
#define ACME_LISTING_H

#include <stdbool.h>
#include <stddef.h>

#include <mysimbdp.h>

/* Why a row was rejected; counted per reason in the result summary. */
enum listing_reject {
	LR_OK = 0,
	LR_COLUMNS,	/* not as many fields as the header */
	LR_ID,		/* id missing or not an integer */
	LR_PRICE,	/* price missing or not money */
	LR_COORDS,	/* latitude/longitude missing, bad or out of range */
	LR_VALUE,	/* another field does not convert */
	LR_DOC,		/* the sink refused the document */
	LR_NREASONS
};

#define LISTING_NCOLS 20

struct listing {
	size_t	 li_pos[LISTING_NCOLS];	/* field index of each column */
	size_t	 li_nheader;		/* fields in the header */
	char	*li_scratch;		/* decoding room for one field */
	size_t	 li_scratchcap;
};

/* The reason's name in the summary: "columns", "id", "price", ... */
const char *listing_reject_name(enum listing_reject why);

/* The name of column i (0 <= i < LISTING_NCOLS), in the export's order. */
const char *listing_column(size_t i);

/*
 * Takes the columns by position, in the order of listing_column(): for
 * records that are built rather than read under a header.
 */
void	listing_bind_ordered(struct listing *li);

/*
 * Finds every column in the header record. Returns 0, or -1 with the
 * missing column names in err (the file is not a listings export).
 */
int	listing_bind(struct listing *li, const struct msb_csv_record *header,
	    char *err, size_t errlen);

/*
 * Appends the typed fields of rec to doc, after what doc holds already
 * (its _id), then location as a GeoJSON point. Returns LR_OK, or the
 * reason with a message in why ("record N: price: not a price: ..."; a
 * record numbered 0, which no CSV record is, is not named); doc then
 * holds part of the row and must be dropped.
 */
enum listing_reject listing_convert(struct listing *li,
	    const struct msb_csv_record *rec, struct msb_docbuild *doc,
	    char *why, size_t whylen);

void	listing_free(struct listing *li);

#endif
