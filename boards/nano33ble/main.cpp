// Arduino Nano 33 BLE (nRF52840, Cortex-M4F at 64 MHz): the REDS example with the DWT cycle counter as clock.
// Build and flash: pio run -e nano33ble -t upload; then pio device monitor -b 115200.
#include <Arduino.h>

#include "model_data.h"
#include "reds_app.h"
#include "sample_input.h"

#ifndef REDS_DEADLINE_US
#define REDS_DEADLINE_US 0  // 0: halfway between the fastest budget and the full network
#endif

namespace {

uint32_t dwt_cycles() { return DWT->CYCCNT; }

void serial_print(const char* text) { Serial.print(text); }

void enable_cycle_counter() {
  CoreDebug->DEMCR |= CoreDebug_DEMCR_TRCENA_Msk;  // DWT is off until trace is enabled
  DWT->CYCCNT = 0;
  DWT->CTRL |= DWT_CTRL_CYCCNTENA_Msk;
}

int g_status = -1;

}  // namespace

void setup() {
  Serial.begin(115200);
  while (!Serial && millis() < 5000) {
  }
  enable_cycle_counter();
  static const reds_app_board board = {dwt_cycles, SystemCoreClock, serial_print};
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
