// JSON event decoder on arbitrary bytes (events come from any Kinesis producer): it must return
// an error or a row, never crash; a decoded row re-decodes identically from its own bytes.

#include <cstdint>
#include <string_view>

#include "record/json_event.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace roadpulse::record;
  static auto decoder = JsonEventDecoder::make(Schema::dec21()).ValueOrDie();
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  auto first = decoder->decode(json);
  if (!first.ok()) return 0;
  auto second = decoder->decode(json);
  if (!second.ok() || second->row != first->row) __builtin_trap();
  return 0;
}
