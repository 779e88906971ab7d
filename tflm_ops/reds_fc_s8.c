/* REDS FULLY_CONNECTED, int8 activations and weights, int32 bias (TFLM reference_integer_ops::FullyConnected /
 * FullyConnectedPerChannel on the sliced layer). */
#include <stddef.h>

#include "reds_dot_s8.h"
#include "reds_ops.h"
#include "reds_ops_internal.h"

int reds_fc_s8_prepare(const reds_fc_dims *d, const reds_quant_params_s8 *qp, reds_requant_s8 *rq) {
  if (d == NULL || qp == NULL) return REDS_ERR_ARG;
  const int st = reds_fc_dims_check(d);
  if (st != REDS_OK) return st;
  /* Per-tensor FC derives its one multiplier with a float product (GetQuantizedConvolutionMultipler); per-channel
   * FC uses doubles throughout, like conv. */
  return reds_prepare_requant_s8(d->out_channels, qp, qp->num_filter_scales == 1, rq);
}

REDS_ALWAYS_INLINE int fc_s8_run(const reds_fc_dims *d, const reds_requant_s8 *rq, const int8_t *input,
                                 const int8_t *weights, const int32_t *bias, int8_t *output, int32_t out_width,
                                 int32_t in_width, int fast) {
  if (d == NULL || rq == NULL || input == NULL || weights == NULL || output == NULL) return REDS_ERR_ARG;
  if (out_width < 1 || out_width > d->out_channels || in_width < 1 || in_width > d->in_channels)
    return REDS_ERR_WIDTH;
  const int32_t row = d->in_repeat * d->in_channels;
  const int8_t zero = (int8_t)rq->output_offset;
  const int32_t off = rq->input_offset;
  const reds_requant_view v = reds_requant_view_of(rq, fast);
  /* At full input width a flattened row is one contiguous dot product; otherwise one per block of in_channels. */
  const int32_t seg_len = in_width == d->in_channels ? row : in_width;
  const int32_t segs = in_width == d->in_channels ? 1 : d->in_repeat;
  const int32_t out4 = out_width & ~3;
  for (int32_t b = 0; b < d->batches; ++b) {
    const int8_t *in_row = input + (size_t)b * row;
    int8_t *out_row = output + (size_t)b * d->out_channels;
    /* Four output rows per pass share each unpacked input word. */
    for (int32_t o = 0; o < out4; o += 4) {
      const int8_t *w_row = weights + (size_t)o * row;
      int32_t acc[4] = {reds_bias_or_zero(bias, o), reds_bias_or_zero(bias, o + 1), reds_bias_or_zero(bias, o + 2),
                        reds_bias_or_zero(bias, o + 3)};
      for (int32_t s = 0; s < segs; ++s)
        reds_dot4_s8(in_row + (size_t)s * d->in_channels, w_row + (size_t)s * d->in_channels, row, seg_len, off,
                     acc);
      reds_requant4_at(out_row + o, acc, &v, o);
    }
    for (int32_t o = out4; o < out_width; ++o) {
      const int8_t *w_row = weights + (size_t)o * row;
      int32_t acc = reds_bias_or_zero(bias, o);
      for (int32_t s = 0; s < segs; ++s)
        acc = reds_dot_s8(in_row + (size_t)s * d->in_channels, w_row + (size_t)s * d->in_channels, seg_len, off,
                          acc);
      out_row[o] = reds_requant_at(acc, &v, o);
    }
    reds_fill_s8(out_row + out_width, zero, d->out_channels - out_width);
  }
  return REDS_OK;
}

int reds_fc_s8(const reds_fc_dims *d, const reds_requant_s8 *rq, const int8_t *input, const int8_t *weights,
               const int32_t *bias, int8_t *output, int32_t out_width, int32_t in_width) {
  if (reds_use_fast_requant(rq)) return fc_s8_run(d, rq, input, weights, bias, output, out_width, in_width, 1);
  return fc_s8_run(d, rq, input, weights, bias, output, out_width, in_width, 0);
}
