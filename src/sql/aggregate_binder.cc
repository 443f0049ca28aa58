// GROUP BY, aggregate functions, HAVING and window table-valued functions (TUMBLE, HOP,
// CUMULATE, SESSION). A grouped SELECT becomes
//   Project(select list) <- [Filter(HAVING)] <- [Window]Aggregate <- Project(keys, arguments)
//   <- [Filter(WHERE)] <- input
// with group keys and aggregate arguments as plain columns of the Project below.

#include <algorithm>

#include <arrow/scalar.h>
#include <arrow/type.h>
#include <fmt/format.h>

#include "sql/binder.h"
#include "sql/type_coercion.h"

namespace roadpulse::sql {

namespace {

// Placeholders the aggregate binder returns for the i-th aggregate: a column reference with a
// negative index, replaced when the expression is lifted above the aggregate.
int placeholder_index(int i) { return -1 - i; }
int aggregate_of_placeholder(int index) { return -1 - index; }

SqlType aggregate_result_type(const std::string& f, const SqlType& arg) {
  if (f == "COUNT") return SqlType::bigint(false);
  SqlType t = arg.without_time_attribute().with_nullable(true);
  if (f == "SUM" && t.id == TypeId::kDecimal) return SqlType::decimal(38, t.scale);
  if (f == "AVG" && t.id == TypeId::kDecimal) {
    return SqlType::decimal(38, std::max(6, t.scale));
  }
  return t;  // Flink: SUM/AVG of INT is INT, of DOUBLE DOUBLE; MIN/MAX keep the type
}

}  // namespace

arrow::Result<BoundExprPtr> Binder::bind_aggregate_call(const ast::Expr& e) {
  AggregateContext& ctx = *aggregate_context_;
  const std::string& f = e.op;
  if (ctx.inside_aggregate) {
    return error(e.pos, fmt::format("aggregate function {} cannot be nested inside another", f));
  }
  if (f != "COUNT" && f != "SUM" && f != "AVG" && f != "MIN" && f != "MAX") {
    return error(e.pos, fmt::format("aggregate function {} is not supported yet (COUNT, SUM, "
                                    "AVG, MIN and MAX are)",
                                    f));
  }
  AggregateCall call;
  call.function = f;
  call.distinct = e.distinct;
  SqlType arg_type = SqlType::bigint();
  if (e.star_arg) {
    if (f != "COUNT") return error(e.pos, fmt::format("{}(*) is not valid; only COUNT(*)", f));
  } else {
    if (e.args.size() != 1) {
      return error(e.pos, fmt::format("{} takes one argument, got {}", f, e.args.size()));
    }
    ctx.inside_aggregate = true;
    auto bound = bind_expr(*e.args[0], *ctx.input_scope);
    ctx.inside_aggregate = false;
    ARROW_RETURN_NOT_OK(bound.status());
    BoundExprPtr arg = std::move(*bound);
    arg_type = arg->type;
    if ((f == "SUM" || f == "AVG") && !arg_type.is_numeric()) {
      return error(e.args[0]->pos, fmt::format("{} needs a numeric argument, but it is {}", f,
                                               arg_type.to_string()));
    }
    if (arg_type.id == TypeId::kNull) {
      return error(e.args[0]->pos, fmt::format("{} of an untyped NULL; CAST it", f));
    }
    // The argument becomes a column of the Project below (reusing an identical one).
    const std::string key = canonical_text(*arg);
    int index = -1;
    for (size_t i = 0; i < ctx.pre_exprs->size(); ++i) {
      if (canonical_text(*(*ctx.pre_exprs)[i]) == key) index = static_cast<int>(i);
    }
    if (index < 0) {
      index = static_cast<int>(ctx.pre_exprs->size());
      ctx.pre_exprs->push_back(std::move(arg));
    }
    call.args.push_back(index);
  }
  call.type = aggregate_result_type(f, arg_type);
  const std::string key = fmt::format("{}({}{})", f, call.distinct ? "DISTINCT " : "",
                                      call.args.empty() ? -1 : call.args[0]);
  int i = 0;
  for (; i < static_cast<int>(ctx.aggregate_keys.size()); ++i) {
    if (ctx.aggregate_keys[i] == key) break;
  }
  if (i == static_cast<int>(ctx.aggregate_keys.size())) {
    ctx.aggregate_keys.push_back(key);
    ctx.aggregates->push_back(call);
  }
  return BoundExpr::column(placeholder_index(i), fmt::format("$agg{}", i), call.type);
}

arrow::Result<Binder::WindowRelation> Binder::bind_window_tvf(const ast::TableRef& ref) {
  const ast::Expr& f = *ref.function;
  WindowRelation out;
  const std::string& name = f.op;
  if (name == "TUMBLE") {
    out.spec.kind = WindowKind::kTumble;
  } else if (name == "HOP") {
    out.spec.kind = WindowKind::kHop;
  } else if (name == "CUMULATE") {
    out.spec.kind = WindowKind::kCumulate;
  } else if (name == "SESSION") {
    out.spec.kind = WindowKind::kSession;
  } else {
    return error(ref.pos, fmt::format("table function '{}' is not supported", name));
  }
  const char* usage = out.spec.kind == WindowKind::kTumble
                          ? "TUMBLE(TABLE t, DESCRIPTOR(rowtime), size [, offset])"
                      : out.spec.kind == WindowKind::kHop
                          ? "HOP(TABLE t, DESCRIPTOR(rowtime), slide, size [, offset])"
                      : out.spec.kind == WindowKind::kCumulate
                          ? "CUMULATE(TABLE t, DESCRIPTOR(rowtime), step, max_size [, offset])"
                          : "SESSION(TABLE t [PARTITION BY key], DESCRIPTOR(rowtime), gap)";
  const size_t min_args =
      out.spec.kind == WindowKind::kTumble || out.spec.kind == WindowKind::kSession ? 3 : 4;
  const size_t max_args = out.spec.kind == WindowKind::kSession ? 3 : min_args + 1;
  if (f.args.size() < min_args || f.args.size() > max_args ||
      f.args[0]->kind != ast::ExprKind::kTableArg ||
      f.args[1]->kind != ast::ExprKind::kDescriptor) {
    return error(f.pos, fmt::format("{} takes {}", name, usage));
  }
  // The TABLE argument: a table or view.
  ast::TableRef input_ref;
  input_ref.kind = ast::TableRefKind::kTable;
  input_ref.pos = f.args[0]->pos;
  input_ref.name = f.args[0]->names;
  ARROW_ASSIGN_OR_RAISE(out.input, bind_table_ref(input_ref));
  out.qualifier = ref.alias.empty() ? f.args[0]->names.back() : ref.alias;
  for (auto& c : out.input.scope.columns) c.qualifier = out.qualifier;
  if (!f.args[0]->args.empty() && out.spec.kind != WindowKind::kSession) {
    return error(f.args[0]->pos, "PARTITION BY is only valid for SESSION windows");
  }
  for (const auto& key : f.args[0]->args) {
    ARROW_ASSIGN_OR_RAISE(auto k, bind_expr(*key, out.input.scope));
    out.spec.partition_keys.push_back(k->column_index);
  }
  // DESCRIPTOR(rowtime): a time attribute of the input.
  const ast::Expr& desc = *f.args[1];
  if (desc.names.size() != 1) {
    return error(desc.pos, "DESCRIPTOR takes exactly one time attribute column");
  }
  const int time_col = out.input.node->schema.find(desc.names[0]);
  if (time_col < 0) {
    return error(desc.pos, fmt::format("DESCRIPTOR column '{}' not found", desc.names[0]));
  }
  const TimeAttribute attribute = out.input.node->schema[time_col].type.time_attribute;
  if (attribute == TimeAttribute::kNone) {
    return error(desc.pos,
                 fmt::format("DESCRIPTOR column '{}' must be a time attribute (a column with a "
                             "WATERMARK, or PROCTIME()), but it is {}",
                             desc.names[0], out.input.node->schema[time_col].type.to_string()));
  }
  if (attribute == TimeAttribute::kProctime && out.spec.kind == WindowKind::kSession) {
    return error(desc.pos, "SESSION windows on processing time are not supported yet");
  }
  out.spec.time_column = time_col;
  out.spec.proctime = attribute == TimeAttribute::kProctime;
  // Interval arguments: positive DAY TO SECOND literals.
  std::vector<int64_t> micros;
  for (size_t i = 2; i < f.args.size(); ++i) {
    ARROW_ASSIGN_OR_RAISE(auto v, bind_expr(*f.args[i], Scope{}));
    if (v->kind != BoundExprKind::kLiteral || v->type.id != TypeId::kIntervalDayTime ||
        !v->literal->is_valid) {
      return error(f.args[i]->pos, fmt::format("{} needs interval literals such as INTERVAL '1' "
                                               "MINUTE: {}",
                                               name, usage));
    }
    const int64_t us = static_cast<const arrow::DurationScalar&>(*v->literal).value;
    const bool is_offset = i + 1 == f.args.size() && f.args.size() == max_args &&
                           out.spec.kind != WindowKind::kSession;
    if (us <= 0 && !is_offset) {
      return error(f.args[i]->pos, fmt::format("{} intervals must be positive", name));
    }
    micros.push_back(us);
  }
  switch (out.spec.kind) {
    case WindowKind::kTumble:
    case WindowKind::kSession:
      out.spec.size_micros = micros[0];
      if (micros.size() > 1) out.spec.offset_micros = micros[1];
      break;
    case WindowKind::kHop:
    case WindowKind::kCumulate:
      out.spec.slide_micros = micros[0];
      out.spec.size_micros = micros[1];
      if (micros.size() > 2) out.spec.offset_micros = micros[2];
      if (out.spec.size_micros % out.spec.slide_micros != 0) {
        return error(f.args[3]->pos,
                     fmt::format("{} window size must be an integral multiple of the {}", name,
                                 out.spec.kind == WindowKind::kHop ? "slide" : "step"));
      }
      break;
  }
  return out;
}

arrow::Result<WindowSpec> Binder::bind_legacy_window(const ast::Expr& f, const Relation& input) {
  WindowSpec spec;
  const std::string& name = f.op;
  const char* usage = name == "TUMBLE" ? "TUMBLE(rowtime, size)"
                      : name == "HOP"  ? "HOP(rowtime, slide, size)"
                                       : "SESSION(rowtime, gap)";
  spec.kind = name == "TUMBLE" ? WindowKind::kTumble
              : name == "HOP"  ? WindowKind::kHop
                               : WindowKind::kSession;
  const size_t n_args = name == "HOP" ? 3 : 2;
  if (f.args.size() != n_args) {
    return error(f.pos, fmt::format("group window {} takes {}", name, usage));
  }
  ARROW_ASSIGN_OR_RAISE(auto time, bind_expr(*f.args[0], input.scope));
  if (time->kind != BoundExprKind::kColumnRef ||
      time->type.time_attribute == TimeAttribute::kNone) {
    return error(f.args[0]->pos,
                 fmt::format("the first argument of {} must be a time attribute (a column with a "
                             "WATERMARK, or PROCTIME()), but it is {}",
                             name, time->type.to_string()));
  }
  if (time->type.time_attribute == TimeAttribute::kProctime && spec.kind == WindowKind::kSession) {
    return error(f.args[0]->pos, "SESSION windows on processing time are not supported yet");
  }
  spec.time_column = time->column_index;
  spec.proctime = time->type.time_attribute == TimeAttribute::kProctime;
  std::vector<int64_t> micros;
  for (size_t i = 1; i < f.args.size(); ++i) {
    ARROW_ASSIGN_OR_RAISE(auto v, bind_expr(*f.args[i], Scope{}));
    if (v->kind != BoundExprKind::kLiteral || v->type.id != TypeId::kIntervalDayTime ||
        !v->literal->is_valid ||
        static_cast<const arrow::DurationScalar&>(*v->literal).value <= 0) {
      return error(f.args[i]->pos, fmt::format("{} needs positive interval literals such as "
                                               "INTERVAL '1' MINUTE: {}",
                                               name, usage));
    }
    micros.push_back(static_cast<const arrow::DurationScalar&>(*v->literal).value);
  }
  if (spec.kind == WindowKind::kHop) {
    spec.slide_micros = micros[0];
    spec.size_micros = micros[1];
    if (spec.size_micros % spec.slide_micros != 0) {
      return error(f.args[2]->pos, "HOP window size must be an integral multiple of the slide");
    }
  } else {
    spec.size_micros = micros[0];
  }
  return spec;
}

arrow::Result<Binder::Relation> Binder::bind_aggregate_select(const ast::Select& s) {
  if (!s.from) return error(s.pos, "GROUP BY and aggregates need a FROM clause");
  Relation rel;
  std::optional<WindowSpec> window;
  std::string qualifier;
  if (s.from->kind == ast::TableRefKind::kFunction) {
    ARROW_ASSIGN_OR_RAISE(auto w, bind_window_tvf(*s.from));
    rel = std::move(w.input);
    window = w.spec;
    qualifier = w.qualifier;
  } else {
    ARROW_ASSIGN_OR_RAISE(rel, bind_table_ref(*s.from));
  }
  // Legacy group window: GROUP BY TUMBLE(ts, INTERVAL ...), k (Flink's older syntax).
  const ast::Expr* legacy = nullptr;
  if (!window) {
    for (const auto& g : s.group_by) {
      if (g->kind == ast::ExprKind::kCall &&
          (g->op == "TUMBLE" || g->op == "HOP" || g->op == "SESSION")) {
        if (legacy) return error(g->pos, "GROUP BY takes at most one group window");
        legacy = g.get();
      }
    }
    if (legacy) {
      ARROW_ASSIGN_OR_RAISE(auto spec, bind_legacy_window(*legacy, rel));
      window = spec;
      qualifier = "$window";
    }
  }
  const int n_input = static_cast<int>(rel.node->schema.size());
  SqlType rowtime_type = SqlType::timestamp(3, false);
  if (window) {
    rowtime_type = rel.node->schema[window->time_column].type.with_nullable(false);
    rowtime_type.precision = 3;
  }

  ARROW_RETURN_NOT_OK(bind_where(s, rel));

  // Scope of GROUP BY / SELECT / HAVING: the input plus the window columns.
  Scope scope = rel.scope;
  const SqlType window_bound = SqlType::timestamp(3, false);
  if (window) {
    scope.columns.push_back({qualifier, "window_start", window_bound});
    scope.columns.push_back({qualifier, "window_end", window_bound});
    scope.columns.push_back({qualifier, "window_time", rowtime_type});
  }

  // The Project below the aggregate starts as the input columns themselves.
  std::vector<BoundExprPtr> pre_exprs;
  for (int i = 0; i < n_input; ++i) {
    pre_exprs.push_back(BoundExpr::column(i, rel.node->schema[i].name, rel.node->schema[i].type));
  }
  std::vector<int> keys;               // columns of the Project below
  std::vector<std::string> key_texts;  // canonical text of each key, for lifting
  std::vector<std::string> key_names;
  bool grouped_start = false, grouped_end = false;
  for (const auto& g : s.group_by) {
    if (g.get() == legacy) {
      grouped_start = grouped_end = true;
      continue;
    }
    ARROW_ASSIGN_OR_RAISE(auto k, bind_expr(*g, scope));
    if (window && k->kind == BoundExprKind::kColumnRef && k->column_index >= n_input) {
      grouped_start = grouped_start || k->column_index == n_input;
      grouped_end = grouped_end || k->column_index == n_input + 1;
      continue;
    }
    if (k->type.id == TypeId::kNull) return error(g->pos, "cannot GROUP BY an untyped NULL");
    const std::string text = canonical_text(*k);
    if (std::find(key_texts.begin(), key_texts.end(), text) != key_texts.end()) continue;
    int index = k->kind == BoundExprKind::kColumnRef ? k->column_index : -1;
    key_names.push_back(k->kind == BoundExprKind::kColumnRef ? k->column_name
                                                             : fmt::format("$f{}", keys.size()));
    if (index < 0) {
      index = static_cast<int>(pre_exprs.size());
      pre_exprs.push_back(std::move(k));
    }
    keys.push_back(index);
    key_texts.push_back(text);
  }
  if (window && !(grouped_start && grouped_end)) {
    return error(s.group_by.empty() ? s.from->pos : s.group_by_pos,
                 "a window table-valued function must be aggregated with GROUP BY window_start, "
                 "window_end[, keys] (window assignment without aggregation is not supported "
                 "yet)");
  }

  // SELECT list and HAVING, with aggregates collected into `aggregates`.
  std::vector<AggregateCall> aggregates;
  // Legacy SESSION windows are per group key, as Flink's group-window sessions are.
  if (legacy && window->kind == WindowKind::kSession) window->partition_keys = keys;
  AggregateContext ctx;
  ctx.input_scope = &rel.scope;
  if (legacy) {
    ctx.legacy_window_column = n_input;
    ctx.legacy_window_function = legacy->op;
    for (const auto& a : legacy->args) ctx.legacy_window_args += a->to_string() + ",";
  }
  ctx.pre_exprs = &pre_exprs;
  ctx.aggregates = &aggregates;
  aggregate_context_ = &ctx;
  std::vector<BoundExprPtr> items;
  std::vector<std::string> names;
  std::vector<SourcePos> item_pos;
  arrow::Status st;
  for (size_t i = 0; i < s.items.size() && st.ok(); ++i) {
    const auto& item = s.items[i];
    if (item.expr->kind == ast::ExprKind::kStar) {
      st = error(item.pos, "SELECT * cannot be used with GROUP BY; list the columns");
      break;
    }
    auto bound = bind_expr(*item.expr, scope);
    if (!bound.ok()) {
      st = bound.status();
      break;
    }
    std::string name = item.alias;
    if (name.empty()) {
      name = item.expr->kind == ast::ExprKind::kIdentifier ? item.expr->names.back()
                                                           : generated_column_name(i);
    }
    items.push_back(std::move(*bound));
    names.push_back(std::move(name));
    item_pos.push_back(item.pos);
  }
  BoundExprPtr having;
  if (st.ok() && s.having) {
    auto bound = bind_expr(*s.having, scope);
    if (bound.ok()) {
      having = std::move(*bound);
      st = expect_boolean(*having, s.having->pos, "the HAVING clause");
    } else {
      st = bound.status();
    }
  }
  aggregate_context_ = nullptr;
  ARROW_RETURN_NOT_OK(st);

  // The aggregate's output: keys, [window_start, window_end, window_time], aggregates.
  const int n_keys = static_cast<int>(keys.size());
  const int window_base = n_keys;
  const int agg_base = n_keys + (window ? 3 : 0);
  auto lift = [&](auto&& self, BoundExprPtr e,
                  const SourcePos& pos) -> arrow::Result<BoundExprPtr> {
    if (e->kind == BoundExprKind::kColumnRef && e->column_index < 0) {
      const int a = aggregate_of_placeholder(e->column_index);
      return BoundExpr::column(agg_base + a, e->column_name, e->type);
    }
    if (e->kind != BoundExprKind::kLiteral) {
      const std::string text = canonical_text(*e);
      for (int k = 0; k < n_keys; ++k) {
        if (key_texts[k] == text) return BoundExpr::column(k, key_names[k], e->type);
      }
    }
    if (e->kind == BoundExprKind::kColumnRef) {
      if (window && e->column_index >= n_input) {
        return BoundExpr::column(window_base + (e->column_index - n_input), e->column_name,
                                 e->type);
      }
      return error(pos, fmt::format("column '{}' must be in GROUP BY or inside an aggregate "
                                    "function",
                                    e->column_name));
    }
    for (auto& a : e->args) {
      ARROW_ASSIGN_OR_RAISE(a, self(self, std::move(a), pos));
    }
    return e;
  };
  for (size_t i = 0; i < items.size(); ++i) {
    ARROW_ASSIGN_OR_RAISE(items[i], lift(lift, std::move(items[i]), item_pos[i]));
  }
  if (having) {
    ARROW_ASSIGN_OR_RAISE(having, lift(lift, std::move(having), s.having->pos));
  }

  // Project below (only when it computes something), the aggregate, HAVING, the select list.
  std::unique_ptr<LogicalNode> input = std::move(rel.node);
  if (static_cast<int>(pre_exprs.size()) > n_input) {
    auto p = std::make_unique<LogicalNode>();
    p->kind = LogicalNodeKind::kProject;
    for (size_t i = 0; i < pre_exprs.size(); ++i) {
      const bool is_input = static_cast<int>(i) < n_input;
      p->schema.fields.push_back(
          {is_input ? input->schema[i].name : fmt::format("$f{}", i),
           is_input ? input->schema[i].type : pre_exprs[i]->type.without_time_attribute()});
    }
    p->rowtime_index = input->rowtime_index;
    p->exprs = std::move(pre_exprs);
    p->inputs.push_back(std::move(input));
    input = std::move(p);
  }
  auto agg = std::make_unique<LogicalNode>();
  agg->kind = window ? LogicalNodeKind::kWindowAggregate : LogicalNodeKind::kAggregate;
  for (int k = 0; k < n_keys; ++k) {
    agg->schema.fields.push_back(
        {key_names[k], input->schema[keys[k]].type.without_time_attribute()});
  }
  if (window) {
    agg->schema.fields.push_back({"window_start", window_bound});
    agg->schema.fields.push_back({"window_end", window_bound});
    agg->schema.fields.push_back({"window_time", rowtime_type});
    // A processing-time window's window_time is a proctime attribute, not an event time.
    if (!window->proctime) agg->rowtime_index = window_base + 2;
  }
  for (size_t a = 0; a < aggregates.size(); ++a) {
    agg->schema.fields.push_back({fmt::format("$agg{}", a), aggregates[a].type});
  }
  agg->group_keys = std::move(keys);
  agg->aggregates = std::move(aggregates);
  agg->window = window;
  agg->inputs.push_back(std::move(input));
  std::unique_ptr<LogicalNode> node = std::move(agg);
  if (having) {
    ARROW_ASSIGN_OR_RAISE(having, coerce_at(std::move(having), SqlType::boolean(), s.having->pos));
    node = make_filter(std::move(node), std::move(having));
  }
  auto project = std::make_unique<LogicalNode>();
  project->kind = LogicalNodeKind::kProject;
  for (size_t i = 0; i < items.size(); ++i) {
    SqlType t = items[i]->type;
    const bool is_rowtime = items[i]->kind == BoundExprKind::kColumnRef && node->rowtime_index &&
                            items[i]->column_index == *node->rowtime_index;
    if (!is_rowtime) t = t.without_time_attribute();
    if (is_rowtime && !project->rowtime_index) project->rowtime_index = static_cast<int>(i);
    project->schema.fields.push_back({names[i], t});
  }
  project->exprs = std::move(items);
  project->inputs.push_back(std::move(node));
  Relation out;
  out.node = std::move(project);
  Scope result;
  for (const auto& f : out.node->schema.fields) result.columns.push_back({"", f.name, f.type});
  out.scope = std::move(result);
  return out;
}

}  // namespace roadpulse::sql
