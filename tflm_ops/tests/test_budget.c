#include "../reds_budget.h"
#include "reds_test.h"

static void test_budget_unregistered_rejects_everything(void) {
  reds_budget_reset();
  CHECK_EQ_INT(reds_budget_count(), 0);
  CHECK_EQ_INT(reds_set_budget(0), REDS_ERR_BUDGET);
  CHECK_EQ_INT(reds_get_budget(), 0);
}

static void test_budget_register_and_set(void) {
  reds_budget_reset();
  CHECK_EQ_INT(reds_budget_register(4), REDS_OK);
  CHECK_EQ_INT(reds_budget_count(), 4);
  for (int k = 0; k < 4; ++k) {
    CHECK_EQ_INT(reds_set_budget(k), REDS_OK);
    CHECK_EQ_INT(reds_get_budget(), k);
  }
}

static void test_budget_out_of_range_leaves_active_unchanged(void) {
  reds_budget_reset();
  CHECK_EQ_INT(reds_budget_register(3), REDS_OK);
  CHECK_EQ_INT(reds_set_budget(2), REDS_OK);
  const int bad[] = {3, 4, -1, -2147483647 - 1, 2147483647, 16};
  for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
    CHECK_EQ_INT(reds_set_budget(bad[i]), REDS_ERR_BUDGET);
    CHECK_EQ_INT(reds_get_budget(), 2);
  }
}

static void test_budget_register_mismatch(void) {
  reds_budget_reset();
  CHECK_EQ_INT(reds_budget_register(4), REDS_OK);
  CHECK_EQ_INT(reds_budget_register(4), REDS_OK); /* a second op of the same model */
  CHECK_EQ_INT(reds_budget_register(3), REDS_ERR_BUDGET_MISMATCH);
  CHECK_EQ_INT(reds_budget_count(), 4);
}

static void test_budget_register_range(void) {
  reds_budget_reset();
  CHECK_EQ_INT(reds_budget_register(0), REDS_ERR_ARG);
  CHECK_EQ_INT(reds_budget_register(-1), REDS_ERR_ARG);
  CHECK_EQ_INT(reds_budget_register(REDS_MAX_BUDGETS + 1), REDS_ERR_ARG);
  CHECK_EQ_INT(reds_budget_count(), 0);
  CHECK_EQ_INT(reds_budget_register(REDS_MAX_BUDGETS), REDS_OK);
  CHECK_EQ_INT(reds_set_budget(REDS_MAX_BUDGETS - 1), REDS_OK);
}

static void test_budget_reset_forgets_model(void) {
  reds_budget_reset();
  CHECK_EQ_INT(reds_budget_register(4), REDS_OK);
  CHECK_EQ_INT(reds_set_budget(3), REDS_OK);
  reds_budget_reset();
  CHECK_EQ_INT(reds_get_budget(), 0);
  CHECK_EQ_INT(reds_budget_count(), 0);
  CHECK_EQ_INT(reds_budget_register(2), REDS_OK);
  CHECK_EQ_INT(reds_set_budget(3), REDS_ERR_BUDGET);
  reds_budget_reset();
}

const reds_test_case reds_tests_budget[] = {
    {"budget_unregistered_rejects_everything", test_budget_unregistered_rejects_everything},
    {"budget_register_and_set", test_budget_register_and_set},
    {"budget_out_of_range_leaves_active_unchanged", test_budget_out_of_range_leaves_active_unchanged},
    {"budget_register_mismatch", test_budget_register_mismatch},
    {"budget_register_range", test_budget_register_range},
    {"budget_reset_forgets_model", test_budget_reset_forgets_model},
    {NULL, NULL}};
