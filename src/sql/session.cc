#include "sql/session.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sql/binder.h"
#include "sql/optimizer.h"
#include "sql/parser.h"

namespace roadpulse::sql {

namespace {

constexpr const char* kOk = "[INFO] Execute statement succeed.";

class StatementRunner {
 public:
  StatementRunner(Catalog& catalog, std::map<std::string, std::string>& config,
                  std::string_view sql)
      : catalog_(catalog), config_(config), sql_(sql), binder_(catalog, sql) {}

  arrow::Result<StatementResult> run(const ast::Statement& s) {
    StatementResult r;
    r.sql = std::string(sql_.substr(s.pos.offset, s.end_offset - s.pos.offset));
    r.line = s.pos.line;
    r.message = kOk;
    switch (s.kind) {
      case ast::StatementKind::kCreateTable: {
        r.kind = StatementKind::kCreateTable;
        ARROW_ASSIGN_OR_RAISE(auto table, binder_.bind_create_table(s));
        ARROW_RETURN_NOT_OK(at(s, catalog_.create_table(std::move(table), s.if_not_exists)));
        return r;
      }
      case ast::StatementKind::kDropTable:
        r.kind = StatementKind::kDropTable;
        ARROW_RETURN_NOT_OK(at(s, catalog_.drop_table(ast::join_name(s.name), s.if_exists)));
        return r;
      case ast::StatementKind::kCreateView: {
        r.kind = StatementKind::kCreateView;
        ARROW_ASSIGN_OR_RAISE(auto view, binder_.bind_create_view(s));
        ARROW_RETURN_NOT_OK(at(s, catalog_.create_view(std::move(view), s.if_not_exists)));
        return r;
      }
      case ast::StatementKind::kDropView:
        r.kind = StatementKind::kDropView;
        ARROW_RETURN_NOT_OK(at(s, catalog_.drop_view(ast::join_name(s.name), s.if_exists)));
        return r;
      case ast::StatementKind::kSet:
        r.kind = StatementKind::kSet;
        if (s.key.empty()) {
          r.column_names = {"key", "value"};
          for (const auto& [k, v] : config_) r.rows.push_back({k, v});
        } else {
          config_[s.key] = s.value;
        }
        return r;
      case ast::StatementKind::kReset:
        r.kind = StatementKind::kReset;
        if (s.key.empty()) {
          config_.clear();
        } else {
          config_.erase(s.key);
        }
        return r;
      case ast::StatementKind::kShowTables:
        r.kind = StatementKind::kShowTables;
        r.column_names = {"table name"};
        for (const auto& n : catalog_.table_names()) r.rows.push_back({n});
        return r;
      case ast::StatementKind::kShowViews:
        r.kind = StatementKind::kShowViews;
        r.column_names = {"view name"};
        for (const auto& n : catalog_.view_names()) r.rows.push_back({n});
        return r;
      case ast::StatementKind::kDescribe:
        r.kind = StatementKind::kDescribe;
        ARROW_RETURN_NOT_OK(describe(s, r));
        return r;
      case ast::StatementKind::kExplain: {
        r.kind = StatementKind::kExplain;
        const ast::Statement& inner = *s.statements[0];
        std::string text;
        if (inner.kind == ast::StatementKind::kQuery) {
          ARROW_ASSIGN_OR_RAISE(auto q, plan_query(inner));
          text = explain_plan(*q);
        } else {
          ARROW_ASSIGN_OR_RAISE(auto plan, plan_inserts(inner));
          text = explain_plan(*plan);
        }
        r.column_names = {"plan"};
        r.message = "== Optimized Logical Plan ==\n" + text;
        r.rows.push_back({r.message});
        return r;
      }
      case ast::StatementKind::kInsert:
      case ast::StatementKind::kStatementSet: {
        r.kind = StatementKind::kInsert;
        ARROW_ASSIGN_OR_RAISE(r.plan, plan_inserts(s));
        return r;
      }
      case ast::StatementKind::kQuery:
        r.kind = StatementKind::kQuery;
        ARROW_ASSIGN_OR_RAISE(r.query, plan_query(s));
        return r;
    }
    return arrow::Status::Invalid("unknown statement");
  }

