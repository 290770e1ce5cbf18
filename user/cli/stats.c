// SPDX-License-Identifier: GPL-2.0
/* user/cli/stats.c - `xdpfence stats` and `xdpfence top`: reading counters.
 *
 * Counters are per CPU in the maps; everything here sums over CPUs. `top`
 * samples the per-prefix maps twice, an interval apart, with the engine's
 * reader (core/counters.h), and the deny entries' counters with them (a
 * packet an entry drops is counted there, not on its source prefix), and
 * ranks both by rate.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <json-c/json.h>

#include "cli/cli.h"
#include "lib/log.h"
#include "lib/util.h"
#include "core/counters.h"

int do_stats(int argc, char **argv)
{
	struct fence_stat_val v[FENCE_STAT_MAX];
	__u64 total = 0;
	struct pinned s;
	int err;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j"))
			g_opts.json = true;
		else {
			bool asked = !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h");

			fprintf(usage_out(asked), "usage: xdpfence stats [--json]\n"
				"  Packets and bytes per reason, summed over CPUs. Every packet\n"
				"  is counted under exactly one reason.\n"
				"  -j, --json  one JSON object, for scripts\n");
			return asked ? EXIT_OK : EXIT_USAGE;
		}
	}
	if (state_open(&s, false, false))
		return EXIT_RUNTIME;
	err = fence_read_stats(&s.m, v);
	pin_close(&s);
	if (err) {
		pr_err("reading stats: %s", strerror(-err));
		return EXIT_RUNTIME;
	}
	if (g_opts.json) {
		json_object *o = json_object_new_object();

		for (int i = 0; i < FENCE_STAT_MAX; i++) {
			json_object *e = json_object_new_object();

			json_object_object_add(e, "packets", json_object_new_int64(v[i].packets));
			json_object_object_add(e, "bytes", json_object_new_int64(v[i].bytes));
			json_object_object_add(o, fence_stat_name(i), e);
		}
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
		json_object_put(o);
		return EXIT_OK;
	}
	printf("%-16s %16s %18s\n", "reason", "packets", "bytes");
	for (int i = 0; i < FENCE_STAT_MAX; i++) {
		printf("%-16s %16llu %18llu\n", fence_stat_name(i), (unsigned long long)v[i].packets,
		       (unsigned long long)v[i].bytes);
		total += v[i].packets;
	}
	printf("%-16s %16llu\n", "total", (unsigned long long)total);
	return EXIT_OK;
}

/* A row of `top`: a source prefix (its counters: what no drop entry
 * dropped) or a deny entry (what it matched; drops: what it dropped), or
 * both when they are the same prefix; its rates over the interval. */
struct top_row {
	struct pfx_sample s;
	__u8 len;			/* prefix length */
	__u8 entry;			/* counters of a deny entry are in */
	double rate[4];			/* conns, packets, drops, bytes per second */
	__s32 hosts;			/* a source prefix's distinct hosts lately; -1: an
					 * entry alone (no source prefix counted) */
};

static const char *row_prefix(const struct top_row *x, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	inet_ntop(x->s.family == 4 ? AF_INET : AF_INET6, x->s.addr, addr, sizeof(addr));
	snprintf(buf, len, "%s/%u", addr, x->len);
	return buf;
}

static int row_cmp_key(const void *a, const void *b)
{
	const struct top_row *x = a, *y = b;
	int c = counters_cmp_key(&x->s, &y->s);

	return c ? c : (int)x->len - (int)y->len;
}

static int sort_by;

static int row_cmp_rate(const void *a, const void *b)
{
	const struct top_row *x = a, *y = b;

	if (x->rate[sort_by] != y->rate[sort_by])
		return x->rate[sort_by] < y->rate[sort_by] ? 1 : -1;
	return row_cmp_key(x, y);
}

/* Counted since the first sample; a counter that went down belongs to a
 * prefix evicted from the LRU and seen again since: counted from zero. */
static double since(__u64 cur, __u64 old)
{
	return (double)(cur >= old ? cur - old : cur);
}

static void top_usage(bool asked)
{
	fprintf(usage_out(asked),
"usage: xdpfence top [-n N] [--by conns|packets|drops|bytes] [--interval DUR] [--json]\n"
"  The busiest source prefixes (aggregated per /24 and /64 by default) and\n"
"  deny entries: samples the counters twice, DUR apart (default 1s), and\n"
"  ranks by rate. A packet a drop entry drops is counted on the entry (its\n"
"  row shows it under drops), every other on its source prefix.\n"
"  --interval 0 ranks by totals since the prefix was first seen instead.\n"
"  hosts: the distinct hosts of a source prefix that opened connections in\n"
"  the last 4 to 9 s (exact for IPv4, an estimate for IPv6; - for an entry).\n");
}

struct top_opts {
	__u32 topn;
	__u64 interval;			/* seconds between the samples; 0: totals */
};

