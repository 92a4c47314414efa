#include "ipt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libiptc/libip6tc.h>
#include <libiptc/libiptc.h>
#include <linux/netfilter/xt_mark.h>
#include <linux/netfilter/xt_sctp.h>
#include <linux/netfilter/xt_tcpudp.h>

#include "common/config.h"
#include "common/log.h"
#include "common/util.h"
#include "netagent/dryrun.h"

#define IPT_TABLE "mangle"
#define IPT_TRIES 5
#define IPT_LOCK_TRIES 50 /* 100 ms apart */

#define MATCH_SIZE(t)                                                          \
	(XT_ALIGN(sizeof(struct xt_entry_match)) + XT_ALIGN(sizeof(t)))
#define TARGET_SIZE(t)                                                         \
	(XT_ALIGN(sizeof(struct xt_entry_target)) + XT_ALIGN(sizeof(t)))
/* The largest rule kiwi builds: IPv6, and sctp's is the biggest match. */
#define RULE_MAX                                                               \
	(sizeof(struct ip6t_entry) + MATCH_SIZE(struct xt_sctp_info) +         \
	    TARGET_SIZE(struct xt_mark_tginfo2))

/* libiptc reads chain names as whole 32-byte buffers. */
static const xt_chainlabel ipt_hook = "PREROUTING";
static const xt_chainlabel ipt_chain = KIWI_CHAIN;

union rule_buf {
	struct ipt_entry e4;
	struct ip6t_entry e6;
	uint8_t bytes[RULE_MAX];
};

/*
 * libiptc and libip6tc, side by side.  The calls that take no entry
 * have the same type in both; those that do are wrapped below.
 */
struct ipt_family {
	int family;
	const char *table; /* for logs */
	size_t entry_size;
	struct xtc_handle *(*init)(const char *);
	void (*free)(struct xtc_handle *);
	int (*commit)(struct xtc_handle *);
	int (*is_chain)(const char *, struct xtc_handle *const);
	int (*create_chain)(const xt_chainlabel, struct xtc_handle *);
	int (*flush_entries)(const xt_chainlabel, struct xtc_handle *);
	int (*delete_chain)(const xt_chainlabel, struct xtc_handle *);
	int (*delete_num_entry)(
	    const xt_chainlabel, unsigned int, struct xtc_handle *);
	const void *(*first_rule)(const char *, struct xtc_handle *);
	const void *(*next_rule)(const void *, struct xtc_handle *);
	const char *(*get_target)(const void *, struct xtc_handle *);
	int (*append)(
	    const xt_chainlabel, const union rule_buf *, struct xtc_handle *);
	int (*insert)(const xt_chainlabel, const union rule_buf *, unsigned int,
	    struct xtc_handle *);
};

struct sync_arg {
	const struct ipt_family *f;
	const struct kiwi_config *cfg;
	const struct kiwi_ipset *sets;
	size_t n;
};

typedef int (*ipt_edit_fn)(
    const struct ipt_family *f, struct xtc_handle *h, const void *arg);

static const void *
first4(const char *chain, struct xtc_handle *h)
{
	return iptc_first_rule(chain, h);
}

static const void *
next4(const void *e, struct xtc_handle *h)
{
	return iptc_next_rule(e, h);
}

static const char *
target4(const void *e, struct xtc_handle *h)
{
	return iptc_get_target(e, h);
}

static int
append4(const xt_chainlabel c, const union rule_buf *b, struct xtc_handle *h)
{
	return iptc_append_entry(c, &b->e4, h);
}

static int
insert4(const xt_chainlabel c, const union rule_buf *b, unsigned int n,
    struct xtc_handle *h)
{
	return iptc_insert_entry(c, &b->e4, n, h);
}

static const void *
first6(const char *chain, struct xtc_handle *h)
{
	return ip6tc_first_rule(chain, h);
}

static const void *
next6(const void *e, struct xtc_handle *h)
{
	return ip6tc_next_rule(e, h);
}

static const char *
target6(const void *e, struct xtc_handle *h)
{
	return ip6tc_get_target(e, h);
}

