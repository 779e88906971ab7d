/* Internal helpers shared by the op files (not part of the public API). */
#ifndef REDS_OPS_INTERNAL_H_
#define REDS_OPS_INTERNAL_H_

#include <stdint.h>

#include "reds_ops.h"
#include "reds_quant.h"

/* Channels handled per pass in depthwise kernels: the accumulators live on the stack, no scratch buffer. */
#define REDS_DW_BLOCK 32

/* bias, requantise, add the output offset and clamp: the tail of every TFLM int8 reference kernel. */
static inline int8_t reds_requant_one(int32_t acc, const int32_t *bias, const reds_requant_s8 *rq, int32_t ch) {
  if (bias) acc = (int32_t)((uint32_t)acc + (uint32_t)bias[ch]);
  acc = reds_multiply_by_quantized_multiplier(acc, rq->multiplier[ch], rq->shift[ch]);
  acc += rq->output_offset;
  if (acc < rq->act_min) acc = rq->act_min;
  if (acc > rq->act_max) acc = rq->act_max;
  return (int8_t)acc;
}

/* TFLM ActivationFunctionWithMinMax: min(max(x, lo), hi) with std::max/std::min semantics (NaN passes). */
static inline float reds_clamp_f32(float x, const reds_act_f32 *act) {
  x = (x < act->act_min) ? act->act_min : x;
  x = (act->act_max < x) ? act->act_max : x;
  return x;
}

/* Shared int8 prepare: requantisation for out_c channels. `float_product` selects TFLM's per-tensor
 * FULLY_CONNECTED derivation (input_scale * filter_scale multiplied in float, then widened to double) instead
 * of the conv/per-channel one (all in double). */
int reds_prepare_requant_s8(int32_t out_c, const reds_quant_params_s8 *qp, int float_product, reds_requant_s8 *rq);

/* Validate FC extents (positive, element counts within int32). */
int reds_fc_dims_check(const reds_fc_dims *d);

#endif /* REDS_OPS_INTERNAL_H_ */
