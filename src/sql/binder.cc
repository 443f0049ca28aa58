// Statement and query binding: CREATE TABLE / VIEW to catalog entries, queries and INSERTs to
// unoptimized logical plans (optimizer.h pushes projections and filters into the scans).

#include "sql/binder.h"

#include <algorithm>
#include <set>

#include <arrow/scalar.h>
#include <arrow/type.h>
#include <fmt/format.h>

#include "sql/parser.h"
#include "sql/type_coercion.h"

namespace roadpulse::sql {

namespace {

constexpr int kMaxViewDepth = 16;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string names_of(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) out += (i > 0 ? ", " : "") + names[i];
  return out;
}

std::optional<int> rowtime_through_project(const LogicalNode& input,
                                           const std::vector<BoundExprPtr>& exprs) {
  if (!input.rowtime_index) return std::nullopt;
  for (size_t i = 0; i < exprs.size(); ++i) {
    if (exprs[i]->kind == BoundExprKind::kColumnRef &&
        exprs[i]->column_index == *input.rowtime_index) {
      return static_cast<int>(i);
    }
  }
  return std::nullopt;
}

// A Project over `input` computing `exprs` named `names`.
std::unique_ptr<LogicalNode> make_project(std::unique_ptr<LogicalNode> input,
                                          std::vector<BoundExprPtr> exprs,
                                          const std::vector<std::string>& names) {
  auto p = std::make_unique<LogicalNode>();
  p->kind = LogicalNodeKind::kProject;
  for (size_t i = 0; i < exprs.size(); ++i) {
    SqlType t = exprs[i]->type;
    // Only a plain reference to the input's rowtime keeps the time attribute.
    if (t.time_attribute == TimeAttribute::kRowtime &&
        !(exprs[i]->kind == BoundExprKind::kColumnRef && input->rowtime_index &&
          exprs[i]->column_index == *input->rowtime_index)) {
      t = t.without_time_attribute();
    }
    p->schema.fields.push_back({names[i], t});
  }
  p->rowtime_index = rowtime_through_project(*input, exprs);
  p->exprs = std::move(exprs);
  p->inputs.push_back(std::move(input));
  return p;
}

// The first identifier in `e` naming one of `names`, or null.
const ast::Expr* find_reference(const ast::Expr& e, const std::set<std::string>& names) {
  if (e.kind == ast::ExprKind::kIdentifier && names.contains(e.names.back())) return &e;
  for (const auto& a : e.args) {
    if (const ast::Expr* r = find_reference(*a, names)) return r;
  }
  return nullptr;
}

Scope scope_of(const Schema& schema, const std::string& qualifier) {
  Scope s;
  for (const auto& f : schema.fields) s.columns.push_back({qualifier, f.name, f.type});
  return s;
}

}  // namespace

// ---- CREATE TABLE ------------------------------------------------------------------------------

