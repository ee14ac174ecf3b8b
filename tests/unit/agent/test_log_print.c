#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/log_print.h"
#include "common/window.h"
#include "tests/lib/leakcheck.h"

TestSuite(log_print, .fini = test_no_leaks);

Test(log_print, one_json_line_per_log_line_with_its_stream_and_time)
{
	struct window *w = window_new(1);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	char *nl;
	json_t *o;

	window_log_add(w, 1700000000123456789, WINDOW_LOG_STDOUT, "caf\xc3\xa9 \"quoted\"", 14);
	window_log_add(w, 1700000001000000000, WINDOW_LOG_STDERR, "boom", 4);
	cr_assert_eq(log_print(f, w, "orders", "web-1"), 0);
	fclose(f);
	nl = strchr(text, '\n');
	cr_assert_not_null(nl);
	*nl = '\0';
	o = json_loads(text, 0, NULL);
	cr_assert_not_null(o, "%s", text);
	cr_expect_str_eq(json_string_value(json_object_get(o, "line")), "caf\xc3\xa9 \"quoted\"");
	cr_expect_str_eq(json_string_value(json_object_get(o, "stream")), "stdout");
	cr_expect_str_eq(json_string_value(json_object_get(o, "service")), "orders");
	cr_expect_str_eq(json_string_value(json_object_get(o, "host")), "web-1");
	cr_expect_str_eq(json_string_value(json_object_get(o, "ts")), "2023-11-14T22:13:20.123Z");
	cr_expect_eq(json_integer_value(json_object_get(o, "ts_ns")), 1700000000123456789);
	json_decref(o);
	o = json_loads(nl + 1, 0, NULL);
	cr_assert_not_null(o);
	cr_expect_str_eq(json_string_value(json_object_get(o, "stream")), "stderr");
	json_decref(o);
	cr_expect_eq(strchr(nl + 1, '\n')[1], '\0', "two lines");
	free(text);
	window_free(w);
}

Test(log_print, a_window_without_lines_writes_nothing)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	cr_assert_eq(log_print(f, NULL, "orders", "web-1"), 0);
	fclose(f);
	cr_expect_eq(len, 0);
	free(text);
}