 private:
  // Catalog errors (no position of their own) get the statement's.
  arrow::Status at(const ast::Statement& s, arrow::Status st) {
    if (st.ok()) return st;
    return sql_error(sql_, s.pos, st.message());
  }

  arrow::Result<std::unique_ptr<LogicalNode>> plan_query(const ast::Statement& s) {
    ARROW_ASSIGN_OR_RAISE(auto node, binder_.bind_query(*s.query));
    return optimize(std::move(node));
  }

  arrow::Result<std::unique_ptr<StatementSetPlan>> plan_inserts(const ast::Statement& s) {
    auto plan = std::make_unique<StatementSetPlan>();
    auto add = [&](const ast::Statement& ins) -> arrow::Status {
      ARROW_ASSIGN_OR_RAISE(auto sink, binder_.bind_insert(ins));
      ARROW_ASSIGN_OR_RAISE(sink, optimize(std::move(sink)));
      plan->sinks.push_back(std::move(sink));
      return arrow::Status::OK();
    };
    if (s.kind == ast::StatementKind::kInsert) {
      ARROW_RETURN_NOT_OK(add(s));
    } else {
      for (const auto& ins : s.statements) ARROW_RETURN_NOT_OK(add(*ins));
    }
    return plan;
  }

  arrow::Status describe(const ast::Statement& s, StatementResult& r) {
    const std::string name = ast::join_name(s.name);
    r.column_names = {"name", "type", "null", "key", "extras", "watermark"};
    if (auto table = catalog_.table(name)) {
      for (const auto& c : table->columns) {
        std::string key;
        if (std::find(table->primary_key.begin(), table->primary_key.end(), c.name) !=
            table->primary_key.end()) {
          key = "PRI(" + fmt::format("{}", fmt::join(table->primary_key, ", ")) + ")";
        }
        std::string watermark;
        if (table->watermark && table->watermark->rowtime_column == c.name) {
          watermark = table->watermark->expr_sql;
        }
        r.rows.push_back({c.name, c.type.with_nullable(true).to_string(),
                          c.type.nullable ? "TRUE" : "FALSE", key,
                          c.is_physical() ? "" : "AS " + c.computed_sql, watermark});
      }
      return arrow::Status::OK();
    }
    if (auto view = catalog_.view(name)) {
      for (const auto& f : view->schema.fields) {
        r.rows.push_back({f.name, f.type.with_nullable(true).to_string(),
                          f.type.nullable ? "TRUE" : "FALSE", "", "", ""});
      }
      return arrow::Status::OK();
    }
    return sql_error(sql_, s.pos, fmt::format("table or view '{}' not found", name));
  }

  Catalog& catalog_;
  std::map<std::string, std::string>& config_;
  std::string_view sql_;
  Binder binder_;
};

}  // namespace

Session::Session() = default;
Session::~Session() = default;

arrow::Result<std::vector<StatementResult>> Session::execute_script(std::string_view script) {
  ARROW_ASSIGN_OR_RAISE(auto statements, parse_script(script));
  std::vector<StatementResult> results;
  StatementRunner runner(catalog_, config_, script);
  for (const auto& s : statements) {
    ARROW_ASSIGN_OR_RAISE(auto r, runner.run(*s));
    if (r.kind == StatementKind::kInsert) r.config = config_;
    results.push_back(std::move(r));
  }
  return results;
}

arrow::Result<StatementResult> Session::execute(std::string_view statement) {
  ARROW_ASSIGN_OR_RAISE(auto s, parse_statement(statement));
  StatementRunner runner(catalog_, config_, statement);
  ARROW_ASSIGN_OR_RAISE(auto r, runner.run(*s));
  if (r.kind == StatementKind::kInsert) r.config = config_;
  return r;
}

}  // namespace roadpulse::sql
