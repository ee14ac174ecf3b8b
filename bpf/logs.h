/*
 * ABI of bpf/logs.bpf.c: the bytes watched services write to their stdout
 * and stderr (fds 1 and 2), copied to a ring buffer that
 * agent/sampler_logs.c drains and cuts into lines. See STYLE.md §2 for the
 * rules on these structs.
 *
 * Maps filled by user space:
 *	svc_by_tgid	__u32 tgid -> __u16 service id
 * Maps kept by the kernel side:
 *	logs_pending	task storage: the write in flight of a thread (enter -> exit)
 *	logs_scratch	per-CPU struct logs_event, where a record is built
 *	logs_events	ring buffer of struct logs_event, header + len bytes each
 *	logs_drops	per-CPU struct logs_drops
 *
 * A write of n bytes becomes ceil(n / LOGS_CHUNK) records, in order, of at
 * most LOGS_CHUNKS_MAX (the rest is not copied: LOGS_F_TRUNCATED on the
 * last one). Only what the write returned as written is copied, read at
 * sys_exit_write, so a short write, a failed one and a retried one
 * (EAGAIN on a non-blocking pipe) give each byte once.
 */
#ifndef PRP_BPF_LOGS_H
#define PRP_BPF_LOGS_H

#ifndef __VMLINUX_H__ /* user space; on the BPF side vmlinux.h defines the __u* types */
#include <linux/types.h>
#endif

/* Data bytes of one record: a page, so one probe read at most crosses one page boundary. */
#define LOGS_CHUNK 4096
/* Records per write: writes are copied up to 64 KiB (stdio flushes 4 to 8 KiB at a time). */
#define LOGS_CHUNKS_MAX 16
/*
 * The ring buffer: 4 MiB (a power of two, as the kernel wants). Drained
 * every LOGS_POLL_MS by user space, or as soon as it is half full (the
 * record that crosses the mark asks for a wake-up, and only that one):
 * 20 MiB/s of lines with no wake-up at all, more with them.
 */
#define LOGS_RING_BYTES (4u << 20)
#define LOGS_POLL_MS	100
/* Watched processes: every pid of every service (agent/services.h: 255 * 256 = 65280). */
#define LOGS_MAX_TGIDS 65536

enum logs_flags {
	/* the write was longer than LOGS_CHUNK * LOGS_CHUNKS_MAX: its rest was not copied */
	LOGS_F_TRUNCATED = 1 << 0,
};

/* A record of logs_events; the ring holds its header and len bytes of data. */
struct logs_event {
	__u64 ts_ns; /* bpf_ktime_get_ns() when the write began (sys_enter_write) */
	__u32 tgid;
	__u32 len; /* bytes of data, 1..LOGS_CHUNK */
	/*
	 * The number of records the ring had no room for, ever, when this one
	 * was made: a stream whose records saw it change may have lost bytes
	 * in the middle of a line.
	 */
	__u32 lost_seq;
	__u16 svc;  /* service id, 1..255 */
	__u8 fd;    /* 1 or 2 */
	__u8 flags; /* enum logs_flags */
	char data[LOGS_CHUNK];
};
_Static_assert(sizeof(struct logs_event) == 24 + LOGS_CHUNK, "struct logs_event is ABI");
/* The header of a record, the bytes before data. */
#define LOGS_EVENT_HEADER 24

/* Value of logs_pending: the write in flight of one thread. */
struct logs_pending {
	__u64 buf;   /* the user buffer */
	__u64 ts_ns; /* when the write began */
	__u16 svc;
	__u8 fd;
	__u8 armed; /* 1 from sys_enter_write to sys_exit_write */
	__u32 pad0;
};
_Static_assert(sizeof(struct logs_pending) == 24, "struct logs_pending is ABI");

/* Value of logs_drops (a one-entry per-CPU array). */
struct logs_drops {
	__u64 ring_full; /* records the ring had no room for */
	__u64 truncated; /* writes longer than the records of one write hold */
	__u64 unread;	 /* records whose user memory could not be read (not counted as data) */
	__u64 writes;	 /* watched writes copied (not drops: the number they compare with) */
};
_Static_assert(sizeof(struct logs_drops) == 32, "struct logs_drops is ABI");

#endif
