#pragma once
// The abstract syntax tree the parser produces: statements, queries and (unbound) expressions,
// each node with the SourcePos of its first token so the binder can point at it. The AST is
// purely syntactic: names are unresolved and no types are inferred (that is the binder's job).

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sql/bound_expression.h"
#include "sql/lexer.h"
#include "sql/types.h"

namespace roadpulse::sql::ast {

struct Query;

enum class ExprKind : uint8_t {
  kIdentifier,  // names: a, t.a (backtick-quoted parts are plain names too)
  kStar,        // * or t.* (names holds the qualifier)
  kLiteral,
  kInterval,    // INTERVAL '5' SECOND, INTERVAL '1 02:00' DAY TO MINUTE
  kUnary,       // op: "-", "+", "NOT"
  kBinary,      // op: + - * / % || = <> < <= > >= AND OR
  kCall,        // name(args), COUNT(*), f(DISTINCT x), EXTRACT(unit FROM x), FLOOR(x TO unit)
  kCast,        // CAST / TRY_CAST (x AS type)
  kCase,        // CASE [operand] WHEN .. THEN .. [ELSE ..] END
  kInList,      // x [NOT] IN (a, b, ...)
  kBetween,     // x [NOT] BETWEEN a AND b
  kLike,        // x [NOT] LIKE p [ESCAPE e]
  kIs,          // x IS [NOT] NULL|TRUE|FALSE|UNKNOWN; op: "NULL", "TRUE", ...
  kSubquery,    // (SELECT ...) as an expression (rejected by the binder for now)
  kTableArg,    // TABLE t  (argument of a window table function)
  kDescriptor,  // DESCRIPTOR(col, ...)
};

enum class LiteralKind : uint8_t {
  kNull,
  kBoolean,
  kInteger,  // text holds the digits
  kDecimal,  // text: 1.50
  kDouble,   // text: 1e3
  kString,
  kDate,       // DATE '2020-01-01'
  kTime,       // TIME '12:00:00'
  kTimestamp,  // TIMESTAMP '2020-01-01 00:00:00'
};

struct OverClause;

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  SourcePos pos;
  std::vector<std::unique_ptr<Expr>> args;

  std::vector<std::string> names;  // kIdentifier, kStar qualifier, kTableArg, kDescriptor

  LiteralKind literal_kind = LiteralKind::kNull;
  std::string text;  // literal text (unescaped string), interval value
  bool bool_value = false;

  std::string op;                     // kUnary, kBinary, kIs; kCall: upper-case function name
  bool negated = false;               // kInList, kBetween, kLike, kIs
  bool distinct = false;              // kCall: f(DISTINCT ...)
  bool star_arg = false;              // kCall: COUNT(*)
  std::optional<TimeUnit> time_unit;  // kCall: EXTRACT / FLOOR..TO / TIMESTAMPADD / TIMESTAMPDIFF
  std::string trim_mode;              // kCall TRIM: "BOTH", "LEADING", "TRAILING"

  // kInterval: INTERVAL 'text' unit [TO end_unit]; negative when written INTERVAL -'5' ...
  TimeUnit interval_unit = TimeUnit::kSecond;
  std::optional<TimeUnit> interval_end_unit;

  // kCast
  SqlType cast_type;
  bool try_cast = false;

  // kCase: args = [operand?] when/then pairs [else]; has_operand / has_else say which exist
  bool has_operand = false;
  bool has_else = false;

  std::unique_ptr<Query> subquery;   // kSubquery
  std::unique_ptr<OverClause> over;  // kCall: f(...) OVER (...)

  /// SQL-like text of the expression (for messages, computed column text, generated names).
  std::string to_string() const;
};
using ExprPtr = std::unique_ptr<Expr>;

struct SelectItem {
  ExprPtr expr;       // kStar for * / t.*
  std::string alias;  // empty when none
  SourcePos pos;
};

struct TableRef;
using TableRefPtr = std::unique_ptr<TableRef>;

enum class TableRefKind : uint8_t {
  kTable,     // name [AS alias]
  kSubquery,  // (query) [AS alias]
  kFunction,  // TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL ...)) [AS alias]
  kJoin,      // left JOIN right ON cond (parsed; the planner rejects it for now)
};

