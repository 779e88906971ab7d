// Raspberry Pi Pico (RP2040, Cortex-M0+ at 125 MHz): the REDS example. The M0+ has no DWT cycle counter, so the
// clock is micros() (1 MHz); the application code is the same as on the Nano 33 BLE.
// Build and flash: pio run -e pico -t upload; then pio device monitor -b 115200.
#include <Arduino.h>

#include "model_data.h"
#include "reds_app.h"
#include "sample_input.h"

#ifndef REDS_DEADLINE_US
#define REDS_DEADLINE_US 0  // 0: halfway between the fastest budget and the full network
#endif

namespace {

uint32_t micros_ticks() { return static_cast<uint32_t>(micros()); }

void serial_print(const char* text) { Serial.print(text); }

int g_status = -1;

}  // namespace

void setup() {
  Serial.begin(115200);
  while (!Serial && millis() < 5000) {
  }
  static const reds_app_board board = {micros_ticks, 1000000u, serial_print};
  g_status = reds_app_setup(&board, g_model, G_MODEL_NUM_BUDGETS);
  if (g_status == 0) g_status = reds_app_set_input(g_sample_input, sizeof g_sample_input);
  if (g_status != 0) Serial.println("REDS example: setup failed");
}

void loop() {
  if (g_status == 0) {
    Serial.print("\nsample label ");
    Serial.println(g_sample_label);
    reds_app_measure(g_model_budget_fraction, g_model_budget_macs, REDS_DEADLINE_US);
  }
  delay(10000);
}
