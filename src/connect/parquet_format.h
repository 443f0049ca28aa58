#pragma once
// Internal to src/connect: 'format' = 'parquet' for the filesystem connector, through src/lake.
// The filesystem connector hands tables whose format is parquet to these two makers.

#include <memory>

#include <arrow/result.h>

#include "connect/registry.h"
#include "exec/connector.h"

namespace roadpulse::connect {

/// Bounded source over the committed .parquet files under 'path': only the projected columns
/// are read; PARTITIONED BY columns come from `k=v` directories.
arrow::Result<std::unique_ptr<exec::Source>> make_parquet_source(const exec::SourceSpec& spec,
                                                                 ConnectContext& context);
/// Partitioned, rolling Parquet sink with staged files committed at commit() and at
/// close(end_of_data); 'sink.partition-commit.policy.kind' = 'success-file' and/or 'metastore'.
arrow::Result<std::unique_ptr<exec::Sink>> make_parquet_sink(const exec::SinkSpec& spec,
                                                             ConnectContext& context);

}  // namespace roadpulse::connect