arrow::Result<std::shared_ptr<CatalogTable>> Binder::bind_create_table(const ast::Statement& s) {
  if (!s.like_table.empty()) {
    const std::string source = ast::join_name(s.like_table);
    auto like = catalog_.table(source);
    if (!like) {
      return error(s.like_pos, fmt::format("table '{}' of the LIKE clause not found", source));
    }
    // INCLUDING ALL OVERWRITING OPTIONS, Flink's default: the source's columns, watermark, keys
    // and partitioning, with our WITH options replacing its values of the same keys.
    auto table = std::make_shared<CatalogTable>();
    table->name = Catalog::normalize_name(ast::join_name(s.name));
    table->comment = s.comment.empty() ? like->comment : s.comment;
    for (const auto& c : like->columns) {
      CatalogColumn copy;
      copy.name = c.name;
      copy.type = c.type;
      copy.computed = c.computed ? c.computed->clone() : nullptr;
      copy.computed_sql = c.computed_sql;
      copy.comment = c.comment;
      table->columns.push_back(std::move(copy));
    }
    if (like->watermark) {
      WatermarkSpec wm;
      wm.rowtime_column = like->watermark->rowtime_column;
      wm.rowtime_index = like->watermark->rowtime_index;
      wm.expr = like->watermark->expr->clone();
      wm.expr_sql = like->watermark->expr_sql;
      wm.fixed_delay_micros = like->watermark->fixed_delay_micros;
      table->watermark = std::move(wm);
    }
    table->primary_key = like->primary_key;
    table->partition_keys = like->partition_keys;
    table->options = like->options;
    for (const auto& [k, v] : s.options) table->options[k] = v;
    return table;
  }
  auto table = std::make_shared<CatalogTable>();
  table->name = Catalog::normalize_name(ast::join_name(s.name));
  table->comment = s.comment;
  std::set<std::string> seen;
  for (const auto& c : s.columns) {
    if (!seen.insert(c.name).second) {
      return error(c.pos, fmt::format("duplicate column '{}' in table '{}'", c.name, table->name));
    }
  }
  // Computed columns see the physical columns only (as in Flink); the scope lists every column
  // so indices are into the full column list, with computed entries unnamed (unreachable).
  Scope physical;
  std::set<std::string> computed_names;
  for (const auto& c : s.columns) {
    if (c.computed) computed_names.insert(c.name);
    physical.columns.push_back({table->name, c.computed ? std::string() : c.name, c.type});
  }
  for (const auto& c : s.columns) {
    CatalogColumn col;
    col.name = c.name;
    col.comment = c.comment;
    if (c.computed) {
      auto bound = bind_expr(*c.computed, physical);
      if (!bound.ok()) {
        // Flink disallows computed columns over computed columns; say so instead of "not found".
        if (const ast::Expr* ref = find_reference(*c.computed, computed_names)) {
          return error(ref->pos, fmt::format("computed column '{}' cannot refer to computed "
                                             "column '{}'",
                                             c.name, ref->names.back()));
        }
        return bound.status();
      }
      col.computed = std::move(*bound);
      col.type = col.computed->type;
      if (col.type.id == TypeId::kNull) {
        return error(c.computed->pos, "a computed column cannot be an untyped NULL; CAST it");
      }
      if (col.type.time_attribute == TimeAttribute::kRowtime) {
        col.type = col.type.without_time_attribute();
      }
      col.computed_sql = c.computed_sql;
    } else {
      col.type = c.type;
    }
    table->columns.push_back(std::move(col));
  }
  if (!s.primary_key.empty()) {
    std::set<std::string> pk_seen;
    for (const auto& k : s.primary_key) {
      const int i = table->find_column(k);
      if (i < 0) {
        return error(s.primary_key_pos, fmt::format("primary key column '{}' not found in table "
                                                    "'{}'",
                                                    k, table->name));
      }
      if (!table->columns[i].is_physical()) {
        return error(s.primary_key_pos,
                     fmt::format("primary key column '{}' is a computed column", k));
      }
      if (!pk_seen.insert(k).second) {
        return error(s.primary_key_pos, fmt::format("duplicate primary key column '{}'", k));
      }
      table->columns[i].type.nullable = false;  // Flink makes key columns NOT NULL
    }
    table->primary_key = s.primary_key;
  }
  for (const auto& k : s.partition_keys) {
    if (table->find_column(k) < 0) {
      return error(s.partition_pos,
                   fmt::format("partition column '{}' not found in table '{}'", k, table->name));
    }
  }
  table->partition_keys = s.partition_keys;
  for (const auto& [k, v] : s.options) table->options[k] = v;

  if (s.watermark_expr) {
    const int rt = table->find_column(s.watermark_column);
    if (rt < 0) {
      return error(s.watermark_pos, fmt::format("rowtime column '{}' of the WATERMARK not found "
                                                "in table '{}'",
                                                s.watermark_column, table->name));
    }
    const SqlType rt_type = table->columns[rt].type;
    if (!rt_type.is_timestamp() || rt_type.precision > 3) {
      return error(s.watermark_pos,
                   fmt::format("rowtime column '{}' must be TIMESTAMP(p) or TIMESTAMP_LTZ(p) with "
                               "p from 0 to 3, but it is {}",
                               s.watermark_column, rt_type.to_string()));
    }
    Scope all;
    for (const auto& c : table->columns) all.columns.push_back({table->name, c.name, c.type});
    ARROW_ASSIGN_OR_RAISE(auto wm, bind_expr(*s.watermark_expr, all));
    if (wm->type.id != rt_type.id) {
      return error(s.watermark_expr->pos,
                   fmt::format("the watermark expression must return {} like its rowtime column "
                               "'{}', but it returns {}",
                               rt_type.with_nullable(true).to_string(), s.watermark_column,
                               wm->type.to_string()));
    }
    WatermarkSpec spec;
    spec.rowtime_column = s.watermark_column;
    spec.rowtime_index = rt;
    spec.expr_sql = s.watermark_sql;
    if (wm->kind == BoundExprKind::kColumnRef && wm->column_index == rt) {
      spec.fixed_delay_micros = 0;
    } else if (wm->kind == BoundExprKind::kCall && wm->function == "-" &&
               wm->args[0]->kind == BoundExprKind::kColumnRef && wm->args[0]->column_index == rt &&
               wm->args[1]->kind == BoundExprKind::kLiteral &&
               wm->args[1]->type.id == TypeId::kIntervalDayTime && wm->args[1]->literal->is_valid) {
      spec.fixed_delay_micros =
          static_cast<const arrow::DurationScalar&>(*wm->args[1]->literal).value;
    }
    wm->type = rt_type.without_time_attribute().with_nullable(wm->type.nullable);
    spec.expr = std::move(wm);
    table->columns[rt].type.time_attribute = TimeAttribute::kRowtime;
    table->watermark = std::move(spec);
  }
  return table;
}

