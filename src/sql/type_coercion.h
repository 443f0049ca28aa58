#pragma once
// Flink's type rules the binder applies: the common type of two operands, the result types of
// decimal arithmetic (LogicalTypeMerging), which casts are implicit (INSERT, UNION, comparisons)
// and which explicit CASTs are allowed at all.

#include <optional>

#include <arrow/result.h>

#include "sql/bound_expression.h"
#include "sql/types.h"

namespace roadpulse::sql {

/// Integer types as DECIMAL(p, 0): TINYINT 3, SMALLINT 5, INT 10, BIGINT 19 digits.
SqlType decimal_of_integer(const SqlType& t);
/// Flink's adjustPrecisionScale for results wider than DECIMAL(38, s).
SqlType adjust_decimal(int32_t precision, int32_t scale, bool nullable);

/// The least restrictive type of two numerics (widest integer; decimal digits merged;
/// FLOAT/DOUBLE beat exact types). Nullable if either is.
SqlType common_numeric_type(const SqlType& a, const SqlType& b);

/// The type both operands of a comparison, CASE branch or UNION column are brought to, or
/// nullopt when they cannot be compared. NULL-typed operands take the other's type.
std::optional<SqlType> common_type(const SqlType& a, const SqlType& b);

/// Whether a value of `from` may be stored into `to` without an explicit CAST (INSERT, UNION):
/// numeric widening, any string to any string, timestamp precision changes, DATE to TIMESTAMP.
bool can_implicitly_cast(const SqlType& from, const SqlType& to);

/// Whether CAST(from AS to) is valid at all (Flink's explicit cast rules).
bool can_explicitly_cast(const SqlType& from, const SqlType& to);

/// `e` converted to `target`: unchanged when the Arrow types already match, a literal converted
/// in place (Invalid naming the text when e.g. '2020-13-01' is no timestamp), else a kCast node.
arrow::Result<BoundExprPtr> coerce(BoundExprPtr e, const SqlType& target);

}  // namespace roadpulse::sql
