#include "jsonline.h"

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
