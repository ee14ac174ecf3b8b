// SPDX-License-Identifier: GPL-2.0
/*
 * Compile-only: one global of each struct that kernel and user space share,
 * so that clang's layout of each is in this object's BTF. tests/unit/bpf/
 * test_abi.c compares it with gcc's sizeof and offsetof (the idea of
 * tetragon's alignchecker). Nothing here is loaded.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "bpf/breaker.h"
#include "bpf/http.h"
#include "bpf/logs.h"
#include "bpf/ratelimit.h"
#include "bpf/syscalls.h"
#include "bpf/tcp.h"

char LICENSE[] SEC("license") = "GPL";

struct breaker_key abi_breaker_key;
struct breaker_entry abi_breaker_entry;
struct http_stats_key abi_http_stats_key;
struct http_call_key abi_http_call_key;
struct http_conn_key abi_http_conn_key;
struct http_conn abi_http_conn;
struct http_span_cfg abi_http_span_cfg;
struct http_span_event abi_http_span_event;
struct http_head_event abi_http_head_event;
struct logs_event abi_logs_event;
struct logs_pending abi_logs_pending;
struct logs_drops abi_logs_drops;
struct ratelimit_key abi_ratelimit_key;
struct ratelimit_bucket abi_ratelimit_bucket;
struct syscall_key abi_syscall_key;
struct syscall_inflight abi_syscall_inflight;
struct syscall_drops abi_syscall_drops;
struct tcp_trouble_key abi_tcp_trouble_key;
struct tcp_trouble abi_tcp_trouble;
