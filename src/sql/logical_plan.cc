#include "sql/logical_plan.h"

#include <fmt/format.h>

namespace roadpulse::sql {

const char* logical_node_kind_name(LogicalNodeKind kind) {
  switch (kind) {
    case LogicalNodeKind::kTableScan:
      return "TableScan";
    case LogicalNodeKind::kFilter:
      return "Filter";
    case LogicalNodeKind::kProject:
      return "Project";
    case LogicalNodeKind::kUnion:
      return "Union";
    case LogicalNodeKind::kValues:
      return "Values";
    case LogicalNodeKind::kSink:
      return "Sink";
    case LogicalNodeKind::kAggregate:
      return "Aggregate";
    case LogicalNodeKind::kWindowAggregate:
      return "WindowAggregate";
    case LogicalNodeKind::kDeduplicate:
      return "Deduplicate";
    case LogicalNodeKind::kSort:
      return "Sort";
    case LogicalNodeKind::kJoin:
      return "Join";
    case LogicalNodeKind::kRank:
      return "Rank";
  }
  return "?";
}

const char* window_kind_name(WindowKind kind) {
  switch (kind) {
    case WindowKind::kTumble:
      return "TUMBLE";
    case WindowKind::kHop:
      return "HOP";
    case WindowKind::kCumulate:
      return "CUMULATE";
    case WindowKind::kSession:
      return "SESSION";
  }
  return "?";
}

Schema LogicalNode::read_schema() const {
  Schema s;
  if (!table) return s;
  for (int i : read_columns) {
    const auto& c = table->columns[i];
    s.fields.push_back({c.name, c.type.without_time_attribute()});
  }
  return s;
}

namespace {

std::vector<std::unique_ptr<BoundExpr>> clone_all(
    const std::vector<std::unique_ptr<BoundExpr>>& in) {
  std::vector<std::unique_ptr<BoundExpr>> out;
  out.reserve(in.size());
  for (const auto& e : in) out.push_back(e->clone());
  return out;
}

}  // namespace

std::unique_ptr<LogicalNode> LogicalNode::clone() const {
  auto n = std::make_unique<LogicalNode>();
  n->kind = kind;
  n->schema = schema;
  n->rowtime_index = rowtime_index;
  for (const auto& in : inputs) n->inputs.push_back(in->clone());
  n->table = table;
  n->read_columns = read_columns;
  n->projected_columns = projected_columns;
  n->outputs = clone_all(outputs);
  if (watermark) {
    n->watermark.emplace();
    n->watermark->rowtime_index = watermark->rowtime_index;
    n->watermark->expr = watermark->expr->clone();
    n->watermark->fixed_delay_micros = watermark->fixed_delay_micros;
  }
  if (pushed_filter) n->pushed_filter = pushed_filter->clone();
  if (predicate) n->predicate = predicate->clone();
  n->exprs = clone_all(exprs);
  for (const auto& row : rows) n->rows.push_back(clone_all(row));
  n->overwrite = overwrite;
  n->group_keys = group_keys;
  n->aggregates = aggregates;
  n->window = window;
  n->order_column = order_column;
  n->sort_keys = sort_keys;
  n->limit = limit;
  n->offset = offset;
  n->join_type = join_type;
  n->left_keys = left_keys;
  n->right_keys = right_keys;
  n->rank_functions = rank_functions;
  return n;
}

namespace {

std::string names_of(const Schema& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0) out += ", ";
    out += s[i].name;
  }
  return out;
}

// 60000000 -> "1 min"
std::string duration_text(int64_t us) {
  if (us != 0 && us % 3600000000LL == 0) return fmt::format("{} h", us / 3600000000LL);
  if (us != 0 && us % 60000000 == 0) return fmt::format("{} min", us / 60000000);
  if (us % 1000000 == 0) return fmt::format("{} s", us / 1000000);
  if (us % 1000 == 0) return fmt::format("{} ms", us / 1000);
  return fmt::format("{} us", us);
}

