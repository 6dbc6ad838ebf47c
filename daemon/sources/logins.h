/*
 * logins.h - the logins source: follows the login accounting files (wtmp:
 * sessions, boots, runlevels; btmp: failed logins) on hosts without a
 * journal, maps each entry to a CloudTrail record (sources/utmp_parse.h)
 * and hands them to the pipeline.  Its ops table is ht_src_logins_ops
 * (sources/source.h); at most one such source.
 *
 * Each file is followed by inode and offset, across rotation by rename
 * (the old file is read to its end first; after a restart the checkpoint's
 * inode is looked for at PATH.1) and truncation (read again from the
 * start).  The checkpoint (positions, the sessions still open, where
 * history ended) is written after the pipeline says the records are
 * durable; after a crash, the records history has beyond it are found by
 * their (file, inode, offset) and not sent again.
 */
#ifndef HT_LOGINS_H
#define HT_LOGINS_H

#include "sources/source.h"

#endif
