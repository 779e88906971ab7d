"""Builds the REDS C core (tflm_ops/) into the package as reds_tflm/_reds_core*.so, loaded with ctypes.

All metadata lives in pyproject.toml; this file only declares the C extension. The library exports plain C
functions (no Python init function): python/reds_tflm/core.py loads it with ctypes, so it does not depend on the
Python ABI beyond the file name setuptools gives it.
"""

from setuptools import Extension, setup

CORE_SOURCES = [
    f"tflm_ops/{name}.c"
    for name in ("reds_status", "reds_budget", "reds_options", "reds_quant", "reds_ops_common", "reds_fc_s8",
                 "reds_conv_s8", "reds_dwconv_s8", "reds_fc_f32", "reds_conv_f32", "reds_dwconv_f32")
]

setup(
    ext_modules=[
        Extension(
            "reds_tflm._reds_core",
            sources=CORE_SOURCES,
            include_dirs=["tflm_ops"],
            # -ffp-contract=off: no fused multiply-add, so float results equal TFLM's reference kernels. -O3 vectorises
            # the int8 loops (float reductions are never reassociated without -ffast-math, so their order holds).
            extra_compile_args=["-std=c99", "-O3", "-ffp-contract=off", "-Wall", "-Wextra"],
            # Kept out of the "limited API"/Python init machinery: the module is a plain shared library.
            py_limited_api=False,
        )
    ],
)
