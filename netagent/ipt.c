#include "ipt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <libiptc/libiptc.h>
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter/xt_mark.h>
#include <linux/netfilter/xt_sctp.h>
#include <linux/netfilter/xt_tcpudp.h>

#include "common/config.h"
#include "common/log.h"

#define IPT_TABLE "mangle"
#define IPT_TRIES 5
#define IPT_LOCK_TRIES 50 /* 100 ms apart */

#define MATCH_SIZE(t)                                                          \
	(XT_ALIGN(sizeof(struct xt_entry_match)) + XT_ALIGN(sizeof(t)))
#define TARGET_SIZE(t)                                                         \
	(XT_ALIGN(sizeof(struct xt_entry_target)) + XT_ALIGN(sizeof(t)))
/* The largest rule kiwi builds: sctp has the biggest match. */
#define RULE_MAX                                                               \
	(sizeof(struct ipt_entry) + MATCH_SIZE(struct xt_sctp_info) +          \
	    MATCH_SIZE(struct xt_comment_info) +                               \
	    TARGET_SIZE(struct xt_mark_tginfo2))

/* libiptc reads chain names as whole 32-byte buffers. */
static const xt_chainlabel ipt_hook = "PREROUTING";
static const xt_chainlabel ipt_chain = KIWI_CHAIN;

union rule_buf {
	struct ipt_entry e;
	uint8_t bytes[RULE_MAX];
};

struct sync_arg {
	uint32_t mark;
	const struct kiwi_ipset *sets;
	size_t n;
};

typedef int (*ipt_edit_fn)(struct xtc_handle *h, const void *arg);

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

/*
 * -d addr/32 -p proto -m proto --dport port -m comment --comment c
 * -j MARK --set-xmark mark/0xffffffff
 */
static void
rule_build(union rule_buf *b, const struct kiwi_addr *a,
    const struct kiwi_rule *r, uint32_t mark)
{
	struct xt_comment_info *c;
	struct xt_entry_target *t;
	struct xt_mark_tginfo2 *mk;
	uint8_t *p;

	memset(b, 0, sizeof(*b));
	b->e.ip.dst = a->u.v4;
	b->e.ip.dmsk.s_addr = 0xffffffff;
	b->e.ip.proto = r->proto;
	p = b->e.elems;
	port_match_add(&p, r);
	c = match_add(&p, "comment", sizeof(*c));
	memcpy(c->comment, r->comment, strnlen(r->comment, KIWI_NAME_LEN));
	b->e.target_offset = (uint16_t)(p - b->bytes);

	t = (struct xt_entry_target *)p;
	t->u.user.target_size = TARGET_SIZE(struct xt_mark_tginfo2);
	strncpy(t->u.user.name, "MARK", sizeof(t->u.user.name) - 1);
	t->u.user.revision = 2;
	mk = (struct xt_mark_tginfo2 *)t->data;
	mk->mark = mark;
	mk->mask = 0xffffffff;
	b->e.next_offset =
	    (uint16_t)(b->e.target_offset + t->u.user.target_size);
}

/* -j KUBE-PUBLIC, matching everything. */
static void
jump_build(union rule_buf *b)
{
	struct xt_standard_target *t;

	memset(b, 0, sizeof(*b));
	b->e.target_offset = sizeof(b->e);
	t = (struct xt_standard_target *)b->e.elems;
	t->target.u.user.target_size = XT_ALIGN(sizeof(*t));
	strncpy(t->target.u.user.name, KIWI_CHAIN,
	    sizeof(t->target.u.user.name) - 1);
	b->e.next_offset = b->e.target_offset + XT_ALIGN(sizeof(*t));
}

/* Position of the first jump to kiwi's chain in PREROUTING, or -1. */
static int
jump_find(struct xtc_handle *h)
{
	const struct ipt_entry *e;
	int i = 0;

	for (e = iptc_first_rule(ipt_hook, h); e;
	     e = iptc_next_rule(e, h), i++) {
		const char *t = iptc_get_target(e, h);

		if (t != NULL && strcmp(t, KIWI_CHAIN) == 0)
			return i;
	}
	return -1;
}

static int
jumps_remove(struct xtc_handle *h)
{
	int i;

	while ((i = jump_find(h)) >= 0)
		if (!iptc_delete_num_entry(ipt_hook, (unsigned int)i, h))
			return -errno;
	return 0;
}

static int
set_append(struct xtc_handle *h, const struct kiwi_ipset *s, uint32_t mark)
{
	union rule_buf b;
	size_t i;

	for (i = 0; i < s->nrules; i++) {
		rule_build(&b, &s->addr, &s->rules[i], mark);
		if (!iptc_append_entry(ipt_chain, &b.e, h))
			return -errno;
	}
	return 0;
}

static int
edit_sync(struct xtc_handle *h, const void *arg)
{
	const struct sync_arg *sa = arg;
	union rule_buf b;
	size_t i;
	int rc;

	if (!iptc_is_chain(ipt_chain, h)) {
		if (!iptc_create_chain(ipt_chain, h))
			return -errno;
	} else if (!iptc_flush_entries(ipt_chain, h))
		return -errno;
	for (i = 0; i < sa->n; i++)
		if ((rc = set_append(h, &sa->sets[i], sa->mark)) < 0)
			return rc;

	/* First in PREROUTING, so that no earlier ACCEPT skips the mark. */
	if ((rc = jumps_remove(h)) < 0)
		return rc;
	jump_build(&b);
	if (!iptc_insert_entry(ipt_hook, &b.e, 0, h))
		return -errno;
	return 0;
}

static int
edit_teardown(struct xtc_handle *h, const void *arg)
{
	int rc;

	(void)arg;
	if ((rc = jumps_remove(h)) < 0)
		return rc;
	if (!iptc_is_chain(ipt_chain, h))
		return 0;
	if (!iptc_flush_entries(ipt_chain, h) ||
	    !iptc_delete_chain(ipt_chain, h))
		return -errno;
	return 1;
}

/* One locked read-edit-commit, retried while the table moves. */
static int
ipt_transact(int lock_fd, ipt_edit_fn edit, const void *arg)
{
	struct xtc_handle *h;
	int i, rc = -EAGAIN;

	for (i = 0; i < IPT_TRIES && rc == -EAGAIN; i++) {
		if ((rc = ipt_lock(lock_fd)) < 0)
			break;
		if ((h = iptc_init(IPT_TABLE)) == NULL) {
			rc = -errno;
		} else {
			rc = edit(h, arg);
			if (rc >= 0 && !iptc_commit(h))
				rc = -errno;
			iptc_free(h);
		}
		flock(lock_fd, LOCK_UN);
		if (rc == -EAGAIN)
			log_debug("mangle table changed during commit,"
			          " retrying");
	}
	return rc;
}

int
ipt_sync(int lock_fd, uint32_t mark, const struct kiwi_ipset *sets, size_t n)
{
	struct sync_arg sa = { mark, sets, n };

	return ipt_transact(lock_fd, edit_sync, &sa);
}

int
ipt_teardown(int lock_fd)
{
	return ipt_transact(lock_fd, edit_teardown, NULL);
}