// ---- CREATE VIEW -------------------------------------------------------------------------------

arrow::Result<std::shared_ptr<CatalogView>> Binder::bind_create_view(const ast::Statement& s) {
  ARROW_ASSIGN_OR_RAISE(auto node, bind_query(*s.query));
  auto view = std::make_shared<CatalogView>();
  view->name = Catalog::normalize_name(ast::join_name(s.name));
  view->query_sql = s.query_sql;
  view->column_aliases = s.column_aliases;
  view->temporary = s.temporary;
  view->schema = node->schema;
  if (!s.column_aliases.empty()) {
    if (s.column_aliases.size() != node->schema.size()) {
      return error(s.pos, fmt::format("view '{}' lists {} column names but its query returns {} "
                                      "columns",
                                      view->name, s.column_aliases.size(), node->schema.size()));
    }
    for (size_t i = 0; i < s.column_aliases.size(); ++i) {
      view->schema.fields[i].name = s.column_aliases[i];
    }
  }
  return view;
}

// ---- FROM --------------------------------------------------------------------------------------

arrow::Result<std::unique_ptr<LogicalNode>> Binder::scan_of(
    std::shared_ptr<const CatalogTable> table) {
  auto scan = std::make_unique<LogicalNode>();
  scan->kind = LogicalNodeKind::kTableScan;
  scan->read_columns = table->physical_column_indices();
  std::vector<int> to_read(table->columns.size(), -1);
  for (size_t i = 0; i < scan->read_columns.size(); ++i) {
    to_read[scan->read_columns[i]] = static_cast<int>(i);
  }
  for (size_t i = 0; i < table->columns.size(); ++i) {
    const auto& c = table->columns[i];
    scan->projected_columns.push_back(static_cast<int>(i));
    if (c.is_physical()) {
      scan->outputs.push_back(
          BoundExpr::column(to_read[i], c.name, c.type.without_time_attribute()));
    } else {
      auto e = c.computed->clone();
      e->remap_columns(to_read);
      scan->outputs.push_back(std::move(e));
    }
  }
  scan->schema = table->schema();
  if (table->watermark) {
    ScanWatermark wm;
    wm.rowtime_index = table->watermark->rowtime_index;
    wm.expr = table->watermark->expr->clone();
    wm.fixed_delay_micros = table->watermark->fixed_delay_micros;
    scan->watermark = std::move(wm);
    scan->rowtime_index = table->watermark->rowtime_index;
  }
  scan->table = std::move(table);
  return scan;
}

arrow::Result<Binder::Relation> Binder::bind_table_ref(const ast::TableRef& ref) {
  if (ref.kind == ast::TableRefKind::kJoin) return bind_join(ref);
  Relation rel;
  std::string qualifier = ref.alias;
  switch (ref.kind) {
    case ast::TableRefKind::kTable: {
      const std::string name = Catalog::normalize_name(ast::join_name(ref.name));
      if (qualifier.empty()) qualifier = ref.name.back();
      if (auto table = catalog_.table(name)) {
        ARROW_ASSIGN_OR_RAISE(rel.node, scan_of(std::move(table)));
      } else if (auto view = catalog_.view(name)) {
        if (view_depth_ >= kMaxViewDepth) {
          return error(ref.pos, fmt::format("views nested deeper than {} levels at '{}'",
                                            kMaxViewDepth, name));
        }
        auto parsed = parse_query(view->query_sql);
        Binder nested(catalog_, view->query_sql);
        nested.view_depth_ = view_depth_ + 1;
        arrow::Result<std::unique_ptr<LogicalNode>> bound =
            parsed.ok() ? nested.bind_query(**parsed)
                        : arrow::Result<std::unique_ptr<LogicalNode>>(parsed.status());
        if (!bound.ok()) {
          // The first line of the nested error names the place in the view's own text.
          const std::string& m = bound.status().message();
          return error(ref.pos, fmt::format("view '{}' is no longer valid: {}", name,
                                            m.substr(0, m.find('\n'))));
        }
        rel.node = std::move(*bound);
        if (!view->column_aliases.empty() &&
            view->column_aliases.size() == rel.node->schema.size()) {
          for (size_t i = 0; i < view->column_aliases.size(); ++i) {
            rel.node->schema.fields[i].name = view->column_aliases[i];
          }
        }
      } else {
        for (const auto& n : catalog_.table_names()) {
          if (lower(n) == lower(name)) {
            return error(ref.pos, fmt::format("table '{}' not found; did you mean '{}'? (names "
                                              "are case-sensitive)",
                                              name, n));
          }
        }
        return error(ref.pos, fmt::format("table '{}' not found", name));
      }
      break;
    }
    case ast::TableRefKind::kSubquery: {
      ARROW_ASSIGN_OR_RAISE(rel.node, bind_query(*ref.subquery));
      break;
    }
    case ast::TableRefKind::kFunction: {
      const std::string& f = ref.function->op;
      if (f == "TUMBLE" || f == "HOP" || f == "CUMULATE" || f == "SESSION") {
        return error(ref.pos, fmt::format("window table-valued function {} must be aggregated "
                                          "directly: SELECT ... FROM TABLE({}(...)) GROUP BY "
                                          "window_start, window_end (other uses are not "
                                          "supported yet)",
                                          f, f));
      }
      return error(ref.pos, fmt::format("table function '{}' is not supported", f));
    }
    case ast::TableRefKind::kJoin:
      break;  // bind_join
  }
  if (!ref.column_aliases.empty()) {
    if (ref.column_aliases.size() != rel.node->schema.size()) {
      return error(ref.pos,
                   fmt::format("'{}' has {} columns but {} column aliases are given", qualifier,
                               rel.node->schema.size(), ref.column_aliases.size()));
    }
    for (size_t i = 0; i < ref.column_aliases.size(); ++i) {
      rel.node->schema.fields[i].name = ref.column_aliases[i];
    }
  }
  rel.scope = scope_of(rel.node->schema, qualifier);
  return rel;
}

