#include "sql/parser.h"

#include <algorithm>
#include <array>
#include <charconv>

#include <arrow/status.h>
#include <fmt/format.h>

namespace roadpulse::sql {

namespace {

// Words that cannot be bare identifiers or implicit aliases. A subset of Flink's reserved
// words: the ones our grammar gives meaning to. Quote with backticks to use them as names.
constexpr std::array kReserved = {
    "ALL",     "AND",      "AS",       "BETWEEN",   "BY",       "CASE",   "CAST",   "CREATE",
    "CROSS",   "DESCRIBE", "DISTINCT", "DROP",      "ELSE",     "END",    "ESCAPE", "EXCEPT",
    "EXECUTE", "EXPLAIN",  "FALSE",    "FETCH",     "FROM",     "FULL",   "GROUP",  "HAVING",
    "IN",      "INNER",    "INSERT",   "INTERSECT", "INTERVAL", "INTO",   "IS",     "JOIN",
    "LEFT",    "LIKE",     "LIMIT",    "NATURAL",   "NOT",      "NULL",   "OFFSET", "ON",
    "OR",      "ORDER",    "OUTER",    "OVER",      "RIGHT",    "SELECT", "SET",    "TABLE",
    "THEN",    "TRUE",     "TRY_CAST", "UNION",     "UNKNOWN",  "USING",  "VALUES", "WHEN",
    "WHERE",   "WINDOW",   "WITH",
};

using ast::Expr;
using ast::ExprKind;
using ast::ExprPtr;
using ast::LiteralKind;

std::optional<TimeUnit> time_unit_of(std::string_view w) {
  static const std::pair<std::string_view, TimeUnit> kUnits[] = {
      {"YEAR", TimeUnit::kYear},
      {"YEARS", TimeUnit::kYear},
      {"QUARTER", TimeUnit::kQuarter},
      {"MONTH", TimeUnit::kMonth},
      {"MONTHS", TimeUnit::kMonth},
      {"WEEK", TimeUnit::kWeek},
      {"DAY", TimeUnit::kDay},
      {"DAYS", TimeUnit::kDay},
      {"HOUR", TimeUnit::kHour},
      {"HOURS", TimeUnit::kHour},
      {"MINUTE", TimeUnit::kMinute},
      {"MINUTES", TimeUnit::kMinute},
      {"SECOND", TimeUnit::kSecond},
      {"SECONDS", TimeUnit::kSecond},
      {"MILLISECOND", TimeUnit::kMillisecond},
      {"MICROSECOND", TimeUnit::kMicrosecond},
      {"NANOSECOND", TimeUnit::kNanosecond},
      {"DOW", TimeUnit::kDayOfWeek},
      {"DOY", TimeUnit::kDayOfYear},
      {"EPOCH", TimeUnit::kEpoch},
  };
  for (const auto& [name, unit] : kUnits) {
    if (w == name) return unit;
  }
  return std::nullopt;
}

class Parser {
 public:
  Parser(std::string_view sql, std::vector<Token> tokens) : sql_(sql), tokens_(std::move(tokens)) {}

  arrow::Result<std::vector<ast::StatementPtr>> script() {
    std::vector<ast::StatementPtr> out;
    for (;;) {
      while (accept_symbol(";")) {
      }
      if (at_end()) return out;
      // Legacy SQL client form: BEGIN STATEMENT SET; INSERT ...; ...; END;
      if (peek().is_keyword("BEGIN") && peek(1).is_keyword("STATEMENT")) {
        ARROW_ASSIGN_OR_RAISE(auto set, legacy_statement_set());
        out.push_back(std::move(set));
        continue;
      }
      ARROW_ASSIGN_OR_RAISE(auto stmt, statement());
      out.push_back(std::move(stmt));
      if (!at_end() && !peek().is_symbol(";")) return expected("';' or end of input");
    }
  }

  arrow::Result<ast::StatementPtr> single_statement() {
    ARROW_ASSIGN_OR_RAISE(auto stmt, statement());
    accept_symbol(";");
    if (!at_end()) return expected("end of input");
    return stmt;
  }

  arrow::Result<ast::QueryPtr> single_query() {
    ARROW_ASSIGN_OR_RAISE(auto q, query());
    accept_symbol(";");
    if (!at_end()) return expected("end of input");
    return q;
  }

  arrow::Result<ExprPtr> single_expression() {
    ARROW_ASSIGN_OR_RAISE(auto e, expr());
    if (!at_end()) return expected("end of input");
    return e;
  }

 private:
  // ---- token helpers -------------------------------------------------------------------------
  const Token& peek(size_t ahead = 0) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  bool at_end() const { return peek().kind == TokenKind::kEnd; }
  const Token& advance() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    last_end_ = t.end_offset;
    return t;
  }
  bool accept_keyword(std::string_view kw) {
    if (!peek().is_keyword(kw)) return false;
    advance();
    return true;
  }
  bool accept_symbol(std::string_view s) {
    if (!peek().is_symbol(s)) return false;
    advance();
    return true;
  }
  arrow::Status error_at(const SourcePos& pos, std::string_view message) const {
    return sql_error(sql_, pos, message);
  }
  arrow::Status expected(std::string_view what) const {
    return error_at(peek().pos, fmt::format("expected {} but found {}", what, peek().describe()));
  }
  arrow::Status expect_keyword(std::string_view kw) {
    if (accept_keyword(kw)) return arrow::Status::OK();
    return expected(fmt::format("'{}'", kw));
  }
  arrow::Status expect_symbol(std::string_view s) {
    if (accept_symbol(s)) return arrow::Status::OK();
    return expected(fmt::format("'{}'", s));
  }
  bool peek_identifier(size_t ahead = 0) const {
    const Token& t = peek(ahead);
    return t.kind == TokenKind::kQuotedIdentifier ||
           (t.kind == TokenKind::kIdentifier && !is_reserved_word(t.upper));
  }
  arrow::Result<std::string> identifier(std::string_view what = "an identifier") {
    if (peek_identifier()) return advance().text;
    if (peek().kind == TokenKind::kIdentifier) {
      return error_at(peek().pos,
                      fmt::format("expected {} but found reserved word '{}' (quote it with "
                                  "backticks to use it as a name: `{}`)",
                                  what, peek().text, peek().text));
    }
    return expected(what);
  }
  arrow::Result<std::vector<std::string>> compound_name(std::string_view what) {
    std::vector<std::string> parts;
    ARROW_ASSIGN_OR_RAISE(auto first, identifier(what));
    parts.push_back(std::move(first));
    while (peek().is_symbol(".")) {
      advance();
      ARROW_ASSIGN_OR_RAISE(auto next, identifier(what));
      parts.push_back(std::move(next));
    }
    return parts;
  }
  arrow::Result<std::vector<std::string>> identifier_list(std::string_view what) {
    std::vector<std::string> out;
    ARROW_RETURN_NOT_OK(expect_symbol("("));
    do {
      ARROW_ASSIGN_OR_RAISE(auto name, identifier(what));
      out.push_back(std::move(name));
    } while (accept_symbol(","));
    ARROW_RETURN_NOT_OK(expect_symbol(")"));
    return out;
  }
  arrow::Result<std::string> string_literal(std::string_view what) {
    if (peek().kind != TokenKind::kString) return expected(what);
    return advance().text;
  }
  arrow::Result<int32_t> small_integer(std::string_view what) {
    if (peek().kind != TokenKind::kInteger) return expected(what);
    const Token& t = advance();
    int32_t v = 0;
    auto [p, ec] = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
    if (ec != std::errc() || p != t.text.data() + t.text.size()) {
      return error_at(t.pos, fmt::format("{} '{}' is out of range", what, t.text));
    }
    return v;
  }
  std::string text_between(int32_t begin, int32_t end) const {
    return std::string(sql_.substr(begin, end - begin));
  }

