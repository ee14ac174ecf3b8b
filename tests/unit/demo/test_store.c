#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "demo/store.h"
#include "tests/lib/leakcheck.h"

TestSuite(store, .fini = test_no_leaks);

/* Adds {"id": <new>, "v": @v} and returns the id. */
static uint64_t add(struct store *s, int v)
{
	uint64_t id = store_reserve_id(s);
	json_t *rec = json_pack("{s:I, s:i}", "id", (json_int_t)id, "v", v);

	cr_assert_eq(store_put(s, id, rec), 0);
	json_decref(rec);
	return id;
}

static json_int_t list_id(json_t *list, size_t i)
{
	return json_integer_value(json_object_get(json_array_get(list, i), "id"));
}

Test(store, ids_start_at_one_and_increase)
{
	struct store *s = store_new(10, 1 << 20);

	cr_assert_eq(add(s, 0), 1);
	cr_assert_eq(add(s, 0), 2);
	cr_assert_eq(store_reserve_id(s), 3);
	cr_assert_eq(add(s, 0), 4);
	store_free(s);
}

Test(store, get_returns_a_copy_or_null)
{
	struct store *s = store_new(10, 1 << 20);
	json_t *rec;

	add(s, 7);
	rec = store_get(s, 1);
	cr_assert_not_null(rec);
	cr_assert_eq(json_integer_value(json_object_get(rec, "v")), 7);
	json_decref(rec);
	cr_assert_null(store_get(s, 0));
	cr_assert_null(store_get(s, 2), "an id not handed out yet");
	cr_assert_null(store_get(s, UINT64_MAX));
	store_free(s);
}

Test(store, list_is_newest_first_and_limited)
{
	struct store *s = store_new(10, 1 << 20);
	json_t *list;

	for (int i = 0; i < 5; i++)
		add(s, i);
	list = store_list(s, 3);
	cr_assert_eq(json_array_size(list), 3);
	cr_assert_eq(list_id(list, 0), 5);
	cr_assert_eq(list_id(list, 2), 3);
	json_decref(list);
	list = store_list(s, 100);
	cr_assert_eq(json_array_size(list), 5);
	cr_assert_eq(list_id(list, 4), 1);
	json_decref(list);
	store_free(s);
}

Test(store, an_empty_store_lists_nothing)
{
	struct store *s = store_new(4, 1024);
	json_t *list = store_list(s, 10);

	cr_assert_eq(json_array_size(list), 0);
	json_decref(list);
	store_free(s);
}

Test(store, a_reserved_id_never_put_is_absent_and_skipped)
{
	struct store *s = store_new(10, 1 << 20);
	json_t *list;

	add(s, 0);
	(void)store_reserve_id(s);
	add(s, 0);
	cr_assert_null(store_get(s, 2));
	cr_assert_eq(store_count(s), 2);
	list = store_list(s, 10);
	cr_assert_eq(json_array_size(list), 2);
	cr_assert_eq(list_id(list, 0), 3);
	cr_assert_eq(list_id(list, 1), 1);
	json_decref(list);
	store_free(s);
}

Test(store, past_max_records_the_oldest_are_evicted)
{
	struct store *s = store_new(3, 1 << 20);
	json_t *list, *rec;

	for (int i = 0; i < 5; i++)
		add(s, i);
	cr_assert_eq(store_count(s), 3);
	cr_assert_null(store_get(s, 1));
	cr_assert_null(store_get(s, 2));
	rec = store_get(s, 3);
	cr_assert_not_null(rec);
	json_decref(rec);
	list = store_list(s, 10);
	cr_assert_eq(json_array_size(list), 3);
	cr_assert_eq(list_id(list, 0), 5);
	cr_assert_eq(list_id(list, 2), 3);
	json_decref(list);
	cr_assert_eq(add(s, 9), 6, "ids keep increasing after eviction");
	store_free(s);
}

Test(store, past_max_bytes_the_oldest_are_evicted)
{
	/* each record {"id":N,"v":N} is 14 bytes for one-digit values */
	struct store *s = store_new(100, 40);

	for (int i = 1; i <= 5; i++)
		add(s, i);
	cr_assert_leq(store_bytes(s), 40);
	cr_assert_eq(store_count(s), 2);
	cr_assert_null(store_get(s, 3));
	for (uint64_t id = 4; id <= 5; id++) {
		json_t *rec = store_get(s, id);

		cr_assert_not_null(rec, "record %llu evicted", (unsigned long long)id);
		json_decref(rec);
	}
	store_free(s);
}

Test(store, a_record_larger_than_the_store_is_dropped)
{
	struct store *s = store_new(10, 8);

	add(s, 1);
	cr_assert_eq(store_count(s), 0);
	cr_assert_eq(store_bytes(s), 0);
	store_free(s);
}

Test(store, a_put_for_an_id_out_of_the_window_is_dropped)
{
	struct store *s = store_new(2, 1 << 20);
	uint64_t late = store_reserve_id(s);
	json_t *rec = json_pack("{s:I}", "id", (json_int_t)late);

	add(s, 0);
	add(s, 0);
	cr_assert_eq(store_put(s, late, rec), 0);
	cr_assert_null(store_get(s, late));
	cr_assert_eq(store_count(s), 2);
	json_decref(rec);
	store_free(s);
}

Test(store, putting_an_id_twice_replaces_the_record)
{
	struct store *s = store_new(4, 1 << 20);
	uint64_t id = store_reserve_id(s);
	json_t *a = json_pack("{s:I, s:s}", "id", (json_int_t)id, "v", "a");
	json_t *b = json_pack("{s:I, s:s}", "id", (json_int_t)id, "v", "b");
	json_t *got;

	cr_assert_eq(store_put(s, id, a), 0);
	cr_assert_eq(store_put(s, id, b), 0);
	cr_assert_eq(store_count(s), 1);
	got = store_get(s, id);
	cr_assert_str_eq(json_string_value(json_object_get(got, "v")), "b");
	json_decref(got);
	json_decref(a);
	json_decref(b);
	store_free(s);
}

static void *adder(void *arg)
{
	struct store *s = arg;

	for (int i = 0; i < 500; i++)
		add(s, i);
	return NULL;
}

Test(store, concurrent_adds_get_distinct_ids)
{
	struct store *s = store_new(10000, 1 << 24);
	pthread_t t[8];
	json_t *list;

	for (int i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, adder, s);
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(store_count(s), 4000);
	list = store_list(s, 5000);
	cr_assert_eq(json_array_size(list), 4000);
	for (size_t i = 1; i < 4000; i++)
		cr_assert_gt(list_id(list, i - 1), list_id(list, i));
	json_decref(list);
	store_free(s);
}

Test(store, free_of_null_does_nothing)
{
	store_free(NULL);
}