// ---- SELECT ------------------------------------------------------------------------------------

namespace {

constexpr const char* kDedupUsage =
    "SELECT ... FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY key ORDER BY rowtime) AS rn "
    "FROM t) WHERE rn = 1";

bool is_row_number(const ast::Expr& e) {
  return e.kind == ast::ExprKind::kCall && e.op == "ROW_NUMBER" && e.over;
}

// `rn = 1`, `rn <= 1` or `rn < 2`: the alias, else empty.
std::string row_number_filter_alias(const ast::Expr& where) {
  if (where.kind != ast::ExprKind::kBinary || where.args.size() != 2) return "";
  const ast::Expr& l = *where.args[0];
  const ast::Expr& r = *where.args[1];
  if (l.kind != ast::ExprKind::kIdentifier || r.kind != ast::ExprKind::kLiteral ||
      r.literal_kind != ast::LiteralKind::kInteger) {
    return "";
  }
  const bool first = ((where.op == "=" || where.op == "<=") && r.text == "1") ||
                     (where.op == "<" && r.text == "2");
  return first ? l.names.back() : "";
}

}  // namespace

arrow::Result<Binder::Relation> Binder::bind_deduplicate_select(const ast::Select& s,
                                                                size_t rn_item) {
  const ast::SelectItem& item = s.items[rn_item];
  const ast::Expr& call = *item.expr;
  const std::string alias = std::move(dedup_alias_);
  dedup_alias_.clear();
  if (alias.empty() || item.alias != alias) {
    return error(call.pos, fmt::format("ROW_NUMBER() OVER (...) is only supported for "
                                       "deduplication, filtered on its alias: {}",
                                       kDedupUsage));
  }
  if (s.distinct || !s.group_by.empty() || s.having || !s.from) {
    return error(s.pos, fmt::format("deduplication takes a plain SELECT: {}", kDedupUsage));
  }
  if (!call.args.empty()) return error(call.pos, "ROW_NUMBER() takes no arguments");
  const ast::OverClause& over = *call.over;
  if (over.order_by.size() != 1) {
    return error(call.pos, fmt::format("deduplication needs ORDER BY the event-time attribute: {}",
                                       kDedupUsage));
  }
  ARROW_ASSIGN_OR_RAISE(Relation rel, bind_table_ref(*s.from));
  ARROW_RETURN_NOT_OK(bind_where(s, rel));
  auto dedup = std::make_unique<LogicalNode>();
  dedup->kind = LogicalNodeKind::kDeduplicate;
  for (const auto& k : over.partition_by) {
    ARROW_ASSIGN_OR_RAISE(auto key, bind_expr(*k, rel.scope));
    if (key->kind != BoundExprKind::kColumnRef) {
      return error(k->pos, "PARTITION BY of a deduplication takes columns");
    }
    dedup->group_keys.push_back(key->column_index);
  }
  const ast::OrderItem& order = over.order_by[0];
  ARROW_ASSIGN_OR_RAISE(auto time, bind_expr(*order.expr, rel.scope));
  if (time->kind != BoundExprKind::kColumnRef ||
      time->type.time_attribute != TimeAttribute::kRowtime) {
    return error(order.expr->pos,
                 fmt::format("deduplication orders by the event-time attribute (a column with a "
                             "WATERMARK); this is {} (processing-time deduplication is not "
                             "supported yet)",
                             time->type.to_string()));
  }
  if (order.descending) {
    return error(order.expr->pos,
                 "keep-last deduplication (ORDER BY ... DESC) is not supported yet: its result "
                 "updates; keep-first (ASC) is insert-only");
  }
  dedup->order_column = time->column_index;
  dedup->schema = rel.node->schema;
  dedup->rowtime_index = rel.node->rowtime_index;
  dedup->inputs.push_back(std::move(rel.node));
  rel.node = std::move(dedup);

  std::vector<BoundExprPtr> exprs;
  std::vector<std::string> names;
  for (size_t i = 0; i < s.items.size(); ++i) {
    const auto& it = s.items[i];
    if (i == rn_item) {
      exprs.push_back(
          BoundExpr::make_literal(std::make_shared<arrow::Int64Scalar>(1), SqlType::bigint(false)));
      names.push_back(it.alias);
      continue;
    }
    if (it.expr->kind == ast::ExprKind::kStar) {
      const std::string q = it.expr->names.empty() ? "" : it.expr->names.back();
      for (size_t c = 0; c < rel.scope.columns.size(); ++c) {
        const auto& col = rel.scope.columns[c];
        if (!q.empty() && col.qualifier != q) continue;
        exprs.push_back(BoundExpr::column(static_cast<int>(c), col.name, col.type));
        names.push_back(col.name);
      }
      continue;
    }
    ARROW_ASSIGN_OR_RAISE(auto e, bind_expr(*it.expr, rel.scope));
    std::string name = it.alias;
    if (name.empty()) {
      name = it.expr->kind == ast::ExprKind::kIdentifier ? it.expr->names.back()
                                                         : generated_column_name(i);
    }
    exprs.push_back(std::move(e));
    names.push_back(std::move(name));
  }
  rel.node = make_project(std::move(rel.node), std::move(exprs), names);
  rel.scope = scope_of(rel.node->schema, "");
  return rel;
}

