// Binding of joins (`a [INNER|LEFT [OUTER]] JOIN b ON a.k = b.k [AND ...]`) and of the ranking
// window functions ROW_NUMBER / RANK / DENSE_RANK `OVER (PARTITION BY ... ORDER BY ...)` in a
// select list. Both run on bounded inputs only; exec refuses them on a stream.

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "sql/binder.h"
#include "sql/type_coercion.h"

namespace roadpulse::sql {

namespace {

void split_and(BoundExprPtr e, std::vector<BoundExprPtr>& out) {
  if (e->kind == BoundExprKind::kCall && e->function == "AND" && e->args.size() == 2) {
    split_and(std::move(e->args[0]), out);
    split_and(std::move(e->args[1]), out);
    return;
  }
  out.push_back(std::move(e));
}

BoundExprPtr and_all(std::vector<BoundExprPtr> parts) {
  BoundExprPtr out;
  for (auto& p : parts) {
    if (!out) {
      out = std::move(p);
      continue;
    }
    const bool nullable = out->type.nullable || p->type.nullable;
    std::vector<BoundExprPtr> args;
    args.push_back(std::move(out));
    args.push_back(std::move(p));
    out = BoundExpr::call("AND", SqlType::boolean(nullable), std::move(args));
  }
  return out;
}

// Which side of a join `e` reads: 0 none, 1 left only, 2 right only, 3 both.
int sides_of(const BoundExpr& e, int left_width) {
  std::vector<int> cols;
  e.collect_columns(cols);
  int sides = 0;
  for (int c : cols) sides |= c < left_width ? 1 : 2;
  return sides;
}

// A Project keeping every column of `input` and appending `extra` (named $k<i>).
std::unique_ptr<LogicalNode> append_columns(std::unique_ptr<LogicalNode> input,
                                            std::vector<BoundExprPtr> extra) {
  auto p = std::make_unique<LogicalNode>();
  p->kind = LogicalNodeKind::kProject;
  for (size_t i = 0; i < input->schema.size(); ++i) {
    const Field& f = input->schema[i];
    p->exprs.push_back(BoundExpr::column(static_cast<int>(i), f.name, f.type));
    p->schema.fields.push_back(f);
  }
  p->rowtime_index = input->rowtime_index;
  for (size_t i = 0; i < extra.size(); ++i) {
    p->schema.fields.push_back({fmt::format("$k{}", i), extra[i]->type.without_time_attribute()});
    p->exprs.push_back(std::move(extra[i]));
  }
  p->inputs.push_back(std::move(input));
  return p;
}

bool is_rank_call(const ast::Expr& e) {
  return e.kind == ast::ExprKind::kCall && e.over &&
         (e.op == "ROW_NUMBER" || e.op == "RANK" || e.op == "DENSE_RANK");
}

}  // namespace

arrow::Result<Binder::Relation> Binder::bind_join(const ast::TableRef& ref) {
  if (ref.join_type != "INNER" && ref.join_type != "LEFT") {
    return error(ref.pos, ref.join_type == "RIGHT"
                              ? std::string("RIGHT JOIN is not supported yet (swap the inputs and "
                                            "use LEFT JOIN)")
                              : fmt::format("{} JOIN is not supported yet (INNER and LEFT "
                                            "equi-joins are)",
                                            ref.join_type));
  }
  const bool left_join = ref.join_type == "LEFT";
  ARROW_ASSIGN_OR_RAISE(Relation left, bind_table_ref(*ref.left));
  ARROW_ASSIGN_OR_RAISE(Relation right, bind_table_ref(*ref.right));
  const int nl = static_cast<int>(left.scope.columns.size());
  const int nr = static_cast<int>(right.scope.columns.size());
  Scope both = left.scope;
  for (const auto& c : right.scope.columns) both.columns.push_back(c);
  for (const auto& c : left.scope.columns) {
    for (const auto& d : right.scope.columns) {
      if (!c.qualifier.empty() && c.qualifier == d.qualifier) {
        return error(ref.pos, fmt::format("both sides of the JOIN are named '{}'; give one an "
                                          "alias",
                                          c.qualifier));
      }
    }
  }

  ARROW_ASSIGN_OR_RAISE(auto cond, bind_expr(*ref.condition, both));
  ARROW_RETURN_NOT_OK(expect_boolean(*cond, ref.condition->pos, "the ON condition"));
  std::vector<BoundExprPtr> conjuncts, residual;
  split_and(std::move(cond), conjuncts);
  std::vector<BoundExprPtr> left_keys, right_keys;
  for (auto& c : conjuncts) {
    if (c->kind == BoundExprKind::kCall && c->function == "=" && c->args.size() == 2) {
      const int a = sides_of(*c->args[0], nl);
      const int b = sides_of(*c->args[1], nl);
      if ((a == 1 && b == 2) || (a == 2 && b == 1)) {
        BoundExprPtr l = std::move(c->args[a == 1 ? 0 : 1]);
        BoundExprPtr r = std::move(c->args[a == 1 ? 1 : 0]);
        std::vector<int> shift(nl + nr, -1);
        for (int i = 0; i < nr; ++i) shift[nl + i] = i;
        r->remap_columns(shift);
        left_keys.push_back(std::move(l));
        right_keys.push_back(std::move(r));
        continue;
      }
    }
    // A condition on the right side alone only decides which right rows can match: it filters
    // the build input (for LEFT joins too). One on the left side alone filters the probe input
    // of an INNER join; for a LEFT join it stays (a failing left row still gets its NULL row).
    const int sides = sides_of(*c, nl);
    if (sides == 2 || (sides == 1 && !left_join)) {
      Relation& side = sides == 2 ? right : left;
      if (sides == 2) {
        std::vector<int> shift(nl + nr, -1);
        for (int i = 0; i < nr; ++i) shift[nl + i] = i;
        c->remap_columns(shift);
      }
      ARROW_ASSIGN_OR_RAISE(c, coerce_at(std::move(c), SqlType::boolean(), ref.condition->pos));
      side.node = make_filter(std::move(side.node), std::move(c));
      continue;
    }
    residual.push_back(std::move(c));
  }
  if (left_keys.empty()) {
    return error(ref.condition->pos,
                 "a JOIN needs at least one equality between a column of each side in ON (a.k = "
                 "b.k); other joins are not supported yet");
  }

  // Keys that are expressions (casts to the common type, UPPER(x), ...) become extra columns
  // of a Project below their side; the join then compares plain columns.
  auto key_columns = [](Relation& side, std::vector<BoundExprPtr>& keys) {
    std::vector<int> out;
    std::vector<BoundExprPtr> extra;
    const int width = static_cast<int>(side.node->schema.size());
    for (auto& k : keys) {
      if (k->kind == BoundExprKind::kColumnRef) {
        out.push_back(k->column_index);
      } else {
        out.push_back(width + static_cast<int>(extra.size()));
        extra.push_back(std::move(k));
      }
    }
    if (!extra.empty()) side.node = append_columns(std::move(side.node), std::move(extra));
    return out;
  };
  auto join = std::make_unique<LogicalNode>();
  join->kind = LogicalNodeKind::kJoin;
  join->join_type = ref.join_type;
  join->left_keys = key_columns(left, left_keys);
  join->right_keys = key_columns(right, right_keys);
  const int nl2 = static_cast<int>(left.node->schema.size());
  for (const auto& f : left.node->schema.fields) {
    join->schema.fields.push_back({f.name, f.type.without_time_attribute()});
  }
  for (const auto& f : right.node->schema.fields) {
    SqlType t = f.type.without_time_attribute();
    if (left_join) t = t.with_nullable(true);
    join->schema.fields.push_back({f.name, t});
  }
  if (!residual.empty()) {
    std::vector<int> shift(nl + nr);
    for (int i = 0; i < nl; ++i) shift[i] = i;
    for (int i = 0; i < nr; ++i) shift[nl + i] = nl2 + i;
    join->predicate = and_all(std::move(residual));
    join->predicate->remap_columns(shift);
    ARROW_ASSIGN_OR_RAISE(join->predicate, coerce_at(std::move(join->predicate), SqlType::boolean(),
                                                     ref.condition->pos));
  }
  const bool appended = nl2 != nl || static_cast<int>(right.node->schema.size()) != nr;
  join->inputs.push_back(std::move(left.node));
  join->inputs.push_back(std::move(right.node));

  Relation rel;
  rel.node = std::move(join);
  if (appended) {
    // Drop the key columns again: the join's row is the two sides' columns.
    auto p = std::make_unique<LogicalNode>();
    p->kind = LogicalNodeKind::kProject;
    std::vector<int> keep;
    for (int i = 0; i < nl; ++i) keep.push_back(i);
    for (int i = 0; i < nr; ++i) keep.push_back(nl2 + i);
    for (int c : keep) {
      const Field& f = rel.node->schema[c];
      p->exprs.push_back(BoundExpr::column(c, f.name, f.type));
      p->schema.fields.push_back(f);
    }
    p->inputs.push_back(std::move(rel.node));
    rel.node = std::move(p);
  }
  for (int i = 0; i < nl + nr; ++i) {
    Scope::Column c = both.columns[i];
    c.type = rel.node->schema[i].type;
    rel.scope.columns.push_back(std::move(c));
  }
  return rel;
}

bool Binder::has_rank_call(const ast::Select& s) {
  return std::any_of(s.items.begin(), s.items.end(),
                     [](const ast::SelectItem& it) { return is_rank_call(*it.expr); });
}

arrow::Result<Binder::Relation> Binder::bind_rank_select(const ast::Select& s) {
  if (s.distinct || !s.group_by.empty() || s.having || !s.from) {
    return error(s.pos,
                 "ranking functions (ROW_NUMBER, RANK, DENSE_RANK) need a plain SELECT over a FROM "
                 "clause; aggregate in a subquery first: SELECT *, RANK() OVER (PARTITION BY k "
                 "ORDER BY n DESC) AS r FROM (SELECT k, x, COUNT(*) AS n FROM t GROUP BY k, x)");
  }
  for (const auto& item : s.items) {
    if (contains_aggregate(*item.expr)) {
      return error(item.expr->pos,
                   "aggregates next to a ranking function are not supported yet; aggregate in a "
                   "subquery first");
    }
  }
  ARROW_ASSIGN_OR_RAISE(Relation rel, bind_table_ref(*s.from));
  ARROW_RETURN_NOT_OK(bind_where(s, rel));
  const int width = static_cast<int>(rel.scope.columns.size());

  // One Rank node per distinct OVER (...) clause, stacked; each appends its functions' columns.
  // Partition and order expressions that are not plain columns become extra input columns.
  std::vector<int> item_column(s.items.size(), -1);
  std::vector<BoundExprPtr> extra;
  struct Group {
    std::string key;
    std::vector<int> partition;
    std::vector<LogicalNode::SortKey> order;
    std::vector<size_t> items;
  };
  std::vector<Group> groups;
  auto column_of = [&](const ast::Expr& e) -> arrow::Result<int> {
    ARROW_ASSIGN_OR_RAISE(auto b, bind_expr(e, rel.scope));
    if (b->kind == BoundExprKind::kColumnRef) return b->column_index;
    if (b->is_constant()) {
      return error(e.pos,
                   "PARTITION BY / ORDER BY of a ranking function takes expressions over "
                   "columns, not constants");
    }
    extra.push_back(std::move(b));
    return width + static_cast<int>(extra.size()) - 1;
  };
  for (size_t i = 0; i < s.items.size(); ++i) {
    const ast::Expr& e = *s.items[i].expr;
    if (!is_rank_call(e)) continue;
    if (!e.args.empty()) return error(e.pos, fmt::format("{}() takes no arguments", e.op));
    const ast::OverClause& over = *e.over;
    if (over.order_by.empty() && e.op != "ROW_NUMBER") {
      return error(e.pos, fmt::format("{}() needs ORDER BY in its OVER clause", e.op));
    }
    Group g;
    for (const auto& p : over.partition_by) {
      ARROW_ASSIGN_OR_RAISE(int c, column_of(*p));
      g.partition.push_back(c);
      g.key += fmt::format("p{},", c);
    }
    for (const auto& o : over.order_by) {
      ARROW_ASSIGN_OR_RAISE(int c, column_of(*o.expr));
      g.order.push_back({c, o.descending});
      g.key += fmt::format("o{}{},", c, o.descending ? "d" : "a");
    }
    auto same =
        std::find_if(groups.begin(), groups.end(), [&](const Group& x) { return x.key == g.key; });
    if (same == groups.end()) {
      g.items.push_back(i);
      groups.push_back(std::move(g));
    } else {
      same->items.push_back(i);
    }
  }
  if (!extra.empty()) rel.node = append_columns(std::move(rel.node), std::move(extra));
  for (const auto& g : groups) {
    auto rank = std::make_unique<LogicalNode>();
    rank->kind = LogicalNodeKind::kRank;
    rank->group_keys = g.partition;
    rank->sort_keys = g.order;
    for (const auto& f : rel.node->schema.fields) {
      rank->schema.fields.push_back({f.name, f.type.without_time_attribute()});
    }
    for (size_t i : g.items) {
      item_column[i] = static_cast<int>(rank->schema.size());
      std::string name = s.items[i].alias.empty() ? generated_column_name(i) : s.items[i].alias;
      rank->schema.fields.push_back({name, SqlType::bigint(false)});
      rank->rank_functions.push_back(s.items[i].expr->op);
    }
    rank->inputs.push_back(std::move(rel.node));
    rel.node = std::move(rank);
  }

  // The select list over the ranked rows: input columns keep their indices.
  std::vector<BoundExprPtr> exprs;
  Schema out;
  Scope input_scope = rel.scope;
  for (size_t i = 0; i < s.items.size(); ++i) {
    const auto& item = s.items[i];
    if (item_column[i] >= 0) {
      const Field& f = rel.node->schema[item_column[i]];
      exprs.push_back(BoundExpr::column(item_column[i], f.name, f.type));
      out.fields.push_back(f);
      continue;
    }
    if (item.expr->kind == ast::ExprKind::kStar) {
      const std::string q = item.expr->names.empty() ? "" : item.expr->names.back();
      bool any = false;
      for (size_t c = 0; c < input_scope.columns.size(); ++c) {
        const auto& col = input_scope.columns[c];
        if (!q.empty() && col.qualifier != q) continue;
        const SqlType t = rel.node->schema[c].type;
        exprs.push_back(BoundExpr::column(static_cast<int>(c), col.name, t));
        out.fields.push_back({col.name, t});
        any = true;
      }
      if (!any) return error(item.pos, fmt::format("table '{}' not found", q));
      continue;
    }
    ARROW_ASSIGN_OR_RAISE(auto e, bind_expr(*item.expr, input_scope));
    if (e->type.id == TypeId::kNull) {
      return error(item.expr->pos, "an untyped NULL cannot be selected; CAST(NULL AS type)");
    }
    std::string name = item.alias;
    if (name.empty()) {
      name = item.expr->kind == ast::ExprKind::kIdentifier ? item.expr->names.back()
                                                           : generated_column_name(i);
    }
    out.fields.push_back({name, e->type.without_time_attribute()});
    exprs.push_back(std::move(e));
  }
  auto p = std::make_unique<LogicalNode>();
  p->kind = LogicalNodeKind::kProject;
  p->schema = std::move(out);
  p->exprs = std::move(exprs);
  p->inputs.push_back(std::move(rel.node));
  rel.node = std::move(p);
  rel.scope = Scope{};
  for (const auto& f : rel.node->schema.fields) rel.scope.columns.push_back({"", f.name, f.type});
  return rel;
}

}  // namespace roadpulse::sql
