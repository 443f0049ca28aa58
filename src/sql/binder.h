#pragma once
// The binder: resolves names against the catalog and scopes, infers and checks types (Flink's
// rules, implicit casts made explicit), and turns the AST into catalog entries and unoptimized
// logical plans. Errors carry the position of the offending AST node in the SQL text.
//
// Names: identifiers are case-sensitive, as in Flink (keywords and function names are not).
// When a name is not found but differs only in case from one that exists, the error says so.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/result.h>

#include "sql/ast.h"
#include "sql/bound_expression.h"
#include "sql/catalog.h"
#include "sql/logical_plan.h"

namespace roadpulse::sql {

/// The columns visible to an expression: one entry per column of the input row.
struct Scope {
  struct Column {
    std::string qualifier;  // table name or alias; empty for unnamed subqueries
    std::string name;
    SqlType type;
  };
  std::vector<Column> columns;
};

class Binder {
 public:
  /// `sql` is the text the AST was parsed from (for error positions).
  Binder(const Catalog& catalog, std::string_view sql) : catalog_(catalog), sql_(sql) {}

  /// CREATE TABLE -> a catalog entry (columns, computed columns, watermark, keys, options).
  arrow::Result<std::shared_ptr<CatalogTable>> bind_create_table(const ast::Statement& stmt);
  /// CREATE VIEW -> a catalog entry; the query is bound to check it and fix its row type.
  arrow::Result<std::shared_ptr<CatalogView>> bind_create_view(const ast::Statement& stmt);
  /// A query -> an unoptimized plan.
  arrow::Result<std::unique_ptr<LogicalNode>> bind_query(const ast::Query& query);
  /// INSERT INTO -> Sink over the query, with the casts the target's column types require.
  arrow::Result<std::unique_ptr<LogicalNode>> bind_insert(const ast::Statement& stmt);
  /// A scalar expression over `scope`.
  arrow::Result<BoundExprPtr> bind_expr(const ast::Expr& expr, const Scope& scope);

  /// Invalid "line L:C: message" with the line and a caret.
  arrow::Status error(const SourcePos& pos, std::string_view message) const;

 private:
  struct Relation {
    std::unique_ptr<LogicalNode> node;
    Scope scope;
  };
  arrow::Result<Relation> bind_table_ref(const ast::TableRef& ref);
  arrow::Result<Relation> bind_select(const ast::Select& select);
  /// The SELECT's WHERE clause (if any) as a Filter on top of `rel`.
  arrow::Status bind_where(const ast::Select& select, Relation& rel);
  /// The inner SELECT of the deduplication pattern (`SELECT ..., ROW_NUMBER() OVER (PARTITION BY
  /// k ORDER BY rowtime) AS rn FROM t` under `WHERE rn = 1`).
  arrow::Result<Relation> bind_deduplicate_select(const ast::Select& select,
                                                  size_t row_number_item);
  arrow::Result<std::unique_ptr<LogicalNode>> bind_values(const ast::Query& query);
  // Joins and ranking functions (join_binder.cc).
  arrow::Result<Relation> bind_join(const ast::TableRef& ref);
  static bool has_rank_call(const ast::Select& select);
  bool is_deduplication(const ast::Select& select, size_t item, const std::string& alias);
  arrow::Result<Relation> bind_rank_select(const ast::Select& select);
  /// A query without its ORDER BY / LIMIT (bind_query adds the Sort node).
  arrow::Result<std::unique_ptr<LogicalNode>> bind_query_body(const ast::Query& query);
  arrow::Result<std::unique_ptr<LogicalNode>> scan_of(std::shared_ptr<const CatalogTable> table);

  // Aggregation (aggregate_binder.cc).
  struct WindowRelation {
    Relation input;  // the TVF's TABLE argument
    WindowSpec spec;
    std::string qualifier;
  };
  arrow::Result<WindowRelation> bind_window_tvf(const ast::TableRef& ref);
  arrow::Result<Relation> bind_aggregate_select(const ast::Select& select);
  /// GROUP BY TUMBLE(ts, size) / HOP(ts, slide, size) / SESSION(ts, gap): the window spec.
  arrow::Result<WindowSpec> bind_legacy_window(const ast::Expr& call, const Relation& input);
  arrow::Result<BoundExprPtr> bind_aggregate_call(const ast::Expr& call);
  struct AggregateContext {
    const Scope* input_scope = nullptr;              // aggregate arguments bind here
    std::vector<BoundExprPtr>* pre_exprs = nullptr;  // the Project below the aggregate
    std::vector<AggregateCall>* aggregates = nullptr;
    std::vector<std::string> aggregate_keys;  // canonical text of each aggregate, for reuse
    bool inside_aggregate = false;
    // Legacy group window (GROUP BY TUMBLE(ts, INTERVAL ...)): TUMBLE_START/_END/_ROWTIME (and
    // HOP_*, SESSION_*) with the same arguments bind to the window columns at this scope index.
    int legacy_window_column = -1;
    std::string legacy_window_function;  // "TUMBLE", "HOP", "SESSION"
    std::string legacy_window_args;      // the call's arguments as text, to match
  };
  AggregateContext* aggregate_context_ = nullptr;
  // Set while binding the FROM subquery of a `WHERE rn = 1` query: the alias `rn`.
  std::string dedup_alias_;

  // Expressions (expression_binder.cc).
  arrow::Result<BoundExprPtr> bind_column(const ast::Expr& expr, const Scope& scope);
  arrow::Result<BoundExprPtr> bind_literal(const ast::Expr& expr);
  arrow::Result<BoundExprPtr> bind_interval(const ast::Expr& expr);
  arrow::Result<BoundExprPtr> bind_binary(const ast::Expr& expr, const Scope& scope);
  arrow::Result<BoundExprPtr> bind_call(const ast::Expr& expr, const Scope& scope);
  arrow::Result<BoundExprPtr> bind_case(const ast::Expr& expr, const Scope& scope);
  arrow::Result<BoundExprPtr> make_comparison(const std::string& op, BoundExprPtr l, BoundExprPtr r,
                                              const SourcePos& pos);
  arrow::Result<BoundExprPtr> make_arithmetic(const std::string& op, BoundExprPtr l, BoundExprPtr r,
                                              const SourcePos& pos);
  arrow::Result<BoundExprPtr> coerce_at(BoundExprPtr e, const SqlType& target,
                                        const SourcePos& pos);
  arrow::Status expect_boolean(const BoundExpr& e, const SourcePos& pos, std::string_view what);

  const Catalog& catalog_;
  std::string_view sql_;
  int view_depth_ = 0;
};

/// Flink's name for an unnamed select item: EXPR$<index>.
std::string generated_column_name(size_t index);

/// COUNT, SUM, AVG, MIN, MAX and the aggregates we do not support yet (LISTAGG, ...).
bool is_aggregate_function(std::string_view upper_name);
/// True when `e` contains an aggregate function call (not looking into subqueries).
bool contains_aggregate(const ast::Expr& e);
/// `e` as text with column references as `$index`: equal texts mean equal expressions.
std::string canonical_text(const BoundExpr& e);

}  // namespace roadpulse::sql