// The deduplication form: ROW_NUMBER() aliased as the outer `WHERE rn = 1` filters, ordered
// ascending by the event-time attribute. Other rankings are a Rank node (bounded inputs).
bool Binder::is_deduplication(const ast::Select& s, size_t item, const std::string& alias) {
  const ast::SelectItem& it = s.items[item];
  if (alias.empty() || it.alias != alias || !s.from || s.distinct || !s.group_by.empty() ||
      s.having || it.expr->over->order_by.size() != 1 || it.expr->over->order_by[0].descending) {
    return false;
  }
  auto rel = bind_table_ref(*s.from);
  if (!rel.ok()) return true;  // let the deduplication binder report the error
  auto order = bind_expr(*it.expr->over->order_by[0].expr, rel->scope);
  return order.ok() && (*order)->kind == BoundExprKind::kColumnRef &&
         (*order)->type.time_attribute == TimeAttribute::kRowtime;
}

arrow::Status Binder::bind_where(const ast::Select& s, Relation& rel) {
  if (!s.where) return arrow::Status::OK();
  ARROW_ASSIGN_OR_RAISE(auto pred, bind_expr(*s.where, rel.scope));
  ARROW_RETURN_NOT_OK(expect_boolean(*pred, s.where->pos, "the WHERE clause"));
  ARROW_ASSIGN_OR_RAISE(pred, coerce_at(std::move(pred), SqlType::boolean(), s.where->pos));
  rel.node = make_filter(std::move(rel.node), std::move(pred));
  return arrow::Status::OK();
}

