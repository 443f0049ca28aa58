#pragma once
// An in-memory table connector for exec's tests: the tests' own implementation of exec's
// Source/Sink interfaces, so jobs planned from real SQL run without the connect module.

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <arrow/api.h>

#include "exec/connector.h"

namespace roadpulse::exec::test_support {

// Tables named by the 'table' option (or, for a sink such as the late-row stream, 'stream') hold
// batches of full physical rows: a source replays them one batch per next(), a sink appends.
class MemoryTables final : public ConnectorFactory {
 public:
  struct Table {
    std::vector<std::shared_ptr<arrow::RecordBatch>> batches;  // full physical rows
    std::vector<std::vector<int>> source_reads;                // read_columns of each source made
    std::map<std::string, std::string> sink_options;           // what the last sink was made with
    bool unbounded = false;  // after its batches, a source waits for more instead of ending
    std::mutex mutex;
  };

  Table& table(const std::string& name) { return tables_[name]; }

  arrow::Result<std::unique_ptr<Source>> make_source(const SourceSpec& spec) override {
    Table& t = tables_[spec.options.at("table")];
    t.source_reads.push_back(spec.read_columns);
    return std::make_unique<Replay>(&t, spec);
  }
  arrow::Result<std::unique_ptr<Sink>> make_sink(const SinkSpec& spec) override {
    auto it = spec.options.find("table");
    Table& t = tables_[it != spec.options.end() ? it->second : spec.options.at("stream")];
    t.sink_options = spec.options;
    return std::make_unique<Append>(&t);
  }

 private:
  class Replay final : public Source {
   public:
    Replay(Table* t, SourceSpec spec) : t_(t), spec_(std::move(spec)) {}
    std::string name() const override { return "memory"; }
    bool bounded() const override { return !t_->unbounded; }
    arrow::Status open(const OperatorContext& context) override {
      if (context.restored_state) i_ = std::stoul(context.restored_state->ToString());
      return arrow::Status::OK();
    }
    // The position: batches returned so far.
    arrow::Result<std::shared_ptr<arrow::Buffer>> snapshot_position(int64_t) override {
      return arrow::Buffer::FromString(std::to_string(i_));
    }
    arrow::Result<SourceChunk> next(int64_t timeout_ms) override {
      SourceChunk chunk;
      if (i_ >= t_->batches.size()) {
        if (t_->unbounded) {
          std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(timeout_ms, 5)));
        } else {
          chunk.end_of_input = true;
        }
        return chunk;
      }
      const auto& full = t_->batches[i_++];
      std::vector<std::shared_ptr<arrow::Array>> columns;
      const auto physical = spec_.table->physical_column_indices();
      for (int c : spec_.read_columns) {
        const auto pos = std::find(physical.begin(), physical.end(), c) - physical.begin();
        columns.push_back(full->column(int(pos)));
      }
      chunk.batch = arrow::RecordBatch::Make(spec_.read_schema, full->num_rows(), columns);
      read_ += full->num_rows();
      return chunk;
    }
    SourceMetrics metrics() const override { return {read_, 0}; }

   private:
    Table* t_;
    SourceSpec spec_;
    size_t i_ = 0;
    int64_t read_ = 0;
  };

  class Append final : public Sink {
   public:
    explicit Append(Table* t) : t_(t) {}
    std::string name() const override { return "memory"; }
    arrow::Status write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
      std::lock_guard lock(t_->mutex);
      t_->batches.push_back(batch);
      written_ += batch->num_rows();
      return arrow::Status::OK();
    }
    int64_t rows_written() const override { return written_; }

   private:
    Table* t_;
    int64_t written_ = 0;
  };

  std::map<std::string, Table> tables_;
};

}  // namespace roadpulse::exec::test_support
