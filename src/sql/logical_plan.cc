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