std::string describe_aggregate(const LogicalNode& n) {
  const Schema& in = n.inputs[0]->schema;
  std::string s = logical_node_kind_name(n.kind);
  s += "(";
  if (n.window) {
    const WindowSpec& w = *n.window;
    s += fmt::format("window=[{}(time_col=[{}]", window_kind_name(w.kind), in[w.time_column].name);
    if (!w.partition_keys.empty()) {
      std::string keys;
      for (size_t i = 0; i < w.partition_keys.size(); ++i) {
        keys += (i > 0 ? ", " : "") + in[w.partition_keys[i]].name;
      }
      s += fmt::format(", partition_keys=[{}]", keys);
    }
    switch (w.kind) {
      case WindowKind::kTumble:
        s += fmt::format(", size=[{}]", duration_text(w.size_micros));
        break;
      case WindowKind::kHop:
        s += fmt::format(", slide=[{}], size=[{}]", duration_text(w.slide_micros),
                         duration_text(w.size_micros));
        break;
      case WindowKind::kCumulate:
        s += fmt::format(", step=[{}], max_size=[{}]", duration_text(w.slide_micros),
                         duration_text(w.size_micros));
        break;
      case WindowKind::kSession:
        s += fmt::format(", gap=[{}]", duration_text(w.size_micros));
        break;
    }
    if (w.offset_micros != 0) s += fmt::format(", offset=[{}]", duration_text(w.offset_micros));
    s += ")], ";
  }
  std::string keys;
  for (size_t i = 0; i < n.group_keys.size(); ++i) {
    keys += (i > 0 ? ", " : "") + in[n.group_keys[i]].name;
  }
  s += fmt::format("groupBy=[{}], select=[", keys);
  const size_t first_agg = n.schema.size() - n.aggregates.size();
  for (size_t i = 0; i < n.schema.size(); ++i) {
    if (i > 0) s += ", ";
    if (i < first_agg) {
      s += n.schema[i].name;
      continue;
    }
    const AggregateCall& a = n.aggregates[i - first_agg];
    std::string args = a.args.empty() ? "*" : "";
    for (size_t k = 0; k < a.args.size(); ++k) args += (k > 0 ? ", " : "") + in[a.args[k]].name;
    s += fmt::format("{}({}{}) AS {}", a.function, a.distinct ? "DISTINCT " : "", args,
                     n.schema[i].name);
  }
  return s + "])";
}

