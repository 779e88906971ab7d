/* REDS CONV_2D, int8 (TFLM reference_integer_ops::ConvPerChannel on the sliced layer; per-tensor weights are
 * broadcast to per-channel multipliers exactly as TFLM's PopulateConvolutionQuantizationParams does). */
#include <stddef.h>

#include "reds_dot_s8.h"
#include "reds_ops.h"
#include "reds_ops_internal.h"

int reds_conv_s8_prepare(reds_conv_dims *d, const reds_quant_params_s8 *qp, reds_requant_s8 *rq) {
  const int st = reds_conv_geometry(d, 0);
  if (st != REDS_OK) return st;
  return reds_prepare_requant_s8(d->out_c, qp, 0, rq);
}

int reds_conv_s8(const reds_conv_dims *d, const reds_requant_s8 *rq, const int8_t *input, const int8_t *weights,
                 const int32_t *bias, int8_t *output, int32_t out_width, int32_t in_width) {
  if (d == NULL || rq == NULL || input == NULL || weights == NULL || output == NULL) return REDS_ERR_ARG;
  if (out_width < 1 || out_width > d->out_c || in_width < 1 || in_width > d->in_c) return REDS_ERR_WIDTH;
  const int8_t zero = (int8_t)rq->output_offset;
  const size_t w_out_stride = (size_t)d->filter_h * d->filter_w * d->in_c;
  for (int32_t b = 0; b < d->batches; ++b) {
    const int8_t *in_img = input + (size_t)b * d->in_h * d->in_w * d->in_c;
    for (int32_t oy = 0; oy < d->out_h; ++oy) {
      const int32_t iy0 = oy * d->stride_h - d->pad_h;
      for (int32_t ox = 0; ox < d->out_w; ++ox) {
        const int32_t ix0 = ox * d->stride_w - d->pad_w;
        int8_t *out_px = output + (((size_t)b * d->out_h + oy) * d->out_w + ox) * d->out_c;
        for (int32_t o = 0; o < out_width; ++o) {
          const int8_t *w_o = weights + (size_t)o * w_out_stride;
          int32_t acc = 0;
          for (int32_t fy = 0; fy < d->filter_h; ++fy) {
            const int32_t iy = iy0 + d->dilation_h * fy;
            if (iy < 0 || iy >= d->in_h) continue; /* zero padding: the tap is skipped, as in TFLM */
            for (int32_t fx = 0; fx < d->filter_w; ++fx) {
              const int32_t ix = ix0 + d->dilation_w * fx;
              if (ix < 0 || ix >= d->in_w) continue;
              acc = reds_dot_s8(in_img + ((size_t)iy * d->in_w + ix) * d->in_c,
                                w_o + ((size_t)fy * d->filter_w + fx) * d->in_c, in_width, rq->input_offset, acc);
            }
          }
          out_px[o] = reds_requant_one(acc, bias, rq, o);
        }
        for (int32_t o = out_width; o < d->out_c; ++o) out_px[o] = zero;
      }
    }
  }
  return REDS_OK;
}
