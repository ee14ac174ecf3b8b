#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "demo/chaos.h"
#include "tests/lib/leakcheck.h"

TestSuite(chaos, .fini = test_no_leaks);

static char err[512];

static int parse(const char *text, struct chaos_settings *set)
{
	json_t *v = json_loads(text, 0, NULL);
	int rc;

	cr_assert_not_null(v, "%s", text);
	err[0] = '\0';
	rc = chaos_settings_parse(v, set, err, sizeof(err));
	json_decref(v);
	return rc;
}

/* Sets @c from JSON text, as POST /chaos does. */
static void set_json(struct chaos *c, const char *text)
{
	struct chaos_settings set;

	cr_assert_eq(parse(text, &set), 0, "%s: %s", text, err);
	chaos_set(c, &set);
}

static json_t *state(struct chaos *c)
{
	json_t *v = chaos_to_json(c);

	cr_assert_not_null(v);
	return v;
}

static double elapsed_ms(uint64_t since)
{
	return (double)(time_mono_ns() - since) / NSEC_PER_MSEC;
}

Test(chaos, parse_of_an_empty_object_injects_nothing)
{
	struct chaos_settings set;

	cr_assert_eq(parse("{}", &set), 0);
	cr_assert_eq(set.latency_ms, 0);
	cr_assert_eq(set.error_rate, 0);
	cr_assert_eq(set.duration_s, 0);
}

Test(chaos, parse_reads_every_field)
{
	struct chaos_settings set;

	cr_assert_eq(parse("{\"latency_ms\": 200, \"jitter_ms\": 50, \"error_rate\": 0.25,"
			   " \"cpu_burn_ms\": 10, \"leak_kb_per_req\": 64, \"duration_s\": 30}",
			   &set),
		     0, "%s", err);
	cr_assert_eq(set.latency_ms, 200);
	cr_assert_eq(set.jitter_ms, 50);
	cr_assert_float_eq(set.error_rate, 0.25, 1e-12);
	cr_assert_eq(set.cpu_burn_ms, 10);
	cr_assert_eq(set.leak_kb_per_req, 64);
	cr_assert_eq(set.duration_s, 30);
}

Test(chaos, parse_names_the_bad_field)
{
	struct chaos_settings set;

	cr_assert_eq(parse("{\"latency\": 5}", &set), -EINVAL);
	cr_assert_str_eq(err, "unknown field 'latency'");
	cr_assert_eq(parse("{\"latency_ms\": \"5\"}", &set), -EINVAL);
	cr_assert_str_eq(err, "field 'latency_ms' must be a number");
	cr_assert_eq(parse("{\"error_rate\": true}", &set), -EINVAL);
	cr_assert_eq(parse("{\"jitter_ms\": -1}", &set), -EINVAL);
	cr_assert_not_null(strstr(err, "'jitter_ms'"), "%s", err);
}

Test(chaos, parse_enforces_the_upper_bounds)
{
	struct chaos_settings set;

	cr_assert_eq(parse("{\"error_rate\": 1.01}", &set), -EINVAL);
	cr_assert_eq(parse("{\"error_rate\": 1}", &set), 0);
	cr_assert_eq(parse("{\"latency_ms\": 60001}", &set), -EINVAL);
	cr_assert_eq(parse("{\"latency_ms\": 60000}", &set), 0);
	cr_assert_eq(parse("{\"jitter_ms\": 60001}", &set), -EINVAL);
	cr_assert_eq(parse("{\"cpu_burn_ms\": 10001}", &set), -EINVAL);
	cr_assert_eq(parse("{\"leak_kb_per_req\": 10241}", &set), -EINVAL);
	cr_assert_eq(parse("{\"duration_s\": 86401}", &set), -EINVAL);
	cr_assert_eq(parse("{\"duration_s\": 1e300}", &set), -EINVAL);
}