arrow::Result<Binder::Relation> Binder::bind_select(const ast::Select& s) {
  const std::string alias = std::move(dedup_alias_);
  dedup_alias_.clear();
  for (size_t i = 0; i < s.items.size(); ++i) {
    if (is_row_number(*s.items[i].expr) && is_deduplication(s, i, alias)) {
      dedup_alias_ = alias;
      return bind_deduplicate_select(s, i);
    }
  }
  // `... FROM (subquery) WHERE rn = 1`: the subquery may be a deduplication on `rn`.
  if (s.from && s.from->kind == ast::TableRefKind::kSubquery && s.where) {
    dedup_alias_ = row_number_filter_alias(*s.where);
  }
  if (has_rank_call(s)) return bind_rank_select(s);
  bool aggregate = !s.group_by.empty() || s.having != nullptr ||
                   (s.from && s.from->kind == ast::TableRefKind::kFunction);
  for (const auto& item : s.items) aggregate = aggregate || contains_aggregate(*item.expr);
  if (aggregate) {
    if (s.distinct) return error(s.pos, "SELECT DISTINCT with GROUP BY is not supported yet");
    return bind_aggregate_select(s);
  }

  Relation rel;
  if (s.from) {
    ARROW_ASSIGN_OR_RAISE(rel, bind_table_ref(*s.from));
  }
  if (s.where && !s.from) return error(s.where->pos, "WHERE needs a FROM clause");
  ARROW_RETURN_NOT_OK(bind_where(s, rel));

  std::vector<BoundExprPtr> exprs;
  std::vector<std::string> names;
  for (size_t i = 0; i < s.items.size(); ++i) {
    const auto& item = s.items[i];
    if (item.expr->kind == ast::ExprKind::kStar) {
      if (!s.from) return error(item.pos, "SELECT * needs a FROM clause");
      const std::string q = item.expr->names.empty() ? "" : item.expr->names.back();
      bool any = false;
      for (size_t c = 0; c < rel.scope.columns.size(); ++c) {
        const auto& col = rel.scope.columns[c];
        if (!q.empty() && col.qualifier != q) continue;
        exprs.push_back(BoundExpr::column(static_cast<int>(c), col.name, col.type));
        names.push_back(col.name);
        any = true;
      }
      if (!any) return error(item.pos, fmt::format("table '{}' not found", q));
      continue;
    }
    ARROW_ASSIGN_OR_RAISE(auto e, bind_expr(*item.expr, rel.scope));
    if (e->type.id == TypeId::kNull) {
      return error(item.expr->pos, "an untyped NULL cannot be selected; CAST(NULL AS type)");
    }
    std::string name = item.alias;
    if (name.empty()) {
      name = item.expr->kind == ast::ExprKind::kIdentifier ? item.expr->names.back()
                                                           : generated_column_name(i);
    }
    exprs.push_back(std::move(e));
    names.push_back(std::move(name));
  }

  if (!s.from) {
    auto values = std::make_unique<LogicalNode>();
    values->kind = LogicalNodeKind::kValues;
    for (size_t i = 0; i < exprs.size(); ++i)
      values->schema.fields.push_back({names[i], exprs[i]->type});
    values->rows.push_back(std::move(exprs));
    rel.node = std::move(values);
  } else {
    rel.node = make_project(std::move(rel.node), std::move(exprs), names);
  }
  if (s.distinct) {
    // DISTINCT is a GROUP BY over every selected column without aggregates (as Flink plans
    // it): the final distinct rows on a bounded input, an updating result on a stream.
    auto agg = std::make_unique<LogicalNode>();
    agg->kind = LogicalNodeKind::kAggregate;
    for (size_t c = 0; c < rel.node->schema.size(); ++c) {
      agg->schema.fields.push_back(
          {rel.node->schema[c].name, rel.node->schema[c].type.without_time_attribute()});
      agg->group_keys.push_back(static_cast<int>(c));
    }
    agg->inputs.push_back(std::move(rel.node));
    rel.node = std::move(agg);
  }
  rel.scope = scope_of(rel.node->schema, "");
  return rel;
}

arrow::Result<std::unique_ptr<LogicalNode>> Binder::bind_values(const ast::Query& q) {
  const size_t width = q.values[0].size();
  std::vector<std::vector<BoundExprPtr>> rows;
  for (const auto& row : q.values) {
    if (row.size() != width) {
      return error(row[0]->pos, fmt::format("VALUES rows must all have {} columns", width));
    }
    std::vector<BoundExprPtr> bound;
    for (const auto& e : row) {
      ARROW_ASSIGN_OR_RAISE(auto b, bind_expr(*e, Scope{}));
      bound.push_back(std::move(b));
    }
    rows.push_back(std::move(bound));
  }
  auto node = std::make_unique<LogicalNode>();
  node->kind = LogicalNodeKind::kValues;
  for (size_t c = 0; c < width; ++c) {
    SqlType common = SqlType::null_type();
    for (size_t r = 0; r < rows.size(); ++r) {
      auto t = common_type(common, rows[r][c]->type);
      if (!t) {
        return error(q.values[r][c]->pos,
                     fmt::format("VALUES column {} mixes {} and {}", c + 1, common.to_string(),
                                 rows[r][c]->type.to_string()));
      }
      common = *t;
    }
    if (common.id == TypeId::kNull) {
      return error(q.values[0][c]->pos, "a VALUES column cannot be only NULLs; CAST one of them");
    }
    bool nullable = false;
    for (size_t r = 0; r < rows.size(); ++r) {
      nullable = nullable || rows[r][c]->type.nullable;
      ARROW_ASSIGN_OR_RAISE(rows[r][c],
                            coerce_at(std::move(rows[r][c]), common, q.values[r][c]->pos));
    }
    node->schema.fields.push_back({generated_column_name(c), common.with_nullable(nullable)});
  }
  node->rows = std::move(rows);
  return node;
}

