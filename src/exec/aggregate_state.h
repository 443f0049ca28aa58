#pragma once
// Partial aggregation state: group keys -> group ids (Arrow's Grouper) and one accumulator per
// (group, aggregate call), as the window and group-by operators keep it (EXEC_DESIGN.md
// section 3). A GroupTable can merge another one (window slices into a window), finalize into
// result columns with Flink's result types, and round-trip through a "partial" RecordBatch
// (keys + accumulator columns) that checkpoints store as Arrow IPC.

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include <arrow/array.h>
#include <arrow/buffer.h>
#include <arrow/compute/row/grouper.h>
#include <arrow/record_batch.h>
#include <arrow/result.h>
#include <arrow/util/decimal.h>

#include "sql/logical_plan.h"

namespace roadpulse::exec {

/// One aggregate call, resolved against the operator's input schema.
struct AggregateSpec {
  enum class Kind : uint8_t { kCountStar, kCount, kCountDistinct, kSum, kAvg, kMin, kMax };
  /// How the argument is held: integers (also dates, timestamps, booleans), floating point,
  /// decimals, strings.
  enum class Value : uint8_t { kInt, kDouble, kDecimal, kString };
  Kind kind = Kind::kCountStar;
  Value value = Value::kInt;
  int arg = -1;  // input column; -1 for COUNT(*)
  std::shared_ptr<arrow::DataType> arg_type;
  std::shared_ptr<arrow::DataType> result_type;
  std::string label;  // "COUNT(DISTINCT $2)" for operator names
};

/// Resolves `calls` over `input`; `result_types` are the node's output types of the calls.
arrow::Result<std::vector<AggregateSpec>> make_aggregate_specs(
    const std::vector<sql::AggregateCall>& calls, const arrow::Schema& input,
    const std::vector<std::shared_ptr<arrow::DataType>>& result_types);

class GroupTable {
 public:
  /// Groups by `key_types` (may be empty: one group); `specs` must outlive the table.
  static arrow::Result<std::unique_ptr<GroupTable>> make(
      std::vector<std::shared_ptr<arrow::DataType>> key_types,
      const std::vector<AggregateSpec>* specs);

  /// Group ids of `keys` rows (new keys get new ids, in order of first appearance).
  arrow::Result<std::shared_ptr<arrow::UInt32Array>> assign(
      const std::vector<std::shared_ptr<arrow::Array>>& keys, int64_t length);
  /// Adds the rows of `batch` (the operator's input row) to groups `gids`.
  arrow::Status update(const arrow::RecordBatch& batch, const arrow::UInt32Array& gids);
  /// assign() + update() with the keys at `key_columns` of `batch`.
  arrow::Status consume(const arrow::RecordBatch& batch, const std::vector<int>& key_columns);
  /// Adds every group of `other` (same layout) into this table.
  arrow::Status merge(GroupTable& other);

  uint32_t num_groups() const { return num_groups_; }
  /// Key columns of every group, in group-id order.
  arrow::Result<std::vector<std::shared_ptr<arrow::Array>>> keys();
  /// One result column per aggregate for groups `gids` (every group when null).
  arrow::Result<std::vector<std::shared_ptr<arrow::Array>>> finalize(
      const std::vector<uint32_t>* gids = nullptr) const;

  /// Keys + accumulators as one batch, and back (restores group ids in the same order).
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> to_partial();
  static arrow::Result<std::unique_ptr<GroupTable>> from_partial(
      const arrow::RecordBatch& partial, std::vector<std::shared_ptr<arrow::DataType>> key_types,
      const std::vector<AggregateSpec>* specs);

 private:
  struct Accumulator {
    std::vector<int64_t> ints;  // count, integer sum, integer min/max
    std::vector<double> doubles;
    std::vector<arrow::Decimal128> decimals;
    std::vector<std::string> strings;
    std::vector<int64_t> non_null;  // rows that contributed (sum/avg/min/max validity)
    std::vector<std::unordered_set<std::string>> distinct;
  };
  GroupTable() = default;
  void grow(uint32_t groups);
  arrow::Status merge_group(size_t a, uint32_t to, const GroupTable& other, uint32_t from);

  std::vector<std::shared_ptr<arrow::DataType>> key_types_;
  const std::vector<AggregateSpec>* specs_ = nullptr;
  std::unique_ptr<arrow::compute::Grouper> grouper_;  // null when there are no keys
  uint32_t num_groups_ = 0;
  std::vector<Accumulator> accs_;
};

/// Arrow IPC stream bytes of one batch, and back.
arrow::Result<std::string> batch_to_ipc(const arrow::RecordBatch& batch);
arrow::Result<std::shared_ptr<arrow::RecordBatch>> batch_from_ipc(std::string_view bytes);

/// Appends bytes identifying row `r` of `a` (null distinct from every value): a hashable key for
/// COUNT(DISTINCT) values and session partitions.
void append_value_bytes(const arrow::Array& a, int64_t r, std::string& out);

/// Little helpers for the operators' snapshot framing.
void put_i64(std::string& out, int64_t v);
void put_bytes(std::string& out, std::string_view bytes);  // length-prefixed
arrow::Result<int64_t> take_i64(std::string_view& in);
arrow::Result<std::string_view> take_bytes(std::string_view& in);

}  // namespace roadpulse::exec