Test(chaos, starts_inactive)
{
	struct chaos c;
	json_t *v;

	chaos_init(&c, "test", CHAOS_LEAK_CAP_BYTES);
	v = state(&c);
	cr_assert(json_is_false(json_object_get(v, "active")));
	cr_assert(json_is_null(json_object_get(v, "remaining_s")));
	cr_assert_eq(json_integer_value(json_object_get(v, "latency_ms")), 0);
	cr_assert_not(chaos_apply(&c));
	json_decref(v);
	chaos_release(&c);
}

Test(chaos, state_echoes_the_setting)
{
	struct chaos c;
	json_t *v;

	chaos_init(&c, "test", CHAOS_LEAK_CAP_BYTES);
	set_json(&c, "{\"latency_ms\": 100, \"jitter_ms\": 0.5, \"duration_s\": 10}");
	v = state(&c);
	cr_assert(json_is_true(json_object_get(v, "active")));
	cr_assert(json_is_integer(json_object_get(v, "latency_ms")), "integral values as integers");
	cr_assert_eq(json_integer_value(json_object_get(v, "latency_ms")), 100);
	cr_assert_float_eq(json_real_value(json_object_get(v, "jitter_ms")), 0.5, 1e-12);
	cr_assert_eq(json_integer_value(json_object_get(v, "remaining_s")), 10);
	cr_assert_eq(json_integer_value(json_object_get(v, "duration_s")), 10);
	json_decref(v);
	chaos_release(&c);
}

Test(chaos, error_rate_one_fails_every_request)
{
	struct chaos c;

	chaos_init(&c, "test", CHAOS_LEAK_CAP_BYTES);
	set_json(&c, "{\"error_rate\": 1}");
	for (int i = 0; i < 1000; i++)
		cr_assert(chaos_apply(&c));
	chaos_release(&c);
}

Test(chaos, error_rate_zero_fails_none)
{
	struct chaos c;

	chaos_init(&c, "test", CHAOS_LEAK_CAP_BYTES);
	set_json(&c, "{\"error_rate\": 0, \"latency_ms\": 0}");
	for (int i = 0; i < 1000; i++)
		cr_assert_not(chaos_apply(&c));
	chaos_release(&c);
}

Test(chaos, error_rate_half_fails_about_half)
{
	struct chaos c;
	int failed = 0;

	chaos_init(&c, "test", CHAOS_LEAK_CAP_BYTES);
	set_json(&c, "{\"error_rate\": 0.5}");
	for (int i = 0; i < 4000; i++)
		failed += chaos_apply(&c);
	/* binomial(4000, 0.5): sd 32, so 1700..2300 is over nine sd */
	cr_assert(failed > 1700 && failed < 2300, "failed %d of 4000", failed);
	chaos_release(&c);
}

Test(chaos, latency_delays_the_request)
{
	struct chaos c;
	uint64_t t0;

	chaos_init(&c, "test", CHAOS_LEAK_CAP_BYTES);
	set_json(&c, "{\"latency_ms\": 80}");
	t0 = time_mono_ns();
	cr_assert_not(chaos_apply(&c));
	cr_assert_geq(elapsed_ms(t0), 80.0);
	cr_assert_lt(elapsed_ms(t0), 1000.0);
	chaos_release(&c);
}

Test(chaos, jitter_stays_within_its_range_and_never_negative)
{
	struct chaos c;
	double lo = 1e9, hi = 0;

	chaos_init(&c, "test", CHAOS_LEAK_CAP_BYTES);
	set_json(&c, "{\"latency_ms\": 5, \"jitter_ms\": 20}");
	for (int i = 0; i < 40; i++) {
		uint64_t t0 = time_mono_ns();
		double ms;

		chaos_apply(&c);
		ms = elapsed_ms(t0);
		lo = ms < lo ? ms : lo;
		hi = ms > hi ? ms : hi;
	}
	/* 5 +/- 20 ms: clamped at 0, at most 25 ms plus scheduling */
	cr_assert_lt(hi, 200.0, "max %.2f ms", hi);
	cr_assert_gt(hi - lo, 3.0, "no spread: %.2f..%.2f ms", lo, hi);
	chaos_release(&c);
}