arrow::Result<std::unique_ptr<LogicalNode>> Binder::bind_query(const ast::Query& q) {
  ARROW_ASSIGN_OR_RAISE(auto node, bind_query_body(q));
  if (q.order_by.empty() && !q.limit && !q.offset) return node;
  // ORDER BY output columns (names or 1-based positions) [LIMIT n]: a Sort node on top.
  auto sort = std::make_unique<LogicalNode>();
  sort->kind = LogicalNodeKind::kSort;
  sort->schema = node->schema;
  const Scope scope = scope_of(node->schema, "");
  for (const auto& item : q.order_by) {
    const ast::Expr& e = *item.expr;
    int column = -1;
    if (e.kind == ast::ExprKind::kLiteral && e.literal_kind == ast::LiteralKind::kInteger) {
      const int64_t position = e.text.size() < 10 ? std::stoll(e.text) : 0;
      if (position < 1 || position > static_cast<int64_t>(node->schema.size())) {
        return error(e.pos, fmt::format("ORDER BY position {} is not in the select list (1..{})",
                                        e.text, node->schema.size()));
      }
      column = static_cast<int>(position - 1);
    } else {
      auto bound = bind_expr(e, scope);
      if (!bound.ok() || (*bound)->kind != BoundExprKind::kColumnRef) {
        return error(e.pos, fmt::format("ORDER BY takes columns of the select list, by name or "
                                        "position ('{}' is not one; select it with an alias)",
                                        e.to_string()));
      }
      column = (*bound)->column_index;
    }
    sort->sort_keys.push_back({column, item.descending});
  }
  auto count = [&](const ast::Expr& l, const char* what) -> arrow::Result<int64_t> {
    if (l.kind != ast::ExprKind::kLiteral || l.literal_kind != ast::LiteralKind::kInteger ||
        l.text.empty() || l.text.size() > 15 || l.text[0] == '-') {
      return error(l.pos, fmt::format("{} takes a non-negative integer literal", what));
    }
    return static_cast<int64_t>(std::stoll(l.text));
  };
  if (q.limit) {
    ARROW_ASSIGN_OR_RAISE(auto n, count(*q.limit, "LIMIT"));
    sort->limit = n;
  }
  if (q.offset) {
    ARROW_ASSIGN_OR_RAISE(sort->offset, count(*q.offset, "OFFSET"));
  }
  sort->inputs.push_back(std::move(node));
  return sort;
}

arrow::Result<std::unique_ptr<LogicalNode>> Binder::bind_query_body(const ast::Query& q) {
  if (q.select) {
    ARROW_ASSIGN_OR_RAISE(auto rel, bind_select(*q.select));
    return std::move(rel.node);
  }
  if (!q.values.empty()) return bind_values(q);
  if (q.set_op != "UNION ALL") {
    return error(q.pos, fmt::format("{} is not supported yet (only UNION ALL is)", q.set_op));
  }
  ARROW_ASSIGN_OR_RAISE(auto left, bind_query(*q.left));
  ARROW_ASSIGN_OR_RAISE(auto right, bind_query(*q.right));
  if (left->schema.size() != right->schema.size()) {
    return error(q.pos, fmt::format("UNION ALL inputs have {} and {} columns", left->schema.size(),
                                    right->schema.size()));
  }
  Schema out;
  for (size_t i = 0; i < left->schema.size(); ++i) {
    auto t = common_type(left->schema[i].type, right->schema[i].type);
    if (!t) {
      return error(q.pos, fmt::format("UNION ALL column {} ('{}') has types {} and {}", i + 1,
                                      left->schema[i].name, left->schema[i].type.to_string(),
                                      right->schema[i].type.to_string()));
    }
    SqlType type = *t;
    // Both sides keep the rowtime only when both have it in the same column.
    const bool rowtime =
        left->rowtime_index == right->rowtime_index && left->rowtime_index == static_cast<int>(i);
    if (rowtime) type.time_attribute = TimeAttribute::kRowtime;
    out.fields.push_back({left->schema[i].name, type});
  }
  auto unify =
      [&](std::unique_ptr<LogicalNode> side) -> arrow::Result<std::unique_ptr<LogicalNode>> {
    bool same = true;
    for (size_t i = 0; i < out.size(); ++i) {
      same = same && side->schema[i].type.to_arrow()->Equals(*out[i].type.to_arrow());
    }
    if (same) return side;
    std::vector<BoundExprPtr> exprs;
    std::vector<std::string> names;
    for (size_t i = 0; i < out.size(); ++i) {
      auto col = BoundExpr::column(static_cast<int>(i), side->schema[i].name, side->schema[i].type);
      ARROW_ASSIGN_OR_RAISE(auto c, coerce_at(std::move(col), out[i].type, q.pos));
      exprs.push_back(std::move(c));
      names.push_back(side->schema[i].name);
    }
    return make_project(std::move(side), std::move(exprs), names);
  };
  ARROW_ASSIGN_OR_RAISE(left, unify(std::move(left)));
  ARROW_ASSIGN_OR_RAISE(right, unify(std::move(right)));
  auto u = std::make_unique<LogicalNode>();
  u->kind = LogicalNodeKind::kUnion;
  u->schema = out;
  if (left->rowtime_index && left->rowtime_index == right->rowtime_index) {
    u->rowtime_index = left->rowtime_index;
  } else {
    for (auto& f : u->schema.fields) f.type = f.type.without_time_attribute();
  }
  u->inputs.push_back(std::move(left));
  u->inputs.push_back(std::move(right));
  return u;
}