static int
append6(const xt_chainlabel c, const union rule_buf *b, struct xtc_handle *h)
{
	return ip6tc_append_entry(c, &b->e6, h);
}

static int
insert6(const xt_chainlabel c, const union rule_buf *b, unsigned int n,
    struct xtc_handle *h)
{
	return ip6tc_insert_entry(c, &b->e6, n, h);
}

static const struct ipt_family ipt_families[] = {
	{ AF_INET, "mangle", sizeof(struct ipt_entry), iptc_init, iptc_free,
	    iptc_commit, iptc_is_chain, iptc_create_chain, iptc_flush_entries,
	    iptc_delete_chain, iptc_delete_num_entry, first4, next4, target4,
	    append4, insert4 },
	{ AF_INET6, "ip6 mangle", sizeof(struct ip6t_entry), ip6tc_init,
	    ip6tc_free, ip6tc_commit, ip6tc_is_chain, ip6tc_create_chain,
	    ip6tc_flush_entries, ip6tc_delete_chain, ip6tc_delete_num_entry,
	    first6, next6, target6, append6, insert6 },
};

int
ipt_lock_open(void)
{
	const char *path = getenv("XTABLES_LOCKFILE");
	int fd;

	if (path == NULL || *path == '\0')
		path = KIWI_XTABLES_LOCK;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		fd = -errno;
		log_warn("cannot open the xtables lock %s", path);
	}
	return fd;
}

/* Wait a bounded time for the lock the iptables tools also take. */
static int
ipt_lock(int fd)
{
	int i;

	for (i = 0; i < IPT_LOCK_TRIES; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		usleep(100 * 1000);
	}
	return -ETIMEDOUT;
}

/* Append a match header and reserve its data; returns the data. */
static void *
match_add(uint8_t **p, const char *name, size_t datalen)
{
	struct xt_entry_match *m = (struct xt_entry_match *)*p;
	size_t size = XT_ALIGN(sizeof(*m)) + XT_ALIGN(datalen);

	m->u.user.match_size = (uint16_t)size;
	strncpy(m->u.user.name, name, sizeof(m->u.user.name) - 1);
	*p += size;
	return m->data;
}

static void
port_match_add(uint8_t **p, const struct kiwi_rule *r)
{
	struct xt_tcp *tcp;
	struct xt_udp *udp;
	struct xt_sctp_info *sctp;

	switch (r->proto) {
	case KIWI_PROTO_TCP:
		tcp = match_add(p, "tcp", sizeof(*tcp));
		tcp->spts[1] = 0xffff;
		tcp->dpts[0] = tcp->dpts[1] = r->port;
		break;
	case KIWI_PROTO_UDP:
		udp = match_add(p, "udp", sizeof(*udp));
		udp->spts[1] = 0xffff;
		udp->dpts[0] = udp->dpts[1] = r->port;
		break;
	case KIWI_PROTO_SCTP:
		sctp = match_add(p, "sctp", sizeof(*sctp));
		sctp->spts[1] = 0xffff;
		sctp->dpts[0] = sctp->dpts[1] = r->port;
		sctp->flags = XT_SCTP_DEST_PORTS;
		sctp->chunk_match_type = SCTP_CHUNK_MATCH_ANY;
		break;
	}
}

/* Where the matches go, and the two offsets that differ by family. */
static uint8_t *
entry_elems(const struct ipt_family *f, union rule_buf *b)
{
	return b->bytes + f->entry_size;
}

static void
entry_offsets(const struct ipt_family *f, union rule_buf *b, uint8_t *target,
    uint8_t *end)
{
	uint16_t t = (uint16_t)(target - b->bytes);
	uint16_t n = (uint16_t)(end - b->bytes);

	if (f->family == AF_INET6) {
		b->e6.target_offset = t;
		b->e6.next_offset = n;
	} else {
		b->e4.target_offset = t;
		b->e4.next_offset = n;
	}
}

