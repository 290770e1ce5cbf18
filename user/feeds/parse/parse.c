// SPDX-License-Identifier: GPL-2.0
/* user/feeds/parse/parse.c - the format table and the API of feeds/parse.h.
 *
 * Owns the list of formats: each one's name, how it is recognised and which
 * parser reads it. Adding a format is a file of its own and a row here.
 * Knows nothing of any format's syntax, and like the parsers is pure: no
 * files, maps, clocks or globals (the fuzz harness links the .c files of
 * user/feeds/parse/ with lib/cidr.c and lib/util.c alone).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "feeds/parse/internal.h"

struct feed_format_ops {
	enum feed_format format;
	const char *name;	/* as on the command line and in the config */
	bool (*detect)(const char *buf, size_t len);	/* NULL: never auto-detected */
	int (*parse)(struct feed_ctx *ctx, const char *buf, size_t len);	/* NULL: auto */
};

/* Auto-detection asks in this order and takes the first yes: a JSON object
 * with a "new" or "deleted" key is CrowdSec whatever else it holds, one of
 * type bundle or indicator is STIX even with a "cidr" key, and plain takes
 * anything, so it is asked last. */
static const struct feed_format_ops formats[] = {
	{ FEED_FMT_CROWDSEC,      "crowdsec",      feed_crowdsec_detect, feed_crowdsec_parse },
	{ FEED_FMT_STIX,          "stix",          feed_stix_detect,     feed_stix_parse },
	{ FEED_FMT_SPAMHAUS_JSON, "spamhaus-json", feed_spamhaus_detect, feed_spamhaus_parse },
	{ FEED_FMT_IPSET,         "ipset",         feed_ipset_detect,    feed_ipset_parse },
	{ FEED_FMT_PLAIN,         "plain",         feed_plain_detect,    feed_plain_parse },
	{ FEED_FMT_NETSET,        "netset",        NULL,                 feed_plain_parse },
	{ FEED_FMT_AUTO,          "auto",          NULL,                 NULL },
};
_Static_assert(sizeof(formats) / sizeof(formats[0]) == FEED_FMT_COUNT,
	       "one row per enum feed_format");

static const struct feed_format_ops *format_ops(enum feed_format f)
{
	for (size_t i = 0; i < FEED_FMT_COUNT; i++)
		if (formats[i].format == f)
			return &formats[i];
	return NULL;
}

const char *feed_format_name(enum feed_format f)
{
	const struct feed_format_ops *ops = format_ops(f);

	return ops ? ops->name : "unknown";
}

int feed_format_parse(const char *name)
{
	if (!name)
		return -1;
	for (size_t i = 0; i < FEED_FMT_COUNT; i++)
		if (!strcmp(name, formats[i].name))
			return formats[i].format;
	return -1;
}

static size_t skip_bom(const char **buf, size_t len)
{
	if (len >= 3 && !memcmp(*buf, "\xef\xbb\xbf", 3)) {
		*buf += 3;
		return len - 3;
	}
	return len;
}

enum feed_format feed_detect(const char *buf, size_t len)
{
	if (!buf) {
		buf = "";
		len = 0;
	}
	len = skip_bom(&buf, len);
	for (size_t i = 0; i < FEED_FMT_COUNT; i++)
		if (formats[i].detect && formats[i].detect(buf, len))
			return formats[i].format;
	return FEED_FMT_PLAIN;
}

int feed_parse(const char *buf, size_t len, enum feed_format fmt, int64_t now_unix,
	       struct feed_result *res)
{
	struct feed_ctx ctx = { .res = res, .now = now_unix };
	const struct feed_format_ops *ops;
	int ret;

	if (!buf || !len) {
		buf = "";
		len = 0;
	}
	len = skip_bom(&buf, len);
	if (res->n_errors > FEED_ERRORS_MAX)	/* appending past the cap */
		ctx.suppressed = strtoull(res->errors[FEED_ERRORS_MAX].msg, NULL, 10);
	if (fmt == FEED_FMT_AUTO)
		fmt = feed_detect(buf, len);
	ops = format_ops(fmt);
	if (!ops || !ops->parse)
		return -EINVAL;
	ret = ops->parse(&ctx, buf, len);
	res->format = fmt;
	if (ctx.suppressed && res->n_errors > FEED_ERRORS_MAX)
		snprintf(res->errors[FEED_ERRORS_MAX].msg, sizeof(res->errors[0].msg),
			 "%zu more errors not listed", ctx.suppressed);
	return ret;
}
