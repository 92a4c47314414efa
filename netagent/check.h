/*
 * What the netagent accepts.  Pure functions over a decoded message and
 * the configuration, so that every refusal can be unit-tested without a
 * kernel.  Each returns 0 or a negative errno and, on refusal, points
 * *why at a sentence for the log.
 */
#ifndef KIWI_NETAGENT_CHECK_H
#define KIWI_NETAGENT_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/msg.h"

enum peer {
	PEER_SUP,
	PEER_CLAIMER,
};

const char *peer_name(enum peer p);

/* Whether p may send a message of this type to the netagent. */
int check_sender(enum peer p, uint8_t type, const char **why);
/* Family, announceability and the configured ranges. */
int check_addr(
    const struct kiwi_config *cfg, const struct kiwi_addr *a, const char **why);
/* Protocols, ports, names, and no (proto, port) twice. */
int check_rules(const struct kiwi_rule *rules, size_t n, const char **why);
/* The whole CLAIM: service name, address and rules. */
int check_ipset(const struct kiwi_config *cfg, const struct kiwi_ipset *s,
    const char **why);
/* Whether one more address fits under the cap. */
int check_cap(const struct kiwi_config *cfg, size_t held, const char **why);

#endif
