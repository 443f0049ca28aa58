#pragma once
// Recursive-descent parser for the Flink SQL dialect (see docs/sql.md for the grammar it
// accepts). Produces the AST in ast.h. Syntax errors are Invalid with the line:column, the line
// and a caret, and what was expected, e.g. "line 3:15: expected ')' but found 'FROM'".

#include <string_view>
#include <vector>

#include <arrow/result.h>

#include "sql/ast.h"

namespace roadpulse::sql {

/// Every statement of a script, separated by ';' (the last one may omit it). The legacy SQL
/// client form `BEGIN STATEMENT SET; INSERT ...; END;` is folded into one kStatementSet.
arrow::Result<std::vector<ast::StatementPtr>> parse_script(std::string_view sql);
/// Exactly one statement (an optional trailing ';').
arrow::Result<ast::StatementPtr> parse_statement(std::string_view sql);
/// A query (SELECT / VALUES / UNION ...), e.g. a view's stored text.
arrow::Result<ast::QueryPtr> parse_query(std::string_view sql);
/// A scalar expression.
arrow::Result<ast::ExprPtr> parse_expression(std::string_view sql);

/// True when `word` (upper case) is reserved and must be quoted with backticks to be a name.
bool is_reserved_word(std::string_view word);

}  // namespace roadpulse::sql