static double thread_cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

Test(chaos, cpu_burn_spends_cpu_on_the_calling_thread)
{
	struct chaos c;
	double before;

	chaos_init(&c, "test", CHAOS_LEAK_CAP_BYTES);
	set_json(&c, "{\"cpu_burn_ms\": 60}");
	before = thread_cpu_ms();
	chaos_apply(&c);
	cr_assert_geq(thread_cpu_ms() - before, 60.0, "cpu %.2f ms", thread_cpu_ms() - before);
	chaos_release(&c);
}

Test(chaos, leak_grows_per_request_and_delete_frees_it)
{
	struct chaos c;
	json_t *v;

	chaos_init(&c, "test", CHAOS_LEAK_CAP_BYTES);
	set_json(&c, "{\"leak_kb_per_req\": 16}");
	for (int i = 0; i < 10; i++)
		chaos_apply(&c);
	cr_assert_eq(chaos_leaked_bytes(&c), 160 * 1024);
	v = state(&c);
	cr_assert_eq(json_integer_value(json_object_get(v, "leaked_kb")), 160);
	json_decref(v);
	chaos_clear(&c);
	cr_assert_eq(chaos_leaked_bytes(&c), 0);
	v = state(&c);
	cr_assert(json_is_false(json_object_get(v, "active")));
	json_decref(v);
	chaos_release(&c);
}

Test(chaos, a_new_setting_keeps_the_leak_until_delete)
{
	struct chaos c;

	chaos_init(&c, "test", CHAOS_LEAK_CAP_BYTES);
	set_json(&c, "{\"leak_kb_per_req\": 8}");
	chaos_apply(&c);
	set_json(&c, "{\"latency_ms\": 1}");
	cr_assert_eq(chaos_leaked_bytes(&c), 8 * 1024);
	chaos_release(&c); /* frees what is still leaked */
}

