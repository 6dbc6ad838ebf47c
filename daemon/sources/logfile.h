/*
 * logfile.h - the `type: file` source: follows a classic log file
 * (/var/log/auth.log, /var/log/secure, /var/log/dpkg.log) through its
 * rotations (sources/tail.h), splits each line (sources/logline.h), maps
 * it to a CloudTrail record (sources/hostmsg.h) and hands the records to
 * the pipeline.  Its ops table is ht_src_file_ops (sources/source.h).
 *
 * One line makes at most one record: a line that is not in the file's
 * format becomes a generic record holding the raw line (and is counted),
 * dpkg.log's bookkeeping lines make none.  Every record says where its
 * line is: additionalEventData.source (the configured path), fileId
 * ("INODE:HEADLEN:HEADHASH", which file: a rotated or copied one has
 * another) and offset (the line's first byte in that file).
 *
 * Where it is in the log survives restarts in a checkpoint file, written
 * only once the records before that position are durable; after a crash
 * the records history already has beyond the checkpoint are found by
 * fileId and offset, and their lines are not read again.
 */
#ifndef HT_LOGFILE_H
#define HT_LOGFILE_H

#include "sources/source.h"

#endif
