/* REDS CONV_2D, float32 (TFLM reference_ops::Conv on the sliced layer: taps in (fy, fx) order, channels in
 * order within a tap, skipped padding taps, bias after the sum, then the clamp). */
#include <stddef.h>

#include "reds_ops.h"
#include "reds_ops_internal.h"

int reds_conv_f32_prepare(reds_conv_dims *d, int32_t activation, reds_act_f32 *act) {
  if (act == NULL) return REDS_ERR_ARG;
  const int st = reds_conv_geometry(d, 0);
  if (st != REDS_OK) return st;
  return reds_activation_range_f32(activation, &act->act_min, &act->act_max);
}

int reds_conv_f32(const reds_conv_dims *d, const reds_act_f32 *act, const float *input, const float *weights,
                  const float *bias, float *output, int32_t out_width, int32_t in_width) {
  if (d == NULL || act == NULL || input == NULL || weights == NULL || output == NULL) return REDS_ERR_ARG;
  if (out_width < 1 || out_width > d->out_c || in_width < 1 || in_width > d->in_c) return REDS_ERR_WIDTH;
  const size_t w_out_stride = (size_t)d->filter_h * d->filter_w * d->in_c;
  for (int32_t b = 0; b < d->batches; ++b) {
    const float *in_img = input + (size_t)b * d->in_h * d->in_w * d->in_c;
    for (int32_t oy = 0; oy < d->out_h; ++oy) {
      const int32_t iy0 = oy * d->stride_h - d->pad_h;
      for (int32_t ox = 0; ox < d->out_w; ++ox) {
        const int32_t ix0 = ox * d->stride_w - d->pad_w;
        float *out_px = output + (((size_t)b * d->out_h + oy) * d->out_w + ox) * d->out_c;
        for (int32_t o = 0; o < out_width; ++o) {
          const float *w_o = weights + (size_t)o * w_out_stride;
          float total = 0.0f;
          for (int32_t fy = 0; fy < d->filter_h; ++fy) {
            const int32_t iy = iy0 + d->dilation_h * fy;
            if (iy < 0 || iy >= d->in_h) continue;
            for (int32_t fx = 0; fx < d->filter_w; ++fx) {
              const int32_t ix = ix0 + d->dilation_w * fx;
              if (ix < 0 || ix >= d->in_w) continue;
              const float *x = in_img + ((size_t)iy * d->in_w + ix) * d->in_c;
              const float *w = w_o + ((size_t)fy * d->filter_w + fx) * d->in_c;
              for (int32_t c = 0; c < in_width; ++c) total += x[c] * w[c];
            }
          }
          const float bias_value = bias ? bias[o] : 0.0f;
          out_px[o] = reds_clamp_f32(total + bias_value, act);
        }
        for (int32_t o = out_width; o < d->out_c; ++o) out_px[o] = 0.0f;
      }
    }
  }
  return REDS_OK;
}
