#pragma once
// roadpulse::sql — the Flink SQL dialect front end: lexer, parser, AST, binder + catalog and the
// logical planner with projection/filter pushdown. A Session is what a SQL client or a job file
// talks to: it owns a catalog and the `SET` configuration, runs DDL/SET/SHOW/DESCRIBE/EXPLAIN
// itself, and turns INSERT INTO / EXECUTE STATEMENT SET / SELECT into logical plans for exec.
// It executes nothing else: running plans is exec's job.
//
// Errors are arrow::Status with Invalid and a message of the form
//   line 3:15: expected ')' but found 'FROM'
//     WHERE (a > 1 FROM t
//                  ^
// (ParseError / binder errors alike: the position, the line, a caret, what was expected).

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/result.h>

#include "sql/catalog.h"
#include "sql/logical_plan.h"

namespace roadpulse::sql {

enum class StatementKind : uint8_t {
  kCreateTable,
  kDropTable,
  kCreateView,
  kDropView,
  kSet,
  kReset,
  kShowTables,
  kShowViews,
  kDescribe,
  kExplain,
  kInsert,  // INSERT INTO ... or EXECUTE STATEMENT SET: `plan` is set
  kQuery,   // SELECT ...: `query` is set
};

struct StatementResult {
  StatementKind kind = StatementKind::kSet;
  std::string sql;      // the statement's text
  int line = 0;         // 1-based line of the statement's first token in the script
  std::string message;  // e.g. "[INFO] Execute statement succeed." or "Table has been created."

  // SHOW / DESCRIBE / EXPLAIN / SET (without arguments): a small table of strings.
  std::vector<std::string> column_names;
  std::vector<std::vector<std::string>> rows;

  std::unique_ptr<StatementSetPlan> plan;  // kInsert
  /// kInsert: the session's SET values when the statement ran. As in Flink, a SET applies to
  /// the statements after it, so two statement sets of one script can differ (the default
  /// pipeline's lake job runs with 'pipeline.priority' = 'low').
  std::map<std::string, std::string> config;
  std::unique_ptr<LogicalNode> query;  // kQuery
};

class Session {
 public:
  Session();
  ~Session();

  /// Parses the whole script first (so a syntax error anywhere is reported before anything
  /// runs), then binds and applies each statement in order. Stops at the first error, whose
  /// message names the line and column in `script`.
  arrow::Result<std::vector<StatementResult>> execute_script(std::string_view script);
  /// One statement (a trailing ';' is optional).
  arrow::Result<StatementResult> execute(std::string_view statement);

  Catalog& catalog() { return catalog_; }
  const Catalog& catalog() const { return catalog_; }
  /// Values set with SET 'key' = 'value' (keys as written).
  const std::map<std::string, std::string>& config() const { return config_; }
  void set_config(std::string key, std::string value) {
    config_[std::move(key)] = std::move(value);
  }

 private:
  Catalog catalog_;
  std::map<std::string, std::string> config_;
};

}  // namespace roadpulse::sql