  // ---- statements ----------------------------------------------------------------------------
  arrow::Result<ast::StatementPtr> statement() {
    const Token& t = peek();
    ast::StatementPtr s;
    if (t.is_keyword("CREATE")) {
      ARROW_ASSIGN_OR_RAISE(s, create());
    } else if (t.is_keyword("DROP")) {
      ARROW_ASSIGN_OR_RAISE(s, drop());
    } else if (t.is_keyword("INSERT")) {
      ARROW_ASSIGN_OR_RAISE(s, insert());
    } else if (t.is_keyword("EXECUTE")) {
      ARROW_ASSIGN_OR_RAISE(s, execute_statement_set());
    } else if (t.is_keyword("SET")) {
      ARROW_ASSIGN_OR_RAISE(s, set());
    } else if (t.is_keyword("RESET")) {
      ARROW_ASSIGN_OR_RAISE(s, reset());
    } else if (t.is_keyword("SHOW")) {
      ARROW_ASSIGN_OR_RAISE(s, show());
    } else if (t.is_keyword("DESCRIBE") || t.is_keyword("DESC")) {
      s = start(ast::StatementKind::kDescribe);
      advance();
      ARROW_ASSIGN_OR_RAISE(s->name, compound_name("a table name"));
    } else if (t.is_keyword("EXPLAIN")) {
      ARROW_ASSIGN_OR_RAISE(s, explain());
    } else if (t.is_keyword("SELECT") || t.is_keyword("VALUES") || t.is_keyword("WITH") ||
               t.is_symbol("(")) {
      s = start(ast::StatementKind::kQuery);
      ARROW_ASSIGN_OR_RAISE(s->query, query());
    } else {
      return expected(
          "a statement (CREATE, DROP, INSERT, EXECUTE STATEMENT SET, SELECT, SET, RESET, SHOW, "
          "DESCRIBE or EXPLAIN)");
    }
    s->end_offset = last_end_;
    return s;
  }

  ast::StatementPtr start(ast::StatementKind kind) {
    auto s = std::make_unique<ast::Statement>();
    s->kind = kind;
    s->pos = peek().pos;
    return s;
  }

  arrow::Result<ast::StatementPtr> create() {
    auto s = start(ast::StatementKind::kCreateTable);
    advance();  // CREATE
    if (accept_keyword("TEMPORARY")) s->temporary = true;
    if (accept_keyword("TABLE")) {
      return create_table(std::move(s));
    }
    if (accept_keyword("VIEW")) {
      s->kind = ast::StatementKind::kCreateView;
      return create_view(std::move(s));
    }
    return expected("TABLE or VIEW");
  }

  arrow::Status if_not_exists(ast::Statement& s) {
    if (accept_keyword("IF")) {
      ARROW_RETURN_NOT_OK(expect_keyword("NOT"));
      ARROW_RETURN_NOT_OK(expect_keyword("EXISTS"));
      s.if_not_exists = true;
    }
    return arrow::Status::OK();
  }

  arrow::Result<ast::StatementPtr> create_table(ast::StatementPtr s) {
    ARROW_RETURN_NOT_OK(if_not_exists(*s));
    ARROW_ASSIGN_OR_RAISE(s->name, compound_name("a table name"));
    if (peek().is_keyword("AS")) {
      return error_at(peek().pos, "CREATE TABLE ... AS is not supported yet");
    }
    // Flink's CREATE TABLE t WITH (...) LIKE src: src's schema, its options overwritten by ours.
    if (peek().is_keyword("WITH") || peek().is_keyword("LIKE")) {
      if (accept_keyword("WITH")) {
        ARROW_ASSIGN_OR_RAISE(s->options, options());
      }
      s->like_pos = peek().pos;
      ARROW_RETURN_NOT_OK(expect_keyword("LIKE"));
      ARROW_ASSIGN_OR_RAISE(s->like_table, compound_name("the table to copy"));
      if (peek().is_symbol("(")) {
        return error_at(peek().pos,
                        "LIKE options are not supported yet; the default (INCLUDING ALL "
                        "OVERWRITING OPTIONS) applies");
      }
      return s;
    }
    ARROW_RETURN_NOT_OK(expect_symbol("("));
    do {
      if (peek().is_keyword("WATERMARK")) {
        if (s->watermark_expr) return error_at(peek().pos, "a table can have one WATERMARK only");
        advance();
        ARROW_RETURN_NOT_OK(expect_keyword("FOR"));
        s->watermark_pos = peek().pos;
        ARROW_ASSIGN_OR_RAISE(s->watermark_column, identifier("the rowtime column"));
        ARROW_RETURN_NOT_OK(expect_keyword("AS"));
        const int32_t begin = peek().pos.offset;
        ARROW_ASSIGN_OR_RAISE(s->watermark_expr, expr());
        s->watermark_sql = text_between(begin, last_end_);
      } else if (peek().is_keyword("PRIMARY") || peek().is_keyword("CONSTRAINT")) {
        if (!s->primary_key.empty()) return error_at(peek().pos, "duplicate PRIMARY KEY");
        s->primary_key_pos = peek().pos;
        if (accept_keyword("CONSTRAINT")) {
          ARROW_RETURN_NOT_OK(identifier("a constraint name").status());
        }
        ARROW_RETURN_NOT_OK(expect_keyword("PRIMARY"));
        ARROW_RETURN_NOT_OK(expect_keyword("KEY"));
        ARROW_ASSIGN_OR_RAISE(s->primary_key, identifier_list("a column name"));
        ARROW_RETURN_NOT_OK(not_enforced());
      } else {
        ARROW_ASSIGN_OR_RAISE(auto col, column_def());
        if (col.primary_key) {
          if (!s->primary_key.empty()) return error_at(col.pos, "duplicate PRIMARY KEY");
          s->primary_key = {col.name};
          s->primary_key_pos = col.pos;
        }
        s->columns.push_back(std::move(col));
      }
    } while (accept_symbol(","));
    ARROW_RETURN_NOT_OK(expect_symbol(")"));
    if (accept_keyword("COMMENT")) {
      ARROW_ASSIGN_OR_RAISE(s->comment, string_literal("a comment string"));
    }
    if (peek().is_keyword("PARTITIONED")) {
      s->partition_pos = peek().pos;
      advance();
      ARROW_RETURN_NOT_OK(expect_keyword("BY"));
      ARROW_ASSIGN_OR_RAISE(s->partition_keys, identifier_list("a column name"));
    }
    if (accept_keyword("WITH")) {
      ARROW_ASSIGN_OR_RAISE(s->options, options());
    }
    if (peek().is_keyword("LIKE")) {
      return error_at(peek().pos,
                      "LIKE after a column list is not supported yet; write CREATE TABLE t WITH "
                      "(...) LIKE source");
    }
    return s;
  }

  arrow::Status not_enforced() {
    if (!peek().is_keyword("NOT")) {
      return error_at(peek().pos,
                      fmt::format("expected 'NOT ENFORCED' but found {} (Flink does not "
                                  "enforce primary keys; declare them NOT ENFORCED)",
                                  peek().describe()));
    }
    advance();
    return expect_keyword("ENFORCED");
  }

