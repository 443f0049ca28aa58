#pragma once
// A stream's topology file (stream.meta): shards, hash ranges, parents, sequence bounds. Text,
// one fact per line, ending in a CRC-32C line; replaced atomically, never edited in place.
//
//   roadpulse-stream 1
//   name us-accidents-data-stream-1
//   created_ms 1764230400000
//   retention_ms 86400000
//   next_shard_id 4
//   shard <id> <starting hash key> <ending hash key> <starting seq> <parent|-> <adjacent|-> <ending
//   seq|-> crc <8 hex digits over all previous lines>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/result.h>

#include "log/log.h"

namespace roadpulse::log {

struct ShardMeta {
  ShardId id;
  HashRange range;
  uint64_t starting_sequence = 0;
  std::optional<ShardId> parent;
  std::optional<ShardId> adjacent_parent;
  std::optional<uint64_t> ending_sequence;  // set when closed: one past its last record
};

struct StreamMeta {
  std::string name;
  int64_t created_ms = 0;
  int64_t retention_ms = 0;
  int32_t next_shard_id = 0;
  std::vector<ShardMeta> shards;
};

std::string serialize_stream_meta(const StreamMeta& meta);
/// Invalid naming `source` and the line when the text is damaged or malformed.
arrow::Result<StreamMeta> parse_stream_meta(std::string_view text, std::string_view source);

/// Stream names as Kinesis allows them: 1-128 of [a-zA-Z0-9_.-], not starting with '.'.
arrow::Status validate_stream_name(std::string_view name);

}  // namespace roadpulse::log
