/* REDS custom options (docs/format.md): a FlexBuffer map -> a plain, fully validated struct.
 *
 * The parser is self-contained (no FlatBuffers/TFLM headers), reads every byte through bounds checks and never
 * reads outside buf[0 .. len-1], whatever the input (it is the libFuzzer target's entry point). */
#ifndef REDS_OPTIONS_H_
#define REDS_OPTIONS_H_

#include <stddef.h>
#include <stdint.h>

#include "reds_budget.h"
#include "reds_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define REDS_OPTIONS_VERSION 1

/* Op kinds, one per custom code. */
enum { REDS_OP_FC = 0, REDS_OP_CONV = 1, REDS_OP_DWCONV = 2 };

/* Padding, numbered as TFLite's Padding enum. */
enum { REDS_PADDING_SAME = 0, REDS_PADDING_VALID = 1 };

typedef struct {
  int32_t op;                               /* REDS_OP_* */
  int32_t version;
  int32_t budgets;                          /* n, 1..REDS_MAX_BUDGETS */
  int32_t out_widths[REDS_MAX_BUDGETS];     /* entries 0..n-1 valid, non-increasing, >= 1 */
  int32_t in_widths[REDS_MAX_BUDGETS];      /* entries 0..n-1 valid, non-increasing, 1..in_channels */
  int32_t activation;                       /* REDS_ACT_* */
  int32_t in_channels;                      /* channels per input block */
  int32_t in_repeat;                        /* FC: blocks in the flattened input; 1 otherwise */
  int32_t keep_num_dims;                    /* FC: 0/1 */
  int32_t padding;                          /* Conv/DW: REDS_PADDING_* */
  int32_t stride_w, stride_h;               /* Conv/DW: >= 1 */
  int32_t dilation_w, dilation_h;           /* Conv/DW: >= 1 */
  int32_t depth_multiplier;                 /* DW: 1 */
  const char *error_key;                    /* on failure: the offending key (static string) or NULL */
} reds_options;

/* Parse and validate `len` bytes of custom options for op kind `op` (REDS_OP_*).
 * `out_channels` > 0 additionally checks out_widths[k] <= out_channels (the output tensor's channel count);
 * pass 0 when it is not known yet. Returns REDS_OK or a REDS_ERR_* code; on error `out->error_key` names the
 * key at fault when there is one, and the rest of *out is unspecified. */
int reds_options_parse(const uint8_t *buf, size_t len, int op, int32_t out_channels, reds_options *out);

/* The active widths of budget k. REDS_ERR_BUDGET if k is outside 0..budgets-1. */
int reds_options_widths(const reds_options *opts, int k, int32_t *out_width, int32_t *in_width);

#ifdef __cplusplus
}
#endif

#endif /* REDS_OPTIONS_H_ */
