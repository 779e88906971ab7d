/* One test per options case of options_cases.h (generated from the real encoder): valid buffers parse to the
 * expected struct, every malformed one fails with its specific status and names the key at fault. */
#include <stdlib.h>
#include <string.h>

#include "../reds_options.h"
#include "options_cases.h"
#include "reds_test.h"

static void check_case(const options_case *c) {
  reds_options o;
  /* Copy into an exactly-sized heap block so that AddressSanitizer catches any read past the end. */
  uint8_t *copy = (uint8_t *)malloc(c->len ? c->len : 1);
  if (c->len) memcpy(copy, c->bytes, c->len);
  const int st = reds_options_parse(copy, c->len, c->op, c->out_channels, &o);
  free(copy);
  if (c->expect == REDS_ERR_ANY) {
    CHECK(st < 0);
  } else {
    CHECK_EQ_INT(st, c->expect);
  }
  if (st != REDS_OK && c->key != NULL) CHECK(o.error_key != NULL && strcmp(o.error_key, c->key) == 0);
  if (c->has_parsed && st == REDS_OK) {
    const reds_options *e = &c->parsed;
    CHECK_EQ_INT(o.op, e->op);
    CHECK_EQ_INT(o.version, e->version);
    CHECK_EQ_INT(o.budgets, e->budgets);
    for (int k = 0; k < e->budgets; ++k) {
      CHECK_EQ_INT(o.out_widths[k], e->out_widths[k]);
      CHECK_EQ_INT(o.in_widths[k], e->in_widths[k]);
    }
    CHECK_EQ_INT(o.activation, e->activation);
    CHECK_EQ_INT(o.in_channels, e->in_channels);
    CHECK_EQ_INT(o.in_repeat, e->in_repeat);
    CHECK_EQ_INT(o.keep_num_dims, e->keep_num_dims);
    CHECK_EQ_INT(o.padding, e->padding);
    CHECK_EQ_INT(o.stride_w, e->stride_w);
    CHECK_EQ_INT(o.stride_h, e->stride_h);
    CHECK_EQ_INT(o.dilation_w, e->dilation_w);
    CHECK_EQ_INT(o.dilation_h, e->dilation_h);
    CHECK_EQ_INT(o.depth_multiplier, e->depth_multiplier);
    CHECK(o.error_key == NULL);
  }
  if (reds_test_current_failed) printf("    case %s: status %d\n", c->name, st);
}

static void test_options_wrong_op_and_null(void) {
  reds_options o;
  const options_case *c = &OPTIONS_CASES[0];
  CHECK_EQ_INT(reds_options_parse(c->bytes, c->len, 3, 0, &o), REDS_ERR_ARG);
  CHECK_EQ_INT(reds_options_parse(NULL, 4, 0, 0, &o), REDS_ERR_ARG);
  CHECK_EQ_INT(reds_options_parse(c->bytes, c->len, 0, 0, NULL), REDS_ERR_ARG);
}

static void test_options_widths_accessor(void) {
  reds_options o;
  const options_case *c = &OPTIONS_CASES[0]; /* fc_valid */
  CHECK_EQ_INT(reds_options_parse(c->bytes, c->len, c->op, c->out_channels, &o), REDS_OK);
  int32_t ow = 0, iw = 0;
  CHECK_EQ_INT(reds_options_widths(&o, 2, &ow, &iw), REDS_OK);
  CHECK_EQ_INT(ow, c->parsed.out_widths[2]);
  CHECK_EQ_INT(iw, c->parsed.in_widths[2]);
  CHECK_EQ_INT(reds_options_widths(&o, o.budgets, &ow, &iw), REDS_ERR_BUDGET);
  CHECK_EQ_INT(reds_options_widths(&o, -1, &ow, &iw), REDS_ERR_BUDGET);
}

/* Every single-byte corruption of every valid case must be handled (any status) without reading out of bounds;
 * under -fsanitize=address this is a small deterministic fuzz. */
static void test_options_single_byte_corruptions(void) {
  for (size_t i = 0; i < OPTIONS_CASE_COUNT; ++i) {
    const options_case *c = &OPTIONS_CASES[i];
    if (c->expect != REDS_OK) continue;
    for (size_t pos = 0; pos < c->len; ++pos) {
      static const uint8_t values[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
      for (size_t v = 0; v < sizeof(values); ++v) {
        uint8_t *copy = (uint8_t *)malloc(c->len);
        memcpy(copy, c->bytes, c->len);
        copy[pos] = values[v];
        reds_options o;
        const int st = reds_options_parse(copy, c->len, c->op, c->out_channels, &o);
        free(copy);
        CHECK(st <= 0);
        if (st == REDS_OK) {
          /* Whatever parsed must still be internally valid. */
          CHECK(o.budgets >= 1 && o.budgets <= REDS_MAX_BUDGETS);
          for (int k = 0; k < o.budgets; ++k) CHECK(o.in_widths[k] >= 1 && o.in_widths[k] <= o.in_channels);
        }
      }
    }
  }
}

/* One registered test per generated case, through the X-macro list of options_cases.h. */
#define DEFINE_CASE_TEST(i, name) \
  static void options_case_test_##i(void) { check_case(&OPTIONS_CASES[i]); }
OPTIONS_CASE_LIST(DEFINE_CASE_TEST)
#undef DEFINE_CASE_TEST

#define CASE_ENTRY(i, name) {"options_" name, options_case_test_##i},
const reds_test_case reds_tests_options[] = {
    OPTIONS_CASE_LIST(CASE_ENTRY)
    {"options_wrong_op_and_null", test_options_wrong_op_and_null},
    {"options_widths_accessor", test_options_widths_accessor},
    {"options_single_byte_corruptions", test_options_single_byte_corruptions},
    {NULL, NULL}};
#undef CASE_ENTRY
