#pragma once
// The optimized logical plan the SQL front end hands to exec: a tree of relational nodes, each
// with its output row type, over bound expressions. Projection and filter pushdown have been
// applied: a TableScan reads only the physical columns the query needs and carries the filter
// that can run right after decoding.
//
// How exec runs a TableScan (the node's fields in order):
//   1. the connector decodes the physical columns `read_columns` (indices into table->columns,
//      all physical) into the "read row", whose type is read_schema();
//   2. `outputs` (bound over the read row) compute the scan's output row `schema`: column refs for
//      physical columns, the computed-column expressions for computed ones;
//   3. when `watermark` is set, the watermark expression (bound over the output row) is evaluated
//      on every row BEFORE the filter, as Flink assigns watermarks in the source;
//   4. `pushed_filter` (bound over the output row; null = keep all) drops rows.
// Every other node's expressions are bound over its single input's output row.
//
// Nodes are added to LogicalNodeKind over time; exec should reject a kind it does not know with a
// clear error rather than assume the set is closed.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sql/bound_expression.h"
#include "sql/catalog.h"
#include "sql/types.h"

namespace roadpulse::sql {

enum class LogicalNodeKind : uint8_t {
  kTableScan,
  kFilter,     // predicate over the input
  kProject,    // exprs over the input; schema names are the aliases
  kUnion,      // UNION ALL of inputs with equal schemas
  kValues,     // constant rows (SELECT without FROM, VALUES)
  kSink,       // INSERT INTO table: input column i has the Arrow type of physical column i of
               // table->physical_schema() (= schema); input names may differ: write the table's.
               // A nullable input into a NOT NULL column must be checked at run time.
  kAggregate,  // GROUP BY without a window: updating (retract) output, see below
  kWindowAggregate,  // GROUP BY window_start, window_end over a window TVF: insert-only
  kDeduplicate,      // ROW_NUMBER() OVER (PARTITION BY keys ORDER BY rowtime) = 1: per key
                     // the row with the smallest event time, emitted once the watermark passes
                     // it (insert-only); output row = input row
  kSort,             // ORDER BY sort_keys [LIMIT limit] of a bounded input: the whole input,
                     // sorted, at its end; output row = input row
  kJoin,             // INNER/LEFT hash equi-join of bounded inputs: inputs[0] is probed (streamed
                     // in batches), inputs[1] is built (read whole first); output row = left row
                     // ++ right row (right columns nullable for LEFT)
  kRank,             // ROW_NUMBER/RANK/DENSE_RANK() OVER (PARTITION BY group_keys ORDER BY
                     // sort_keys) of a bounded input, at its end; output row = input row ++ one
                     // BIGINT NOT NULL per function in rank_functions
};
const char* logical_node_kind_name(LogicalNodeKind kind);

/// The watermark of a scan, bound over the scan's output row.
struct ScanWatermark {
  int rowtime_index = -1;  // output column that is the event-time attribute
  std::unique_ptr<BoundExpr> expr;
  std::optional<int64_t> fixed_delay_micros;  // set when expr is `rowtime - INTERVAL ...`
};

/// One aggregate function of an Aggregate/WindowAggregate node.
struct AggregateCall {
  std::string function;   // "COUNT", "SUM", "AVG", "MIN", "MAX"
  std::vector<int> args;  // input columns; empty for COUNT(*)
  bool distinct = false;  // COUNT(DISTINCT x) ...
  SqlType type;           // result type (Flink's: COUNT BIGINT NOT NULL, SUM(INT) INT, ...)
};

enum class WindowKind : uint8_t { kTumble, kHop, kCumulate, kSession };
const char* window_kind_name(WindowKind kind);

/// The window table-valued function a WindowAggregate groups by. Sizes are microseconds.
struct WindowSpec {
  WindowKind kind = WindowKind::kTumble;
  int time_column = -1;             // input column (a rowtime attribute) rows are assigned by
  int64_t size_micros = 0;          // TUMBLE/HOP size; CUMULATE max size; SESSION gap
  int64_t slide_micros = 0;         // HOP slide; CUMULATE step (size is a multiple of it)
  int64_t offset_micros = 0;        // optional offset of TUMBLE/HOP/CUMULATE windows
  std::vector<int> partition_keys;  // SESSION(TABLE t PARTITION BY k, ...): input columns
  /// The time column is a processing-time attribute (PROCTIME()): windows close when the wall
  /// clock passes their end, not the watermark.
  bool proctime = false;
};

struct LogicalNode {
  LogicalNodeKind kind = LogicalNodeKind::kValues;
  Schema schema;  // output row type
  /// Output column holding the event-time attribute (type.time_attribute == kRowtime), if the
  /// rows still carry one. Filters and projections that keep the column keep it.
  std::optional<int> rowtime_index;
  std::vector<std::unique_ptr<LogicalNode>> inputs;

