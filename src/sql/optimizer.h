#pragma once
// Rule-based rewrites of a bound plan, in this order:
//   1. filter pushdown: adjacent filters merge; a filter moves below projections (its column
//      references replaced by the projected expressions) and into each UNION ALL input; a filter
//      that reaches a TableScan becomes the scan's pushed_filter;
//   2. projection pushdown: every node keeps only the columns its parent needs, so a scan reads
//      only the physical columns the query uses (plus the rowtime and what the watermark needs);
//   3. projections that merely pass their input through are removed.
// Nothing here changes results; EXPLAIN shows the outcome.

#include <memory>

#include <arrow/result.h>

#include "sql/logical_plan.h"

namespace roadpulse::sql {

/// `root` is a Sink or the root of a query (whose output columns are all kept).
arrow::Result<std::unique_ptr<LogicalNode>> optimize(std::unique_ptr<LogicalNode> root);

}  // namespace roadpulse::sql
