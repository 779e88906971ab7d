/* REDS FULLY_CONNECTED, float32 (TFLM reference_ops::FullyConnected on the sliced layer: the same products
 * summed in the same order, bias added after the sum, then the clamp). */
#include <stddef.h>

#include "reds_ops.h"
#include "reds_ops_internal.h"

int reds_fc_f32_prepare(const reds_fc_dims *d, int32_t activation, reds_act_f32 *act) {
  if (d == NULL || act == NULL) return REDS_ERR_ARG;
  const int st = reds_fc_dims_check(d);
  if (st != REDS_OK) return st;
  return reds_activation_range_f32(activation, &act->act_min, &act->act_max);
}

int reds_fc_f32(const reds_fc_dims *d, const reds_act_f32 *act, const float *input, const float *weights,
                const float *bias, float *output, int32_t out_width, int32_t in_width) {
  if (d == NULL || act == NULL || input == NULL || weights == NULL || output == NULL) return REDS_ERR_ARG;
  if (out_width < 1 || out_width > d->out_channels || in_width < 1 || in_width > d->in_channels)
    return REDS_ERR_WIDTH;
  const int32_t row = d->in_repeat * d->in_channels;
  for (int32_t b = 0; b < d->batches; ++b) {
    const float *in_row = input + (size_t)b * row;
    float *out_row = output + (size_t)b * d->out_channels;
    for (int32_t o = 0; o < out_width; ++o) {
      const float *w_row = weights + (size_t)o * row;
      /* The sliced layer's accumulation index runs block by block, channel by channel: the same order here. */
      float total = 0.0f;
      for (int32_t s = 0; s < d->in_repeat; ++s) {
        const float *x = in_row + (size_t)s * d->in_channels;
        const float *w = w_row + (size_t)s * d->in_channels;
        for (int32_t c = 0; c < in_width; ++c) total += x[c] * w[c];
      }
      const float bias_value = bias ? bias[o] : 0.0f;
      out_row[o] = reds_clamp_f32(total + bias_value, act);
    }
    for (int32_t o = out_width; o < d->out_channels; ++o) out_row[o] = 0.0f;
  }
  return REDS_OK;
}