/* -d addr/32 (or /128) -p proto */
static void
entry_dst(const struct ipt_family *f, union rule_buf *b,
    const struct kiwi_addr *a, uint8_t proto)
{
	if (f->family == AF_INET6) {
		b->e6.ipv6.dst = a->u.v6;
		memset(&b->e6.ipv6.dmsk, 0xff, sizeof(b->e6.ipv6.dmsk));
		b->e6.ipv6.proto = proto;
		b->e6.ipv6.flags = IP6T_F_PROTO;
	} else {
		b->e4.ip.dst = a->u.v4;
		b->e4.ip.dmsk.s_addr = 0xffffffff;
		b->e4.ip.proto = proto;
	}
}

/*
 * -d addr -p proto -m proto --dport port -j MARK --set-xmark mark/~0
 *
 * No comment match naming the Service: it is 288 bytes of a rule that
 * is 200 without it, every packet to the ranges evaluates it, and
 * libiptc holds three copies of the table while it commits, so at
 * 20,000 rules it would cost some 17 MiB.  `kiwi status` names the
 * Service of every address instead.
 */
static void
rule_build(const struct ipt_family *f, union rule_buf *b,
    const struct kiwi_addr *a, const struct kiwi_rule *r, uint32_t mark)
{
	struct xt_entry_target *t;
	struct xt_mark_tginfo2 *mk;
	uint8_t *p;

	memset(b, 0, sizeof(*b));
	entry_dst(f, b, a, r->proto);
	p = entry_elems(f, b);
	port_match_add(&p, r);

	t = (struct xt_entry_target *)p;
	t->u.user.target_size = TARGET_SIZE(struct xt_mark_tginfo2);
	strncpy(t->u.user.name, "MARK", sizeof(t->u.user.name) - 1);
	t->u.user.revision = 2;
	mk = (struct xt_mark_tginfo2 *)t->data;
	mk->mark = mark;
	mk->mask = 0xffffffff;
	entry_offsets(f, b, p, p + t->u.user.target_size);
}

/* The netmask of a prefix, into the n bytes at m. */
static void
mask_fill(uint8_t *m, size_t n, unsigned int prefix)
{
	size_t i;

	for (i = 0; i < n; i++) {
		m[i] = prefix >= 8 ? 0xff : (uint8_t)(0xff00 >> prefix);
		prefix = prefix > 8 ? prefix - 8 : 0;
	}
}

/*
 * -d range -j KUBE-PUBLIC: only traffic to the configured ranges walks
 * the chain, so the node's other traffic never pays for its rules.
 */
static void
jump_build(const struct ipt_family *f, union rule_buf *b,
    const struct kiwi_cidr *range)
{
	struct xt_standard_target *t;
	uint8_t *p;

	memset(b, 0, sizeof(*b));
	if (f->family == AF_INET6) {
		b->e6.ipv6.dst = range->net.u.v6;
		mask_fill(b->e6.ipv6.dmsk.s6_addr, 16, range->prefix);
	} else {
		b->e4.ip.dst = range->net.u.v4;
		mask_fill((uint8_t *)&b->e4.ip.dmsk.s_addr, 4, range->prefix);
	}
	p = entry_elems(f, b);
	t = (struct xt_standard_target *)p;
	t->target.u.user.target_size = XT_ALIGN(sizeof(*t));
	strncpy(t->target.u.user.name, KIWI_CHAIN,
	    sizeof(t->target.u.user.name) - 1);
	entry_offsets(f, b, p, p + XT_ALIGN(sizeof(*t)));
}

/* Position of the first jump to kiwi's chain in PREROUTING, or -1. */
static int
jump_find(const struct ipt_family *f, struct xtc_handle *h)
{
	const void *e;
	int i = 0;

	for (e = f->first_rule(ipt_hook, h); e; e = f->next_rule(e, h), i++) {
		const char *t = f->get_target(e, h);

		if (t != NULL && strcmp(t, KIWI_CHAIN) == 0)
			return i;
	}
	return -1;
}

static int
jumps_remove(const struct ipt_family *f, struct xtc_handle *h)
{
	int i;

	while ((i = jump_find(f, h)) >= 0)
		if (!f->delete_num_entry(ipt_hook, (unsigned int)i, h))
			return -errno;
	return 0;
}