  arrow::Result<ast::ColumnDef> column_def() {
    ast::ColumnDef col;
    col.pos = peek().pos;
    ARROW_ASSIGN_OR_RAISE(col.name, identifier("a column name"));
    if (accept_keyword("AS")) {
      const int32_t begin = peek().pos.offset;
      ARROW_ASSIGN_OR_RAISE(col.computed, expr());
      col.computed_sql = text_between(begin, last_end_);
    } else {
      ARROW_ASSIGN_OR_RAISE(col.type, data_type());
      if (peek().is_keyword("METADATA")) {
        return error_at(peek().pos, "METADATA columns are not supported yet");
      }
      if (peek().is_keyword("PRIMARY")) {
        advance();
        ARROW_RETURN_NOT_OK(expect_keyword("KEY"));
        ARROW_RETURN_NOT_OK(not_enforced());
        col.primary_key = true;
      }
    }
    if (accept_keyword("COMMENT")) {
      ARROW_ASSIGN_OR_RAISE(col.comment, string_literal("a comment string"));
    }
    return col;
  }

  arrow::Result<std::vector<std::pair<std::string, std::string>>> options() {
    std::vector<std::pair<std::string, std::string>> out;
    ARROW_RETURN_NOT_OK(expect_symbol("("));
    if (accept_symbol(")")) return out;
    do {
      const SourcePos key_pos = peek().pos;
      ARROW_ASSIGN_OR_RAISE(auto key, string_literal("an option key string ('key' = 'value')"));
      for (const auto& [k, v] : out) {
        if (k == key) return error_at(key_pos, fmt::format("duplicate option '{}'", key));
      }
      ARROW_RETURN_NOT_OK(expect_symbol("="));
      ARROW_ASSIGN_OR_RAISE(auto value, string_literal("an option value string"));
      out.emplace_back(std::move(key), std::move(value));
    } while (accept_symbol(","));
    ARROW_RETURN_NOT_OK(expect_symbol(")"));
    return out;
  }

  arrow::Result<ast::StatementPtr> create_view(ast::StatementPtr s) {
    ARROW_RETURN_NOT_OK(if_not_exists(*s));
    ARROW_ASSIGN_OR_RAISE(s->name, compound_name("a view name"));
    if (peek().is_symbol("(")) {
      ARROW_ASSIGN_OR_RAISE(s->column_aliases, identifier_list("a column name"));
    }
    ARROW_RETURN_NOT_OK(expect_keyword("AS"));
    const int32_t begin = peek().pos.offset;
    ARROW_ASSIGN_OR_RAISE(s->query, query());
    s->query_sql = text_between(begin, last_end_);
    return s;
  }

  arrow::Result<ast::StatementPtr> drop() {
    auto s = start(ast::StatementKind::kDropTable);
    advance();  // DROP
    if (accept_keyword("TEMPORARY")) s->temporary = true;
    if (accept_keyword("VIEW")) {
      s->kind = ast::StatementKind::kDropView;
    } else if (!accept_keyword("TABLE")) {
      return expected("TABLE or VIEW");
    }
    if (accept_keyword("IF")) {
      ARROW_RETURN_NOT_OK(expect_keyword("EXISTS"));
      s->if_exists = true;
    }
    ARROW_ASSIGN_OR_RAISE(s->name, compound_name("a table name"));
    return s;
  }

  arrow::Result<ast::StatementPtr> insert() {
    auto s = start(ast::StatementKind::kInsert);
    advance();  // INSERT
    if (accept_keyword("OVERWRITE")) {
      s->overwrite = true;
      accept_keyword("INTO");
    } else {
      ARROW_RETURN_NOT_OK(expect_keyword("INTO"));
    }
    ARROW_ASSIGN_OR_RAISE(s->name, compound_name("a table name"));
    if (peek().is_keyword("PARTITION")) {
      return error_at(peek().pos, "INSERT ... PARTITION (static partitions) is not supported yet");
    }
    if (peek().is_symbol("(") && peek_identifier(1)) {
      ARROW_ASSIGN_OR_RAISE(s->insert_columns, identifier_list("a column name"));
    }
    ARROW_ASSIGN_OR_RAISE(s->query, query());
    return s;
  }

  arrow::Result<ast::StatementPtr> execute_statement_set(bool after_execute = false) {
    auto s = start(ast::StatementKind::kStatementSet);
    if (!after_execute) advance();      // EXECUTE
    if (peek().is_keyword("INSERT")) {  // EXECUTE INSERT INTO ...: one insert
      ARROW_ASSIGN_OR_RAISE(auto ins, insert());
      s->statements.push_back(std::move(ins));
      return s;
    }
    ARROW_RETURN_NOT_OK(expect_keyword("STATEMENT"));
    ARROW_RETURN_NOT_OK(expect_keyword("SET"));
    ARROW_RETURN_NOT_OK(expect_keyword("BEGIN"));
    while (!peek().is_keyword("END")) {
      if (!peek().is_keyword("INSERT")) {
        return expected("INSERT or END (a statement set holds INSERT statements only)");
      }
      ARROW_ASSIGN_OR_RAISE(auto ins, insert());
      ins->end_offset = last_end_;
      s->statements.push_back(std::move(ins));
      ARROW_RETURN_NOT_OK(expect_symbol(";"));
    }
    advance();  // END
    if (s->statements.empty()) return error_at(s->pos, "empty statement set");
    return s;
  }

  arrow::Result<ast::StatementPtr> legacy_statement_set() {
    auto s = start(ast::StatementKind::kStatementSet);
    advance();  // BEGIN
    advance();  // STATEMENT
    ARROW_RETURN_NOT_OK(expect_keyword("SET"));
    ARROW_RETURN_NOT_OK(expect_symbol(";"));
    for (;;) {
      while (accept_symbol(";")) {
      }
      if (accept_keyword("END")) break;
      if (!peek().is_keyword("INSERT")) {
        return expected("INSERT or END (a statement set holds INSERT statements only)");
      }
      ARROW_ASSIGN_OR_RAISE(auto ins, insert());
      ins->end_offset = last_end_;
      s->statements.push_back(std::move(ins));
      if (!peek().is_keyword("END")) ARROW_RETURN_NOT_OK(expect_symbol(";"));
    }
    s->end_offset = last_end_;
    if (s->statements.empty()) return error_at(s->pos, "empty statement set");
    return s;
  }

  arrow::Result<ast::StatementPtr> set() {
    auto s = start(ast::StatementKind::kSet);
    advance();                                        // SET
    if (at_end() || peek().is_symbol(";")) return s;  // SET: list all
    ARROW_ASSIGN_OR_RAISE(s->key, string_literal("a quoted key: SET 'key' = 'value'"));
    ARROW_RETURN_NOT_OK(expect_symbol("="));
    ARROW_ASSIGN_OR_RAISE(s->value, string_literal("a quoted value: SET 'key' = 'value'"));
    return s;
  }

  arrow::Result<ast::StatementPtr> reset() {
    auto s = start(ast::StatementKind::kReset);
    advance();  // RESET
    if (peek().kind == TokenKind::kString) s->key = advance().text;
    return s;
  }

  arrow::Result<ast::StatementPtr> show() {
    auto s = start(ast::StatementKind::kShowTables);
    advance();  // SHOW
    if (accept_keyword("TABLES")) return s;
    if (accept_keyword("VIEWS")) {
      s->kind = ast::StatementKind::kShowViews;
      return s;
    }
    return expected("TABLES or VIEWS");
  }

  arrow::Result<ast::StatementPtr> explain() {
    auto s = start(ast::StatementKind::kExplain);
    advance();  // EXPLAIN
    if (accept_keyword("PLAN")) ARROW_RETURN_NOT_OK(expect_keyword("FOR"));
    const Token& t = peek();
    if (!(t.is_keyword("SELECT") || t.is_keyword("VALUES") || t.is_keyword("INSERT") ||
          t.is_keyword("EXECUTE") || t.is_keyword("STATEMENT") || t.is_symbol("("))) {
      return expected("a query, INSERT or STATEMENT SET to explain");
    }
    if (t.is_keyword("STATEMENT")) {  // EXPLAIN STATEMENT SET BEGIN ... END
      ARROW_ASSIGN_OR_RAISE(auto set, execute_statement_set(/*after_execute=*/true));
      s->statements.push_back(std::move(set));
      return s;
    }
    ARROW_ASSIGN_OR_RAISE(auto inner, statement());
    s->statements.push_back(std::move(inner));
    return s;
  }

