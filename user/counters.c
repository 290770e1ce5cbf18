/* user/counters.c - see counters.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "counters.h"


int counters_cmp_key(const void *a, const void *b)
{
	const struct pfx_sample *x = a, *y = b;

	if (x->family != y->family)
		return x->family - y->family;
	return memcmp(x->addr, y->addr, 16);
}

/* Every entry of one per-prefix map, appended to *v. */
static int read_prefixes(const struct fence_maps *m, int family, struct pfx_sample **v, size_t *n,
			 size_t *cap)
{
	int fd = m->fd[family == 4 ? FM_PREFIX_V4 : FM_PREFIX_V6];
	size_t ksz = family == 4 ? 4 : 16, batch_n = 16384;
	__u8 *keys = malloc(ksz * batch_n);
	struct fence_counters *vals = malloc(sizeof(*vals) * m->ncpus * batch_n);
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	__u8 batch[16];
	bool first = true;
	int ret = 0;

	if (!keys || !vals) {
		ret = -ENOMEM;
		goto out;
	}
	for (;;) {
		__u32 cnt = batch_n;
		int err = bpf_map_lookup_batch(fd, first ? NULL : batch, batch, keys, vals, &cnt, &o);

		first = false;
		if (err && errno != ENOENT) {
			ret = -errno;
			goto out;
		}
		for (__u32 i = 0; i < cnt; i++) {
			struct pfx_sample *s;

			if (*n == *cap) {
				size_t nc = *cap ? *cap * 2 : 4096;
				struct pfx_sample *nv = realloc(*v, nc * sizeof(*nv));

				if (!nv) {
					ret = -ENOMEM;
					goto out;
				}
				*v = nv;
				*cap = nc;
			}
			s = &(*v)[(*n)++];
			memset(s, 0, sizeof(*s));
			s->family = family;
			memcpy(s->addr, keys + i * ksz, ksz);
			for (int c = 0; c < m->ncpus; c++) {
				const struct fence_counters *pc = &vals[i * m->ncpus + c];

				s->c.packets += pc->packets;
				s->c.bytes += pc->bytes;
				s->c.new_conns += pc->new_conns;
				s->c.drops += pc->drops;
				if (pc->last_seen_ns > s->c.last_seen_ns)
					s->c.last_seen_ns = pc->last_seen_ns;
			}
		}
		if (err)
			break;	/* ENOENT: that was the last batch */
	}
out:
	free(keys);
	free(vals);
	return ret;
}

int counters_read(const struct fence_maps *m, struct pfx_sample **v, size_t *n, bool sorted)
{
	size_t cap = 0;
	int err;

	*v = NULL;
	*n = 0;
	err = read_prefixes(m, 4, v, n, &cap);
	if (!err)
		err = read_prefixes(m, 6, v, n, &cap);
	if (!err && *n && sorted)
		qsort(*v, *n, sizeof(**v), counters_cmp_key);
	return err;
}

