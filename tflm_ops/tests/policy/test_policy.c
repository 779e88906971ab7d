/* Host tests of the budget policy (tflm_ops/reds_policy.c) and the firmware's measuring loop
 * (boards/common/reds_bench.c) against the real budget register. Run by tests/test_policy.py. */
#include <stdio.h>
#include <string.h>

#include "reds_bench.h"
#include "reds_budget.h"
#include "reds_policy.h"

static int g_failures = 0;

#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++g_failures;                                                   \
    }                                                                 \
  } while (0)

static void test_select(void) {
  const uint32_t lat[4] = {1000, 700, 400, 250};
  const uint32_t noisy[4] = {900, 950, 500, 510}; /* budget 1 measured slower than 0; 3 slower than 2 */
  int k = -7;
  CHECK(reds_select_budget(lat, 4, 1000, &k) == REDS_OK && k == 0); /* deadline equal to latency fits */
  CHECK(reds_select_budget(lat, 4, 999, &k) == REDS_OK && k == 1);
  CHECK(reds_select_budget(lat, 4, 400, &k) == REDS_OK && k == 2);
  CHECK(reds_select_budget(lat, 4, 250, &k) == REDS_OK && k == 3);
  CHECK(reds_select_budget(noisy, 4, 920, &k) == REDS_OK && k == 0);
  CHECK(reds_select_budget(noisy, 4, 899, &k) == REDS_OK && k == 2);
  /* nothing fits: the fastest budget, not blindly the last one */
  CHECK(reds_select_budget(noisy, 4, 100, &k) == REDS_POLICY_MISS && k == 2);
  CHECK(reds_select_budget(lat, 4, 0, &k) == REDS_POLICY_MISS && k == 3);
  {
    const uint32_t tie[3] = {800, 300, 300};
    CHECK(reds_select_budget(tie, 3, 10, &k) == REDS_POLICY_MISS && k == 1); /* ties: lowest k */
  }
  CHECK(reds_select_budget(lat, 1, 5, &k) == REDS_POLICY_MISS && k == 0);
  k = 42;
  CHECK(reds_select_budget(NULL, 4, 1000, &k) == REDS_ERR_ARG && k == 42);
  CHECK(reds_select_budget(lat, 4, 1000, NULL) == REDS_ERR_ARG);
  CHECK(reds_select_budget(lat, 0, 1000, &k) == REDS_ERR_ARG && k == 42);
  CHECK(reds_select_budget(lat, REDS_MAX_BUDGETS + 1, 1000, &k) == REDS_ERR_ARG && k == 42);
}

static void test_timing(void) {
  CHECK(reds_ticks_between(100u, 350u) == 250u);
  CHECK(reds_ticks_between(0xFFFFFFF0u, 0x10u) == 0x20u); /* across the wrap of CYCCNT */
  CHECK(reds_ticks_to_us(64u, 64000000u) == 1u);
  CHECK(reds_ticks_to_us(32u, 64000000u) == 1u); /* 0.5 us rounds up */
  CHECK(reds_ticks_to_us(31u, 64000000u) == 0u);
  CHECK(reds_ticks_to_us(6400000u, 64000000u) == 100000u);
  CHECK(reds_ticks_to_us(0xFFFFFFFFu, 64000000u) == 67108864u); /* no 32-bit overflow in ticks * 1e6 */
  CHECK(reds_ticks_to_us(0xFFFFFFFFu, 1u) == 0xFFFFFFFFu);      /* saturates */
  CHECK(reds_ticks_to_us(1234u, 1000000u) == 1234u);            /* micros() as the tick source */
  CHECK(reds_ticks_to_us(5u, 0u) == 0u);
  CHECK(reds_us_to_ticks(1000u, 64000000u) == 64000u);
  CHECK(reds_us_to_ticks(0xFFFFFFFFu, 64000000u) == 0xFFFFFFFFu);
  CHECK(reds_us_to_ticks(7u, 1000000u) == 7u);
  CHECK(reds_us_to_ticks(1u, 1500000u) == 1u); /* 1.5 ticks rounds down */
}

static void test_median(void) {
  uint32_t odd[5] = {9, 1, 7, 3, 5};
  uint32_t even[4] = {40, 10, 30, 20};
  uint32_t one[1] = {77};
  CHECK(reds_median_u32(odd, 5) == 5u);
  CHECK(odd[0] == 1u && odd[4] == 9u);
  CHECK(reds_median_u32(even, 4) == 20u);
  CHECK(reds_median_u32(one, 1) == 77u);
  CHECK(reds_median_u32(NULL, 3) == 0u && reds_median_u32(one, 0) == 0u);
}

