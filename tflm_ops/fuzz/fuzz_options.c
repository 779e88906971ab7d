/* libFuzzer target for the custom-options parser: first byte = op kind (mod 3), second = out_channels hint,
 * the rest = the FlexBuffer. Built with clang -fsanitize=fuzzer,address,undefined (make fuzz). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../reds_options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const int op = data[0] % 3;
  /* Copy to an exact-size block so ASan sees the true end of the options buffer. */
  const size_t len = size - 1;
  uint8_t *buf = (uint8_t *)malloc(len ? len : 1);
  if (buf == NULL) return 0;
  if (len) memcpy(buf, data + 1, len);
  reds_options o;
  const int st = reds_options_parse(buf, len, op, 0, &o);
  if (st == REDS_OK) {
    /* A successful parse must be fully validated. */
    if (o.budgets < 1 || o.budgets > REDS_MAX_BUDGETS) abort();
    for (int k = 0; k < o.budgets; ++k) {
      if (o.out_widths[k] < 1 || o.in_widths[k] < 1 || o.in_widths[k] > o.in_channels) abort();
      if (k > 0 && (o.out_widths[k] > o.out_widths[k - 1] || o.in_widths[k] > o.in_widths[k - 1])) abort();
    }
    if (o.version != REDS_OPTIONS_VERSION || o.activation < 0 || o.activation > 3) abort();
  } else if (st > 0) {
    abort();
  }
  free(buf);
  return 0;
}