struct TableRef {
  TableRefKind kind = TableRefKind::kTable;
  SourcePos pos;
  std::vector<std::string> name;  // kTable
  std::string alias;
  std::vector<std::string> column_aliases;  // alias(c1, c2)
  std::unique_ptr<Query> subquery;          // kSubquery
  ExprPtr function;                         // kFunction: the kCall inside TABLE(...)
  // kJoin
  std::string join_type;  // INNER, LEFT, RIGHT, FULL, CROSS
  TableRefPtr left, right;
  ExprPtr condition;
};

struct OrderItem {
  ExprPtr expr;
  bool descending = false;
};

/// OVER (PARTITION BY ... ORDER BY ...) of an analytic call such as ROW_NUMBER().
struct OverClause {
  std::vector<ExprPtr> partition_by;
  std::vector<OrderItem> order_by;
};

struct Select {
  SourcePos pos;
  bool distinct = false;
  std::vector<SelectItem> items;
  TableRefPtr from;  // null for SELECT without FROM
  ExprPtr where;
  std::vector<ExprPtr> group_by;
  SourcePos group_by_pos;
  ExprPtr having;
};

/// A query: a SELECT, a UNION [ALL] of queries, or VALUES; optional ORDER BY / LIMIT.
struct Query {
  SourcePos pos;
  std::unique_ptr<Select> select;  // set for a plain SELECT
  // set operation: left op right
  std::string set_op;  // "UNION", "UNION ALL", "INTERSECT", "EXCEPT"; empty when select/values
  std::unique_ptr<Query> left, right;
  std::vector<std::vector<ExprPtr>> values;  // VALUES (..), (..)
  std::vector<OrderItem> order_by;
  ExprPtr limit;
  ExprPtr offset;  // OFFSET m [ROWS]
};
using QueryPtr = std::unique_ptr<Query>;

struct ColumnDef {
  std::string name;
  SourcePos pos;
  SqlType type;      // physical columns
  ExprPtr computed;  // `name AS expr`
  std::string computed_sql;
  std::string comment;
  bool primary_key = false;  // inline PRIMARY KEY NOT ENFORCED
};

enum class StatementKind : uint8_t {
  kCreateTable,
  kDropTable,
  kCreateView,
  kDropView,
  kInsert,
  kStatementSet,
  kSet,
  kReset,
  kShowTables,
  kShowViews,
  kDescribe,
  kExplain,
  kQuery,
};

struct Statement {
  StatementKind kind = StatementKind::kQuery;
  SourcePos pos;
  int32_t end_offset = 0;         // one past the statement's last token
  std::vector<std::string> name;  // table / view / describe target / insert target

  bool if_not_exists = false;
  bool if_exists = false;
  bool temporary = false;

  // kCreateTable
  std::vector<ColumnDef> columns;
  std::string watermark_column;
  SourcePos watermark_pos;
  ExprPtr watermark_expr;
  std::string watermark_sql;
  std::vector<std::string> primary_key;
  SourcePos primary_key_pos;
  std::vector<std::string> partition_keys;
  SourcePos partition_pos;
  std::vector<std::pair<std::string, std::string>> options;
  std::string comment;
  std::vector<std::string> like_table;  // CREATE TABLE t WITH (...) LIKE like_table
  SourcePos like_pos;

  // kCreateView
  std::vector<std::string> column_aliases;
  std::string query_sql;  // the view's query text

  // kInsert
  bool overwrite = false;
  std::vector<std::string> insert_columns;
  QueryPtr query;  // kInsert, kCreateView, kQuery

  // kStatementSet: the INSERTs; kExplain: the explained statement
  std::vector<std::unique_ptr<Statement>> statements;

  // kSet / kReset: empty key = list all / reset all
  std::string key, value;
};
using StatementPtr = std::unique_ptr<Statement>;

/// Joins a qualified name with '.'.
std::string join_name(const std::vector<std::string>& parts);

}  // namespace roadpulse::sql::ast
