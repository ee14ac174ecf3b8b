/*
 * The agent's on-disk spool: every frame the agent has made and the
 * aggregator has not acknowledged, kept in order in a directory so that
 * nothing is lost while the aggregator is down or restarting, or while the
 * agent itself restarts.
 *
 * Layout: segment files DIR/NNNNNNNNNNNNNNNNNNNN.seg (named by the sequence
 * number of their first frame), each a series of records
 * [u32 length][u32 crc32 of the frame][frame bytes], appended and fsync()ed
 * when a window's frame is written; DIR/acked holds the highest acknowledged
 * sequence number, replaced atomically (write + rename). Segments roll at
 * SPOOL_SEGMENT_BYTES; a segment whose frames are all acknowledged is
 * deleted. A torn record at the end of the last segment (a crash mid-write)
 * is cut off at open; a record whose crc fails ends its segment.
 *
 * Bound: when appending would take the spool's unacknowledged bytes past
 * max_bytes, the oldest segments are dropped whole until it fits; the frames
 * they held are lost, counted (spool_stats.lost_frames, kept in DIR/lost
 * across restarts) and logged. That is the only way a frame is lost.
 *
 * Sequence numbers: the spool gives them out (spool_next_seq), from 1, and
 * keeps them increasing across restarts (the largest spooled or acknowledged
 * number + 1), so the aggregator's de-duplication by (agent id, seq) is right.
 *
 * Threads: the functions lock an internal mutex; the main loop appends, the
 * sender thread reads and acknowledges.
 */
#ifndef PRP_AGENT_SPOOL_H
#define PRP_AGENT_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define SPOOL_SEGMENT_BYTES (4u << 20)
#define SPOOL_DEFAULT_MAX_BYTES (256ull << 20)

struct spool;

struct spool_stats {
	uint64_t bytes;	      /* unacknowledged bytes on disk */
	uint64_t frames;      /* unacknowledged frames */
	uint64_t lost_frames; /* dropped at the bound, ever */
	uint64_t acked_seq;   /* highest acknowledged sequence number */
	uint64_t next_seq;
};

/* Opens or creates the spool in @dir (made 0700 if missing). 0 or -errno. */
int spool_open(struct spool **out, const char *dir, uint64_t max_bytes);
void spool_close(struct spool *sp);

/* The sequence number the next appended frame must carry. */
uint64_t spool_next_seq(struct spool *sp);
/*
 * Appends the frame with sequence number @seq (== spool_next_seq()), durably
 * (fsync). 0 or -errno; -EMSGSIZE when the frame alone exceeds the bound.
 */
int spool_append(struct spool *sp, uint64_t seq, const void *frame, size_t len);

/*
 * Appends to @out the unacknowledged frames with seq > @after, in order, as
 * many as fit in @max_bytes (at least one if any), and sets *last to the seq
 * of the last one (@after when none). 0 or -errno.
 */
int spool_read(struct spool *sp, uint64_t after, size_t max_bytes, struct buf *out,
	       uint64_t *last);

/* Every frame up to @seq is acknowledged: frees what it can. 0 or -errno. */
int spool_ack(struct spool *sp, uint64_t seq);

/*
 * The aggregator says it holds @seq, which this spool never gave out (the
 * spool was wiped, or two agents share an id): every unacknowledged frame
 * would be taken for a duplicate, so they are dropped (counted as lost) and
 * numbering goes on after @seq. No-op when @seq < next_seq. 0 or -errno.
 */
int spool_skip_to(struct spool *sp, uint64_t seq);

void spool_stats(struct spool *sp, struct spool_stats *st);

#endif