// ---- INSERT ------------------------------------------------------------------------------------

arrow::Result<std::unique_ptr<LogicalNode>> Binder::bind_insert(const ast::Statement& s) {
  const std::string name = Catalog::normalize_name(ast::join_name(s.name));
  auto table = catalog_.table(name);
  if (!table) {
    if (catalog_.view(name)) {
      return error(s.pos, fmt::format("cannot INSERT INTO view '{}'", name));
    }
    return error(s.pos, fmt::format("INSERT target table '{}' not found", name));
  }
  ARROW_ASSIGN_OR_RAISE(auto query, bind_query(*s.query));
  const Schema target = table->physical_schema();
  std::vector<std::string> target_names;
  for (const auto& f : target.fields) target_names.push_back(f.name);

  // Which query column feeds each physical column (-1: NULL).
  std::vector<int> source(target.size(), -1);
  if (!s.insert_columns.empty()) {
    std::set<std::string> seen;
    for (size_t i = 0; i < s.insert_columns.size(); ++i) {
      const std::string& c = s.insert_columns[i];
      const int ti = target.find(c);
      if (ti < 0) {
        const int any = table->find_column(c);
        return error(s.pos, any >= 0 ? fmt::format("cannot INSERT into computed column '{}'", c)
                                     : fmt::format("column '{}' not found in table '{}'", c, name));
      }
      if (!seen.insert(c).second) return error(s.pos, fmt::format("column '{}' listed twice", c));
      source[ti] = static_cast<int>(i);
    }
    if (query->schema.size() != s.insert_columns.size()) {
      return error(s.query->pos,
                   fmt::format("INSERT INTO {} lists {} columns but the query returns {}", name,
                               s.insert_columns.size(), query->schema.size()));
    }
  } else {
    if (query->schema.size() != target.size()) {
      return error(s.query->pos,
                   fmt::format("the query returns {} columns but table '{}' has {} physical "
                               "columns ({})",
                               query->schema.size(), name, target.size(), names_of(target_names)));
    }
    for (size_t i = 0; i < target.size(); ++i) source[i] = static_cast<int>(i);
  }

  bool identity = query->schema.size() == target.size();
  std::vector<BoundExprPtr> exprs;
  for (size_t i = 0; i < target.size(); ++i) {
    const SqlType& to = target[i].type;
    if (source[i] < 0) {
      if (!to.nullable) {
        return error(s.pos,
                     fmt::format("column '{}' is NOT NULL and must be written", target[i].name));
      }
      exprs.push_back(BoundExpr::null_literal(to));
      identity = false;
      continue;
    }
    const Field& from = query->schema[source[i]];
    if (!can_implicitly_cast(from.type, to)) {
      return error(s.query->pos,
                   fmt::format("column {} of the query ('{}', {}) cannot be written to column "
                               "'{}' {} of table '{}'; add a CAST",
                               source[i] + 1, from.name, from.type.to_string(), target[i].name,
                               to.to_string(), name));
    }
    auto col = BoundExpr::column(source[i], from.name, from.type);
    ARROW_ASSIGN_OR_RAISE(
        auto e, coerce_at(std::move(col), to.with_nullable(from.type.nullable), s.query->pos));
    identity =
        identity && e->kind == BoundExprKind::kColumnRef && e->column_index == static_cast<int>(i);
    exprs.push_back(std::move(e));
  }
  if (!identity) query = make_project(std::move(query), std::move(exprs), target_names);

  auto sink = std::make_unique<LogicalNode>();
  sink->kind = LogicalNodeKind::kSink;
  sink->schema = target;
  sink->table = std::move(table);
  sink->overwrite = s.overwrite;
  sink->inputs.push_back(std::move(query));
  return sink;
}

}  // namespace roadpulse::sql
