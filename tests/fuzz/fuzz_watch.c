/*
 * The watch stream: bytes cut into chunks at places the input chooses,
 * split into lines, each parsed as an event, and a Service in it parsed
 * as kiwi reads one.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/log.h"

#include "watcher/kube.h"
#include "watcher/linesplit.h"
#include "watcher/service.h"

static const struct kiwi_cidr *none;

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

static int
on_line(void *arg, char *line, size_t len)
{
	struct svc_filter f = { none, 0, NULL, true };
	struct kube_event ev;
	struct service svc;

	(void)arg;
	if (kube_event_parse(line, len, &ev) < 0)
		return 0;
	if (ev.object != NULL && ev.type != KUBE_ERROR &&
	    service_parse(ev.object, &f, &svc) == 0)
		service_free(&svc);
	kube_event_free(&ev);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct linesplit ls;
	size_t off, step;

	if (size < 1)
		return 0;
	/* The first byte sets the chunk size, 1 to 256 bytes. */
	step = (size_t)data[0] + 1;
	linesplit_init(&ls, 1 << 16);
	for (off = 1; off < size; off += step) {
		size_t n = size - off < step ? size - off : step;

		if (linesplit_feed(
		        &ls, (const char *)data + off, n, on_line, NULL) < 0)
			break;
	}
	linesplit_free(&ls);
	return 0;
}
