#include <criterion/criterion.h>
#include <string.h>

#include "common/window.h"
#include "tests/lib/leakcheck.h"

TestSuite(window, .fini = test_no_leaks);

Test(window, creates_a_window_per_service_id_on_first_use)
{
	struct window_set ws;

	window_set_init(&ws);
	cr_assert_null(window_set_get(&ws, 0), "id 0 is no service");
	cr_assert_null(window_set_get(&ws, SERVICES_MAX + 1));
	cr_assert_not_null(window_set_get(&ws, 1));
	cr_assert_eq(window_set_get(&ws, 1), window_set_get(&ws, 1));
	cr_assert_eq(window_set_get(&ws, SERVICES_MAX)->service_id, SERVICES_MAX);
	window_set_release(&ws);
	cr_assert_null(ws.by_id[1]);
}

Test(window, finds_or_adds_http_entries_by_method_route_and_status)
{
	struct window_set ws;
	struct window *w;

	window_set_init(&ws);
	w = window_set_get(&ws, 3);
	for (int i = 0; i < 100; i++)
		window_http_get(w, i % 2 ? "GET" : "POST", "/users/{id}", (uint16_t)(200 + i % 5))
			->count++;
	cr_assert_eq(w->nhttp, 10);
	cr_assert_eq(window_http_get(w, "GET", "/users/{id}", 201)->count, 10);
	cr_assert_eq(w->nhttp, 10, "a look-up of an existing entry adds nothing");
	window_set_release(&ws);
}

Test(window, keeps_errnos_apart_then_folds_the_rest_into_other)
{
	struct window_set ws;
	struct window_syscall *s;
	uint64_t total = 0;

	window_set_init(&ws);
	s = window_syscall_get(window_set_get(&ws, 1), 3, "close");
	for (int err = 1; err <= 40; err++)
		window_syscall_add_errno(s, err, 2);
	window_syscall_add_errno(s, 1, 5);
	cr_assert_eq(s->nerrnos, WINDOW_ERRNOS_MAX);
	for (size_t i = 0; i < s->nerrnos; i++)
		total += s->errnos[i].count;
	cr_assert_eq(total, 40 * 2 + 5, "every error is counted somewhere");
	cr_assert_eq(s->errnos[0].err, 1);
	cr_assert_eq(s->errnos[0].count, 7);
	cr_assert_eq(s->errnos[WINDOW_ERRNOS_MAX - 1].err, 0, "the last slot is 'other'");
	cr_assert_eq(s->errnos[WINDOW_ERRNOS_MAX - 1].count, (40 - (WINDOW_ERRNOS_MAX - 1)) * 2);
	window_set_release(&ws);
}

Test(window, finds_calls_by_address)
{
	struct window_set ws;
	struct window *w;

	window_set_init(&ws);
	w = window_set_get(&ws, 2);
	window_call_get(w, "127.0.0.1:8002")->count += 3;
	window_call_get(w, "127.0.0.1:8003")->count += 1;
	window_call_get(w, "127.0.0.1:8002")->count += 4;
	cr_assert_eq(w->ncalls, 2);
	cr_assert_eq(window_call_get(w, "127.0.0.1:8002")->count, 7);
	window_set_release(&ws);
}
