#include "sql/optimizer.h"

#include <algorithm>

#include <arrow/type.h>

namespace roadpulse::sql {

namespace {

using NodePtr = std::unique_ptr<LogicalNode>;

bool is_deterministic(const BoundExpr& e) {
  if (e.kind == BoundExprKind::kCall &&
      (e.function == "CURRENT_TIMESTAMP" || e.function == "NOW" || e.function == "PROCTIME" ||
       e.function == "LOCALTIMESTAMP" || e.function == "CURRENT_ROW_TIMESTAMP" ||
       e.function == "RAND" || e.function == "CURRENT_WATERMARK")) {
    return false;
  }
  return std::all_of(e.args.begin(), e.args.end(),
                     [](const auto& a) { return is_deterministic(*a); });
}

BoundExprPtr conjunction(BoundExprPtr a, BoundExprPtr b) {
  if (!a) return b;
  const bool nullable = a->type.nullable || b->type.nullable;
  std::vector<BoundExprPtr> args;
  args.push_back(std::move(a));
  args.push_back(std::move(b));
  return BoundExpr::call("AND", SqlType::boolean(nullable), std::move(args));
}

// Replaces each column reference i in `e` by a copy of exprs[i].
BoundExprPtr substitute(const BoundExpr& e, const std::vector<BoundExprPtr>& exprs) {
  if (e.kind == BoundExprKind::kColumnRef) return exprs[e.column_index]->clone();
  auto out = e.clone();
  for (size_t i = 0; i < e.args.size(); ++i) out->args[i] = substitute(*e.args[i], exprs);
  return out;
}

void split_conjuncts(BoundExprPtr e, std::vector<BoundExprPtr>& out) {
  if (e->kind == BoundExprKind::kCall && e->function == "AND" && e->args.size() == 2) {
    split_conjuncts(std::move(e->args[0]), out);
    split_conjuncts(std::move(e->args[1]), out);
    return;
  }
  out.push_back(std::move(e));
}

NodePtr make_filter(BoundExprPtr pred, NodePtr child) {
  auto f = std::make_unique<LogicalNode>();
  f->kind = LogicalNodeKind::kFilter;
  f->schema = child->schema;
  f->rowtime_index = child->rowtime_index;
  f->predicate = std::move(pred);
  f->inputs.push_back(std::move(child));
  return f;
}

NodePtr push_filter(BoundExprPtr pred, NodePtr child) {
  switch (child->kind) {
    case LogicalNodeKind::kTableScan:
      child->pushed_filter = conjunction(std::move(child->pushed_filter), std::move(pred));
      return child;
    case LogicalNodeKind::kFilter: {
      auto merged = conjunction(std::move(child->predicate), std::move(pred));
      return push_filter(std::move(merged), std::move(child->inputs[0]));
    }
    case LogicalNodeKind::kProject: {
      std::vector<int> used;
      pred->collect_columns(used);
      const bool ok = std::all_of(used.begin(), used.end(),
                                  [&](int c) { return is_deterministic(*child->exprs[c]); });
      if (!ok) return make_filter(std::move(pred), std::move(child));
      auto below = substitute(*pred, child->exprs);
      child->inputs[0] = push_filter(std::move(below), std::move(child->inputs[0]));
      return child;
    }
    case LogicalNodeKind::kUnion:
      for (auto& in : child->inputs) in = push_filter(pred->clone(), std::move(in));
      return child;
    case LogicalNodeKind::kJoin: {
      // Conjuncts over one side only go below the join (so the lake prunes by them); for a LEFT
      // join only the left side's, as a right-side filter above must still see NULL rows.
      const int nl = static_cast<int>(child->inputs[0]->schema.size());
      std::vector<BoundExprPtr> conjuncts, left, right, above;
      split_conjuncts(std::move(pred), conjuncts);
      for (auto& c : conjuncts) {
        std::vector<int> used;
        c->collect_columns(used);
        const bool deterministic = is_deterministic(*c);
        const bool all_left = std::all_of(used.begin(), used.end(), [&](int i) { return i < nl; });
        const bool all_right =
            std::all_of(used.begin(), used.end(), [&](int i) { return i >= nl; });
        if (deterministic && !used.empty() && all_left) {
          left.push_back(std::move(c));
        } else if (deterministic && !used.empty() && all_right && child->join_type == "INNER") {
          std::vector<int> shift(child->schema.size(), -1);
          for (size_t i = nl; i < shift.size(); ++i) shift[i] = static_cast<int>(i) - nl;
          c->remap_columns(shift);
          right.push_back(std::move(c));
        } else {
          above.push_back(std::move(c));
        }
      }
      BoundExprPtr l, r, a;
      for (auto& c : left) l = conjunction(std::move(l), std::move(c));
      for (auto& c : right) r = conjunction(std::move(r), std::move(c));
      for (auto& c : above) a = conjunction(std::move(a), std::move(c));
      if (l) child->inputs[0] = push_filter(std::move(l), std::move(child->inputs[0]));
      if (r) child->inputs[1] = push_filter(std::move(r), std::move(child->inputs[1]));
      return a ? make_filter(std::move(a), std::move(child)) : std::move(child);
    }
    default:
      return make_filter(std::move(pred), std::move(child));
  }
}

NodePtr push_down_filters(NodePtr node) {
  for (auto& in : node->inputs) in = push_down_filters(std::move(in));
  if (node->kind == LogicalNodeKind::kFilter) {
    return push_filter(std::move(node->predicate), std::move(node->inputs[0]));
  }
  return node;
}

std::vector<bool> all(size_t n) { return std::vector<bool>(n, true); }

void mark(const BoundExpr& e, std::vector<bool>& required) {
  std::vector<int> cols;
  e.collect_columns(cols);
  for (int c : cols) required[c] = true;
}

// Keeps the outputs of `node` marked in `required` (and whatever the node itself needs);
// returns old output index -> new output index (-1 when dropped).
std::vector<int> prune(LogicalNode& node, const std::vector<bool>& required) {
  const size_t n = node.schema.size();
  std::vector<int> identity(n);
  for (size_t i = 0; i < n; ++i) identity[i] = static_cast<int>(i);
  switch (node.kind) {
    case LogicalNodeKind::kSink:
    case LogicalNodeKind::kUnion:
    case LogicalNodeKind::kDeduplicate:  // passes whole rows through
    case LogicalNodeKind::kSort:
      for (auto& in : node.inputs) prune(*in, all(in->schema.size()));
      return identity;
    case LogicalNodeKind::kValues:
      return identity;
    case LogicalNodeKind::kAggregate:
    case LogicalNodeKind::kWindowAggregate: {
      // Outputs stay; the input keeps what keys, arguments and the window need.
      std::vector<bool> need(node.inputs[0]->schema.size(), false);
      for (int k : node.group_keys) need[k] = true;
      for (const auto& a : node.aggregates) {
        for (int c : a.args) need[c] = true;
      }
      if (node.window) {
        need[node.window->time_column] = true;
        for (int c : node.window->partition_keys) need[c] = true;
      }
      auto m = prune(*node.inputs[0], need);
      for (int& k : node.group_keys) k = m[k];
      for (auto& a : node.aggregates) {
        for (int& c : a.args) c = m[c];
      }
      if (node.window) {
        node.window->time_column = m[node.window->time_column];
        for (int& c : node.window->partition_keys) c = m[c];
      }
      return identity;
    }
    case LogicalNodeKind::kJoin: {
      // Each side keeps what is required above, its keys and what the residual reads.
      const size_t nl = node.inputs[0]->schema.size();
      std::vector<bool> need = required;
      if (node.predicate) mark(*node.predicate, need);
      std::vector<bool> need_left(need.begin(), need.begin() + nl);
      std::vector<bool> need_right(need.begin() + nl, need.end());
      for (int k : node.left_keys) need_left[k] = true;
      for (int k : node.right_keys) need_right[k] = true;
      auto ml = prune(*node.inputs[0], need_left);
      auto mr = prune(*node.inputs[1], need_right);
      const int nl2 = static_cast<int>(node.inputs[0]->schema.size());
      std::vector<int> mapping(n, -1);
      Schema schema;
      for (size_t i = 0; i < n; ++i) {
        const int m = i < nl ? ml[i] : (mr[i - nl] >= 0 ? mr[i - nl] + nl2 : -1);
        mapping[i] = m;
        if (m >= 0) schema.fields.push_back(node.schema[i]);
      }
      for (int& k : node.left_keys) k = ml[k];
      for (int& k : node.right_keys) k = mr[k];
      if (node.predicate) node.predicate->remap_columns(mapping);
      node.schema = std::move(schema);
      return mapping;
    }
    case LogicalNodeKind::kRank: {
      // Whole input rows pass through; the input keeps what is required and the window keys.
      const size_t nin = node.inputs[0]->schema.size();
      std::vector<bool> need(required.begin(), required.begin() + nin);
      for (int k : node.group_keys) need[k] = true;
      for (const auto& k : node.sort_keys) need[k.column] = true;
      auto m = prune(*node.inputs[0], need);
      const int nin2 = static_cast<int>(node.inputs[0]->schema.size());
      std::vector<int> mapping(n, -1);
      Schema schema;
      for (size_t i = 0; i < n; ++i) {
        mapping[i] = i < nin ? m[i] : nin2 + static_cast<int>(i - nin);
        if (mapping[i] >= 0) schema.fields.push_back(node.schema[i]);
      }
      for (int& k : node.group_keys) k = m[k];
      for (auto& k : node.sort_keys) k.column = m[k.column];
      node.schema = std::move(schema);
      return mapping;
    }
    case LogicalNodeKind::kFilter: {
      std::vector<bool> need = required;
      mark(*node.predicate, need);
      auto mapping = prune(*node.inputs[0], need);
      node.predicate->remap_columns(mapping);
      node.schema = node.inputs[0]->schema;
      node.rowtime_index = node.inputs[0]->rowtime_index;
      return mapping;
    }
    case LogicalNodeKind::kProject: {
      std::vector<int> mapping(n, -1);
      std::vector<BoundExprPtr> kept;
      Schema schema;
      for (size_t i = 0; i < n; ++i) {
        if (!required[i]) continue;
        mapping[i] = static_cast<int>(kept.size());
        kept.push_back(std::move(node.exprs[i]));
        schema.fields.push_back(node.schema[i]);
      }
      std::vector<bool> need(node.inputs[0]->schema.size(), false);
      for (const auto& e : kept) mark(*e, need);
      auto child_map = prune(*node.inputs[0], need);
      for (auto& e : kept) e->remap_columns(child_map);
      node.exprs = std::move(kept);
      node.schema = std::move(schema);
      if (node.rowtime_index) {
        node.rowtime_index = mapping[*node.rowtime_index] >= 0
                                 ? std::optional<int>(mapping[*node.rowtime_index])
                                 : std::nullopt;
      }
      return mapping;
    }
    case LogicalNodeKind::kTableScan: {
      std::vector<bool> need = required;
      if (node.pushed_filter) mark(*node.pushed_filter, need);
      if (node.watermark) {
        need[node.watermark->rowtime_index] = true;
        mark(*node.watermark->expr, need);
      }
      std::vector<int> mapping(n, -1);
      std::vector<BoundExprPtr> outputs;
      std::vector<int> projected;
      Schema schema;
      for (size_t i = 0; i < n; ++i) {
        if (!need[i]) continue;
        mapping[i] = static_cast<int>(outputs.size());
        outputs.push_back(std::move(node.outputs[i]));
        projected.push_back(node.projected_columns[i]);
        schema.fields.push_back(node.schema[i]);
      }
      // Read only the physical columns the kept outputs use, in table order.
      std::vector<bool> read_needed(node.read_columns.size(), false);
      for (const auto& e : outputs) mark(*e, read_needed);
      std::vector<int> read_map(node.read_columns.size(), -1);
      std::vector<int> read;
      for (size_t r = 0; r < node.read_columns.size(); ++r) {
        if (!read_needed[r]) continue;
        read_map[r] = static_cast<int>(read.size());
        read.push_back(node.read_columns[r]);
      }
      for (auto& e : outputs) e->remap_columns(read_map);
      node.read_columns = std::move(read);
      node.outputs = std::move(outputs);
      node.projected_columns = std::move(projected);
      node.schema = std::move(schema);
      if (node.pushed_filter) node.pushed_filter->remap_columns(mapping);
      if (node.watermark) {
        node.watermark->expr->remap_columns(mapping);
        node.watermark->rowtime_index = mapping[node.watermark->rowtime_index];
      }
      if (node.rowtime_index) {
        node.rowtime_index = mapping[*node.rowtime_index] >= 0
                                 ? std::optional<int>(mapping[*node.rowtime_index])
                                 : std::nullopt;
      }
      return mapping;
    }
  }
  return identity;
}

bool is_identity_project(const LogicalNode& p, bool names_matter) {
  const LogicalNode& in = *p.inputs[0];
  if (p.exprs.size() != in.schema.size()) return false;
  for (size_t i = 0; i < p.exprs.size(); ++i) {
    const auto& e = *p.exprs[i];
    if (e.kind != BoundExprKind::kColumnRef || e.column_index != static_cast<int>(i)) return false;
    if (names_matter && p.schema[i].name != in.schema[i].name) return false;
    if (!p.schema[i].type.to_arrow()->Equals(*in.schema[i].type.to_arrow())) return false;
  }
  return true;
}

NodePtr remove_identity_projects(NodePtr node, bool names_matter) {
  const bool child_names_matter = node->kind != LogicalNodeKind::kSink;
  for (auto& in : node->inputs) in = remove_identity_projects(std::move(in), child_names_matter);
  if (node->kind == LogicalNodeKind::kProject && is_identity_project(*node, names_matter)) {
    return std::move(node->inputs[0]);
  }
  return node;
}

}  // namespace

arrow::Result<std::unique_ptr<LogicalNode>> optimize(std::unique_ptr<LogicalNode> root) {
  root = push_down_filters(std::move(root));
  prune(*root, all(root->schema.size()));
  return remove_identity_projects(std::move(root), /*names_matter=*/true);
}

}  // namespace roadpulse::sql
