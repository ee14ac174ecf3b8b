// SPDX-License-Identifier: GPL-2.0
/*
 * What watched services write to their stdout and stderr: the bytes of
 * every write(2) to fd 1 or 2 by a watched process, copied to a ring buffer
 * (bpf/logs.h has the record). User space (agent/sampler_logs.c) cuts them
 * into lines.
 *
 * Cost. An enabled syscall tracepoint taxes every syscall of every process
 * on the host (docs/agent.md has the numbers), so the two programs return
 * as early as they can: sys_enter_write looks at the fd first (one
 * compare: most writes are to sockets and files), then at the process (one
 * hash look-up, for writes to fds 1 and 2 only); sys_exit_write returns
 * after one task-storage look-up for any thread that has no write in
 * flight, which is every thread but the watched ones'.
 *
 * Why the copy waits for sys_exit_write: only the exit knows how many bytes
 * were written. A non-blocking pipe (Node.js's stdout) can take part of a
 * write, or none (EAGAIN), and the program writes the rest again; copying
 * at the enter would give those bytes twice, and bytes of failed writes
 * that never reached anyone. The user buffer is still there at the exit
 * (the thread has not returned to user space yet).
 *
 * Delivery. Each record is submitted without a wake-up (BPF_RB_NO_WAKEUP):
 * user space drains the ring every LOGS_POLL_MS, and the record that takes
 * the ring past half full asks for one, so a burst is drained early. A record
 * the ring has no room for is dropped and counted, and the global lost_seq
 * moves on, so user space knows the lines it was in are broken.
 *
 * Counters are per CPU and need no atomics: a tracepoint program never
 * nests in another on the same CPU.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "bpf/logs.h"

char LICENSE[] SEC("license") = "GPL";

#define BPF_LOCAL_STORAGE_GET_F_CREATE_ 1 /* the uapi flag; not in vmlinux.h's enums everywhere */

/* Records dropped for want of room or because memory could not be read, ever. */
__u32 lost_seq = 0;

/* tgid -> service id, filled by user space */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LOGS_MAX_TGIDS);
	__type(key, __u32);
	__type(value, __u16);
} svc_by_tgid SEC(".maps");

/* The write in flight of each thread of a watched process; freed with the thread. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct logs_pending);
} logs_pending SEC(".maps");

/* Where a record is built: too big for the 512-byte stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct logs_event);
} logs_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, LOGS_RING_BYTES);
} logs_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct logs_drops);
} logs_drops SEC(".maps");

/* syscalls:sys_enter_write(unsigned int fd, const char *buf, size_t count) */
SEC("tracepoint/syscalls/sys_enter_write")
int logs_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u32 fd = (__u32)ctx->args[0], tgid;
	struct logs_pending *p;
	__u16 *svc;

	/* fd 1 or 2, in one compare (0 wraps around) */
	if (fd - 1 > 1)
		return 0;
	tgid = bpf_get_current_pid_tgid() >> 32;
	svc = bpf_map_lookup_elem(&svc_by_tgid, &tgid);
	if (!svc)
		return 0;
	p = bpf_task_storage_get(&logs_pending, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE_);
	if (!p)
		return 0;
	p->buf = ctx->args[1];
	p->ts_ns = bpf_ktime_get_ns();
	p->svc = *svc;
	p->fd = (__u8)fd;
	p->armed = 1;
	return 0;
}

/* Copies the first @n bytes written at @p->buf into records. */
static __always_inline void emit(const struct logs_pending *p, __u64 n)
{
	const __u64 max = (__u64)LOGS_CHUNK * LOGS_CHUNKS_MAX;
	struct logs_drops *d;
	struct logs_event *e;
	__u32 zero = 0;
	__u64 off = 0;
	__u8 truncated = 0;

	e = bpf_map_lookup_elem(&logs_scratch, &zero);
	d = bpf_map_lookup_elem(&logs_drops, &zero);
	if (!e || !d)
		return;
	if (n > max) {
		n = max;
		truncated = 1;
		d->truncated++;
	}
	d->writes++;
	e->ts_ns = p->ts_ns;
	e->tgid = bpf_get_current_pid_tgid() >> 32;
	e->svc = p->svc;
	e->fd = p->fd;
	for (int i = 0; i < LOGS_CHUNKS_MAX; i++) {
		__u64 flags = BPF_RB_NO_WAKEUP, avail;
		__u32 len;

		if (off >= n)
			break;
		len = n - off > LOGS_CHUNK ? LOGS_CHUNK : (__u32)(n - off);
		e->len = len;
		e->flags = truncated && off + len >= n ? LOGS_F_TRUNCATED : 0;
		e->lost_seq = lost_seq;
		if (bpf_probe_read_user(e->data, len, (const void *)(p->buf + off))) {
			d->unread++;
			__sync_fetch_and_add(&lost_seq, 1);
			return;
		}
		/*
		 * Wake the reader when this record takes the ring past half full,
		 * once: a wake-up per record past the mark (an irq_work each) would
		 * cost several times the copy until the reader has drained.
		 */
		avail = bpf_ringbuf_query(&logs_events, BPF_RB_AVAIL_DATA);
		if (avail < LOGS_RING_BYTES / 2 &&
		    avail + LOGS_EVENT_HEADER + len >= LOGS_RING_BYTES / 2)
			flags = BPF_RB_FORCE_WAKEUP;
		if (bpf_ringbuf_output(&logs_events, e, LOGS_EVENT_HEADER + len, flags)) {
			/* the rest of this write is dropped with it: the line is broken anyway */
			d->ring_full++;
			__sync_fetch_and_add(&lost_seq, 1);
			return;
		}
		off += len;
	}
}

/* syscalls:sys_exit_write: ret is what was written, or -errno */
SEC("tracepoint/syscalls/sys_exit_write")
int logs_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct logs_pending *p;
	long ret;

	p = bpf_task_storage_get(&logs_pending, bpf_get_current_task_btf(), 0, 0);
	if (!p || !p->armed)
		return 0;
	p->armed = 0;
	ret = ctx->ret;
	if (ret > 0)
		emit(p, (__u64)ret);
	return 0;
}
