/* The etcd gateway's answers, as the claimer parses them. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/log.h"
#include <stdlib.h>
#include <string.h>

#include "claimer/etcd_json.h"

static void
quiet(int prio, const char *line, size_t len)
{
	(void)prio;
	(void)line;
	(void)len;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Every refusal logs its reason: keep the fuzzer's output. */
	log_set_sink(quiet);
	return 0;
}

static void
parse_all(const char *body, size_t len)
{
	struct ej_holder h;
	struct ej_range rg;
	struct ej_watch w;
	char msg[256], node[256];
	int64_t id, ttl, count;
	bool b;
	int code;

	(void)ej_parse_error(body, &code, msg, sizeof(msg));
	(void)ej_parse_grant(body, &id, &ttl);
	(void)ej_parse_keepalive(body, &ttl);
	memset(&h, 0, sizeof(h));
	if (ej_parse_claim(body, &b, &h) == 0)
		ej_holder_free(&h);
	(void)ej_parse_release(body, &b);
	(void)ej_parse_count(body, &count);
	memset(&h, 0, sizeof(h));
	if (ej_parse_get(body, &b, &h) == 0)
		ej_holder_free(&h);
	memset(&rg, 0, sizeof(rg));
	if (ej_parse_range(body, &rg) == 0)
		ej_range_free(&rg);
	memset(&w, 0, sizeof(w));
	if (ej_parse_watch(body, len, &w) == 0)
		ej_watch_free(&w);
	(void)ej_parse_claim_value(body, len, node, sizeof(node));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = malloc(size + 1), *out;
	size_t n;

	if (body == NULL)
		return 0;
	memcpy(body, data, size);
	body[size] = '\0';
	parse_all(body, size);
	if (ej_b64_decode(body, &out, &n) == 0)
		free(out);
	free(body);
	return 0;
}