  // ---- types ---------------------------------------------------------------------------------
  arrow::Result<SqlType> data_type() {
    const Token& t = peek();
    if (t.kind != TokenKind::kIdentifier) return expected("a data type");
    const std::string name = t.upper;
    const SourcePos pos = t.pos;
    advance();
    SqlType type;
    auto opt_precision = [&](int32_t dflt, int32_t lo, int32_t hi) -> arrow::Result<int32_t> {
      if (!accept_symbol("(")) return dflt;
      const SourcePos p = peek().pos;
      ARROW_ASSIGN_OR_RAISE(int32_t v, small_integer("a precision"));
      if (v < lo || v > hi) {
        return error_at(p, fmt::format("{} precision/length must be between {} and {}, got {}",
                                       name, lo, hi, v));
      }
      ARROW_RETURN_NOT_OK(expect_symbol(")"));
      return v;
    };
    if (name == "BOOLEAN" || name == "BOOL") {
      type = SqlType::boolean();
    } else if (name == "TINYINT") {
      type = SqlType::tinyint();
    } else if (name == "SMALLINT") {
      type = SqlType::smallint();
    } else if (name == "INT" || name == "INTEGER") {
      type = SqlType::integer();
    } else if (name == "BIGINT") {
      type = SqlType::bigint();
    } else if (name == "FLOAT" || name == "REAL") {
      type = SqlType::float_type();
    } else if (name == "DOUBLE") {
      accept_keyword("PRECISION");
      type = SqlType::double_type();
    } else if (name == "DECIMAL" || name == "DEC" || name == "NUMERIC") {
      int32_t p = 10, sc = 0;
      if (accept_symbol("(")) {
        const SourcePos pp = peek().pos;
        ARROW_ASSIGN_OR_RAISE(p, small_integer("a precision"));
        if (p < 1 || p > SqlType::kMaxDecimalPrecision) {
          return error_at(pp, fmt::format("DECIMAL precision must be between 1 and 38, got {}", p));
        }
        if (accept_symbol(",")) {
          const SourcePos sp = peek().pos;
          ARROW_ASSIGN_OR_RAISE(sc, small_integer("a scale"));
          if (sc < 0 || sc > p) {
            return error_at(sp, fmt::format("DECIMAL scale must be between 0 and the precision "
                                            "{}, got {}",
                                            p, sc));
          }
        }
        ARROW_RETURN_NOT_OK(expect_symbol(")"));
      }
      type = SqlType::decimal(p, sc);
    } else if (name == "CHAR" || name == "CHARACTER") {
      if (accept_keyword("VARYING")) {
        ARROW_ASSIGN_OR_RAISE(
            int32_t n, opt_precision(SqlType::kMaxVarCharLength, 1, SqlType::kMaxVarCharLength));
        type = SqlType::varchar(n);
      } else {
        ARROW_ASSIGN_OR_RAISE(int32_t n, opt_precision(1, 1, 255));
        type = SqlType::char_type(n);
      }
    } else if (name == "VARCHAR") {
      // Flink: VARCHAR without a length is STRING (VARCHAR(2147483647)).
      ARROW_ASSIGN_OR_RAISE(
          int32_t n, opt_precision(SqlType::kMaxVarCharLength, 1, SqlType::kMaxVarCharLength));
      type = SqlType::varchar(n);
    } else if (name == "STRING") {
      type = SqlType::string();
    } else if (name == "DATE") {
      type = SqlType::date();
    } else if (name == "TIME") {
      ARROW_ASSIGN_OR_RAISE(int32_t p, opt_precision(0, 0, 9));
      if (accept_keyword("WITHOUT")) {
        ARROW_RETURN_NOT_OK(expect_keyword("TIME"));
        ARROW_RETURN_NOT_OK(expect_keyword("ZONE"));
      }
      type = SqlType::time(p);
    } else if (name == "TIMESTAMP") {
      ARROW_ASSIGN_OR_RAISE(int32_t p, opt_precision(6, 0, 9));
      type = SqlType::timestamp(p);
      if (accept_keyword("WITHOUT")) {
        ARROW_RETURN_NOT_OK(expect_keyword("TIME"));
        ARROW_RETURN_NOT_OK(expect_keyword("ZONE"));
      } else if (accept_keyword("WITH")) {
        ARROW_RETURN_NOT_OK(expect_keyword("LOCAL"));
        ARROW_RETURN_NOT_OK(expect_keyword("TIME"));
        ARROW_RETURN_NOT_OK(expect_keyword("ZONE"));
        type = SqlType::timestamp_ltz(p);
      }
    } else if (name == "TIMESTAMP_LTZ") {
      ARROW_ASSIGN_OR_RAISE(int32_t p, opt_precision(6, 0, 9));
      type = SqlType::timestamp_ltz(p);
    } else if (name == "BYTES" || name == "BINARY" || name == "VARBINARY" || name == "ARRAY" ||
               name == "MAP" || name == "ROW" || name == "MULTISET" || name == "RAW" ||
               name == "INTERVAL") {
      return error_at(pos, fmt::format("data type {} is not supported yet", name));
    } else {
      return error_at(pos, fmt::format("unknown data type '{}'", t.text));
    }
    if (peek().is_keyword("NOT") && peek(1).is_keyword("NULL")) {
      advance();
      advance();
      type.nullable = false;
    } else if (accept_keyword("NULL")) {
      type.nullable = true;
    }
    return type;
  }

  // ---- queries -------------------------------------------------------------------------------
  arrow::Result<ast::QueryPtr> query() {
    if (++depth_ > kMaxDepth) return error_at(peek().pos, "query nested too deeply");
    auto result = query_body();
    --depth_;
    return result;
  }

  arrow::Result<ast::QueryPtr> query_body() {
    if (peek().is_keyword("WITH")) {
      return error_at(peek().pos, "WITH (common table expressions) is not supported yet");
    }
    ARROW_ASSIGN_OR_RAISE(auto left, query_term());
    for (;;) {
      const Token& t = peek();
      std::string op;
      if (t.is_keyword("UNION")) {
        op = "UNION";
      } else if (t.is_keyword("EXCEPT") || t.is_keyword("MINUS")) {
        op = "EXCEPT";
      } else if (t.is_keyword("INTERSECT")) {
        op = "INTERSECT";
      } else {
        break;
      }
      auto q = std::make_unique<ast::Query>();
      q->pos = t.pos;
      advance();
      if (accept_keyword("ALL")) {
        op += " ALL";
      } else {
        accept_keyword("DISTINCT");
      }
      q->set_op = op;
      q->left = std::move(left);
      ARROW_ASSIGN_OR_RAISE(q->right, query_term());
      left = std::move(q);
    }
    if (peek().is_keyword("ORDER")) {
      advance();
      ARROW_RETURN_NOT_OK(expect_keyword("BY"));
      do {
        ast::OrderItem item;
        ARROW_ASSIGN_OR_RAISE(item.expr, expr());
        if (accept_keyword("DESC")) {
          item.descending = true;
        } else {
          accept_keyword("ASC");
        }
        left->order_by.push_back(std::move(item));
      } while (accept_symbol(","));
    }
    // LIMIT n [OFFSET m], or the standard OFFSET m ROWS FETCH {FIRST|NEXT} n ROWS ONLY.
    if (accept_keyword("LIMIT")) {
      ARROW_ASSIGN_OR_RAISE(left->limit, expr());
    }
    if (accept_keyword("OFFSET")) {
      ARROW_ASSIGN_OR_RAISE(left->offset, expr());
      if (!accept_keyword("ROWS")) accept_keyword("ROW");
    }
    if (!left->limit && accept_keyword("FETCH")) {
      if (!accept_keyword("FIRST")) ARROW_RETURN_NOT_OK(expect_keyword("NEXT"));
      ARROW_ASSIGN_OR_RAISE(left->limit, expr());
      if (!accept_keyword("ROWS")) ARROW_RETURN_NOT_OK(expect_keyword("ROW"));
      ARROW_RETURN_NOT_OK(expect_keyword("ONLY"));
    }
    return left;
  }

