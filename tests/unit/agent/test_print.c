#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "agent/print.h"
#include "tests/lib/leakcheck.h"

TestSuite(print, .fini = test_no_leaks);

static struct service users(void)
{
	struct service s = { .id = 1, .name = "users", .pids = { 42 }, .npids = 1 };

	return s;
}

Test(print, an_empty_window_has_every_key_of_the_line_shape)
{
	struct service svc = users();
	json_t *o = print_window_json(NULL, &svc, "host-1", 1700000000123000000ull);

	cr_assert_not_null(o);
	cr_assert_str_eq(json_string_value(json_object_get(o, "ts")), "2023-11-14T22:13:20.123Z");
	cr_assert_str_eq(json_string_value(json_object_get(o, "host")), "host-1");
	cr_assert_str_eq(json_string_value(json_object_get(o, "service")), "users");
	cr_assert_eq(json_integer_value(json_array_get(json_object_get(o, "pids"), 0)), 42);
	cr_assert_eq(json_array_size(json_object_get(o, "http")), 0);
	cr_assert_eq(json_array_size(json_object_get(o, "syscalls")), 0);
	cr_assert_eq(json_array_size(json_object_get(o, "calls")), 0);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(o, "tcp"), "resets")), 0);
	json_decref(o);
}

Test(print, shows_counts_latency_in_ms_and_named_errnos)
{
	struct service svc = users();
	struct window_set ws;
	struct window *w;
	struct window_http *h;
	struct window_syscall *s;
	json_t *o, *e;

	window_set_init(&ws);
	w = window_set_get(&ws, 1);
	h = window_http_get(w, "GET", "/users/{id}", 200);
	h->count = 3;
	hist_record(&h->latency_ns, 2000000); /* 2 ms */
	hist_record(&h->latency_ns, 2000000);
	hist_record(&h->latency_ns, 9000000);
	s = window_syscall_get(w, 3, "close");
	s->count = 10;
	s->errors = 4;
	window_syscall_add_errno(s, EBADF, 3);
	window_syscall_add_errno(s, 512, 1); /* ERESTARTSYS: kernel-internal */
	window_call_get(w, "127.0.0.1:8003")->count = 2;
	w->tcp.retransmits = 5;

	o = print_window_json(w, &svc, "h", 0);
	e = json_array_get(json_object_get(o, "http"), 0);
	cr_assert_eq(json_integer_value(json_object_get(e, "count")), 3);
	cr_assert_float_eq(json_real_value(json_object_get(json_object_get(e, "latency_ms"), "p50")),
			   2.0, 0.02);
	cr_assert_float_eq(json_real_value(json_object_get(json_object_get(e, "latency_ms"), "max")),
			   9.0, 0.05);
	e = json_object_get(json_array_get(json_object_get(o, "syscalls"), 0), "errors");
	cr_assert_eq(json_integer_value(json_object_get(e, "EBADF")), 3);
	cr_assert_eq(json_integer_value(json_object_get(e, "ERESTARTSYS")), 1);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(o, "tcp"), "retransmits")),
		     5);
	e = json_array_get(json_object_get(o, "calls"), 0);
	cr_assert(json_is_null(json_object_get(e, "peer")), "an unknown peer is null");
	cr_assert_str_eq(json_string_value(json_object_get(e, "address")), "127.0.0.1:8003");
	json_decref(o);
	window_set_release(&ws);
}
