/*
 * test_audit_gaps.c - daemon/sources/audit_gaps.c: serials that never
 * arrive count as lost after the grace period, late ones close their part
 * of a gap (at either end or in the middle), the range limit, the 32-bit
 * wrap and an implausible jump restart the tracking without counting.
 */
#include "ht_build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sources/audit_gaps.h"

#define UNUSED __attribute__((unused))

static struct ht_audit_gaps *
gaps(size_t max)
{
	struct ht_audit_gaps *g = NULL;

	assert_int_equal(ht_audit_gaps_new(max, &g), 0);
	return g;
}

static void
test_in_order_nothing_lost(void **state UNUSED)
{
	struct ht_audit_gaps *g = gaps(0);

	for (uint64_t s = 100; s < 200; s++) {
		ht_audit_gaps_see(g, s, 0);
		ht_audit_gaps_see(g, s, 0);	/* several records per event */
	}
	assert_int_equal(ht_audit_gaps_expire(g, 100000, 5000), 0);
	assert_int_equal(ht_audit_gaps_lost(g), 0);
	assert_int_equal(ht_audit_gaps_pending(g), 0);
	ht_audit_gaps_free(g);
}

static void
test_missing_counted_after_grace(void **state UNUSED)
{
	struct ht_audit_gaps *g = gaps(0);

	ht_audit_gaps_see(g, 10, 0);
	ht_audit_gaps_see(g, 15, 100);	/* 11..14 missing since 100 */
	ht_audit_gaps_see(g, 20, 3000);	/* 16..19 missing since 3000 */
	assert_int_equal(ht_audit_gaps_pending(g), 8);
	assert_int_equal(ht_audit_gaps_expire(g, 5099, 5000), 0);
	assert_int_equal(ht_audit_gaps_expire(g, 5100, 5000), 4);
	assert_int_equal(ht_audit_gaps_pending(g), 4);
	assert_int_equal(ht_audit_gaps_expire(g, 8000, 5000), 4);
	assert_int_equal(ht_audit_gaps_lost(g), 8);
	assert_int_equal(ht_audit_gaps_pending(g), 0);
	ht_audit_gaps_free(g);
}

static void
test_late_arrivals_close_gaps(void **state UNUSED)
{
	struct ht_audit_gaps *g = gaps(0);

	ht_audit_gaps_see(g, 1, 0);
	ht_audit_gaps_see(g, 10, 0);	/* 2..9 */
	ht_audit_gaps_see(g, 2, 1);	/* lower end */
	ht_audit_gaps_see(g, 9, 1);	/* upper end */
	ht_audit_gaps_see(g, 5, 1);	/* middle: 3..4 and 6..8 */
	assert_int_equal(ht_audit_gaps_pending(g), 5);
	ht_audit_gaps_see(g, 3, 2);
	ht_audit_gaps_see(g, 4, 2);
	ht_audit_gaps_see(g, 7, 2);
	ht_audit_gaps_see(g, 7, 2);	/* a second record of 7: nothing more */
	assert_int_equal(ht_audit_gaps_pending(g), 2);
	ht_audit_gaps_see(g, 0, 2);	/* before tracking began: ignored */
	assert_int_equal(ht_audit_gaps_expire(g, 10000, 5000), 2);	/* 6 and 8 */
	ht_audit_gaps_see(g, 6, 10001);	/* too late: already counted */
	assert_int_equal(ht_audit_gaps_lost(g), 2);
	ht_audit_gaps_free(g);
}

static void
test_range_limit(void **state UNUSED)
{
	struct ht_audit_gaps *g = gaps(2);

	ht_audit_gaps_see(g, 1, 0);
	ht_audit_gaps_see(g, 3, 0);	/* 2 */
	ht_audit_gaps_see(g, 6, 0);	/* 4..5 */
	ht_audit_gaps_see(g, 8, 0);	/* 7: full, so 2 is counted now */
	assert_int_equal(ht_audit_gaps_lost(g), 1);
	assert_int_equal(ht_audit_gaps_pending(g), 3);
	/* a split with no room counts the lower part */
	ht_audit_gaps_see(g, 20, 0);	/* 9..19; 4..5 counted */
	assert_int_equal(ht_audit_gaps_lost(g), 3);
	ht_audit_gaps_see(g, 12, 0);	/* 9..11 counted, 13..19 kept */
	assert_int_equal(ht_audit_gaps_lost(g), 6);
	assert_int_equal(ht_audit_gaps_pending(g), 8);	/* 7, 13..19 */
	ht_audit_gaps_free(g);
}

static void
test_wrap_and_jump_restart(void **state UNUSED)
{
	struct ht_audit_gaps *g = gaps(0);

	ht_audit_gaps_see(g, 4294967290ULL, 0);
	ht_audit_gaps_see(g, 3, 0);	/* the 32-bit counter wrapped */
	ht_audit_gaps_see(g, 4, 0);
	assert_int_equal(ht_audit_gaps_pending(g), 0);
	ht_audit_gaps_see(g, 4 + HT_AUDIT_GAPS_JUMP_MAX + 1, 0);
	assert_int_equal(ht_audit_gaps_pending(g), 0);
	assert_int_equal(ht_audit_gaps_expire(g, 100000, 0), 0);
	ht_audit_gaps_reset(g);
	ht_audit_gaps_see(g, 50, 0);	/* a new baseline, no gap from before */
	assert_int_equal(ht_audit_gaps_pending(g), 0);
	assert_int_equal(ht_audit_gaps_lost(g), 0);
	ht_audit_gaps_free(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order_nothing_lost),
		cmocka_unit_test(test_missing_counted_after_grace),
		cmocka_unit_test(test_late_arrivals_close_gaps),
		cmocka_unit_test(test_range_limit),
		cmocka_unit_test(test_wrap_and_jump_restart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
