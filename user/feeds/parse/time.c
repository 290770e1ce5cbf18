// SPDX-License-Identifier: GPL-2.0
/* user/feeds/parse/time.c - instants and durations as feeds spell them.
 *
 * Owns RFC 3339 timestamps (STIX valid_until) and Go durations (CrowdSec
 * "duration"): text in, seconds or nanoseconds out, or the reason the text
 * is bad. Pure: never reads the clock (the caller compares with the time it
 * was handed), no files, maps or globals.
 */
#include <time.h>

#include "feeds/parse/internal.h"

static bool digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

/* RFC 3339 "2026-12-01T00:00:00[.123]Z" or "...+02:00" to Unix seconds,
 * rounded down; *frac tells a sub-second part was cut. NULL or the reason. */
const char *feed_rfc3339(const char *s, size_t n, int64_t *t, bool *frac)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int year, mon, day, hour, min, sec, oh = 0, om = 0, sign = 0, dim;
	struct tm tm;
	size_t i = 19;

	*frac = false;
	if (n < 19 || !digits(s, 4, &year) || s[4] != '-' || !digits(s + 5, 2, &mon) ||
	    s[7] != '-' || !digits(s + 8, 2, &day) || (s[10] != 'T' && s[10] != 't') ||
	    !digits(s + 11, 2, &hour) || s[13] != ':' || !digits(s + 14, 2, &min) ||
	    s[16] != ':' || !digits(s + 17, 2, &sec))
		return "not an RFC 3339 timestamp";
	if (i < n && s[i] == '.') {
		size_t start = ++i;

		for (; i < n && is_digit(s[i]); i++)
			if (s[i] != '0')
				*frac = true;
		if (i == start)
			return "no digits after '.'";
	}
	if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < n && (s[i] == '+' || s[i] == '-')) {
		sign = s[i] == '-' ? -1 : 1;
		if (n - i < 6 || !digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
		    !digits(s + i + 4, 2, &om))
			return "bad time zone offset";
		i += 6;
	} else {
		return "missing time zone";
	}
	if (i != n)
		return "trailing text";
	if (mon < 1 || mon > 12)
		return "month out of range";
	dim = mdays[mon - 1] + (mon == 2 && year % 4 == 0 && (year % 100 || year % 400 == 0));
	if (day < 1 || day > dim || hour > 23 || min > 59 || sec > 60 || oh > 23 || om > 59)
		return "field out of range";
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	/* years 0..9999 fit a 64-bit time_t, so -1 is a real instant here */
	*t = (int64_t)timegm(&tm) - sign * (oh * 3600 + om * 60);
	return NULL;
}

/* Go's time.ParseDuration: "1h2m3.5s", "-1s", "0". NULL or the reason. */
const char *feed_go_duration(const char *s, size_t n, int64_t *out)
{
	static const struct {
		const char *name;
		uint64_t ns;
	} units[] = {
		{ "ns", 1ULL }, { "us", 1000ULL }, { "\xc2\xb5s", 1000ULL },
		{ "\xce\xbcs", 1000ULL }, { "ms", 1000000ULL }, { "s", 1000000000ULL },
		{ "m", 60000000000ULL }, { "h", 3600000000000ULL },
	};
	const uint64_t lim = 1ULL << 63;
	const char *p = s, *e = s + n;
	uint64_t d = 0;
	bool neg = false;

	if (p < e && (*p == '-' || *p == '+'))
		neg = *p++ == '-';
	if (e - p == 1 && *p == '0') {
		*out = 0;
		return NULL;
	}
	if (p == e)
		return "empty";
	while (p < e) {
		uint64_t v = 0, f = 0, unit = 0;
		double scale = 1;
		bool pre = false, post = false, over = false;
		const char *u;

		if (*p != '.' && !is_digit(*p))
			return "expected a number";
		for (; p < e && is_digit(*p); p++, pre = true) {
			if (v > (lim - 1) / 10)
				return "out of range";
			v = v * 10 + (uint64_t)(*p - '0');
			if (v > lim)
				return "out of range";
		}
		if (p < e && *p == '.') {
			for (p++; p < e && is_digit(*p); p++, post = true) {
				if (over)
					continue;
				if (f > (lim - 1) / 10) {
					over = true;	/* further digits are below ns */
					continue;
				}
				f = f * 10 + (uint64_t)(*p - '0');
				scale *= 10;
			}
		}
		if (!pre && !post)
			return "expected a number";
		for (u = p; p < e && *p != '.' && !is_digit(*p); p++)
			;
		if (u == p)
			return "missing unit";
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (str_is(u, (size_t)(p - u), units[i].name, false))
				unit = units[i].ns;
		if (!unit)
			return "unknown unit";
		if (v > lim / unit)
			return "out of range";
		v *= unit;
		if (f) {
			v += (uint64_t)((double)f * ((double)unit / scale));
			if (v > lim)
				return "out of range";
		}
		d += v;
		if (d > lim)
			return "out of range";
	}
	if (neg) {
		*out = d == lim ? INT64_MIN : -(int64_t)d;
		return NULL;
	}
	if (d > lim - 1)
		return "out of range";
	*out = (int64_t)d;
	return NULL;
}