/*
 * One jump per range of f's family, first in PREROUTING, so that no
 * earlier ACCEPT skips the mark; with no range at all every address is
 * accepted, and one jump takes all traffic.
 */
static int
jumps_insert(const struct ipt_family *f, struct xtc_handle *h,
    const struct kiwi_config *cfg)
{
	static const struct kiwi_cidr all4 = { { AF_INET, { { 0 } } }, 0 };
	static const struct kiwi_cidr all6 = { { AF_INET6, { { 0 } } }, 0 };
	union rule_buf b;
	unsigned int pos = 0;
	size_t i;
	int rc;

	if ((rc = jumps_remove(f, h)) < 0)
		return rc;
	if (cfg->ncidrs == 0) {
		jump_build(f, &b, f->family == AF_INET6 ? &all6 : &all4);
		return f->insert(ipt_hook, &b, 0, h) ? 0 : -errno;
	}
	for (i = 0; i < cfg->ncidrs; i++) {
		if (cfg->cidrs[i].net.family != f->family)
			continue;
		jump_build(f, &b, &cfg->cidrs[i]);
		if (!f->insert(ipt_hook, &b, pos++, h))
			return -errno;
	}
	return 0;
}

static int
set_append(const struct ipt_family *f, struct xtc_handle *h,
    const struct kiwi_ipset *s, uint32_t mark)
{
	union rule_buf b;
	size_t i;

	if (s->addr.family != f->family)
		return 0;
	for (i = 0; i < s->nrules; i++) {
		rule_build(f, &b, &s->addr, &s->rules[i], mark);
		if (!f->append(ipt_chain, &b, h))
			return -errno;
	}
	return 0;
}

static int
edit_sync(const struct ipt_family *f, struct xtc_handle *h, const void *arg)
{
	const struct sync_arg *sa = arg;
	size_t i;
	int rc;

	if (!f->is_chain(ipt_chain, h)) {
		if (!f->create_chain(ipt_chain, h))
			return -errno;
	} else if (!f->flush_entries(ipt_chain, h))
		return -errno;
	for (i = 0; i < sa->n; i++)
		if ((rc = set_append(f, h, &sa->sets[i], sa->cfg->mark)) < 0)
			return rc;
	return jumps_insert(f, h, sa->cfg);
}

static int
edit_teardown(const struct ipt_family *f, struct xtc_handle *h, const void *arg)
{
	int rc;

	(void)arg;
	if ((rc = jumps_remove(f, h)) < 0)
		return rc;
	if (!f->is_chain(ipt_chain, h))
		return 0;
	if (!f->flush_entries(ipt_chain, h) || !f->delete_chain(ipt_chain, h))
		return -errno;
	return 1;
}

/* Process-wide like libiptc itself, which is not thread-safe either. */
static uint64_t retries;

uint64_t
ipt_retries(void)
{
	return retries;
}

/* One locked read-edit-commit, retried while the table moves. */
static int
ipt_transact(
    int lock_fd, const struct ipt_family *f, ipt_edit_fn edit, const void *arg)
{
	struct xtc_handle *h;
	int i, rc = -EAGAIN;

	for (i = 0; i < IPT_TRIES && rc == -EAGAIN; i++) {
		if ((rc = ipt_lock(lock_fd)) < 0)
			break;
		if ((h = f->init(IPT_TABLE)) == NULL) {
			rc = -errno;
		} else {
			rc = edit(f, h, arg);
			if (rc >= 0 && !f->commit(h))
				rc = -errno;
			f->free(h);
		}
		flock(lock_fd, LOCK_UN);
		if (rc == -EAGAIN && i + 1 < IPT_TRIES) {
			log_debug("%s table changed during commit, retrying",
			    f->table);
			retries++;
		}
	}
	return rc;
}

/*
 * --dry-run: the rules each table would hold after the last sync, so
 * that each sync logs only what it would change.
 */
struct dry_rules {
	char **v;
	size_t n;
};