  arrow::Result<ast::QueryPtr> query_term() {
    auto q = std::make_unique<ast::Query>();
    q->pos = peek().pos;
    if (accept_symbol("(")) {
      ARROW_ASSIGN_OR_RAISE(auto inner, query());
      ARROW_RETURN_NOT_OK(expect_symbol(")"));
      return inner;
    }
    if (accept_keyword("VALUES")) {
      do {
        ARROW_RETURN_NOT_OK(expect_symbol("("));
        std::vector<ExprPtr> row;
        do {
          ARROW_ASSIGN_OR_RAISE(auto e, expr());
          row.push_back(std::move(e));
        } while (accept_symbol(","));
        ARROW_RETURN_NOT_OK(expect_symbol(")"));
        q->values.push_back(std::move(row));
      } while (accept_symbol(","));
      return q;
    }
    if (!peek().is_keyword("SELECT")) return expected("SELECT, VALUES or '('");
    ARROW_ASSIGN_OR_RAISE(q->select, select());
    return q;
  }

  arrow::Result<std::unique_ptr<ast::Select>> select() {
    auto s = std::make_unique<ast::Select>();
    s->pos = peek().pos;
    advance();  // SELECT
    if (accept_keyword("DISTINCT")) {
      s->distinct = true;
    } else {
      accept_keyword("ALL");
    }
    do {
      ast::SelectItem item;
      item.pos = peek().pos;
      if (peek().is_symbol("*")) {
        advance();
        item.expr = std::make_unique<Expr>();
        item.expr->kind = ExprKind::kStar;
        item.expr->pos = item.pos;
      } else {
        ARROW_ASSIGN_OR_RAISE(item.expr, expr());
        if (accept_keyword("AS")) {
          ARROW_ASSIGN_OR_RAISE(item.alias, alias_name());
        } else if (peek_identifier()) {
          item.alias = advance().text;
        }
      }
      s->items.push_back(std::move(item));
    } while (accept_symbol(","));
    if (accept_keyword("FROM")) {
      ARROW_ASSIGN_OR_RAISE(s->from, table_expression());
    }
    if (accept_keyword("WHERE")) {
      ARROW_ASSIGN_OR_RAISE(s->where, expr());
    }
    if (peek().is_keyword("GROUP")) {
      s->group_by_pos = peek().pos;
      advance();
      ARROW_RETURN_NOT_OK(expect_keyword("BY"));
      do {
        ARROW_ASSIGN_OR_RAISE(auto e, expr());
        s->group_by.push_back(std::move(e));
      } while (accept_symbol(","));
    }
    if (accept_keyword("HAVING")) {
      ARROW_ASSIGN_OR_RAISE(s->having, expr());
    }
    if (peek().is_keyword("WINDOW")) {
      return error_at(peek().pos, "the WINDOW clause is not supported yet");
    }
    return s;
  }

  // An alias may also be a string in Flink? No: identifiers only; but allow quoted ones.
  arrow::Result<std::string> alias_name() { return identifier("an alias"); }

  arrow::Result<ast::TableRefPtr> table_expression() {
    ARROW_ASSIGN_OR_RAISE(auto left, table_primary());
    for (;;) {
      const Token& t = peek();
      std::string join_type;
      const SourcePos pos = t.pos;
      if (accept_symbol(",")) {
        join_type = "CROSS";
      } else if (t.is_keyword("JOIN") || t.is_keyword("INNER")) {
        accept_keyword("INNER");
        ARROW_RETURN_NOT_OK(expect_keyword("JOIN"));
        join_type = "INNER";
      } else if (t.is_keyword("LEFT") || t.is_keyword("RIGHT") || t.is_keyword("FULL")) {
        join_type = advance().upper;
        accept_keyword("OUTER");
        ARROW_RETURN_NOT_OK(expect_keyword("JOIN"));
      } else if (t.is_keyword("CROSS")) {
        advance();
        ARROW_RETURN_NOT_OK(expect_keyword("JOIN"));
        join_type = "CROSS";
      } else {
        return left;
      }
      auto j = std::make_unique<ast::TableRef>();
      j->kind = ast::TableRefKind::kJoin;
      j->pos = pos;
      j->join_type = join_type;
      j->left = std::move(left);
      ARROW_ASSIGN_OR_RAISE(j->right, table_primary());
      if (join_type != "CROSS") {
        ARROW_RETURN_NOT_OK(expect_keyword("ON"));
        ARROW_ASSIGN_OR_RAISE(j->condition, expr());
      }
      left = std::move(j);
    }
  }

  arrow::Result<ast::TableRefPtr> table_primary() {
    auto r = std::make_unique<ast::TableRef>();
    r->pos = peek().pos;
    if (peek().is_keyword("TABLE") && peek(1).is_symbol("(")) {
      advance();
      advance();
      r->kind = ast::TableRefKind::kFunction;
      const SourcePos fpos = peek().pos;
      ARROW_ASSIGN_OR_RAISE(r->function, expr());
      if (r->function->kind != ExprKind::kCall) {
        return error_at(fpos,
                        "expected a table function call such as TUMBLE(TABLE t, "
                        "DESCRIPTOR(ts), INTERVAL '1' MINUTE) inside TABLE(...)");
      }
      ARROW_RETURN_NOT_OK(expect_symbol(")"));
    } else if (peek().is_symbol("(")) {
      advance();
      r->kind = ast::TableRefKind::kSubquery;
      ARROW_ASSIGN_OR_RAISE(r->subquery, query());
      ARROW_RETURN_NOT_OK(expect_symbol(")"));
    } else if (peek().is_keyword("LATERAL") || peek().is_keyword("UNNEST")) {
      return error_at(peek().pos, fmt::format("{} is not supported yet", peek().upper));
    } else {
      r->kind = ast::TableRefKind::kTable;
      ARROW_ASSIGN_OR_RAISE(r->name, compound_name("a table name"));
    }
    if (accept_keyword("AS")) {
      ARROW_ASSIGN_OR_RAISE(r->alias, alias_name());
    } else if (peek_identifier()) {
      r->alias = advance().text;
    }
    if (!r->alias.empty() && peek().is_symbol("(") && peek_identifier(1)) {
      ARROW_ASSIGN_OR_RAISE(r->column_aliases, identifier_list("a column alias"));
    }
    return r;
  }

  // ---- expressions ---------------------------------------------------------------------------
  static ExprPtr make(ExprKind kind, SourcePos pos) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->pos = pos;
    return e;
  }
  static ExprPtr binary(std::string op, ExprPtr l, ExprPtr r, SourcePos pos) {
    auto e = make(ExprKind::kBinary, pos);
    e->op = std::move(op);
    e->args.push_back(std::move(l));
    e->args.push_back(std::move(r));
    return e;
  }

  arrow::Result<ExprPtr> expr() {
    if (++depth_ > kMaxDepth) {
      return error_at(peek().pos, "expression nested too deeply");
    }
    auto result = or_expr();
    --depth_;
    return result;
  }

