#pragma once
// Bound (resolved, typed) expressions: what the binder produces from SQL text and what exec
// evaluates. Every node carries its SQL type; column references are indices into the input
// row type of the plan node that owns the expression.
//
// Guarantees the binder gives exec (so the evaluator needs no type inference of its own):
// - Operands of comparisons have the same Arrow type (to_arrow()); so do the operands of
//   arithmetic ("+", "-", "*", "/", "MOD"), except: DECIMAL operands may differ in precision and
//   scale (integers meeting a DECIMAL are cast to DECIMAL(p, 0)), datetime +/- interval, and
//   interval * / DOUBLE. When Arrow's kernel yields another type than `type` (decimals), cast
//   the result to `type`. Implicit widening is an explicit kCast node; literals are converted in
//   place instead.
// - AND/OR take exactly two BOOLEAN operands; NOT one.
// - CASE always has an ELSE (NULL of the result type when the SQL had none); all THEN/ELSE
//   branches have the result's Arrow type. IF(c, a, b) is a CASE too.
// - IN lists: all items have the value's Arrow type.
// - BETWEEN is rewritten to `x >= lo AND x <= hi` (NOT BETWEEN to `x < lo OR x > hi`);
//   `a IS [NOT] DISTINCT FROM b` to a CASE over IS NULL and `=`.
// - NULLIF(a, b) and COALESCE stay calls; their operands share the result's Arrow type.
// - String arguments of string functions are STRING; integer positions/indexes are INT;
//   POWER/SQRT/LN/LOG10/EXP take DOUBLE.
//
// Canonical function names (kCall::function) are upper case: operators use their symbol
// ("+", "-", "*", "/", "=", "<>", "<", "<=", ">", ">=", "||"), unary minus is "NEGATE", `%` is
// "MOD", logical operators "AND", "OR", "NOT", "IS TRUE", "IS FALSE", "IS NOT TRUE",
// "IS NOT FALSE"; the rest are the SQL names: MOD, ABS, ROUND, FLOOR, CEIL, POWER, SQRT, LN,
// LOG10, EXP, UPPER, LOWER, TRIM, LTRIM, RTRIM, SUBSTRING, CONCAT, CONCAT_WS, CHAR_LENGTH,
// REPLACE, REGEXP_EXTRACT, SPLIT_INDEX, COALESCE, NULLIF, DATE_FORMAT, EXTRACT, TO_TIMESTAMP,
// CURRENT_TIMESTAMP, LOCALTIMESTAMP, NOW, CURRENT_DATE, CURRENT_ROW_TIMESTAMP, PROCTIME,
// CURRENT_WATERMARK (its one argument is a rowtime column reference), TIMESTAMPADD, TIMESTAMPDIFF.
// docs/sql.md gives each one's argument and result types. Calls that take a time unit (EXTRACT,
// FLOOR/CEIL of a datetime, TIMESTAMPADD, TIMESTAMPDIFF) carry it in `time_unit` rather than as an
// argument. TRIM(BOTH|LEADING|TRAILING chars FROM s) becomes TRIM|LTRIM|RTRIM with args (s[,
// chars]).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <arrow/type_fwd.h>

#include "sql/types.h"

namespace roadpulse::sql {

enum class TimeUnit : uint8_t {
  kYear,
  kQuarter,
  kMonth,
  kWeek,
  kDay,
  kHour,
  kMinute,
  kSecond,
  kMillisecond,
  kMicrosecond,
  kNanosecond,
  kDayOfWeek,  // EXTRACT(DOW ...): 1 = Sunday .. 7 = Saturday, as Flink
  kDayOfYear,  // EXTRACT(DOY ...)
  kEpoch,      // EXTRACT(EPOCH ...): seconds since 1970-01-01
};
/// "YEAR", "MONTH", ..., "DOW", "DOY", "EPOCH".
const char* time_unit_name(TimeUnit unit);

enum class BoundExprKind : uint8_t {
  kColumnRef,  // column_index into the input row
  kLiteral,    // literal (an arrow::Scalar of type.to_arrow(), null when SQL NULL)
  kCall,       // function / operator `function` over args
  kCast,       // CAST(args[0] AS type); try_cast: TRY_CAST (NULL instead of an error)
  kCase,       // args = [when1, then1, ..., whenN, thenN, else]; searched CASE only
  kInList,     // args[0] [NOT] IN (args[1..])
  kLike,       // args[0] [NOT] LIKE args[1] [ESCAPE args[2]]
  kIsNull,     // args[0] IS [NOT] NULL
};

struct BoundExpr {
  BoundExprKind kind = BoundExprKind::kLiteral;
  SqlType type;
  std::vector<std::unique_ptr<BoundExpr>> args;

  // kColumnRef
  int column_index = -1;
  std::string column_name;  // for messages and EXPLAIN only

  // kLiteral
  std::shared_ptr<arrow::Scalar> literal;

  // kCall
  std::string function;
  std::optional<TimeUnit> time_unit;

  // kCast
  bool try_cast = false;

  // kInList, kLike, kIsNull
  bool negated = false;

  /// Deep copy.
  std::unique_ptr<BoundExpr> clone() const;
  /// Readable form for EXPLAIN: `(Severity > 3)`, `CAST(ID AS BIGINT)` (a column prints its
  /// name, or `$i` when it has none).
  std::string to_string() const;
  /// True when no kColumnRef occurs (and no non-deterministic call): foldable.
  bool is_constant() const;
  /// True when the expression or any sub-expression is a call to `name`.
  bool contains_call(std::string_view name) const;
  /// Appends every referenced column index (with repeats) to `out`.
  void collect_columns(std::vector<int>& out) const;
  /// Rewrites column indices: i -> mapping[i] (mapping[i] must be >= 0 for referenced i).
  void remap_columns(const std::vector<int>& mapping);

  // Factories.
  static std::unique_ptr<BoundExpr> column(int index, std::string name, SqlType type);
  static std::unique_ptr<BoundExpr> make_literal(std::shared_ptr<arrow::Scalar> value,
                                                 SqlType type);
  static std::unique_ptr<BoundExpr> null_literal(SqlType type);
  static std::unique_ptr<BoundExpr> call(std::string function, SqlType type,
                                         std::vector<std::unique_ptr<BoundExpr>> args);
  static std::unique_ptr<BoundExpr> cast(std::unique_ptr<BoundExpr> input, SqlType type,
                                         bool try_cast = false);
};

using BoundExprPtr = std::unique_ptr<BoundExpr>;

}  // namespace roadpulse::sql
