/* REDS DEPTHWISE_CONV_2D, int8, depth multiplier 1 (TFLM reference_integer_ops::DepthwiseConvPerChannel on the
 * sliced layer). Channels are processed in blocks with stack accumulators so that the inner loop runs over
 * contiguous channels; integer sums are exact, so this order gives TFLM's result bit for bit. */
#include <stddef.h>

#include "reds_dot_s8.h"
#include "reds_ops.h"
#include "reds_ops_internal.h"

int reds_dwconv_s8_prepare(reds_conv_dims *d, const reds_quant_params_s8 *qp, reds_requant_s8 *rq) {
  const int st = reds_conv_geometry(d, 1);
  if (st != REDS_OK) return st;
  return reds_prepare_requant_s8(d->out_c, qp, 0, rq);
}

int reds_dwconv_s8(const reds_conv_dims *d, const reds_requant_s8 *rq, const int8_t *input, const int8_t *weights,
                   const int32_t *bias, int8_t *output, int32_t out_width, int32_t in_width) {
  if (d == NULL || rq == NULL || input == NULL || weights == NULL || output == NULL) return REDS_ERR_ARG;
  if (out_width != in_width || out_width < 1 || out_width > d->out_c) return REDS_ERR_WIDTH;
  const int8_t zero = (int8_t)rq->output_offset;
  const int32_t C = d->in_c;
  int32_t acc[REDS_DW_BLOCK];
  for (int32_t b = 0; b < d->batches; ++b) {
    const int8_t *in_img = input + (size_t)b * d->in_h * d->in_w * C;
    for (int32_t oy = 0; oy < d->out_h; ++oy) {
      const int32_t iy0 = oy * d->stride_h - d->pad_h;
      for (int32_t ox = 0; ox < d->out_w; ++ox) {
        const int32_t ix0 = ox * d->stride_w - d->pad_w;
        int8_t *out_px = output + (((size_t)b * d->out_h + oy) * d->out_w + ox) * C;
        for (int32_t c0 = 0; c0 < out_width; c0 += REDS_DW_BLOCK) {
          const int32_t n = (out_width - c0) < REDS_DW_BLOCK ? (out_width - c0) : REDS_DW_BLOCK;
          for (int32_t c = 0; c < n; ++c) acc[c] = 0;
          for (int32_t fy = 0; fy < d->filter_h; ++fy) {
            const int32_t iy = iy0 + d->dilation_h * fy;
            if (iy < 0 || iy >= d->in_h) continue;
            for (int32_t fx = 0; fx < d->filter_w; ++fx) {
              const int32_t ix = ix0 + d->dilation_w * fx;
              if (ix < 0 || ix >= d->in_w) continue;
              reds_mac_chan_s8(acc, in_img + ((size_t)iy * d->in_w + ix) * C + c0,
                               weights + ((size_t)fy * d->filter_w + fx) * C + c0, n, rq->input_offset);
            }
          }
          for (int32_t c = 0; c < n; ++c) out_px[c0 + c] = reds_requant_one(acc[c], bias, rq, c0 + c);
        }
        for (int32_t c = out_width; c < C; ++c) out_px[c] = zero;
      }
    }
  }
  return REDS_OK;
}
