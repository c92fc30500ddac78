/*
 * confschema: prints every setting the configuration loader knows, one
 * per line: "platform|tenant PATH TYPE DEFAULT" (DEFAULT "-" when there
 * is none, "required" for required settings), for the check of
 * docs/configuration.md against the code (t_docs_config.sh).
 */
#include <stdbool.h>
#include <stdio.h>

#include "conf.h"

static void
print_setting(const struct conf_setting *cs, void *arg)
{
	printf("%s %s %s %s\n", (const char *)arg, cs->cs_path, cs->cs_type,
	    cs->cs_required ? "required" :
	    cs->cs_default != NULL ? cs->cs_default : "-");
}

int
main(void)
{
	conf_settings_walk(true, print_setting, (void *)"platform");
	conf_settings_walk(false, print_setting, (void *)"tenant");
	return 0;
}
