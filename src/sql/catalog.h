#pragma once
// The catalog: tables (columns, computed columns, watermark, primary key, partition keys,
// connector options) and views, as created by DDL. One in-memory catalog per SQL session, like
// Flink's default_catalog.default_database; names are case-sensitive as in Flink and a name
// qualified with `default_catalog.default_database.` resolves to the same entry.
//
// Entries are immutable once registered and shared (shared_ptr<const ...>) with the plans that
// read them, so dropping a table never invalidates a plan that is running.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/result.h>
#include <arrow/status.h>

#include "sql/bound_expression.h"
#include "sql/types.h"

namespace roadpulse::sql {

struct CatalogColumn {
  std::string name;
  SqlType type;  // for the rowtime column: time_attribute == kRowtime
  /// Computed column (`name AS expr`): bound over the table's full column list (indices into
  /// CatalogTable::columns; only physical columns may be referenced, as in Flink). Null for
  /// physical columns.
  std::unique_ptr<BoundExpr> computed;
  std::string computed_sql;  // the expression text as written, for SHOW CREATE / DESCRIBE
  std::string comment;

  bool is_physical() const { return computed == nullptr; }
};

/// `WATERMARK FOR rowtime AS expr`.
struct WatermarkSpec {
  std::string rowtime_column;
  int rowtime_index = -1;  // index into CatalogTable::columns
  /// Bound over the table's full column list; type is the rowtime column's type.
  std::unique_ptr<BoundExpr> expr;
  std::string expr_sql;
  /// For the common `rowtime - INTERVAL 'n' unit` form: n in microseconds; otherwise nullopt.
  std::optional<int64_t> fixed_delay_micros;
};

struct CatalogTable {
  std::string name;  // as registered (unqualified unless qualified beyond the default db)
  std::vector<CatalogColumn> columns;  // declaration order, physical and computed
  std::optional<WatermarkSpec> watermark;
  std::vector<std::string> primary_key;  // NOT ENFORCED, as Flink requires
  std::vector<std::string> partition_keys;
  std::map<std::string, std::string> options;  // WITH ('k' = 'v'): keys as written
  std::string comment;

  /// Index into columns of the column named `name`, or -1.
  int find_column(std::string_view name) const;
  /// Every column (physical and computed) in declaration order.
  Schema schema() const;
  /// Physical columns only, in declaration order: what a connector reads or writes.
  Schema physical_schema() const;
  /// Indices into columns of the physical columns, in order.
  std::vector<int> physical_column_indices() const;
  /// options.at(key) or nullopt.
  std::optional<std::string> option(std::string_view key) const;
};

/// CREATE [TEMPORARY] VIEW name [(cols)] AS query.
struct CatalogView {
  std::string name;
  std::string query_sql;  // the query text as written; expanded at each use, as Flink does
  std::vector<std::string> column_aliases;  // optional (cols) list
  Schema schema;                            // the row type as bound when created
  bool temporary = false;
};

class Catalog {
 public:
  /// Registers a table; AlreadyExists (a table or view of that name) unless if_not_exists,
  /// in which case it is a no-op.
  arrow::Status create_table(std::shared_ptr<const CatalogTable> table, bool if_not_exists);
  /// KeyError naming the table unless if_exists.
  arrow::Status drop_table(std::string_view name, bool if_exists);
  arrow::Status create_view(std::shared_ptr<const CatalogView> view, bool if_not_exists);
  arrow::Status drop_view(std::string_view name, bool if_exists);

  /// The table named `name` (qualified or not), or nullptr.
  std::shared_ptr<const CatalogTable> table(std::string_view name) const;
  std::shared_ptr<const CatalogView> view(std::string_view name) const;
  /// Table and view names, sorted.
  std::vector<std::string> table_names() const;
  std::vector<std::string> view_names() const;

  /// Strips the `default_catalog.default_database.` (or `default_database.`) prefix.
  static std::string normalize_name(std::string_view name);

 private:
  std::map<std::string, std::shared_ptr<const CatalogTable>, std::less<>> tables_;
  std::map<std::string, std::shared_ptr<const CatalogView>, std::less<>> views_;
};

}  // namespace roadpulse::sql