  arrow::Result<ExprPtr> or_expr() {
    ARROW_ASSIGN_OR_RAISE(auto left, and_expr());
    while (peek().is_keyword("OR")) {
      const SourcePos pos = advance().pos;
      ARROW_ASSIGN_OR_RAISE(auto right, and_expr());
      left = binary("OR", std::move(left), std::move(right), pos);
    }
    return left;
  }

  arrow::Result<ExprPtr> and_expr() {
    ARROW_ASSIGN_OR_RAISE(auto left, not_expr());
    while (peek().is_keyword("AND")) {
      const SourcePos pos = advance().pos;
      ARROW_ASSIGN_OR_RAISE(auto right, not_expr());
      left = binary("AND", std::move(left), std::move(right), pos);
    }
    return left;
  }

  arrow::Result<ExprPtr> not_expr() {
    if (peek().is_keyword("NOT")) {
      if (++depth_ > kMaxDepth) return error_at(peek().pos, "expression nested too deeply");
      const SourcePos pos = advance().pos;
      ARROW_ASSIGN_OR_RAISE(auto inner, not_expr());
      --depth_;
      auto e = make(ExprKind::kUnary, pos);
      e->op = "NOT";
      e->args.push_back(std::move(inner));
      return e;
    }
    return predicate();
  }

  arrow::Result<ExprPtr> predicate() {
    ARROW_ASSIGN_OR_RAISE(auto left, additive());
    for (;;) {
      const Token& t = peek();
      if (t.kind == TokenKind::kSymbol &&
          (t.text == "=" || t.text == "<>" || t.text == "!=" || t.text == "<" || t.text == "<=" ||
           t.text == ">" || t.text == ">=")) {
        const SourcePos pos = t.pos;
        std::string op = advance().text;
        if (op == "!=") op = "<>";
        ARROW_ASSIGN_OR_RAISE(auto right, additive());
        left = binary(op, std::move(left), std::move(right), pos);
        continue;
      }
      if (t.is_keyword("IS")) {
        const SourcePos pos = advance().pos;
        auto e = make(ExprKind::kIs, pos);
        e->negated = accept_keyword("NOT");
        if (accept_keyword("NULL")) {
          e->op = "NULL";
        } else if (accept_keyword("TRUE")) {
          e->op = "TRUE";
        } else if (accept_keyword("FALSE")) {
          e->op = "FALSE";
        } else if (accept_keyword("UNKNOWN")) {
          e->op = "NULL";
        } else if (peek().is_keyword("DISTINCT")) {
          advance();
          ARROW_RETURN_NOT_OK(expect_keyword("FROM"));
          ARROW_ASSIGN_OR_RAISE(auto right, additive());
          auto d = make(ExprKind::kCall, pos);
          d->op = e->negated ? "IS NOT DISTINCT FROM" : "IS DISTINCT FROM";
          d->args.push_back(std::move(left));
          d->args.push_back(std::move(right));
          left = std::move(d);
          continue;
        } else {
          return expected("NULL, TRUE, FALSE, UNKNOWN or DISTINCT FROM after IS");
        }
        e->args.push_back(std::move(left));
        left = std::move(e);
        continue;
      }
      bool negated = false;
      size_t look = 0;
      if (t.is_keyword("NOT") && (peek(1).is_keyword("LIKE") || peek(1).is_keyword("IN") ||
                                  peek(1).is_keyword("BETWEEN") || peek(1).is_keyword("SIMILAR"))) {
        negated = true;
        look = 1;
      }
      const Token& op = peek(look);
      if (op.is_keyword("LIKE")) {
        for (size_t i = 0; i <= look; ++i) advance();
        auto e = make(ExprKind::kLike, op.pos);
        e->negated = negated;
        e->args.push_back(std::move(left));
        ARROW_ASSIGN_OR_RAISE(auto pattern, additive());
        e->args.push_back(std::move(pattern));
        if (accept_keyword("ESCAPE")) {
          ARROW_ASSIGN_OR_RAISE(auto esc, additive());
          e->args.push_back(std::move(esc));
        }
        left = std::move(e);
        continue;
      }
      if (op.is_keyword("IN")) {
        const SourcePos pos = op.pos;
        for (size_t i = 0; i <= look; ++i) advance();
        ARROW_RETURN_NOT_OK(expect_symbol("("));
        if (peek().is_keyword("SELECT")) {
          return error_at(peek().pos, "IN (subquery) is not supported yet");
        }
        auto e = make(ExprKind::kInList, pos);
        e->negated = negated;
        e->args.push_back(std::move(left));
        do {
          ARROW_ASSIGN_OR_RAISE(auto item, expr());
          e->args.push_back(std::move(item));
        } while (accept_symbol(","));
        ARROW_RETURN_NOT_OK(expect_symbol(")"));
        left = std::move(e);
        continue;
      }
      if (op.is_keyword("BETWEEN")) {
        const SourcePos pos = op.pos;
        for (size_t i = 0; i <= look; ++i) advance();
        if (!accept_keyword("ASYMMETRIC") && peek().is_keyword("SYMMETRIC")) {
          return error_at(peek().pos, "BETWEEN SYMMETRIC is not supported yet");
        }
        auto e = make(ExprKind::kBetween, pos);
        e->negated = negated;
        e->args.push_back(std::move(left));
        ARROW_ASSIGN_OR_RAISE(auto lo, additive());
        ARROW_RETURN_NOT_OK(expect_keyword("AND"));
        ARROW_ASSIGN_OR_RAISE(auto hi, additive());
        e->args.push_back(std::move(lo));
        e->args.push_back(std::move(hi));
        left = std::move(e);
        continue;
      }
      if (op.is_keyword("SIMILAR")) {
        return error_at(op.pos, "SIMILAR TO is not supported yet; use LIKE or REGEXP");
      }
      return left;
    }
  }

  arrow::Result<ExprPtr> additive() {
    ARROW_ASSIGN_OR_RAISE(auto left, multiplicative());
    for (;;) {
      const Token& t = peek();
      if (t.is_symbol("+") || t.is_symbol("-") || t.is_symbol("||")) {
        const SourcePos pos = t.pos;
        std::string op = advance().text;
        ARROW_ASSIGN_OR_RAISE(auto right, multiplicative());
        left = binary(op, std::move(left), std::move(right), pos);
      } else {
        return left;
      }
    }
  }

  arrow::Result<ExprPtr> multiplicative() {
    ARROW_ASSIGN_OR_RAISE(auto left, unary());
    for (;;) {
      const Token& t = peek();
      if (t.is_symbol("*") || t.is_symbol("/") || t.is_symbol("%")) {
        const SourcePos pos = t.pos;
        std::string op = advance().text;
        ARROW_ASSIGN_OR_RAISE(auto right, unary());
        left = binary(op, std::move(left), std::move(right), pos);
      } else {
        return left;
      }
    }
  }

  arrow::Result<ExprPtr> unary() {
    if (peek().is_symbol("-") || peek().is_symbol("+")) {
      if (++depth_ > kMaxDepth) return error_at(peek().pos, "expression nested too deeply");
      const SourcePos pos = peek().pos;
      std::string op = advance().text;
      ARROW_ASSIGN_OR_RAISE(auto inner, unary());
      --depth_;
      if (op == "+") return inner;
      // Fold the sign into numeric literals so -2147483648 is an INT like in Flink.
      if (inner->kind == ExprKind::kLiteral &&
          (inner->literal_kind == LiteralKind::kInteger ||
           inner->literal_kind == LiteralKind::kDecimal ||
           inner->literal_kind == LiteralKind::kDouble) &&
          !inner->text.starts_with("-")) {
        inner->text = "-" + inner->text;
        inner->pos = pos;
        return inner;
      }
      auto e = make(ExprKind::kUnary, pos);
      e->op = "-";
      e->args.push_back(std::move(inner));
      return e;
    }
    return primary();
  }

