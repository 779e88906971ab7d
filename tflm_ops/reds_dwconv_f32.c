/* REDS DEPTHWISE_CONV_2D, float32, depth multiplier 1 (TFLM reference_ops::DepthwiseConv on the sliced layer).
 * Blocked over channels like the int8 version; each channel still sums its taps in TFLM's (fy, fx) order
 * starting from 0.0f, so the float result is identical. */
#include <stddef.h>

#include "reds_ops.h"
#include "reds_ops_internal.h"

int reds_dwconv_f32_prepare(reds_conv_dims *d, int32_t activation, reds_act_f32 *act) {
  if (act == NULL) return REDS_ERR_ARG;
  const int st = reds_conv_geometry(d, 1);
  if (st != REDS_OK) return st;
  return reds_activation_range_f32(activation, &act->act_min, &act->act_max);
}

int reds_dwconv_f32(const reds_conv_dims *d, const reds_act_f32 *act, const float *input, const float *weights,
                    const float *bias, float *output, int32_t out_width, int32_t in_width) {
  if (d == NULL || act == NULL || input == NULL || weights == NULL || output == NULL) return REDS_ERR_ARG;
  if (out_width != in_width || out_width < 1 || out_width > d->out_c) return REDS_ERR_WIDTH;
  const int32_t C = d->in_c;
  float total[REDS_DW_BLOCK];
  for (int32_t b = 0; b < d->batches; ++b) {
    const float *in_img = input + (size_t)b * d->in_h * d->in_w * C;
    for (int32_t oy = 0; oy < d->out_h; ++oy) {
      const int32_t iy0 = oy * d->stride_h - d->pad_h;
      for (int32_t ox = 0; ox < d->out_w; ++ox) {
        const int32_t ix0 = ox * d->stride_w - d->pad_w;
        float *out_px = output + (((size_t)b * d->out_h + oy) * d->out_w + ox) * C;
        for (int32_t c0 = 0; c0 < out_width; c0 += REDS_DW_BLOCK) {
          const int32_t n = (out_width - c0) < REDS_DW_BLOCK ? (out_width - c0) : REDS_DW_BLOCK;
          for (int32_t c = 0; c < n; ++c) total[c] = 0.0f;
          for (int32_t fy = 0; fy < d->filter_h; ++fy) {
            const int32_t iy = iy0 + d->dilation_h * fy;
            if (iy < 0 || iy >= d->in_h) continue;
            for (int32_t fx = 0; fx < d->filter_w; ++fx) {
              const int32_t ix = ix0 + d->dilation_w * fx;
              if (ix < 0 || ix >= d->in_w) continue;
              const float *x = in_img + ((size_t)iy * d->in_w + ix) * C + c0;
              const float *w = weights + ((size_t)fy * d->filter_w + fx) * C + c0;
              for (int32_t c = 0; c < n; ++c) total[c] += x[c] * w[c];
            }
          }
          for (int32_t c = 0; c < n; ++c) {
            const float bias_value = bias ? bias[c0 + c] : 0.0f;
            out_px[c0 + c] = reds_clamp_f32(total[c] + bias_value, act);
          }
        }
        for (int32_t c = out_width; c < C; ++c) out_px[c] = 0.0f;
      }
    }
  }
  return REDS_OK;
}