static struct dry_rules dry_tables[2];

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
dry_free(struct dry_rules *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		free(d->v[i]);
	free(d->v);
	d->v = NULL;
	d->n = 0;
}

/* The rules of sets in f's family, as iptables-save would show them. */
static int
dry_build(
    const struct ipt_family *f, const struct sync_arg *sa, struct dry_rules *d)
{
	char ip[KIWI_ADDRSTRLEN];
	const struct kiwi_ipset *s;
	size_t i, j;

	for (i = 0; i < sa->n; i++) {
		s = &sa->sets[i];
		if (s->addr.family != f->family)
			continue;
		addr_fmt(&s->addr, ip, sizeof(ip));
		for (j = 0; j < s->nrules; j++) {
			char **nv = reallocarray(d->v, d->n + 1, sizeof(*nv));

			if (nv == NULL)
				return -ENOMEM;
			d->v = nv;
			if (asprintf(&d->v[d->n],
			        "-d %s -p %s --dport %u -j MARK "
			        "--set-mark 0x%x (%s)",
			        ip, proto_name(s->rules[j].proto),
			        s->rules[j].port, sa->cfg->mark,
			        s->service) < 0)
				return -ENOMEM;
			d->n++;
		}
	}
	if (d->n > 0)
		qsort(d->v, d->n, sizeof(*d->v), str_cmp);
	return 0;
}

/* Log what turns old into new, one line per rule. */
static void
dry_diff(
    const char *table, const struct dry_rules *old, const struct dry_rules *new)
{
	size_t i = 0, j = 0;
	int c;

	while (i < old->n || j < new->n) {
		c = i == old->n   ? 1
		    : j == new->n ? -1
		                  : strcmp(old->v[i], new->v[j]);
		if (c < 0)
			log_info(
			    "dry-run: would remove rule from %s " KIWI_CHAIN
			    ": %s",
			    table, old->v[i++]);
		else if (c > 0)
			log_info("dry-run: would add rule to %s " KIWI_CHAIN
			         ": %s",
			    table, new->v[j++]);
		else
			i++, j++;
	}
}

static int
dry_sync(const struct ipt_family *f, const struct sync_arg *sa)
{
	struct dry_rules *old = &dry_tables[f->family == AF_INET6];
	struct dry_rules new = { 0 };
	int rc;

	if ((rc = dry_build(f, sa, &new)) < 0) {
		dry_free(&new);
		return rc;
	}
	dry_diff(f->table, old, &new);
	dry_free(old);
	*old = new;
	return 0;
}

int
ipt_sync(int lock_fd, int families, const struct kiwi_config *cfg,
    const struct kiwi_ipset *sets, size_t n)
{
	struct sync_arg sa = { NULL, cfg, sets, n };
	size_t i;
	int rc;

	for (i = 0; i < KIWI_ARRAY_SIZE(ipt_families); i++) {
		sa.f = &ipt_families[i];
		if (!(families & ipt_family_bit(sa.f->family)))
			continue;
		if (dryrun())
			rc = dry_sync(sa.f, &sa);
		else
			rc = ipt_transact(lock_fd, sa.f, edit_sync, &sa);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void
dry_teardown(const struct ipt_family *f)
{
	struct dry_rules *old = &dry_tables[f->family == AF_INET6];

	if (old->n > 0)
		log_info(
		    "dry-run: would remove %zu rules and the chain " KIWI_CHAIN
		    " from %s",
		    old->n, f->table);
	dry_free(old);
}

int
ipt_teardown(int lock_fd, int families)
{
	size_t i;
	int rc, found = 0;

	for (i = 0; i < KIWI_ARRAY_SIZE(ipt_families); i++) {
		if (!(families & ipt_family_bit(ipt_families[i].family)))
			continue;
		if (dryrun()) {
			dry_teardown(&ipt_families[i]);
			continue;
		}
		rc = ipt_transact(
		    lock_fd, &ipt_families[i], edit_teardown, NULL);
		if (rc < 0)
			return rc;
		found |= rc;
	}
	return found;
}

int
ipt_family_bit(int family)
{
	return family == AF_INET6 ? IPT_V6 : IPT_V4;
}
