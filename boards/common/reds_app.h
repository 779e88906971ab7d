/* The example application shared by the boards (and a host build): one REDS model compiled in, one inference per
 * budget on a sample input, per-budget latency and the cost of reds_set_budget() measured with the board's tick
 * counter, a table, and the policy's choice of the largest budget that meets a deadline.
 *
 * The board provides its counter, its frequency and a way to print; nothing here knows about Arduino. */
#ifndef REDS_APP_H_
#define REDS_APP_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Tensor arena: sized once for the full network, it serves every budget (tensors keep their full shapes). */
#ifndef REDS_APP_ARENA_BYTES
#define REDS_APP_ARENA_BYTES (96 * 1024)
#endif

/* Inferences timed per budget (the median is kept). */
#ifndef REDS_APP_REPEATS
#define REDS_APP_REPEATS 5
#endif

typedef struct {
  uint32_t (*ticks)(void);        /* free-running 32-bit counter */
  uint32_t tick_hz;               /* its frequency (CPU clock for DWT CYCCNT, 1000000 for micros()) */
  void (*print)(const char *text);
} reds_app_board;

/* Call once. Build the interpreter for `model` (a REDS .tflite, 16-byte aligned) and check that its ops register
 * num_budgets budgets (the size of the budget table; 0 skips the check). Returns 0, or a negative REDS_ERR_* or
 * -100 - TfLiteStatus on failure (after printing why). */
int reds_app_setup(const reds_app_board *board, const unsigned char *model, int num_budgets);

/* The sample for input tensor 0 (len must equal its size in bytes). The buffer is borrowed, not copied: it must
 * stay valid; it is copied into the input tensor before every inference (timed with it). */
int reds_app_set_input(const void *data, size_t len);

/* Size in bytes of output tensor 0 (0 before setup). */
size_t reds_app_output_bytes(void);

/* Run one inference at budget k and copy output tensor 0 into out (out_len must equal its size in bytes). */
int reds_app_run_budget(int k, void *out, size_t out_len);

/* Measure every budget, print the table (fraction and MACs from the model's budget table), the cost of
 * reds_set_budget(), the top class per budget, and the budget the policy picks for deadline_us (0: a deadline
 * halfway between the fastest and the full network, to show the policy at work). Leaves that budget active and
 * returns it, or a negative status. */
int reds_app_measure(const float *fraction, const uint32_t *macs, uint32_t deadline_us);

#ifdef __cplusplus
}
#endif

#endif /* REDS_APP_H_ */