  // kTableScan and kSink: the catalog entry (connector options in table->options).
  std::shared_ptr<const CatalogTable> table;

  // kTableScan
  std::vector<int> read_columns;       // physical columns to decode (indices into table->columns)
  std::vector<int> projected_columns;  // per output column: its index into table->columns
  std::vector<std::unique_ptr<BoundExpr>> outputs;  // per output column, over the read row
  std::optional<ScanWatermark> watermark;
  std::unique_ptr<BoundExpr> pushed_filter;  // over the output row; null = no filter

  // kFilter
  std::unique_ptr<BoundExpr> predicate;

  // kProject: one expression per output column
  std::vector<std::unique_ptr<BoundExpr>> exprs;

  // kValues: rows of constant expressions, each row matching schema
  std::vector<std::vector<std::unique_ptr<BoundExpr>>> rows;

  // kSink
  bool overwrite = false;  // INSERT OVERWRITE

  // kAggregate / kWindowAggregate. Output row: the group keys (input columns, in this order),
  // then for kWindowAggregate window_start, window_end (TIMESTAMP(3) NOT NULL) and window_time
  // (window_end - 1 ms, TIMESTAMP(3) NOT NULL *ROWTIME*, the output's rowtime_index), then one
  // column per aggregate. kAggregate emits an updating result (a row per key change, retracting
  // the previous one, Flink's changelog); kWindowAggregate emits each window once, when the
  // watermark passes its end. Keys and aggregate arguments are plain input columns: the binder
  // puts a Project below for expressions.
  std::vector<int> group_keys;
  std::vector<AggregateCall> aggregates;
  std::optional<WindowSpec> window;

  // kDeduplicate: partition keys in group_keys; the rowtime column rows are ordered by.
  int order_column = -1;

  // kSort: columns in order of precedence (Flink: ASC puts NULLs first, DESC last); LIMIT n.
  struct SortKey {
    int column = -1;
    bool descending = false;
  };
  std::vector<SortKey> sort_keys;
  std::optional<int64_t> limit;
  int64_t offset = 0;  // kSort: rows skipped before the LIMIT counts (OFFSET m)

  // kJoin: "INNER" or "LEFT"; equi-join keys (left_keys[i] of inputs[0] = right_keys[i] of
  // inputs[1], same Arrow type; NULL keys never match); `predicate` (over the output row, may be
  // null) is the rest of the ON condition.
  std::string join_type;
  std::vector<int> left_keys, right_keys;

  // kRank: "ROW_NUMBER", "RANK" or "DENSE_RANK" per appended column.
  std::vector<std::string> rank_functions;

  /// kTableScan: the read row type (table->columns[read_columns[i]]).
  Schema read_schema() const;
  /// Deep copy (the catalog entry is shared).
  std::unique_ptr<LogicalNode> clone() const;
};

/// A Filter node over `input` keeping the rows where `predicate` (a boolean over its columns)
/// holds.
std::unique_ptr<LogicalNode> make_filter(std::unique_ptr<LogicalNode> input,
                                         BoundExprPtr predicate);

/// What an INSERT or EXECUTE STATEMENT SET plans to: one sink tree per INSERT, run as one job.
/// Several sinks may scan the same table; exec should read such a source once.
struct StatementSetPlan {
  std::vector<std::unique_ptr<LogicalNode>> sinks;
};

/// The indented plan tree EXPLAIN prints, one node per line, Flink style:
///   Sink(table=[results], fields=[ID, Severity])
///   +- TableScan(table=[src], read=[ID, Severity], filter=[(Severity > 3)])
std::string explain_plan(const LogicalNode& root);
std::string explain_plan(const StatementSetPlan& plan);

}  // namespace roadpulse::sql