static void test_table(void) {
  const reds_budget_row rows[3] = {{1.0f, 123456u, 640000u}, {0.5f, 61728u, 320000u}, {0.2505f, 30000u, 64u}};
  const char *expect =
      " k   frac       MACs      ticks         us  fit\n"
      " 0  1.000     123456     640000      10000  no\n"
      " 1  0.500      61728     320000       5000  yes  <- selected\n"
      " 2  0.251      30000         64          1  yes\n";
  char buf[512], small[40];
  int len = reds_format_table(buf, sizeof buf, rows, 3, 64000000u, 5000u, 1);
  CHECK(len == (int)strlen(expect));
  CHECK(strcmp(buf, expect) == 0);
  if (strcmp(buf, expect) != 0) fprintf(stderr, "got:\n%s", buf);
  /* truncation: snprintf semantics, NUL-terminated prefix */
  memset(small, 'x', sizeof small);
  CHECK(reds_format_table(small, sizeof small, rows, 3, 64000000u, 5000u, 1) == len);
  CHECK(strlen(small) == sizeof small - 1 && strncmp(small, expect, sizeof small - 1) == 0);
  CHECK(reds_format_table(NULL, 0, rows, 3, 64000000u, 5000u, 1) == len);
  CHECK(reds_format_table(NULL, 0, rows, 3, 64000000u, 5000u, -1) == len - (int)strlen("  <- selected"));
  CHECK(reds_format_table(NULL, 8, rows, 3, 64000000u, 5000u, -1) == REDS_ERR_ARG);
  CHECK(reds_format_table(buf, sizeof buf, NULL, 3, 64000000u, 5000u, -1) == REDS_ERR_ARG);
  CHECK(reds_format_table(buf, sizeof buf, rows, 0, 64000000u, 5000u, -1) == REDS_ERR_ARG);
}

/* A simulated board: a tick counter that costs 3 ticks per read, inferences whose cost depends on the active
 * budget (with one interrupt-like spike), and the real budget register. */
typedef struct {
  uint32_t now;
  uint32_t cost[4];
  int invocations;
  int fail_at_budget; /* invoke fails when this budget is active (-1: never) */
  int budgets_seen[REDS_MAX_BUDGETS];
} fake_board;

static uint32_t fake_ticks(void *ctx) {
  fake_board *b = (fake_board *)ctx;
  uint32_t t = b->now;
  b->now += 3u;
  return t;
}

static int fake_set_budget(void *ctx, int k) {
  fake_board *b = (fake_board *)ctx;
  b->now += 5u;
  return reds_set_budget(k);
}

static int fake_invoke(void *ctx) {
  fake_board *b = (fake_board *)ctx;
  int k = reds_get_budget();
  if (k == b->fail_at_budget) return -99;
  b->budgets_seen[k] += 1;
  b->now += b->cost[k] + ((++b->invocations % 5 == 0) ? 100000u : 0u);
  return 0;
}

static void test_bench(void) {
  fake_board board = {0xFFFFF000u, {9000u, 6000u, 3500u, 2000u}, 0, -1, {0}}; /* starts near the wrap */
  reds_bench_hooks hooks = {fake_ticks, fake_set_budget, fake_invoke, NULL};
  reds_bench_result res;
  reds_budget_row rows[4];
  const float frac[4] = {1.0f, 0.75f, 0.5f, 0.25f};
  const uint32_t macs[4] = {400u, 300u, 200u, 100u};
  int k;
  hooks.ctx = &board;
  reds_budget_reset();
  CHECK(reds_budget_register(4) == REDS_OK);
  CHECK(reds_bench_run(&hooks, 4, 7, &res) == REDS_OK);
  CHECK(res.n == 4 && res.overhead_ticks == 3u && res.set_budget_ticks == 5u);
  for (k = 0; k < 4; ++k) {
    CHECK(res.invoke_ticks[k] == board.cost[k]); /* median ignores the spikes */
    CHECK(board.budgets_seen[k] == 7);
  }
  CHECK(reds_get_budget() == 0);
  CHECK(reds_bench_rows(&res, frac, macs, rows) == REDS_OK);
  CHECK(rows[2].fraction == 0.5f && rows[2].macs == 200u && rows[2].ticks == 3500u);
  {
    uint32_t lat[4];
    for (k = 0; k < 4; ++k) lat[k] = rows[k].ticks;
    CHECK(reds_select_budget(lat, 4, 4000u, &k) == REDS_OK && k == 2);
  }
  /* more budgets than the model registered: the register refuses, the loop reports it */
  CHECK(reds_bench_run(&hooks, 5, 3, &res) == REDS_ERR_BUDGET);
  board.fail_at_budget = 2;
  CHECK(reds_bench_run(&hooks, 4, 3, &res) == -99);
  CHECK(reds_bench_run(&hooks, 4, 0, &res) == REDS_ERR_ARG);
  CHECK(reds_bench_run(&hooks, 4, REDS_BENCH_MAX_REPEATS + 1, &res) == REDS_ERR_ARG);
  CHECK(reds_bench_run(NULL, 4, 3, &res) == REDS_ERR_ARG);
  hooks.invoke = NULL;
  CHECK(reds_bench_run(&hooks, 4, 3, &res) == REDS_ERR_ARG);
  reds_budget_reset();
}

int main(void) {
  test_select();
  test_timing();
  test_median();
  test_table();
  test_bench();
  if (g_failures) {
    fprintf(stderr, "%d check(s) failed\n", g_failures);
    return 1;
  }
  printf("policy tests passed\n");
  return 0;
}
