"""The op cases checked bit for bit on the target: every op kind, per-channel and per-tensor quantisation, each
fused activation, SAME/VALID padding, strides, dilation, a flattened FC (in_repeat > 1), channel counts that are
not multiples of 4 (the DSP loops' tails) and depthwise widths across the 32-channel accumulator block."""

from __future__ import annotations

import numpy as np

from m4gen import CCase, case_from_layer
from oneop import random_layer, reference_outputs
from reds_tflm.options import REDS_CONV, REDS_DWCONV, REDS_FC


def dead_channel(layer, channel: int = 1):
    """Channel `channel` with a weight scale so small that its requantisation shifts right by more than 22 (a
    filter that training drove to zero), and an output zero point of -128 so that a ReLU clamps nothing."""
    layer.w_scales = layer.w_scales.copy()
    layer.w_scales[channel] = np.float32(layer.w_scales[channel] * 1e-5)
    layer.out_zp = -128
    return layer


def layers(seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    L = random_layer
    return [
        L(REDS_FC, "fc_relu", rng, in_c=37, out_c=12, out_widths=[12, 8, 3], in_widths=[37, 21, 5], activation=1),
        L(REDS_FC, "fc_flat", rng, in_c=6, out_c=10, out_widths=[10, 6, 1], in_widths=[6, 4, 1], in_repeat=9),
        L(REDS_FC, "fc_per_tensor", rng, in_c=64, out_c=9, out_widths=[9, 5], in_widths=[64, 16],
          per_tensor=True),
        L(REDS_CONV, "conv3x3_same", rng, in_c=8, out_c=12, out_widths=[12, 7, 2], in_widths=[8, 5, 1],
          hw=(7, 6), kernel=(3, 3), activation=1),
        L(REDS_CONV, "conv1x1", rng, in_c=19, out_c=16, out_widths=[16, 10, 4], in_widths=[19, 12, 4],
          hw=(4, 5), kernel=(1, 1), activation=3),
        L(REDS_CONV, "conv1x1_few", rng, in_c=24, out_c=40, out_widths=[40, 40, 33], in_widths=[24, 2, 1],
          hw=(5, 3), kernel=(1, 1)),
        # fast form on pixel triples (reds_block3x2_s8: dot products and requantisation in one asm block): a 1x1
        # with 35 pixels (11 triples and a pair) and odd widths, and a 3x3 on gathered fields
        L(REDS_CONV, "conv1x1_triples", rng, in_c=20, out_c=13, out_widths=[13, 8, 3], in_widths=[20, 9, 4],
          hw=(5, 7), kernel=(1, 1)),
        L(REDS_CONV, "conv3x3_triples", rng, in_c=6, out_c=10, out_widths=[10, 7, 2], in_widths=[6, 3, 1],
          hw=(6, 7), kernel=(3, 3)),
        L(REDS_CONV, "conv_s2_valid_dil", rng, in_c=5, out_c=6, out_widths=[6, 3], in_widths=[5, 2], hw=(9, 8),
          kernel=(3, 2), padding=1, stride=(2, 1), dilation=(1, 2), activation=2),
        L(REDS_CONV, "conv_first_c1", rng, in_c=1, out_c=8, out_widths=[8, 4], in_widths=[1, 1], hw=(8, 8),
          kernel=(3, 3), stride=(2, 2), activation=1),
        L(REDS_CONV, "conv_first_c1_wide", rng, in_c=1, out_c=40, out_widths=[40, 35, 3], in_widths=[1, 1, 1],
          hw=(9, 7), kernel=(3, 3)),
        # VALID: every row's last pixel has no fourth byte for the word loads (the tensor's last pixel would read
        # past its end) and takes the gathered path; the others the word loads
        L(REDS_CONV, "conv_first_c1_valid", rng, in_c=1, out_c=6, out_widths=[6, 2, 1], in_widths=[1, 1, 1],
          hw=(6, 9), kernel=(3, 3), padding=1),
        # kernel rows 4 taps wide (KWS's 10x4 first conv): SAME borders on every side, stride 2, two table passes,
        # ReLU on an output zero point of -128 (no clamp narrower than int8), and a dead channel (see below)
        dead_channel(L(REDS_CONV, "conv_first_c1_10x4", rng, in_c=1, out_c=21, out_widths=[21, 17, 2],
                       in_widths=[1, 1, 1], hw=(13, 9), kernel=(10, 4), stride=(2, 2), activation=1)),
        # an odd number of kernel rows (a padding row) and of pixels (the last one alone), VALID
        L(REDS_CONV, "conv_first_c1_3x4_valid", rng, in_c=1, out_c=7, out_widths=[7, 3, 1], in_widths=[1, 1, 1],
          hw=(7, 8), kernel=(3, 4), padding=1),
        L(REDS_DWCONV, "dw3x3_same", rng, in_c=12, out_c=12, out_widths=[12, 7, 2], in_widths=[12, 7, 2],
          hw=(5, 6), kernel=(3, 3), activation=1),
        L(REDS_DWCONV, "dw_s2_c37", rng, in_c=37, out_c=37, out_widths=[37, 33, 5], in_widths=[37, 33, 5],
          hw=(7, 7), kernel=(3, 3), padding=1, stride=(2, 2), activation=3),
        # lanes: 1..3 channels past the last group of four, SAME borders, stride 2, no activation (fast form)
        L(REDS_DWCONV, "dw3x3_s2_lanes", rng, in_c=10, out_c=10, out_widths=[10, 5, 1], in_widths=[10, 5, 1],
          hw=(9, 8), kernel=(3, 3), stride=(2, 2)),
        # stride 1, fast form, rows wide enough for lanes (dw3x3_lanes_s1_pay): every channel a lane, pixel pairs
        # per word (an odd last pixel alone), SAME borders
        L(REDS_DWCONV, "dw3x3_s1_lanes", rng, in_c=9, out_c=9, out_widths=[9, 6, 1], in_widths=[9, 6, 1],
          hw=(6, 17), kernel=(3, 3)),
        # VALID (no padding column, an even row of pairs) and stride (2, 1): rows buffered two at a time
        L(REDS_DWCONV, "dw3x3_s1_valid", rng, in_c=5, out_c=5, out_widths=[5, 2], in_widths=[5, 2],
          hw=(5, 18), kernel=(3, 3), padding=1),
        L(REDS_DWCONV, "dw3x3_s21", rng, in_c=6, out_c=6, out_widths=[6, 4, 3], in_widths=[6, 4, 3],
          hw=(8, 20), kernel=(3, 3), stride=(2, 1)),
        # an image too wide for a lane's row buffers (REDS_DW_LANE_MAX_COLS): the last partial group as four lanes
        L(REDS_DWCONV, "dw3x3_wide_image", rng, in_c=6, out_c=6, out_widths=[6, 3], in_widths=[6, 3],
          hw=(3, 140), kernel=(3, 3)),
        L(REDS_DWCONV, "dw_dil_per_tensor", rng, in_c=9, out_c=9, out_widths=[9, 4], in_widths=[9, 4], hw=(6, 6),
          kernel=(2, 3), dilation=(2, 1), per_tensor=True),
    ]


def cases(seed: int = 0) -> list[CCase]:
    return [case_from_layer(layer, reference_outputs(layer)) for layer in layers(seed)]
