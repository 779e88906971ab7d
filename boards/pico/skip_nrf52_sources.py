"""PlatformIO pre-script for the pico environment (runs inside PlatformIO's SCons, where `Import` exists).

The Arduino_TensorFlowLite library ships drivers for the Nano 33 BLE's nRF52840 peripherals (I2S, audio codec)
under src/peripherals/; the example uses none of them and they do not compile for the RP2040. A build middleware
that returns None drops a source file from the build.
"""

Import("env")  # noqa: F821 - provided by SCons

env.AddBuildMiddleware(lambda node: None, "*/src/peripherals/*.cpp")  # noqa: F821
