/*
 * The structs that BPF programs (clang) and the agent (gcc) both read must
 * have one layout. clang's is in build/bpf/abi.bpf.o's BTF; gcc's is sizeof
 * and offsetof here. Every member BTF knows must be listed below, so a field
 * added on one side without the other fails this test.
 */
#include <criterion/criterion.h>
#include <bpf/btf.h>
#include <stddef.h>
#include <string.h>

#include "bpf/breaker.h"
#include "bpf/http.h"
#include "bpf/logs.h"
#include "bpf/ratelimit.h"
#include "bpf/syscalls.h"
#include "bpf/tcp.h"
#include "tests/lib/leakcheck.h"

#define ABI_OBJECT PRP_BPF_DIR "/abi.bpf.o"
#define FIELDS_MAX 16

struct abi_field {
	const char *name;
	size_t offset;
};

struct abi_struct {
	const char *name;
	size_t size;
	struct abi_field fields[FIELDS_MAX];
};

#define F(S, M) { #M, offsetof(struct S, M) }

static const struct abi_struct abi[] = {
	{ "breaker_key", sizeof(struct breaker_key),
	  { F(breaker_key, addr), F(breaker_key, port), F(breaker_key, family),
	    F(breaker_key, pad0) } },
	{ "breaker_entry", sizeof(struct breaker_entry),
	  { F(breaker_entry, opened_at_ns), F(breaker_entry, probe_interval_ns),
	    F(breaker_entry, next_probe_ns), F(breaker_entry, refused), F(breaker_entry, probes),
	    F(breaker_entry, state), F(breaker_entry, pad0) } },
	{ "http_stats_key", sizeof(struct http_stats_key),
	  { F(http_stats_key, route), F(http_stats_key, gen), F(http_stats_key, bucket),
	    F(http_stats_key, svc), F(http_stats_key, status), F(http_stats_key, method),
	    F(http_stats_key, pad0) } },
	{ "http_call_key", sizeof(struct http_call_key),
	  { F(http_call_key, daddr), F(http_call_key, gen), F(http_call_key, bucket),
	    F(http_call_key, svc), F(http_call_key, dport), F(http_call_key, family),
	    F(http_call_key, error), F(http_call_key, pad0) } },
	{ "http_conn_key", sizeof(struct http_conn_key),
	  { F(http_conn_key, caddr), F(http_conn_key, saddr), F(http_conn_key, cport),
	    F(http_conn_key, sport), F(http_conn_key, pad0) } },
	{ "http_conn", sizeof(struct http_conn),
	  { F(http_conn, route), F(http_conn, start_ns), F(http_conn, req_seq),
	    F(http_conn, server_svc), F(http_conn, client_svc), F(http_conn, method),
	    F(http_conn, pad0), F(http_conn, req_tid) } },
	{ "http_span_cfg", sizeof(struct http_span_cfg), { F(http_span_cfg, on) } },
	{ "http_span_event", sizeof(struct http_span_event),
	  { F(http_span_event, route), F(http_span_event, start_ns), F(http_span_event, end_ns),
	    F(http_span_event, caddr), F(http_span_event, saddr), F(http_span_event, req_tid),
	    F(http_span_event, resp_tid), F(http_span_event, cport), F(http_span_event, sport),
	    F(http_span_event, server_svc), F(http_span_event, client_svc),
	    F(http_span_event, status), F(http_span_event, method), F(http_span_event, family),
	    F(http_span_event, pad0) } },
	{ "http_head_event", sizeof(struct http_head_event),
	  { F(http_head_event, start_ns), F(http_head_event, caddr), F(http_head_event, saddr),
	    F(http_head_event, cport), F(http_head_event, sport), F(http_head_event, len),
	    F(http_head_event, pad0), F(http_head_event, data) } },
	{ "logs_event", sizeof(struct logs_event),
	  { F(logs_event, ts_ns), F(logs_event, tgid), F(logs_event, len), F(logs_event, lost_seq),
	    F(logs_event, svc), F(logs_event, fd), F(logs_event, flags), F(logs_event, data) } },
	{ "logs_pending", sizeof(struct logs_pending),
	  { F(logs_pending, buf), F(logs_pending, ts_ns), F(logs_pending, svc), F(logs_pending, fd),
	    F(logs_pending, armed), F(logs_pending, pad0) } },
	{ "logs_drops", sizeof(struct logs_drops),
	  { F(logs_drops, ring_full), F(logs_drops, truncated), F(logs_drops, unread),
	    F(logs_drops, writes) } },
	{ "ratelimit_key", sizeof(struct ratelimit_key),
	  { F(ratelimit_key, port), F(ratelimit_key, pad0) } },
	{ "ratelimit_bucket", sizeof(struct ratelimit_bucket),
	  { F(ratelimit_bucket, tat_ns), F(ratelimit_bucket, passed), F(ratelimit_bucket, dropped),
	    F(ratelimit_bucket, rate_per_s), F(ratelimit_bucket, burst) } },
	{ "syscall_key", sizeof(struct syscall_key),
	  { F(syscall_key, gen), F(syscall_key, nr), F(syscall_key, sub), F(syscall_key, svc),
	    F(syscall_key, kind), F(syscall_key, pad0) } },
	{ "syscall_inflight", sizeof(struct syscall_inflight),
	  { F(syscall_inflight, start_ns), F(syscall_inflight, nr), F(syscall_inflight, svc),
	    F(syscall_inflight, epoch) } },
	{ "syscall_drops", sizeof(struct syscall_drops), { F(syscall_drops, counts_full) } },
	{ "tcp_trouble_key", sizeof(struct tcp_trouble_key),
	  { F(tcp_trouble_key, gen), F(tcp_trouble_key, svc_id), F(tcp_trouble_key, pad0) } },
	{ "tcp_trouble", sizeof(struct tcp_trouble),
	  { F(tcp_trouble, retransmits), F(tcp_trouble, resets_sent),
	    F(tcp_trouble, resets_received), F(tcp_trouble, connect_failures) } },
};