  arrow::Result<ExprPtr> literal(LiteralKind kind, const Token& t) {
    auto e = make(ExprKind::kLiteral, t.pos);
    e->literal_kind = kind;
    e->text = t.text;
    return e;
  }

  arrow::Result<ExprPtr> primary() {
    const Token& t = peek();
    switch (t.kind) {
      case TokenKind::kInteger:
        return literal(LiteralKind::kInteger, advance());
      case TokenKind::kDecimal:
        return literal(LiteralKind::kDecimal, advance());
      case TokenKind::kDouble:
        return literal(LiteralKind::kDouble, advance());
      case TokenKind::kString:
        return literal(LiteralKind::kString, advance());
      case TokenKind::kQuotedIdentifier:
        return identifier_expr();
      case TokenKind::kEnd:
        return expected("an expression");
      case TokenKind::kSymbol: {
        if (t.is_symbol("(")) {
          const SourcePos pos = advance().pos;
          if (peek().is_keyword("SELECT") || peek().is_keyword("VALUES")) {
            auto e = make(ExprKind::kSubquery, pos);
            ARROW_ASSIGN_OR_RAISE(e->subquery, query());
            ARROW_RETURN_NOT_OK(expect_symbol(")"));
            return e;
          }
          ARROW_ASSIGN_OR_RAISE(auto inner, expr());
          ARROW_RETURN_NOT_OK(expect_symbol(")"));
          return inner;
        }
        return expected("an expression");
      }
      case TokenKind::kIdentifier:
        break;
    }
    const std::string& w = t.upper;
    if (w == "NULL") {
      advance();
      return make(ExprKind::kLiteral, t.pos);  // literal_kind kNull
    }
    if (w == "TRUE" || w == "FALSE") {
      auto e = make(ExprKind::kLiteral, t.pos);
      e->literal_kind = LiteralKind::kBoolean;
      e->bool_value = w == "TRUE";
      advance();
      return e;
    }
    if ((w == "DATE" || w == "TIME" || w == "TIMESTAMP") && peek(1).kind == TokenKind::kString) {
      advance();
      const Token& s = advance();
      auto e = make(ExprKind::kLiteral, t.pos);
      e->literal_kind = w == "DATE"   ? LiteralKind::kDate
                        : w == "TIME" ? LiteralKind::kTime
                                      : LiteralKind::kTimestamp;
      e->text = s.text;
      return e;
    }
    if (w == "INTERVAL") return interval();
    if (w == "CASE") return case_expr();
    if (w == "CAST" || w == "TRY_CAST") {
      const SourcePos pos = advance().pos;
      ARROW_RETURN_NOT_OK(expect_symbol("("));
      auto e = make(ExprKind::kCast, pos);
      e->try_cast = w == "TRY_CAST";
      ARROW_ASSIGN_OR_RAISE(auto inner, expr());
      e->args.push_back(std::move(inner));
      ARROW_RETURN_NOT_OK(expect_keyword("AS"));
      ARROW_ASSIGN_OR_RAISE(e->cast_type, data_type());
      ARROW_RETURN_NOT_OK(expect_symbol(")"));
      return e;
    }
    if (w == "TABLE") {  // TABLE t, as a window TVF argument
      const SourcePos pos = advance().pos;
      auto e = make(ExprKind::kTableArg, pos);
      ARROW_ASSIGN_OR_RAISE(e->names, compound_name("a table name"));
      if (peek().is_keyword("PARTITION")) {  // SESSION(TABLE t PARTITION BY key, ...)
        advance();
        ARROW_RETURN_NOT_OK(expect_keyword("BY"));
        const bool parens = accept_symbol("(");
        do {
          auto key = make(ExprKind::kIdentifier, peek().pos);
          ARROW_ASSIGN_OR_RAISE(auto name, identifier("a partition column"));
          key->names.push_back(std::move(name));
          e->args.push_back(std::move(key));
        } while (parens && accept_symbol(","));
        if (parens) ARROW_RETURN_NOT_OK(expect_symbol(")"));
      }
      return e;
    }
    if (w == "DESCRIPTOR" && peek(1).is_symbol("(")) {
      const SourcePos pos = advance().pos;
      auto e = make(ExprKind::kDescriptor, pos);
      ARROW_ASSIGN_OR_RAISE(e->names, identifier_list("a column name"));
      return e;
    }
    if ((w == "CURRENT_TIMESTAMP" || w == "LOCALTIMESTAMP" || w == "CURRENT_DATE" ||
         w == "CURRENT_TIME" || w == "LOCALTIME" || w == "CURRENT_ROW_TIMESTAMP") &&
        !peek(1).is_symbol("(")) {
      auto e = make(ExprKind::kCall, advance().pos);
      e->op = w;
      return e;
    }
    if (is_reserved_word(w)) {
      return error_at(t.pos,
                      fmt::format("expected an expression but found reserved word '{}'", t.text));
    }
    if (peek(1).is_symbol("(")) {
      ARROW_ASSIGN_OR_RAISE(auto call, function_call());
      if (peek().is_keyword("OVER")) ARROW_RETURN_NOT_OK(over_clause(*call));
      return call;
    }
    return identifier_expr();
  }

  arrow::Result<ExprPtr> identifier_expr() {
    auto e = make(ExprKind::kIdentifier, peek().pos);
    e->names.push_back(advance().text);
    while (peek().is_symbol(".")) {
      advance();
      if (peek().is_symbol("*")) {
        advance();
        e->kind = ExprKind::kStar;  // t.*
        return e;
      }
      ARROW_ASSIGN_OR_RAISE(auto part, identifier("a column name"));
      e->names.push_back(std::move(part));
    }
    return e;
  }

  arrow::Result<TimeUnit> time_unit(std::string_view context) {
    const Token& t = peek();
    if (t.kind == TokenKind::kIdentifier) {
      if (auto u = time_unit_of(t.upper)) {
        advance();
        return *u;
      }
      // Flink also accepts SQL_TSI_* in TIMESTAMPADD/TIMESTAMPDIFF.
      if (t.upper.starts_with("SQL_TSI_")) {
        if (auto u = time_unit_of(t.upper.substr(8))) {
          advance();
          return *u;
        }
      }
    }
    return expected(
        fmt::format("a time unit (YEAR, QUARTER, MONTH, WEEK, DAY, HOUR, MINUTE, "
                    "SECOND, ...) {}",
                    context));
  }

  arrow::Result<ExprPtr> interval() {
    const SourcePos pos = advance().pos;  // INTERVAL
    auto e = make(ExprKind::kInterval, pos);
    bool negative = false;
    if (accept_symbol("-")) {
      negative = true;
    } else {
      accept_symbol("+");
    }
    if (peek().kind == TokenKind::kString) {
      e->text = advance().text;
    } else if (peek().kind == TokenKind::kInteger) {
      e->text = advance().text;  // Flink also accepts INTERVAL 5 SECOND? Calcite does not; we do
    } else {
      return expected("an interval string such as '5' in INTERVAL '5' SECOND");
    }
    if (negative) e->text = "-" + e->text;
    ARROW_ASSIGN_OR_RAISE(e->interval_unit, time_unit("after INTERVAL '...'"));
    if (accept_symbol("(")) {  // INTERVAL '1.5' SECOND(3): precision, accepted and ignored
      ARROW_RETURN_NOT_OK(small_integer("a precision").status());
      if (accept_symbol(",")) ARROW_RETURN_NOT_OK(small_integer("a precision").status());
      ARROW_RETURN_NOT_OK(expect_symbol(")"));
    }
    if (accept_keyword("TO")) {
      ARROW_ASSIGN_OR_RAISE(auto end, time_unit("after TO"));
      e->interval_end_unit = end;
      if (accept_symbol("(")) {
        ARROW_RETURN_NOT_OK(small_integer("a precision").status());
        ARROW_RETURN_NOT_OK(expect_symbol(")"));
      }
    }
    return e;
  }

