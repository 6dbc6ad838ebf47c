/*
 * fuzz_ingest.c - libFuzzer target for ht_ingest_parse.
 *
 * Checks the contract, not just memory safety: a refused request names its
 * error type and hands back no batch; an accepted one gives every event
 * exactly one outcome (a record, or an errorCode with a message), and every
 * record it built serializes to text that ht_record_parse reads back.
 */
#include "ht_build.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "record.h"
#include "sources/ingest_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct ht_ingest_context ctx = {
	.channel_arn = "arn:aws:cloudtrail:onprem-eu-1:111122223333:channel/c1",
	.region = "onprem-eu-1",
	.account_id = "111122223333",
	.now_ms = 1714558273000,
};

static void
check_record(const struct ht_record *rec)
{
	struct printbuf *pb = printbuf_new();
	struct ht_record *back = NULL;
	char err[256];

	if (pb == NULL || ht_record_serialize(rec, pb) < 0)
		abort();
	if (ht_record_parse(pb->buf, (size_t)printbuf_length(pb), &back, err, sizeof(err)) < 0)
		abort();
	if (strcmp(back->event_category, "ActivityAuditLog") != 0 ||
	    strcmp(back->recipient_account_id, ctx.account_id) != 0 || back->event_time == 0)
		abort();
	ht_record_free(back);
	printbuf_free(pb);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ht_ingest_batch *batch = NULL;
	struct ht_ingest_error err = { 0 };
	size_t i;
	int r;

	r = ht_ingest_parse((const char *)data, size, &ctx, &batch, &err);
	if (r < 0) {
		if (batch != NULL || (r == -EINVAL && err.type == NULL))
			abort();
		return 0;
	}
	if (batch == NULL || batch->n_items < 1 || batch->n_items > HT_INGEST_MAX_EVENTS)
		abort();
	for (i = 0; i < batch->n_items; i++) {
		const struct ht_ingest_item *item = &batch->items[i];

		if ((item->rec == NULL) == (item->error_code == NULL) ||
		    (item->error_code != NULL && item->error_message == NULL))
			abort();
		if (item->rec != NULL)
			check_record(item->rec);
	}
	ht_ingest_batch_free(batch);
	return 0;
}
