/*
 * ingest.h - the ingest source: CloudTrail Lake's PutAuditEvents, served on
 * the API's unix socket (POST /PutAuditEvents?channelArn=...), so
 * applications can post their own audit events.  Its ops table is
 * ht_src_ingest_ops (sources/source.h); the request checks live in
 * ingest_parse.h.
 */
#ifndef HT_INGEST_H
#define HT_INGEST_H

#include "sources/source.h"

#define HT_INGEST_PATH "/PutAuditEvents"

#endif