  arrow::Result<ExprPtr> case_expr() {
    const SourcePos pos = advance().pos;  // CASE
    auto e = make(ExprKind::kCase, pos);
    if (!peek().is_keyword("WHEN")) {
      ARROW_ASSIGN_OR_RAISE(auto operand, expr());
      e->args.push_back(std::move(operand));
      e->has_operand = true;
    }
    if (!peek().is_keyword("WHEN")) return expected("WHEN");
    while (accept_keyword("WHEN")) {
      ARROW_ASSIGN_OR_RAISE(auto when, expr());
      ARROW_RETURN_NOT_OK(expect_keyword("THEN"));
      ARROW_ASSIGN_OR_RAISE(auto then, expr());
      e->args.push_back(std::move(when));
      e->args.push_back(std::move(then));
    }
    if (accept_keyword("ELSE")) {
      ARROW_ASSIGN_OR_RAISE(auto other, expr());
      e->args.push_back(std::move(other));
      e->has_else = true;
    }
    ARROW_RETURN_NOT_OK(expect_keyword("END"));
    return e;
  }

  arrow::Result<ExprPtr> function_call() {
    const Token& name = advance();
    auto e = make(ExprKind::kCall, name.pos);
    e->op = name.upper;
    advance();  // (
    const std::string& f = e->op;
    if (f == "EXTRACT") {
      ARROW_ASSIGN_OR_RAISE(e->time_unit, time_unit("in EXTRACT(unit FROM ...)"));
      ARROW_RETURN_NOT_OK(expect_keyword("FROM"));
      ARROW_ASSIGN_OR_RAISE(auto arg, expr());
      e->args.push_back(std::move(arg));
      ARROW_RETURN_NOT_OK(expect_symbol(")"));
      return e;
    }
    if (f == "TIMESTAMPADD" || f == "TIMESTAMPDIFF") {
      ARROW_ASSIGN_OR_RAISE(e->time_unit, time_unit(fmt::format("as {}'s first argument", f)));
      for (int i = 0; i < 2; ++i) {
        ARROW_RETURN_NOT_OK(expect_symbol(","));
        ARROW_ASSIGN_OR_RAISE(auto arg, expr());
        e->args.push_back(std::move(arg));
      }
      ARROW_RETURN_NOT_OK(expect_symbol(")"));
      return e;
    }
    if (f == "TRIM") {
      e->trim_mode = "BOTH";
      if (peek().is_keyword("BOTH") || peek().is_keyword("LEADING") ||
          peek().is_keyword("TRAILING")) {
        e->trim_mode = advance().upper;
      }
      ExprPtr chars;
      if (!accept_keyword("FROM")) {
        ARROW_ASSIGN_OR_RAISE(auto first, expr());
        if (accept_keyword("FROM")) {
          chars = std::move(first);
          ARROW_ASSIGN_OR_RAISE(auto source, expr());
          e->args.push_back(std::move(source));
        } else {
          e->args.push_back(std::move(first));
        }
      } else {
        ARROW_ASSIGN_OR_RAISE(auto source, expr());
        e->args.push_back(std::move(source));
      }
      if (chars) e->args.push_back(std::move(chars));
      ARROW_RETURN_NOT_OK(expect_symbol(")"));
      return e;
    }
    if (peek().is_symbol(")")) {
      advance();
      return e;
    }
    if (peek().is_symbol("*")) {
      advance();
      e->star_arg = true;
      ARROW_RETURN_NOT_OK(expect_symbol(")"));
      return e;
    }
    if (accept_keyword("DISTINCT")) {
      e->distinct = true;
    } else {
      accept_keyword("ALL");
    }
    ARROW_ASSIGN_OR_RAISE(auto first, expr());
    e->args.push_back(std::move(first));
    if ((f == "FLOOR" || f == "CEIL" || f == "CEILING") && accept_keyword("TO")) {
      ARROW_ASSIGN_OR_RAISE(e->time_unit, time_unit(fmt::format("in {}(x TO unit)", f)));
      ARROW_RETURN_NOT_OK(expect_symbol(")"));
      return e;
    }
    if ((f == "SUBSTRING" || f == "SUBSTR") && accept_keyword("FROM")) {
      ARROW_ASSIGN_OR_RAISE(auto start, expr());
      e->args.push_back(std::move(start));
      if (accept_keyword("FOR")) {
        ARROW_ASSIGN_OR_RAISE(auto len, expr());
        e->args.push_back(std::move(len));
      }
      ARROW_RETURN_NOT_OK(expect_symbol(")"));
      return e;
    }
    while (accept_symbol(",")) {
      ARROW_ASSIGN_OR_RAISE(auto arg, expr());
      e->args.push_back(std::move(arg));
    }
    ARROW_RETURN_NOT_OK(expect_symbol(")"));
    return e;
  }

  // f(...) OVER ([PARTITION BY e, ...] [ORDER BY e [ASC|DESC], ...]). The binder accepts only the
  // deduplication form; other OVER windows fail there with "not supported yet".
  arrow::Status over_clause(ast::Expr& call) {
    advance();  // OVER
    ARROW_RETURN_NOT_OK(expect_symbol("("));
    call.over = std::make_unique<ast::OverClause>();
    if (accept_keyword("PARTITION")) {
      ARROW_RETURN_NOT_OK(expect_keyword("BY"));
      do {
        ARROW_ASSIGN_OR_RAISE(auto key, expr());
        call.over->partition_by.push_back(std::move(key));
      } while (accept_symbol(","));
    }
    if (accept_keyword("ORDER")) {
      ARROW_RETURN_NOT_OK(expect_keyword("BY"));
      do {
        ast::OrderItem item;
        ARROW_ASSIGN_OR_RAISE(item.expr, expr());
        if (accept_keyword("DESC")) {
          item.descending = true;
        } else {
          accept_keyword("ASC");
        }
        call.over->order_by.push_back(std::move(item));
      } while (accept_symbol(","));
    }
    if (!peek().is_symbol(")")) {
      return error_at(peek().pos, "OVER windows with a frame (ROWS/RANGE) are not supported yet");
    }
    return expect_symbol(")");
  }

  static constexpr int kMaxDepth = 200;  // keeps hostile input from overflowing the stack

  std::string_view sql_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int32_t last_end_ = 0;
  int depth_ = 0;
};

}  // namespace

bool is_reserved_word(std::string_view word) {
  return std::find(kReserved.begin(), kReserved.end(), word) != kReserved.end();
}

arrow::Result<std::vector<ast::StatementPtr>> parse_script(std::string_view sql) {
  ARROW_ASSIGN_OR_RAISE(auto tokens, tokenize(sql));
  return Parser(sql, std::move(tokens)).script();
}

arrow::Result<ast::StatementPtr> parse_statement(std::string_view sql) {
  ARROW_ASSIGN_OR_RAISE(auto tokens, tokenize(sql));
  return Parser(sql, std::move(tokens)).single_statement();
}

arrow::Result<ast::QueryPtr> parse_query(std::string_view sql) {
  ARROW_ASSIGN_OR_RAISE(auto tokens, tokenize(sql));
  return Parser(sql, std::move(tokens)).single_query();
}

arrow::Result<ast::ExprPtr> parse_expression(std::string_view sql) {
  ARROW_ASSIGN_OR_RAISE(auto tokens, tokenize(sql));
  return Parser(sql, std::move(tokens)).single_expression();
}

}  // namespace roadpulse::sql