/* Reads what the logger wrote to @fd so far. */
static void drain(int fd, char *out, size_t cap)
{
	ssize_t n = read(fd, out, cap - 1);

	out[n > 0 ? n : 0] = '\0';
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

Test(chaos, leak_stops_at_the_cap_and_says_so_once)
{
	static char logged[8192];
	struct chaos c;
	int fds[2];

	cr_assert_eq(pipe2(fds, O_NONBLOCK), 0);
	log_set_fd(fds[1]);
	chaos_init(&c, "test", 40 * 1024);
	set_json(&c, "{\"leak_kb_per_req\": 16}");
	for (int i = 0; i < 10; i++)
		chaos_apply(&c);
	cr_assert_eq(chaos_leaked_bytes(&c), 32 * 1024);
	drain(fds[0], logged, sizeof(logged));
	cr_assert_eq(count(logged, "leak cap"), 1, "%s", logged);
	chaos_release(&c);
	log_set_fd(2);
	close(fds[0]);
	close(fds[1]);
}

Test(chaos, each_change_logs_one_info_line)
{
	static char logged[8192];
	struct chaos c;
	int fds[2];

	cr_assert_eq(pipe2(fds, O_NONBLOCK), 0);
	log_set_fd(fds[1]);
	chaos_init(&c, "svc", CHAOS_LEAK_CAP_BYTES);
	set_json(&c, "{\"latency_ms\": 250, \"error_rate\": 0.5}");
	chaos_apply(&c);
	chaos_clear(&c);
	drain(fds[0], logged, sizeof(logged));
	cr_assert_eq(count(logged, "\n"), 2, "%s", logged);
	cr_assert_not_null(strstr(logged, "info demo: chaos on: latency 250 ms"), "%s", logged);
	cr_assert_not_null(strstr(logged, "error rate 0.5"), "%s", logged);
	cr_assert_not_null(strstr(logged, "chaos cleared"), "%s", logged);
	cr_assert_not_null(strstr(logged, "service=svc"), "%s", logged);
	chaos_release(&c);
	log_set_fd(2);
	close(fds[0]);
	close(fds[1]);
}

Test(chaos, a_post_replaces_the_whole_setting)
{
	struct chaos c;

	chaos_init(&c, "test", CHAOS_LEAK_CAP_BYTES);
	set_json(&c, "{\"error_rate\": 1, \"duration_s\": 100}");
	set_json(&c, "{\"latency_ms\": 1}");
	cr_assert_not(chaos_apply(&c), "error_rate was not reset");
	cr_assert_eq(c.expires_mono_ns, 0, "duration was not reset");
	chaos_release(&c);
}

Test(chaos, switches_itself_off_after_its_duration)
{
	struct chaos c;
	json_t *v;

	chaos_init(&c, "test", CHAOS_LEAK_CAP_BYTES);
	set_json(&c, "{\"error_rate\": 1, \"leak_kb_per_req\": 4, \"duration_s\": 0.2}");
	cr_assert(chaos_apply(&c));
	time_sleep_ns(250 * NSEC_PER_MSEC);
	cr_assert_not(chaos_apply(&c), "still failing after the duration");
	cr_assert_eq(chaos_leaked_bytes(&c), 0, "expiry frees the leak");
	v = state(&c);
	cr_assert(json_is_false(json_object_get(v, "active")));
	json_decref(v);
	chaos_release(&c);
}

Test(chaos, tick_expires_without_any_request)
{
	struct chaos c;

	chaos_init(&c, "test", CHAOS_LEAK_CAP_BYTES);
	set_json(&c, "{\"error_rate\": 1, \"duration_s\": 0.05}");
	chaos_tick(&c);
	cr_assert_eq(c.set.error_rate, 1);
	time_sleep_ns(80 * NSEC_PER_MSEC);
	chaos_tick(&c);
	cr_assert_eq(c.set.error_rate, 0);
	cr_assert_eq(c.expires_mono_ns, 0);
	chaos_release(&c);
}

static void *apply_in_thread(void *arg)
{
	struct chaos *c = arg;

	return chaos_apply(c) ? (void *)1 : NULL;
}

Test(chaos, delete_cuts_a_sleeping_request_short)
{
	struct chaos c;
	pthread_t t;
	uint64_t t0 = time_mono_ns();
	void *failed;

	chaos_init(&c, "test", CHAOS_LEAK_CAP_BYTES);
	set_json(&c, "{\"latency_ms\": 30000, \"error_rate\": 1}");
	pthread_create(&t, NULL, apply_in_thread, &c);
	time_sleep_ns(50 * NSEC_PER_MSEC);
	chaos_clear(&c);
	pthread_join(t, &failed);
	cr_assert_lt(elapsed_ms(t0), 5000.0);
	cr_assert_null(failed, "a request whose chaos was cleared goes on normally");
	chaos_release(&c);
}

Test(chaos, stop_ends_sleeps_and_burns)
{
	struct chaos c;
	pthread_t sleeper, burner;
	struct chaos c2;
	uint64_t t0 = time_mono_ns();

	chaos_init(&c, "test", CHAOS_LEAK_CAP_BYTES);
	chaos_init(&c2, "test", CHAOS_LEAK_CAP_BYTES);
	set_json(&c, "{\"latency_ms\": 30000}");
	set_json(&c2, "{\"cpu_burn_ms\": 10000}");
	pthread_create(&sleeper, NULL, apply_in_thread, &c);
	pthread_create(&burner, NULL, apply_in_thread, &c2);
	time_sleep_ns(50 * NSEC_PER_MSEC);
	chaos_stop(&c);
	chaos_stop(&c2);
	pthread_join(sleeper, NULL);
	pthread_join(burner, NULL);
	cr_assert_lt(elapsed_ms(t0), 5000.0);
	chaos_release(&c);
	chaos_release(&c2);
}
