// Fuzzes what `roadpulse serve` does with an untrusted Kinesis request body: the first byte picks
// the encoding (JSON 1.1 or CBOR), the rest is the body. A decoded document goes through every
// operation's request parser, and is re-encoded in both encodings; the CBOR encoding must decode
// again to a document that encodes identically (the codecs agree with each other).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/document.h"
#include "server/kinesis_ids.h"
#include "server/kinesis_requests.h"

using namespace roadpulse::server;

namespace {
// CBOR tag 1 holds milliseconds above 1e11 and seconds below (see document.cc), so times before
// 1973 do not survive a CBOR round trip unchanged; everything else must.
bool has_ambiguous_time(const Document& d) {
  if (d.kind() == Document::Kind::kTime) {
    return d.as_time_ms() <= 100'000'000'000LL && d.as_time_ms() >= -100'000'000'000LL;
  }
  for (const auto& item : d.items()) {
    if (has_ambiguous_time(item)) return true;
  }
  for (const auto& [key, value] : d.fields()) {
    if (has_ambiguous_time(value)) return true;
  }
  return false;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const WireFormat format = (data[0] & 1) ? WireFormat::kCbor : WireFormat::kJson;
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  auto doc = decode(format, body);
  if (!doc.ok()) return 0;
  (void)parse_create_stream(*doc);
  (void)parse_delete_stream(*doc);
  (void)parse_list_streams(*doc);
  (void)parse_describe_stream(*doc);
  (void)parse_describe_stream_summary(*doc);
  (void)parse_list_shards(*doc);
  (void)parse_put_record(*doc);
  (void)parse_put_records(*doc);
  (void)parse_get_shard_iterator(*doc);
  (void)parse_get_records(*doc);
  (void)parse_update_shard_count(*doc);
  if (const Document* it = doc->find("ShardIterator");
      it && it->kind() == Document::Kind::kString) {
    (void)IteratorCodec(std::string(32, 'k')).decode(it->as_string(), 0);
  }
  if (const Document* seq = doc->find("StartingSequenceNumber");
      seq && seq->kind() == Document::Kind::kString) {
    (void)parse_sequence_number(seq->as_string());
  }
  (void)encode_json(*doc);
  const std::string cbor = encode_cbor(*doc);
  auto again = decode_cbor(cbor);
  if (!again.ok()) std::abort();
  if (!has_ambiguous_time(*doc) && encode_cbor(*again) != cbor) std::abort();
  return 0;
}