TestSuite(abi, .fini = test_no_leaks);

static const struct abi_field *field(const struct abi_struct *s, const char *name)
{
	for (size_t i = 0; i < FIELDS_MAX && s->fields[i].name; i++)
		if (!strcmp(s->fields[i].name, name))
			return &s->fields[i];
	return NULL;
}

Test(abi, every_shared_struct_has_one_layout)
{
	struct btf *btf = btf__parse(ABI_OBJECT, NULL);

	cr_assert_not_null(btf, "cannot read BTF from %s", ABI_OBJECT);
	for (size_t i = 0; i < sizeof(abi) / sizeof(abi[0]); i++) {
		const struct abi_struct *s = &abi[i];
		int id = btf__find_by_name_kind(btf, s->name, BTF_KIND_STRUCT);
		const struct btf_type *t;
		const struct btf_member *m;
		size_t nlisted = 0;

		cr_assert_gt(id, 0, "struct %s is not in %s: add a global to bpf/abi.bpf.c",
			     s->name, ABI_OBJECT);
		t = btf__type_by_id(btf, (__u32)id);
		cr_expect_eq(t->size, s->size, "struct %s: %u bytes for clang, %zu for gcc",
			     s->name, t->size, s->size);
		m = btf_members(t);
		for (unsigned j = 0; j < btf_vlen(t); j++, m++) {
			const char *name = btf__name_by_offset(btf, m->name_off);
			const struct abi_field *f = field(s, name);

			cr_assert_not_null(f, "struct %s: member '%s' is not checked here", s->name,
					   name);
			cr_expect_eq(btf_member_bit_offset(t, j), f->offset * 8,
				     "struct %s: '%s' at bit %u for clang, byte %zu for gcc", s->name,
				     name, btf_member_bit_offset(t, j), f->offset);
		}
		while (nlisted < FIELDS_MAX && s->fields[nlisted].name)
			nlisted++;
		cr_expect_eq(nlisted, btf_vlen(t), "struct %s: %zu fields listed, BTF has %u",
			     s->name, nlisted, btf_vlen(t));
	}
	btf__free(btf);
}