/* Arguments: -1 to go on, else the exit code (usage printed). */
static int top_args(int argc, char **argv, struct top_opts *o)
{
	static const struct option lo[] = {
		{ "by", required_argument, NULL, 'b' },
		{ "interval", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL }
	};
	static const char *const by_names[] = { "conns", "packets", "drops", "bytes" };
	int c;

	*o = (struct top_opts){ .topn = 20, .interval = 1 };
	sort_by = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, "n:jh", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_u32(optarg, 1, 1000000, &o->topn)) {
				pr_err("-n \"%s\": want a count", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'b':
			sort_by = -1;
			for (int i = 0; i < 4; i++)
				if (!strcmp(optarg, by_names[i]))
					sort_by = i;
			if (sort_by < 0) {
				pr_err("--by \"%s\": want conns, packets, drops or bytes", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'i':
			if (parse_duration(optarg, &o->interval) || o->interval > 3600) {
				pr_err("--interval \"%s\": want a duration up to 1h", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'j':
			g_opts.json = true;
			break;
		case 'h':
			top_usage(true);
			return EXIT_OK;
		default:
			top_usage(false);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		top_usage(false);
		return EXIT_USAGE;
	}
	return -1;
}

/* The rows of one sample: every source prefix with its counters, and
 * every deny entry that matched packets (merged into the prefix's row when
 * it is the same prefix), sorted by prefix. *rows malloc-ed. */
static int top_rows(struct pinned *s, struct counters_reader *rd, const struct fence_meta *meta,
		    struct top_row **rows, size_t *n)
{
	struct fence_entry_counters *ec = NULL;
	struct pfx_sample *v = NULL;
	size_t nv = 0, ne = 0, k = 0;
	int err;

	*rows = NULL;
	*n = 0;
	if ((err = counters_reader_copy(rd, &v, &nv, false)) ||
	    (err = counters_entries_read(&s->m, &ec)))
		goto out;
	for (__u32 slot = table_next(s->t, 0); slot; slot = table_next(s->t, slot))
		ne += s->m.rules[slot].kind == FENCE_KIND_DENY && ec[slot].packets;
	*rows = malloc((nv + ne + 1) * sizeof(**rows));
	if (!*rows) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nv; i++) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		(*rows)[k++] = (struct top_row){ .s = v[i],
			.len = v[i].family == 4 ? meta->v4_agg_len : meta->v6_agg_len,
			.hosts = (__s32)counters_sample_hosts(&v[i],
						(__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec) };
		(*rows)[k - 1].s.c.hosts = NULL;	/* the reader's, gone at its next read */
	}
	for (__u32 slot = table_next(s->t, 0); slot; slot = table_next(s->t, slot)) {
		const struct fence_rule *r = &s->m.rules[slot];
		const struct fence_rule_info *in = &s->m.info[slot];
		struct top_row *x;

		if (r->kind != FENCE_KIND_DENY || !ec[slot].packets)
			continue;
		x = &(*rows)[k++];
		*x = (struct top_row){ .len = in->prefixlen, .entry = 1, .hosts = -1 };
		x->s.family = in->family;
		memcpy(x->s.addr, in->addr, 16);
		x->s.c.packets = ec[slot].packets;
		x->s.c.bytes = ec[slot].bytes;
		x->s.c.new_conns = ec[slot].new_conns;
		x->s.c.drops = r->action == FENCE_ACT_DROP ? ec[slot].packets : 0;
	}
	if (k > 1)
		qsort(*rows, k, sizeof(**rows), row_cmp_key);
	/* an entry of the aggregation length: one row with its source prefix */
	*n = 0;
	for (size_t i = 0; i < k; i++) {
		struct top_row *w = &(*rows)[*n];

		if (*n && !row_cmp_key(w - 1, &(*rows)[i])) {
			struct pfx_counts *a = &w[-1].s.c;
			const struct pfx_counts *b = &(*rows)[i].s.c;

			a->packets += b->packets;
			a->bytes += b->bytes;
			a->new_conns += b->new_conns;
			a->drops += b->drops;
			w[-1].entry |= (*rows)[i].entry;
			if (w[-1].hosts < 0)
				w[-1].hosts = (*rows)[i].hosts;
			continue;
		}
		*w = (*rows)[i];
		(*n)++;
	}
out:
	free(v);
	free(ec);
	if (err) {
		free(*rows);
		*rows = NULL;
	}
	return err;
}

/* Two samples, interval apart (one when 0), and every row's rates between
 * them in *rows (malloc-ed), ranked. -errno. One reader serves both
 * (setting one up costs more than a read); a sample's time is the middle
 * of its read. */
static int top_sample(struct pinned *s, const struct top_opts *o, const struct fence_meta *meta,
		      struct top_row **rows, size_t *n)
{
	struct top_row *a = NULL, *b = NULL;
	struct counters_reader *rd = NULL;
	double t_a = 0, t_b, secs;
	size_t na = 0, nb = 0;
	int err;

	*rows = NULL;
	*n = 0;
	if ((err = counters_reader_new(&rd, &s->m, 0, 0)))
		goto out;
	if (o->interval) {
		struct timespec ts = { o->interval, 0 };

		t_a = now_s();
		if ((err = top_rows(s, rd, meta, &a, &na)))
			goto out;
		t_a = (t_a + now_s()) / 2;
		nanosleep(&ts, NULL);
	}
	t_b = now_s();
	if ((err = top_rows(s, rd, meta, &b, &nb)))
		goto out;
	t_b = (t_b + now_s()) / 2;
	secs = o->interval ? t_b - t_a : 1;
	for (size_t i = 0; i < nb; i++) {
		struct top_row *cur = &b[i], *old = na ? bsearch(cur, a, na, sizeof(*a), row_cmp_key) : NULL;
		struct pfx_counts base = {};

		if (o->interval && old)
			base = old->s.c;
		cur->rate[0] = since(cur->s.c.new_conns, base.new_conns) / secs;
		cur->rate[1] = since(cur->s.c.packets, base.packets) / secs;
		cur->rate[2] = since(cur->s.c.drops, base.drops) / secs;
		cur->rate[3] = since(cur->s.c.bytes, base.bytes) / secs;
	}
	if (nb)
		qsort(b, nb, sizeof(*b), row_cmp_rate);
	*rows = b;
	*n = nb;
	b = NULL;
out:
	counters_reader_free(rd);
	free(a);
	free(b);
	return err;
}

static void top_print(const struct top_row *rows, size_t nb)
{
	if (g_opts.json) {
		json_object *arr = json_object_new_array();

		for (size_t i = 0; i < nb; i++) {
			json_object *o = json_object_new_object();
			char pfx[INET6_ADDRSTRLEN + 8];

			json_object_object_add(o, "prefix", json_object_new_string(
				row_prefix(&rows[i], pfx, sizeof(pfx))));
			json_object_object_add(o, "entry", json_object_new_boolean(rows[i].entry));
			json_object_object_add(o, "hosts", rows[i].hosts < 0 ? NULL :
					       json_object_new_int(rows[i].hosts));
			json_object_object_add(o, "conns_per_s", json_object_new_double(rows[i].rate[0]));
			json_object_object_add(o, "packets_per_s", json_object_new_double(rows[i].rate[1]));
			json_object_object_add(o, "drops_per_s", json_object_new_double(rows[i].rate[2]));
			json_object_object_add(o, "bytes_per_s", json_object_new_double(rows[i].rate[3]));
			json_object_object_add(o, "conns", json_object_new_int64(rows[i].s.c.new_conns));
			json_object_object_add(o, "packets", json_object_new_int64(rows[i].s.c.packets));
			json_object_object_add(o, "drops", json_object_new_int64(rows[i].s.c.drops));
			json_object_object_add(o, "bytes", json_object_new_int64(rows[i].s.c.bytes));
			json_object_array_add(arr, o);
		}
		printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(arr);
		return;
	}
	printf("%-28s %10s %10s %10s %12s %6s   %12s %12s %12s\n", "prefix (* deny entry)",
	       "conns/s", "pkts/s", "drops/s", "bytes/s", "hosts", "conns", "packets", "drops");
	for (size_t i = 0; i < nb; i++) {
		char addr[INET6_ADDRSTRLEN + 8];

		row_prefix(&rows[i], addr, sizeof(addr) - 2);
		if (rows[i].entry)
			strcat(addr, " *");
		char hosts[16] = "-";

		if (rows[i].hosts >= 0)
			snprintf(hosts, sizeof(hosts), "%d", rows[i].hosts);
		printf("%-28s %10.1f %10.1f %10.1f %12.0f %6s   %12llu %12llu %12llu\n", addr,
		       rows[i].rate[0], rows[i].rate[1], rows[i].rate[2], rows[i].rate[3], hosts,
		       (unsigned long long)rows[i].s.c.new_conns, (unsigned long long)rows[i].s.c.packets,
		       (unsigned long long)rows[i].s.c.drops);
	}
	if (!nb)
		printf("(no traffic counted yet)\n");
}

int do_top(int argc, char **argv)
{
	struct top_row *rows = NULL;
	struct fence_meta meta;
	struct top_opts o;
	struct pinned s;
	size_t n;
	int err = top_args(argc, argv, &o);

	if (err >= 0)
		return err;
	if (state_open(&s, false, false))
		return EXIT_RUNTIME;
	if (fence_read_meta(&s.m, &meta))
		meta.v4_agg_len = FENCE_V4_AGG_LEN_DEFAULT, meta.v6_agg_len = FENCE_V6_AGG_LEN_DEFAULT;
	err = top_sample(&s, &o, &meta, &rows, &n);
	if (err)
		pr_err("reading counters: %s", strerror(-err));
	else
		top_print(rows, n < o.topn ? n : o.topn);
	free(rows);
	pin_close(&s);
	return err ? EXIT_RUNTIME : EXIT_OK;
}