std::string describe_node(const LogicalNode& n) {
  switch (n.kind) {
    case LogicalNodeKind::kTableScan: {
      std::string s =
          fmt::format("TableScan(table=[{}], read=[{}]", n.table->name, names_of(n.read_schema()));
      // Only list outputs when they are not just the read columns in order.
      bool plain = n.outputs.size() == n.read_columns.size();
      for (size_t i = 0; plain && i < n.outputs.size(); ++i) {
        plain = n.outputs[i]->kind == BoundExprKind::kColumnRef &&
                n.outputs[i]->column_index == static_cast<int>(i);
      }
      if (!plain) {
        std::string outs;
        for (size_t i = 0; i < n.outputs.size(); ++i) {
          if (i > 0) outs += ", ";
          const std::string e = n.outputs[i]->to_string();
          outs += e == n.schema[i].name ? e : fmt::format("{} AS {}", e, n.schema[i].name);
        }
        s += fmt::format(", project=[{}]", outs);
      }
      if (n.watermark) {
        s += fmt::format(", watermark=[{}, {}]", n.schema[n.watermark->rowtime_index].name,
                         n.watermark->expr->to_string());
      }
      if (n.pushed_filter) s += fmt::format(", filter=[{}]", n.pushed_filter->to_string());
      return s + ")";
    }
    case LogicalNodeKind::kFilter:
      return fmt::format("Filter(condition=[{}])", n.predicate->to_string());
    case LogicalNodeKind::kProject: {
      std::string s = "Project(select=[";
      for (size_t i = 0; i < n.exprs.size(); ++i) {
        if (i > 0) s += ", ";
        const std::string e = n.exprs[i]->to_string();
        s += e == n.schema[i].name ? e : fmt::format("{} AS {}", e, n.schema[i].name);
      }
      return s + "])";
    }
    case LogicalNodeKind::kUnion:
      return fmt::format("Union(all=[true], fields=[{}])", names_of(n.schema));
    case LogicalNodeKind::kValues: {
      std::string s = fmt::format("Values(fields=[{}], tuples=[", names_of(n.schema));
      for (size_t r = 0; r < n.rows.size(); ++r) {
        s += r > 0 ? ", {" : "{";
        for (size_t i = 0; i < n.rows[r].size(); ++i) {
          if (i > 0) s += ", ";
          s += n.rows[r][i]->to_string();
        }
        s += "}";
      }
      return s + "])";
    }
    case LogicalNodeKind::kSink:
      return fmt::format("Sink(table=[{}], fields=[{}]{})", n.table->name, names_of(n.schema),
                         n.overwrite ? ", overwrite=[true]" : "");
    case LogicalNodeKind::kAggregate:
    case LogicalNodeKind::kWindowAggregate:
      return describe_aggregate(n);
    case LogicalNodeKind::kDeduplicate: {
      std::vector<std::string> keys;
      for (int k : n.group_keys) keys.push_back(n.schema[k].name);
      return fmt::format("Deduplicate(keep=[FirstRow], key=[{}], order=[{}])",
                         fmt::join(keys, ", "), n.schema[n.order_column].name);
    }
    case LogicalNodeKind::kSort: {
      std::vector<std::string> keys;
      for (const auto& k : n.sort_keys) {
        keys.push_back(n.schema[k.column].name + (k.descending ? " DESC" : " ASC"));
      }
      std::string out = fmt::format("Sort(orderBy=[{}]", fmt::join(keys, ", "));
      if (n.offset > 0) out += fmt::format(", offset=[{}]", n.offset);
      if (n.limit) out += fmt::format(", limit=[{}]", *n.limit);
      return out + ")";
    }
    case LogicalNodeKind::kJoin: {
      const Schema& l = n.inputs[0]->schema;
      const Schema& r = n.inputs[1]->schema;
      std::vector<std::string> keys;
      for (size_t i = 0; i < n.left_keys.size(); ++i) {
        keys.push_back(fmt::format("{} = {}", l[n.left_keys[i]].name, r[n.right_keys[i]].name));
      }
      std::string out =
          fmt::format("HashJoin(joinType=[{}], where=[{}]", n.join_type, fmt::join(keys, " AND "));
      if (n.predicate) out += fmt::format(", residual=[{}]", n.predicate->to_string());
      return out + fmt::format(", build=[right], select=[{}])", names_of(n.schema));
    }
    case LogicalNodeKind::kRank: {
      const Schema& in = n.inputs[0]->schema;
      std::vector<std::string> parts, order, fns;
      for (int k : n.group_keys) parts.push_back(in[k].name);
      for (const auto& k : n.sort_keys) {
        order.push_back(in[k.column].name + (k.descending ? " DESC" : " ASC"));
      }
      for (size_t i = 0; i < n.rank_functions.size(); ++i) {
        fns.push_back(fmt::format("{}() AS {}", n.rank_functions[i], n.schema[in.size() + i].name));
      }
      return fmt::format("Rank(partitionBy=[{}], orderBy=[{}], select=[{}])",
                         fmt::join(parts, ", "), fmt::join(order, ", "), fmt::join(fns, ", "));
    }
  }
  return "?";
}

void explain_into(const LogicalNode& n, const std::string& prefix, const std::string& child_prefix,
                  std::string& out) {
  out += prefix + describe_node(n) + "\n";
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    const bool last = i + 1 == n.inputs.size();
    explain_into(*n.inputs[i], child_prefix + (last ? "+- " : ":- "),
                 child_prefix + (last ? "   " : ":  "), out);
  }
}

}  // namespace

std::unique_ptr<LogicalNode> make_filter(std::unique_ptr<LogicalNode> input,
                                         BoundExprPtr predicate) {
  auto filter = std::make_unique<LogicalNode>();
  filter->kind = LogicalNodeKind::kFilter;
  filter->schema = input->schema;
  filter->rowtime_index = input->rowtime_index;
  filter->predicate = std::move(predicate);
  filter->inputs.push_back(std::move(input));
  return filter;
}

std::string explain_plan(const LogicalNode& root) {
  std::string out;
  explain_into(root, "", "", out);
  return out;
}

std::string explain_plan(const StatementSetPlan& plan) {
  std::string out;
  for (size_t i = 0; i < plan.sinks.size(); ++i) {
    if (i > 0) out += "\n";
    out += explain_plan(*plan.sinks[i]);
  }
  return out;
}

}  // namespace roadpulse::sql
