#include "exec/job.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <sstream>
#include <thread>

#include <arrow/array.h>
#include <arrow/builder.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/time.h"
#include "exec/aggregate_operators.h"
#include "exec/checkpoint_coordinator.h"
#include "exec/expression.h"
#include "exec/join_operators.h"
#include "exec/late_records.h"
#include "exec/operators.h"
#include "exec/watermark.h"

namespace roadpulse::exec {

namespace {

constexpr std::string_view kTableOptionPrefix = "table-option.";
constexpr int64_t kPollMillis = 100;
constexpr int64_t kTickMicros = 200000;
constexpr std::string_view kIdleTimeoutConfig = "table.exec.source.idle-timeout";
constexpr std::string_view kIdleTimeoutOption = "scan.watermark.idle-timeout";
constexpr std::string_view kRuntimeModeConfig = "execution.runtime-mode";

// A chain of fused operators; links_[i] is the collector that feeds ops_[i].
class Chain {
 public:
  explicit Chain(std::vector<std::unique_ptr<Operator>> ops) : ops_(std::move(ops)) {
    for (size_t i = 0; i <= ops_.size(); ++i) links_.emplace_back(this, i);
  }
  Chain(const Chain&) = delete;

  /// `key` names the chain in checkpoints; `restored` holds the parts of the checkpoint the job
  /// resumes from (null on a fresh start).
  arrow::Status open(const OperatorContext& context, const std::string& key,
                     const CheckpointManifest* restored) {
    key_ = key;
    for (size_t i = 0; i < ops_.size(); ++i) {
      OperatorContext c = context;
      c.operator_name = ops_[i]->name();
      if (restored) {
        if (const auto* part = restored->find(op_key(i))) {
          if (part->owner != c.operator_name) {
            return arrow::Status::Invalid("checkpoint ", restored->id, " holds the state of '",
                                          part->owner, "' where the job now has '", c.operator_name,
                                          "': the query changed; use another 'pipeline.name' or "
                                          "delete the pipeline's checkpoints to start over");
          }
          c.restored_state = part->data;
        }
      }
      ARROW_RETURN_NOT_OK(ops_[i]->open(c));
    }
    return arrow::Status::OK();
  }
  /// Seals open state (upstream first, so what an operator emits reaches the ones below before
  /// they seal), then takes every operator's snapshot.
  arrow::Status snapshot(int64_t checkpoint_id, std::vector<CheckpointPart>* parts) {
    for (size_t i = 0; i < ops_.size(); ++i) {
      ARROW_RETURN_NOT_OK(ops_[i]->prepare_snapshot_pre_barrier(checkpoint_id, links_[i + 1]));
    }
    for (size_t i = 0; i < ops_.size(); ++i) {
      ARROW_ASSIGN_OR_RAISE(auto state, ops_[i]->snapshot_state(checkpoint_id));
      if (state) parts->push_back({op_key(i), ops_[i]->name(), std::move(state)});
    }
    return arrow::Status::OK();
  }
  arrow::Status notify_checkpoint_complete(int64_t checkpoint_id) {
    for (auto& op : ops_) ARROW_RETURN_NOT_OK(op->notify_checkpoint_complete(checkpoint_id));
    return arrow::Status::OK();
  }
  /// A batch of source split `split` (-1: unknown); a scan at the head learns the split.
  arrow::Status push(std::shared_ptr<arrow::RecordBatch> batch, int split = -1) {
    if (auto* scan = ops_.empty() ? nullptr : dynamic_cast<ScanOperator*>(ops_[0].get())) {
      return scan->process_split(split, std::move(batch), links_[1]);
    }
    return links_[0].emit(std::move(batch));
  }
  /// A watermark into the chain's first operator (a chain without a scan at its head).
  arrow::Status push_watermark(Watermark watermark) { return links_[0].emit_watermark(watermark); }
  int64_t late_records() const {
    int64_t n = 0;
    for (const auto& op : ops_) n += op->metrics().late_records;
    return n;
  }
  arrow::Status tick(int64_t now) {
    for (size_t i = 0; i < ops_.size(); ++i) {
      ARROW_RETURN_NOT_OK(ops_[i]->on_tick(now, links_[i + 1]));
    }
    return arrow::Status::OK();
  }
  arrow::Status close(bool end_of_data) {
    arrow::Status first;
    for (size_t i = 0; i < ops_.size(); ++i) {
      auto st = ops_[i]->close(end_of_data, links_[i + 1]);
      if (first.ok() && !st.ok()) first = st;
    }
    return first;
  }
  std::string describe() const {
    std::string out;
    for (size_t i = 0; i < ops_.size(); ++i) out += (i ? " -> " : "") + ops_[i]->name();
    return out;
  }

 private:
  class Link final : public Collector {
   public:
    Link(Chain* chain, size_t index) : chain_(chain), index_(index) {}
    arrow::Status emit(std::shared_ptr<arrow::RecordBatch> batch) override {
      if (index_ >= chain_->ops_.size()) return arrow::Status::OK();
      return chain_->ops_[index_]->process_batch(0, std::move(batch), chain_->links_[index_ + 1]);
    }
    arrow::Status emit_watermark(Watermark watermark) override {
      if (index_ >= chain_->ops_.size()) return arrow::Status::OK();
      return chain_->ops_[index_]->on_watermark(watermark, chain_->links_[index_ + 1]);
    }

   private:
    Chain* chain_;
    size_t index_;
  };

  std::string op_key(size_t i) const { return "operator/" + key_ + "." + std::to_string(i); }

  std::vector<std::unique_ptr<Operator>> ops_;
  std::vector<Link> links_;
  std::string key_;
};

// The operators from a stateful node whose input is a UNION ALL of several scans (a GROUP BY, a
// window, a deduplication, ORDER BY) up to the sink: one chain fed by the chains of every input,
// each running on its own source's thread, serialized by a mutex. Its watermark is the minimum
// over the inputs (Flink's multi-input watermark): an idle input is left out unless all are, an
// input at its end counts as +infinity, and it only moves forward.
class UnionTail {
 public:
  explicit UnionTail(int inputs) : inputs_(size_t(inputs)), open_inputs_(inputs) {}
  /// The chain is planned after the inputs' chains (which hold this tail already).
  void set_chain(std::unique_ptr<Chain> chain) { chain_ = std::move(chain); }

  arrow::Status push(std::shared_ptr<arrow::RecordBatch> batch) {
    std::lock_guard lock(mutex_);
    return chain_->push(std::move(batch));
  }
  arrow::Status watermark(int input, Watermark w) {
    std::lock_guard lock(mutex_);
    Input& in = inputs_.at(size_t(input));
    in.idle = w.idle;
    in.watermark = std::max(in.watermark, w.micros);
    return advance();
  }
  arrow::Status tick(int64_t now) {
    std::lock_guard lock(mutex_);
    return chain_->tick(now);
  }
  // Closes the chain when the last input closes (`end_of_data` when every input ended).
  arrow::Status close_input(int input, bool end_of_data) {
    std::lock_guard lock(mutex_);
    Input& in = inputs_.at(size_t(input));
    if (in.closed) return arrow::Status::OK();
    in.closed = true;
    all_ended_ = all_ended_ && end_of_data;
    if (end_of_data) {
      in.watermark = Watermark::kMax;
      in.idle = false;
      ARROW_RETURN_NOT_OK(advance());
    }
    if (--open_inputs_ > 0) return arrow::Status::OK();
    return chain_->close(all_ended_);
  }

  arrow::Status open(const OperatorContext& context, const std::string& key,
                     const CheckpointManifest* restored) {
    if (restored) {
      if (const auto* part = restored->find(part_key(key))) {
        ARROW_RETURN_NOT_OK(restore(part->data->ToString()));
      }
    }
    return chain_->open(context, key, restored);
  }
  // The chain's operators' state and the inputs' watermarks; called while every source thread
  // is paused.
  arrow::Status snapshot(int64_t checkpoint_id, const std::string& key,
                         std::vector<CheckpointPart>* parts) {
    std::lock_guard lock(mutex_);
    std::string state = fmt::format("{} {}", emitted_, inputs_.size());
    for (const auto& in : inputs_) state += fmt::format(" {}", in.watermark);
    parts->push_back({part_key(key), "UnionAll", arrow::Buffer::FromString(std::move(state))});
    return chain_->snapshot(checkpoint_id, parts);
  }
  arrow::Status notify_checkpoint_complete(int64_t checkpoint_id) {
    std::lock_guard lock(mutex_);
    return chain_->notify_checkpoint_complete(checkpoint_id);
  }
  int64_t late_records() const { return chain_->late_records(); }
  std::string describe() const { return chain_->describe(); }

 private:
  struct Input {
    int64_t watermark = Watermark::kMin;
    bool idle = false;
    bool closed = false;
  };
  static std::string part_key(const std::string& key) { return "union/" + key; }

  arrow::Status restore(const std::string& state) {
    std::istringstream in(state);
    size_t n = 0;
    in >> emitted_ >> n;
    if (!in || n != inputs_.size()) {
      return arrow::Status::Invalid("UNION ALL state has ", n, " inputs, the job ", inputs_.size());
    }
    for (auto& input : inputs_) in >> input.watermark;
    if (!in) return arrow::Status::Invalid("malformed UNION ALL state '", state, "'");
    return arrow::Status::OK();
  }

  arrow::Status advance() {
    int64_t active_min = Watermark::kMax;
    int64_t idle_max = Watermark::kMin;
    bool any_active = false;
    for (const auto& in : inputs_) {
      if (in.idle) {
        idle_max = std::max(idle_max, in.watermark);
      } else {
        any_active = true;
        active_min = std::min(active_min, in.watermark);
      }
    }
    const int64_t combined = any_active ? active_min : idle_max;
    if (combined <= emitted_) return arrow::Status::OK();
    emitted_ = combined;
    return chain_->push_watermark(Watermark{combined, !any_active});
  }

  std::mutex mutex_;
  std::unique_ptr<Chain> chain_;
  std::vector<Input> inputs_;
  int open_inputs_;
  bool all_ended_ = true;
  int64_t emitted_ = Watermark::kMin;
};

// The end of one UNION ALL input's chain: hands its rows and watermarks to the shared tail.
class UnionInputOperator final : public Operator {
 public:
  UnionInputOperator(std::shared_ptr<UnionTail> tail, int input)
      : tail_(std::move(tail)), input_(input) {}
  std::string name() const override { return fmt::format("UnionAllInput({})", input_); }
  arrow::Status process_batch(int, std::shared_ptr<arrow::RecordBatch> batch, Collector&) override {
    return tail_->push(std::move(batch));
  }
  arrow::Status on_watermark(Watermark watermark, Collector&) override {
    return tail_->watermark(input_, watermark);
  }
  arrow::Status on_tick(int64_t now, Collector&) override { return tail_->tick(now); }
  arrow::Status close(bool end_of_data, Collector&) override {
    return tail_->close_input(input_, end_of_data);
  }

 private:
  std::shared_ptr<UnionTail> tail_;
  int input_;
};

// Constant rows (VALUES, SELECT without FROM): one batch, then the end.
class ValuesSource final : public Source {
 public:
  explicit ValuesSource(std::shared_ptr<arrow::RecordBatch> batch) : batch_(std::move(batch)) {}
  std::string name() const override { return "Values"; }
  bool bounded() const override { return true; }
  arrow::Status open(const OperatorContext& context) override {
    if (context.restored_state && context.restored_state->ToString() == "emitted") batch_.reset();
    return arrow::Status::OK();
  }
  arrow::Result<std::shared_ptr<arrow::Buffer>> snapshot_position(int64_t) override {
    return arrow::Buffer::FromString(batch_ ? "pending" : "emitted");
  }
  arrow::Result<SourceChunk> next(int64_t) override {
    SourceChunk chunk;
    chunk.batch = std::move(batch_);
    chunk.end_of_input = true;
    if (chunk.batch) read_ = chunk.batch->num_rows();
    return chunk;
  }
  SourceMetrics metrics() const override { return {read_, 0}; }

 private:
  std::shared_ptr<arrow::RecordBatch> batch_;
  int64_t read_ = 0;
};

arrow::Result<std::shared_ptr<arrow::RecordBatch>> values_batch(const sql::LogicalNode& node) {
  auto schema = node.schema.to_arrow();
  std::vector<std::unique_ptr<arrow::ArrayBuilder>> builders;
  for (const auto& f : schema->fields()) {
    ARROW_ASSIGN_OR_RAISE(auto b, arrow::MakeBuilder(f->type()));
    builders.push_back(std::move(b));
  }
  for (const auto& row : node.rows) {
    if (row.size() != builders.size()) {
      return arrow::Status::Invalid("VALUES row has ", row.size(), " values for ", builders.size(),
                                    " columns");
    }
    for (size_t c = 0; c < row.size(); ++c) {
      ARROW_ASSIGN_OR_RAISE(auto scalar, evaluate_constant(*row[c]));
      if (!scalar->type->Equals(*schema->field(int(c))->type())) {
        ARROW_ASSIGN_OR_RAISE(scalar, scalar->CastTo(schema->field(int(c))->type()));
      }
      ARROW_RETURN_NOT_OK(builders[c]->AppendScalar(*scalar));
    }
  }
  std::vector<std::shared_ptr<arrow::Array>> arrays;
  for (auto& b : builders) {
    ARROW_ASSIGN_OR_RAISE(auto a, b->Finish());
    arrays.push_back(std::move(a));
  }
  return arrow::RecordBatch::Make(schema, int64_t(node.rows.size()), std::move(arrays));
}

// Passes a query's rows to a callback.
class CallbackSink final : public Sink {
 public:
  explicit CallbackSink(RowCallback callback) : callback_(std::move(callback)) {}
  std::string name() const override { return "Collect"; }
  arrow::Status write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    rows_ += batch->num_rows();
    return callback_(batch);
  }
  bool accepts_changelog() const override { return true; }
  // The callback sees the row kind as the trailing `_rowkind` column.
  arrow::Status write_changelog(const std::shared_ptr<arrow::RecordBatch>& batch,
                                const std::vector<int8_t>& kinds) override {
    arrow::Int8Builder b;
    ARROW_RETURN_NOT_OK(b.AppendValues(kinds));
    ARROW_ASSIGN_OR_RAISE(auto array, b.Finish());
    ARROW_ASSIGN_OR_RAISE(
        auto with_kind,
        batch->AddColumn(batch->num_columns(), arrow::field(kRowKindColumn, arrow::int8(), false),
                         std::move(array)));
    rows_ += batch->num_rows();
    return callback_(with_kind);
  }
  int64_t rows_written() const override { return rows_; }

 private:
  RowCallback callback_;
  int64_t rows_ = 0;
};

std::string options_key(const sql::CatalogTable& table, const TableOptions& options) {
  std::string key = table.name;
  for (const auto& [k, v] : options) key += fmt::format("\x1f{}={}", k, v);
  return key;
}

}  // namespace

TableOptions effective_options(const sql::CatalogTable& table,
                               const std::map<std::string, std::string>& config) {
  TableOptions options(table.options.begin(), table.options.end());
  const std::string prefix = std::string(kTableOptionPrefix) + table.name + ".";
  for (const auto& [key, value] : config) {
    if (key.size() > prefix.size() && key.compare(0, prefix.size(), prefix) == 0) {
      options[key.substr(prefix.size())] = value;
    }
  }
  return options;
}

// ---------------------------------------------------------------------------------------------

struct SourceGroup {
  std::shared_ptr<const sql::CatalogTable> table;
  TableOptions options;
  std::string connector;
  std::vector<int> read_columns;  // union over the scans, sorted
  std::unique_ptr<Source> source;
  std::vector<std::unique_ptr<Chain>> chains;
  bool done = false;
  size_t index = 0;
  // Checkpoint bookkeeping. `exited`, `arrived_id` and `snapshot_error` are guarded by
  // Impl::mutex; `joined_id` and `notified_id` belong to whoever drives the group.
  bool exited = false;
  int64_t joined_id = 0;    // last checkpoint this group snapshotted for
  int64_t arrived_id = 0;   // ... and reported to the coordinator
  int64_t notified_id = 0;  // last completed checkpoint its operators and source heard of
  arrow::Status snapshot_error;
  std::vector<CheckpointPart> parts;  // its contribution to the pending checkpoint
};

// A stateful node over a UNION ALL of several scans and the nodes above it (UnionTail).
struct TailPlan {
  std::vector<const sql::LogicalNode*> nodes;  // the stateful node first, then up to the sink
  std::shared_ptr<SharedSink> sink;
  std::vector<SourceGroup*> groups;   // the source of each input
  std::vector<std::string> updating;  // per input: the operator making it an updating result
  std::shared_ptr<UnionTail> runtime;
};

struct PendingChain {
  const sql::LogicalNode* leaf;
  std::vector<const sql::LogicalNode*> above;  // nearest parent first
  std::shared_ptr<SharedSink> sink;
  std::shared_ptr<TailPlan> tail;  // set: the chain ends in input `tail_input` of this tail
  int tail_input = -1;
};

struct Job::Impl {
  JobOptions options;
  std::vector<std::unique_ptr<SourceGroup>> groups;
  std::vector<std::shared_ptr<SharedSink>> sinks;
  std::vector<std::shared_ptr<TailPlan>> tails;  // stateful nodes over a UNION ALL
  bool collecting_tail = false;
  // Event-time operators (windows, sessions, deduplication) drop late rows; with
  // `table.exec.late-records.stream` set they also go to this side stream (late_records.h).
  bool drops_late_rows = false;
  std::unique_ptr<LateRecordStream> late_stream;

  std::mutex mutex;
  std::condition_variable changed;
  std::atomic<bool> stop_requested{false};
  arrow::Status error;
  int running = 0;
  bool cancelled = false;
  int64_t elapsed = 0;

  // Checkpoints (docs/checkpoints.md). A checkpoint is a consistent cut taken by pausing every
  // source thread at a batch boundary: chains are fused and synchronous, so between two batches
  // nothing is in flight and the cut is the one aligned barriers would give, without channels.
  bool query = false;
  std::unique_ptr<CheckpointCoordinator> checkpoints;
  std::optional<CheckpointManifest> restored;
  std::atomic<int64_t> pending_checkpoint{0};    // id the source threads must pause for
  std::atomic<int64_t> completed_checkpoint{0};  // newest committed id, for operator notifies
  uint64_t release_generation = 0;               // bumped when paused threads may go on
  mutable std::mutex stats_mutex;
  CheckpointStats stats;

  void fail(const arrow::Status& st) {
    std::lock_guard lock(mutex);
    if (error.ok()) error = st;
    stop_requested = true;
    changed.notify_all();
  }

  static int count_leaves(const sql::LogicalNode& node) {
    if (node.inputs.empty()) return 1;
    // A join's build side runs as a job of its own: only the probe side feeds the chain.
    if (node.kind == sql::LogicalNodeKind::kJoin) return count_leaves(*node.inputs[0]);
    int n = 0;
    for (const auto& input : node.inputs) n += count_leaves(*input);
    return n;
  }

  arrow::Status collect(const sql::LogicalNode& node, std::vector<const sql::LogicalNode*>& above,
                        const std::shared_ptr<SharedSink>& sink, std::vector<PendingChain>& out) {
    switch (node.kind) {
      case sql::LogicalNodeKind::kTableScan:
      case sql::LogicalNodeKind::kValues:
        out.push_back(
            {&node, std::vector<const sql::LogicalNode*>(above.rbegin(), above.rend()), sink});
        return arrow::Status::OK();
      case sql::LogicalNodeKind::kAggregate:
      case sql::LogicalNodeKind::kWindowAggregate:
      case sql::LogicalNodeKind::kDeduplicate:
      case sql::LogicalNodeKind::kSort:
      case sql::LogicalNodeKind::kRank:
        if (node.inputs.size() == 1 && count_leaves(*node.inputs[0]) != 1) {
          return collect_tail(node, above, sink, out);
        }
        [[fallthrough]];
      case sql::LogicalNodeKind::kFilter:
      case sql::LogicalNodeKind::kProject: {
        if (node.inputs.size() != 1) {
          return arrow::Status::Invalid(sql::logical_node_kind_name(node.kind),
                                        " node without exactly one input");
        }
        above.push_back(&node);
        auto st = collect(*node.inputs[0], above, sink, out);
        above.pop_back();
        return st;
      }
      case sql::LogicalNodeKind::kJoin: {
        // The probe (left) side flows through the chain; the build side is planned by the
        // HashJoinOperator's nested job.
        if (node.inputs.size() != 2) return arrow::Status::Invalid("Join node without 2 inputs");
        above.push_back(&node);
        auto st = collect(*node.inputs[0], above, sink, out);
        above.pop_back();
        return st;
      }
      case sql::LogicalNodeKind::kUnion:
        for (const auto& input : node.inputs) {
          ARROW_RETURN_NOT_OK(collect(*input, above, sink, out));
        }
        return arrow::Status::OK();
      default:
        return arrow::Status::NotImplemented("the engine cannot run plan node ",
                                             sql::logical_node_kind_name(node.kind), " yet");
    }
  }

  // A stateful node over several inputs (a UNION ALL): its input chains end in a UnionTail that
  // runs the node and everything above it once (plan_tail).
  arrow::Status collect_tail(const sql::LogicalNode& node,
                             const std::vector<const sql::LogicalNode*>& above,
                             const std::shared_ptr<SharedSink>& sink,
                             std::vector<PendingChain>& out) {
    if (collecting_tail) {
      return arrow::Status::NotImplemented(
          sql::logical_node_kind_name(node.kind),
          " over a UNION ALL inside another stateful operation over a UNION ALL is not supported "
          "yet");
    }
    auto tail = std::make_shared<TailPlan>();
    tail->nodes.push_back(&node);
    for (auto it = above.rbegin(); it != above.rend(); ++it) tail->nodes.push_back(*it);
    tail->sink = sink;
    std::vector<PendingChain> inputs;
    std::vector<const sql::LogicalNode*> below;
    collecting_tail = true;
    auto st = collect(*node.inputs[0], below, sink, inputs);
    collecting_tail = false;
    ARROW_RETURN_NOT_OK(st);
    for (size_t k = 0; k < inputs.size(); ++k) {
      inputs[k].tail = tail;
      inputs[k].tail_input = int(k);
    }
    tail->groups.resize(inputs.size());
    tail->updating.resize(inputs.size());
    tail->runtime = std::make_shared<UnionTail>(int(inputs.size()));
    tails.push_back(std::move(tail));
    for (auto& input : inputs) out.push_back(std::move(input));
    return arrow::Status::OK();
  }

  static bool is_row_operator_node(const sql::LogicalNode& node) {
    return node.kind == sql::LogicalNodeKind::kWindowAggregate ||
           node.kind == sql::LogicalNodeKind::kDeduplicate ||
           node.kind == sql::LogicalNodeKind::kFilter ||
           node.kind == sql::LogicalNodeKind::kProject;
  }

  // The operator of a node that needs nothing but the node: window aggregation, deduplication,
  // filter, projection. Windows and deduplication drop late rows, so the job then gets the
  // late-row side output (when configured).
  arrow::Result<std::unique_ptr<Operator>> make_row_operator(const sql::LogicalNode& node) {
    switch (node.kind) {
      case sql::LogicalNodeKind::kWindowAggregate: {
        drops_late_rows = true;
        if (node.window && node.window->kind == sql::WindowKind::kSession) {
          ARROW_ASSIGN_OR_RAISE(auto op, SessionWindowOperator::make(node));
          return op;
        }
        ARROW_ASSIGN_OR_RAISE(auto op, WindowAggregateOperator::make(node));
        return op;
      }
      case sql::LogicalNodeKind::kDeduplicate: {
        drops_late_rows = true;
        ARROW_ASSIGN_OR_RAISE(auto op, DeduplicateOperator::make(node));
        return op;
      }
      case sql::LogicalNodeKind::kFilter: {
        if (!node.predicate) return arrow::Status::Invalid("Filter node without a predicate");
        ARROW_ASSIGN_OR_RAISE(auto op, FilterOperator::make(*node.predicate));
        return op;
      }
      case sql::LogicalNodeKind::kProject: {
        ARROW_ASSIGN_OR_RAISE(auto op, ProjectOperator::make(node.exprs, node.schema));
        return op;
      }
      default:
        return arrow::Status::NotImplemented("no operator for a ",
                                             sql::logical_node_kind_name(node.kind), " node here");
    }
  }

  // An updating result (a changelog) may only go to a sink that takes updates, as in Flink.
  static arrow::Status check_sink_takes(SharedSink& sink, const std::string& updating_by) {
    if (updating_by.empty() || sink.sink().accepts_changelog()) return arrow::Status::OK();
    return arrow::Status::Invalid(
        "table '", sink.table(), "' (connector '", sink.connector(),
        "') is append-only and cannot take the updating result of ", updating_by,
        ": use a window aggregation (TUMBLE/HOP/CUMULATE/SESSION) or a sink that accepts "
        "updates (print, metrics, upsert-kafka)");
  }

  // The chain of a TailPlan, once every input chain is planned: bounded (batch mode) only when
  // every input is.
  arrow::Status plan_tail(TailPlan& tail) {
    bool bounded = true;
    bool sources_bounded = true;
    for (auto* g : tail.groups) {
      ARROW_ASSIGN_OR_RAISE(const bool b, batch_mode(*g));
      bounded = bounded && b;
      sources_bounded = sources_bounded && g->source->bounded();
    }
    std::vector<std::unique_ptr<Operator>> ops;
    std::string updating_by;
    for (const auto& u : tail.updating) {
      if (!u.empty()) updating_by = u;
    }
    for (const sql::LogicalNode* node : tail.nodes) {
      const bool stateful = node->kind == sql::LogicalNodeKind::kAggregate ||
                            node->kind == sql::LogicalNodeKind::kWindowAggregate ||
                            node->kind == sql::LogicalNodeKind::kDeduplicate;
      if (stateful && !updating_by.empty()) {
        return arrow::Status::NotImplemented(sql::logical_node_kind_name(node->kind),
                                             " over the updating result of ", updating_by,
                                             " is not supported");
      }
      if (node->kind == sql::LogicalNodeKind::kAggregate) {
        ARROW_ASSIGN_OR_RAISE(auto op, GroupAggregateOperator::make(*node, bounded));
        if (op->updating()) updating_by = op->name();
        ops.push_back(std::move(op));
      } else if (node->kind == sql::LogicalNodeKind::kSort) {
        if (!sources_bounded) {
          return arrow::Status::NotImplemented(
              "ORDER BY / LIMIT needs bounded inputs; a UNION ALL input is unbounded");
        }
        ARROW_ASSIGN_OR_RAISE(auto op, SortOperator::make(*node));
        ops.push_back(std::move(op));
      } else if (is_row_operator_node(*node)) {
        ARROW_ASSIGN_OR_RAISE(auto op, make_row_operator(*node));
        ops.push_back(std::move(op));
      } else {
        return arrow::Status::NotImplemented(sql::logical_node_kind_name(node->kind),
                                             " above a UNION ALL of several inputs is not "
                                             "supported yet");
      }
    }
    ARROW_RETURN_NOT_OK(check_sink_takes(*tail.sink, updating_by));
    ops.push_back(std::make_unique<SinkOperator>(tail.sink));
    tail.runtime->set_chain(std::make_unique<Chain>(std::move(ops)));
    return arrow::Status::OK();
  }

  arrow::Status plan(std::vector<PendingChain> pending, ConnectorFactory& factory) {
    // Group scans by table and effective options: one source per group.
    std::vector<std::pair<std::string, SourceGroup*>> keys;
    std::vector<std::pair<SourceGroup*, PendingChain>> assigned;
    for (auto& p : pending) {
      if (p.leaf->kind == sql::LogicalNodeKind::kValues) {
        auto group = std::make_unique<SourceGroup>();
        ARROW_ASSIGN_OR_RAISE(auto batch, values_batch(*p.leaf));
        group->source = std::make_unique<ValuesSource>(std::move(batch));
        group->connector = "values";
        assigned.emplace_back(group.get(), std::move(p));
        groups.push_back(std::move(group));
        continue;
      }
      const auto& table = p.leaf->table;
      if (!table) return arrow::Status::Invalid("table scan without a catalog table");
      TableOptions opts = effective_options(*table, options.config);
      const std::string key = options_key(*table, opts);
      SourceGroup* group = nullptr;
      for (auto& [k, g] : keys) {
        if (k == key) group = g;
      }
      if (!group) {
        auto g = std::make_unique<SourceGroup>();
        g->table = table;
        g->options = std::move(opts);
        auto it = g->options.find("connector");
        g->connector = it == g->options.end() ? "?" : it->second;
        group = g.get();
        keys.emplace_back(key, group);
        groups.push_back(std::move(g));
      }
      for (int c : p.leaf->read_columns) group->read_columns.push_back(c);
      assigned.emplace_back(group, std::move(p));
    }
    for (auto& g : groups) {
      if (g->source) continue;
      std::sort(g->read_columns.begin(), g->read_columns.end());
      g->read_columns.erase(std::unique(g->read_columns.begin(), g->read_columns.end()),
                            g->read_columns.end());
      SourceSpec spec;
      spec.table = g->table;
      spec.read_columns = g->read_columns;
      spec.options = g->options;
      spec.session = options.config;
      // Watermark options are the engine's, not the connector's.
      for (auto it = spec.options.begin(); it != spec.options.end();) {
        it = it->first.rfind("scan.watermark.", 0) == 0 ? spec.options.erase(it) : std::next(it);
      }
      arrow::FieldVector fields;
      for (int c : g->read_columns) {
        const auto& col = g->table->columns.at(size_t(c));
        fields.push_back(arrow::field(col.name, col.type.to_arrow(), col.type.nullable));
      }
      spec.read_schema = arrow::schema(std::move(fields));
      auto source = factory.make_source(spec);
      if (!source.ok()) {
        return source.status().WithMessage("table '", g->table->name,
                                           "': ", source.status().message());
      }
      g->source = std::move(*source);
    }
    for (auto& [group, p] : assigned) {
      std::vector<std::unique_ptr<Operator>> ops;
      if (p.leaf->kind == sql::LogicalNodeKind::kTableScan) {
        std::vector<int> positions;
        for (int c : p.leaf->read_columns) {
          auto it = std::lower_bound(group->read_columns.begin(), group->read_columns.end(), c);
          positions.push_back(int(it - group->read_columns.begin()));
        }
        ARROW_ASSIGN_OR_RAISE(int64_t idle, idle_timeout(group->options));
        ARROW_ASSIGN_OR_RAISE(auto scan, ScanOperator::make(*p.leaf, std::move(positions), idle));
        ops.push_back(std::move(scan));
      }
      // Whether the rows flowing at this point are an updating result (a changelog).
      std::string updating_by;
      ARROW_ASSIGN_OR_RAISE(const bool bounded, batch_mode(*group));
      for (const sql::LogicalNode* node : p.above) {
        if (node->kind == sql::LogicalNodeKind::kAggregate) {
          if (!updating_by.empty()) {
            return arrow::Status::NotImplemented("GROUP BY over the updating result of ",
                                                 updating_by, " is not supported yet");
          }
          ARROW_ASSIGN_OR_RAISE(auto op, GroupAggregateOperator::make(*node, bounded));
          if (op->updating()) updating_by = op->name();
          ops.push_back(std::move(op));
        } else if (node->kind == sql::LogicalNodeKind::kWindowAggregate) {
          if (!updating_by.empty()) {
            return arrow::Status::NotImplemented(
                "a window aggregation over the updating result of ", updating_by,
                " is not supported");
          }
          ARROW_ASSIGN_OR_RAISE(auto op, make_row_operator(*node));
          ops.push_back(std::move(op));
        } else if (node->kind == sql::LogicalNodeKind::kSort) {
          if (!group->source->bounded()) {
            return arrow::Status::NotImplemented(
                "ORDER BY / LIMIT needs a bounded input (files, datagen with number-of-rows); "
                "table '",
                group->table ? group->table->name : "?", "' is unbounded");
          }
          ARROW_ASSIGN_OR_RAISE(auto op, SortOperator::make(*node));
          ops.push_back(std::move(op));
        } else if (node->kind == sql::LogicalNodeKind::kJoin ||
                   node->kind == sql::LogicalNodeKind::kRank) {
          const char* what = node->kind == sql::LogicalNodeKind::kJoin
                                 ? "JOIN"
                                 : "ROW_NUMBER/RANK/DENSE_RANK OVER (...)";
          if (!updating_by.empty()) {
            return arrow::Status::NotImplemented(what, " over the updating result of ", updating_by,
                                                 " is not supported");
          }
          if (!group->source->bounded()) {
            return arrow::Status::NotImplemented(
                what,
                " needs bounded inputs (files, the lake, datagen with number-of-rows); "
                "table '",
                group->table ? group->table->name : "?",
                "' is unbounded (stream joins and streaming rankings are not supported yet)");
          }
          if (node->kind == sql::LogicalNodeKind::kRank) {
            ARROW_ASSIGN_OR_RAISE(auto op, RankOperator::make(*node));
            ops.push_back(std::move(op));
          } else {
            ARROW_ASSIGN_OR_RAISE(auto build, build_side(*node->inputs[1], factory));
            ARROW_ASSIGN_OR_RAISE(auto op, HashJoinOperator::make(*node, std::move(build)));
            ops.push_back(std::move(op));
          }
        } else if (node->kind == sql::LogicalNodeKind::kDeduplicate) {
          if (!updating_by.empty()) {
            return arrow::Status::NotImplemented("deduplication over the updating result of ",
                                                 updating_by, " is not supported");
          }
          ARROW_ASSIGN_OR_RAISE(auto op, make_row_operator(*node));
          ops.push_back(std::move(op));
        } else {
          ARROW_ASSIGN_OR_RAISE(auto op, make_row_operator(*node));
          ops.push_back(std::move(op));
        }
      }
      if (p.tail) {
        // Ends in the shared tail of a UNION ALL: planned once all its inputs are.
        p.tail->groups.at(size_t(p.tail_input)) = group;
        p.tail->updating.at(size_t(p.tail_input)) = updating_by;
        ops.push_back(std::make_unique<UnionInputOperator>(p.tail->runtime, p.tail_input));
        group->chains.push_back(std::make_unique<Chain>(std::move(ops)));
        continue;
      }
      ARROW_RETURN_NOT_OK(check_sink_takes(*p.sink, updating_by));
      ops.push_back(std::make_unique<SinkOperator>(p.sink));
      group->chains.push_back(std::make_unique<Chain>(std::move(ops)));
    }
    for (auto& tail : tails) ARROW_RETURN_NOT_OK(plan_tail(*tail));
    return arrow::Status::OK();
  }

  // The late-row side stream, when the session asks for one and some operator drops late rows.
  // Its sink is one more of the job's sinks (last), so it takes part in checkpoints.
  arrow::Status make_late_stream(ConnectorFactory& factory) {
    auto stream = late_stream_name(options.config, options.name);
    if (!stream || !drops_late_rows) return arrow::Status::OK();
    ARROW_ASSIGN_OR_RAISE(late_stream,
                          LateRecordStream::make(options.name, *stream, factory, options.config));
    sinks.push_back(late_stream->sink());
    return arrow::Status::OK();
  }

  // A join's build side: a bounded query job of its own, planned now (so its errors come at
  // planning) and run to its end when the join operator opens.
  arrow::Result<BuildSide> build_side(const sql::LogicalNode& right, ConnectorFactory& factory) {
    auto rows = std::make_shared<std::vector<std::shared_ptr<arrow::RecordBatch>>>();
    JobOptions o = options;
    o.name += "/build";
    auto job = Job::make_query(right, factory, std::move(o),
                               [rows](const std::shared_ptr<arrow::RecordBatch>& b) {
                                 rows->push_back(b);
                                 return arrow::Status::OK();
                               });
    if (!job.ok()) return job.status().WithMessage("JOIN build side: ", job.status().message());
    if (!(*job)->bounded()) {
      return arrow::Status::NotImplemented(
          "JOIN needs bounded inputs; its right side reads an unbounded table (stream joins are "
          "not supported yet)");
    }
    std::shared_ptr<Job> shared(std::move(*job));
    auto schema = right.schema.to_arrow();
    return BuildSide(
        [shared, rows, schema]() -> arrow::Result<std::shared_ptr<arrow::RecordBatch>> {
          ARROW_RETURN_NOT_OK(shared->run());
          if (shared->summary().cancelled) {
            return arrow::Status::Cancelled("JOIN build side stopped before its end");
          }
          for (const auto& b : *rows) {
            if (has_row_kind(*b)) {
              return arrow::Status::NotImplemented(
                  "JOIN over an updating result (execution.runtime-mode 'streaming') is not "
                  "supported");
            }
          }
          std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
          for (const auto& b : *rows) {
            batches.push_back(arrow::RecordBatch::Make(schema, b->num_rows(), b->columns()));
          }
          rows->clear();
          if (batches.empty()) return arrow::RecordBatch::MakeEmpty(schema);
          return arrow::ConcatenateRecordBatches(batches, arrow::default_memory_pool());
        });
  }

  // Whether aggregations over this source emit only their final result at end of input
  // (batch) or an updating changelog (streaming). `execution.runtime-mode`: automatic (default:
  // batch when the source is bounded), streaming, batch (bounded sources only), as Flink's.
  arrow::Result<bool> batch_mode(const SourceGroup& group) const {
    auto it = options.config.find(std::string(kRuntimeModeConfig));
    const std::string mode = it == options.config.end() ? "automatic" : it->second;
    if (mode == "streaming" || mode == "STREAMING") return false;
    if (mode == "batch" || mode == "BATCH") {
      if (!group.source->bounded()) {
        return arrow::Status::Invalid(
            "execution.runtime-mode 'batch' needs bounded sources, "
            "but table '",
            group.table ? group.table->name : "?", "' is unbounded");
      }
      return true;
    }
    if (mode != "automatic" && mode != "AUTOMATIC") {
      return arrow::Status::Invalid("execution.runtime-mode: '", mode,
                                    "' is not one of streaming, batch, automatic");
    }
    return group.source->bounded();
  }

  // The idle timeout of a source: the table option, else the session's SET, else none.
  arrow::Result<int64_t> idle_timeout(const TableOptions& table_options) const {
    auto it = table_options.find(std::string(kIdleTimeoutOption));
    if (it != table_options.end()) return parse_duration_micros(it->second, kIdleTimeoutOption);
    auto c = options.config.find(std::string(kIdleTimeoutConfig));
    if (c != options.config.end()) return parse_duration_micros(c->second, kIdleTimeoutConfig);
    return int64_t(0);
  }

  void drive(SourceGroup& group) {
    auto st = drive_loop(group);
    if (!st.ok()) {
      const std::string what = group.table ? group.table->name : group.source->name();
      fail(st.WithMessage("source '", what, "': ", st.message()));
    }
    std::lock_guard lock(mutex);
    --running;
    group.exited = true;
    changed.notify_all();
  }

  // ---- checkpoints ---------------------------------------------------------------------------

  std::string fingerprint() const {
    std::string out = "sources:";
    for (const auto& g : groups) {
      out += fmt::format(" {}[{}]x{}", g->table ? g->table->name : std::string("(values)"),
                         g->connector, g->chains.size());
    }
    out += " sinks:";
    for (const auto& s : sinks) out += fmt::format(" {}[{}]", s->table(), s->connector());
    if (!tails.empty()) out += fmt::format(" union-tails:{}", tails.size());
    return out;
  }

  std::string source_owner(const SourceGroup& g) const {
    return g.table ? g.table->name : g.source->name();
  }

  // This group's part of checkpoint `id`: its source position and its operators' state.
  arrow::Status snapshot_group(SourceGroup& g, int64_t id) {
    g.parts.clear();
    ARROW_ASSIGN_OR_RAISE(auto position, g.source->snapshot_position(id));
    if (position) {
      g.parts.push_back({fmt::format("source/{}", g.index), source_owner(g), std::move(position)});
    }
    for (auto& chain : g.chains) ARROW_RETURN_NOT_OK(chain->snapshot(id, &g.parts));
    return arrow::Status::OK();
  }

  arrow::Status notify_group(SourceGroup& g, int64_t id) {
    if (id <= g.notified_id) return arrow::Status::OK();
    g.notified_id = id;
    for (auto& chain : g.chains) ARROW_RETURN_NOT_OK(chain->notify_checkpoint_complete(id));
    return g.source->notify_checkpoint_complete(id);
  }

  // Called by a source thread between batches: pass on completed checkpoints, and pause for a
  // pending one until the coordinator has prepared the sinks.
  arrow::Status checkpoint_point(SourceGroup& g) {
    if (!checkpoints) return arrow::Status::OK();
    ARROW_RETURN_NOT_OK(notify_group(g, completed_checkpoint.load()));
    const int64_t id = pending_checkpoint.load();
    if (id == 0 || id <= g.joined_id) return arrow::Status::OK();
    g.joined_id = id;
    auto st = snapshot_group(g, id);
    std::unique_lock lock(mutex);
    g.snapshot_error = st;
    g.arrived_id = id;
    changed.notify_all();
    const uint64_t generation = release_generation;
    changed.wait(lock, [&] { return release_generation != generation; });
    return st;
  }

  // Takes checkpoint `id` (the coordinator: Job::run's thread). `finished`: every source ended
  // and the chains are closed, so only the sinks take part and nothing is left to resume.
  // `threads_idle`: no source thread runs (before they start, or after they ended), so the
  // coordinator snapshots every group itself.
  arrow::Status take_checkpoint(bool finished, bool threads_idle = false) {
    const int64_t id = checkpoints->next_id();
    const int64_t triggered = now_micros();
    CheckpointManifest manifest;
    manifest.id = id;
    manifest.pipeline = checkpoints->config().pipeline;
    manifest.created_micros = triggered;
    manifest.finished = finished;
    manifest.job_fingerprint = fingerprint();
    int64_t aligned = triggered;
    {
      std::unique_lock lock(mutex);
      if (!finished && !threads_idle) {
        pending_checkpoint = id;
        // Every running source thread pauses at its next batch boundary (within one poll).
        changed.wait(lock, [&] {
          for (const auto& g : groups) {
            if (g->arrived_id != id && !g->exited) return false;
          }
          return true;
        });
      }
      aligned = now_micros();
      arrow::Status st;
      for (auto& g : groups) {
        if (finished) continue;
        if (g->arrived_id != id) {
          // Its thread has ended (end of input or error): snapshot it from here.
          g->joined_id = id;
          g->snapshot_error = snapshot_group(*g, id);
          g->arrived_id = id;
        }
        if (st.ok() && !g->snapshot_error.ok()) st = g->snapshot_error;
        for (auto& p : g->parts) manifest.parts.push_back(std::move(p));
        g->parts.clear();
      }
      // The shared tails of UNION ALL inputs, now that every input has stopped feeding them.
      for (size_t t = 0; st.ok() && !finished && t < tails.size(); ++t) {
        st = tails[t]->runtime->snapshot(id, fmt::format("u{}", t), &manifest.parts);
      }
      // Every pre-barrier write is in the sinks now: seal them.
      for (size_t i = 0; st.ok() && i < sinks.size(); ++i) {
        auto state = sinks[i]->prepare_checkpoint(id);
        if (!state.ok()) {
          st = state.status().WithMessage("sink '", sinks[i]->table(),
                                          "': ", state.status().message());
        } else if (*state) {
          manifest.parts.push_back(
              {fmt::format("sink/{}", i), sinks[i]->table(), std::move(*state)});
        }
      }
      pending_checkpoint = 0;
      ++release_generation;
      changed.notify_all();
      if (!st.ok()) return st.WithMessage("checkpoint ", id, ": ", st.message());
    }
    // The sources run again while the state is written.
    auto bytes = checkpoints->persist(manifest);
    if (!bytes.ok()) {
      return bytes.status().WithMessage("checkpoint ", id, ": ", bytes.status().message());
    }
    if (finished) checkpoints->maybe_kill(KillAt::kFinalCheckpointDurable, id);
    for (auto& sink : sinks) {
      auto st = sink->commit_checkpoint(id);
      if (!st.ok()) {
        return st.WithMessage("committing checkpoint ", id, " to sink '", sink->table(),
                              "': ", st.message());
      }
    }
    if (finished) checkpoints->maybe_kill(KillAt::kFinalCheckpointCommitted, id);
    completed_checkpoint = id;
    if (!finished) {
      for (auto& t : tails) ARROW_RETURN_NOT_OK(t->runtime->notify_checkpoint_complete(id));
    }
    {
      std::lock_guard lock(mutex);
      for (auto& g : groups) {
        if (g->exited && !finished) ARROW_RETURN_NOT_OK(notify_group(*g, id));
      }
    }
    ARROW_RETURN_NOT_OK(checkpoints->committed(id, triggered, aligned, *bytes));
    {
      std::lock_guard lock(stats_mutex);
      stats = checkpoints->stats();
    }
    spdlog::debug("job {}: checkpoint {} complete ({} bytes, {} us, aligned in {} us)",
                  options.name, id, *bytes, now_micros() - triggered, aligned - triggered);
    return arrow::Status::OK();
  }

  // Restarting a bounded job whose newest checkpoint is its final one: the job had already
  // finished (a kill may have landed between that checkpoint becoming durable and the exit).
  // Its output is complete once the sinks' commit of it is, so the sinks replay that commit
  // (idempotently, in open()) and close; nothing is read or written again.
  arrow::Status complete_finished(const CheckpointManifest& restored,
                                  const OperatorContext& context, int64_t started) {
    arrow::Status st;
    for (size_t i = 0; st.ok() && i < sinks.size(); ++i) {
      OperatorContext c = context;
      c.restored_checkpoint_id = restored.id;
      c.restored_commit_confirmed = restored.committed;
      if (const auto* part = restored.find(fmt::format("sink/{}", i)))
        c.restored_state = part->data;
      st = sinks[i]->open(c);
      if (!st.ok()) st = st.WithMessage("sink '", sinks[i]->table(), "': ", st.message());
    }
    // Only now is the commit confirmed: a crash before this line replays it again.
    if (st.ok() && !restored.committed) st = checkpoints->confirm_restored(restored.id);
    for (auto& g : groups) {
      auto sst = g->source->close();
      if (st.ok() && !sst.ok()) st = sst;
    }
    for (auto& sink : sinks) {
      auto kst = sink->close(st.ok());
      if (st.ok() && !kst.ok()) st = kst.WithMessage("sink '", sink->table(), "': ", kst.message());
    }
    if (st.ok()) {
      spdlog::info("job {}: already finished at checkpoint {}; {}", options.name, restored.id,
                   restored.committed ? "its commit was confirmed, nothing to do" : "re-committed");
    }
    for (auto& g : groups) g->done = true;
    cancelled = false;
    this->restored.reset();
    elapsed = now_micros() - started;
    return st;
  }

  arrow::Status prepare_checkpoints() {
    ARROW_ASSIGN_OR_RAISE(auto config, checkpoint_config(options.config, options.checkpoint_root));
    if (config.pipeline.empty() && config.interval_ms == 0) return arrow::Status::OK();
    ARROW_ASSIGN_OR_RAISE(checkpoints, CheckpointCoordinator::make(std::move(config)));
    for (size_t i = 0; i < groups.size(); ++i) groups[i]->index = i;
    ARROW_ASSIGN_OR_RAISE(restored, checkpoints->restore(fingerprint()));
    if (restored) {
      const bool already_finished = restored->finished && !options.from_scratch;
      checkpoints->set_restored(restored->id, !restored->committed, already_finished);
      if (already_finished) {
        // complete_finished() says what it did.
      } else if (options.from_scratch) {
        spdlog::info(
            "job {}: starting from scratch (sources and state ignored) after checkpoint "
            "{}{}",
            options.name, restored->id,
            restored->committed ? "" : " (completing its commit first)");
      } else {
        spdlog::info("job {}: resuming from checkpoint {}{}", options.name, restored->id,
                     restored->committed ? "" : " (replaying its commit)");
      }
    }
    std::lock_guard lock(stats_mutex);
    stats = checkpoints->stats();
    return arrow::Status::OK();
  }

  arrow::Status drive_loop(SourceGroup& group) {
    int64_t last_tick = now_micros();
    while (!stop_requested.load()) {
      ARROW_RETURN_NOT_OK(checkpoint_point(group));
      ARROW_ASSIGN_OR_RAISE(auto chunk, group.source->next(kPollMillis));
      if (chunk.batch && chunk.batch->num_rows() > 0) {
        for (auto& chain : group.chains) {
          ARROW_RETURN_NOT_OK(chain->push(chunk.batch, chunk.split));
        }
      }
      const int64_t now = now_micros();
      if (now - last_tick >= kTickMicros) {
        last_tick = now;
        for (auto& chain : group.chains) ARROW_RETURN_NOT_OK(chain->tick(now));
      }
      if (chunk.end_of_input) {
        group.done = true;
        break;
      }
    }
    return arrow::Status::OK();
  }
};

Job::Job(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Job::~Job() { stop(); }

arrow::Result<std::unique_ptr<Job>> Job::make(const sql::StatementSetPlan& plan,
                                              ConnectorFactory& factory, JobOptions options) {
  ARROW_RETURN_NOT_OK(ensure_compute_kernels());
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  std::vector<PendingChain> pending;
  for (const auto& root : plan.sinks) {
    if (root->kind != sql::LogicalNodeKind::kSink || !root->table || root->inputs.size() != 1) {
      return arrow::Status::Invalid("statement set entry is not an INSERT INTO a table");
    }
    SinkSpec spec;
    spec.table = root->table;
    spec.schema = root->table->physical_schema().to_arrow();
    spec.options = effective_options(*root->table, impl->options.config);
    spec.session = impl->options.config;
    spec.overwrite = root->overwrite;
    auto sink = factory.make_sink(spec);
    if (!sink.ok()) {
      return sink.status().WithMessage("table '", root->table->name,
                                       "': ", sink.status().message());
    }
    auto it = spec.options.find("connector");
    auto shared = std::make_shared<SharedSink>(std::move(*sink), spec.schema, root->table->name,
                                               it == spec.options.end() ? "?" : it->second);
    impl->sinks.push_back(shared);
    std::vector<const sql::LogicalNode*> above;
    ARROW_RETURN_NOT_OK(impl->collect(*root->inputs[0], above, shared, pending));
  }
  ARROW_RETURN_NOT_OK(impl->plan(std::move(pending), factory));
  ARROW_RETURN_NOT_OK(impl->make_late_stream(factory));
  return std::unique_ptr<Job>(new Job(std::move(impl)));
}

arrow::Result<std::unique_ptr<Job>> Job::make_query(const sql::LogicalNode& query,
                                                    ConnectorFactory& factory, JobOptions options,
                                                    RowCallback on_rows) {
  ARROW_RETURN_NOT_OK(ensure_compute_kernels());
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->query = true;  // results go to a callback: nothing to checkpoint or resume
  auto shared = std::make_shared<SharedSink>(std::make_unique<CallbackSink>(std::move(on_rows)),
                                             query.schema.to_arrow(), "query", "collect");
  impl->sinks.push_back(shared);
  std::vector<PendingChain> pending;
  std::vector<const sql::LogicalNode*> above;
  ARROW_RETURN_NOT_OK(impl->collect(query, above, shared, pending));
  ARROW_RETURN_NOT_OK(impl->plan(std::move(pending), factory));
  ARROW_RETURN_NOT_OK(impl->make_late_stream(factory));
  return std::unique_ptr<Job>(new Job(std::move(impl)));
}

bool Job::bounded() const {
  for (const auto& g : impl_->groups) {
    if (!g->source->bounded()) return false;
  }
  return true;
}

void Job::stop() {
  std::lock_guard lock(impl_->mutex);
  impl_->stop_requested = true;
  impl_->changed.notify_all();
}

arrow::Result<JobPriority> job_priority(const std::map<std::string, std::string>& config) {
  auto it = config.find(kJobPriorityKey);
  if (it == config.end() || it->second.empty()) return JobPriority::kNormal;
  std::string v = it->second;
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  if (v == "normal") return JobPriority::kNormal;
  if (v == "low") return JobPriority::kLow;
  return arrow::Status::Invalid("'", kJobPriorityKey, "' = '", it->second,
                                "': expected 'normal' or 'low'");
}

arrow::Status Job::run(std::optional<int64_t> max_duration_ms) {
  ARROW_ASSIGN_OR_RAISE(const JobPriority priority, job_priority(impl_->options.config));
  if (priority == JobPriority::kNormal) return run_here(max_duration_ms);
  // The source threads the job starts (and any a connector starts from them) inherit it.
  return run_at_low_priority("job " + impl_->options.name,
                             [&] { return run_here(max_duration_ms); });
}

arrow::Status run_at_low_priority(const std::string& who,
                                  const std::function<arrow::Status()>& fn) {
  arrow::Status st;
  std::thread runner([&] {
    errno = 0;
    if (::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), kLowPriorityNice) !=
        0) {
      spdlog::warn("{}: cannot lower its CPU priority ({}); it runs at normal priority", who,
                   std::strerror(errno));
    }
    st = fn();
  });
  runner.join();
  return st;
}

arrow::Status Job::run_here(std::optional<int64_t> max_duration_ms) {
  Impl& impl = *impl_;
  const int64_t started = now_micros();
  OperatorContext context;
  context.job_name = impl.options.name;
  context.late_output = impl.late_stream.get();
  arrow::Status st;
  if (!impl.query) st = impl.prepare_checkpoints();
  const CheckpointManifest* restored = impl.restored ? &*impl.restored : nullptr;
  if (st.ok() && restored && restored->finished && !impl.options.from_scratch) {
    return impl.complete_finished(*restored, context, started);
  }
  // --from-scratch: the checkpoint only owes its sinks' commit; sources and operators start over.
  const CheckpointManifest* resume =
      restored && !restored->finished && !impl.options.from_scratch ? restored : nullptr;
  for (size_t i = 0; st.ok() && i < impl.sinks.size(); ++i) {
    OperatorContext c = context;
    if (restored) {
      c.restored_checkpoint_id = restored->id;
      c.restored_commit_confirmed = restored->committed;
      if (const auto* part = restored->find(fmt::format("sink/{}", i)))
        c.restored_state = part->data;
    }
    st = impl.sinks[i]->open(c);
    if (!st.ok()) {
      st = st.WithMessage("sink '", impl.sinks[i]->table(), "': ", st.message());
    }
  }
  for (size_t i = 0; st.ok() && i < impl.groups.size(); ++i) {
    auto& g = impl.groups[i];
    OperatorContext c = context;
    if (resume) {
      c.restored_checkpoint_id = resume->id;
      c.restored_commit_confirmed = resume->committed;
      if (const auto* part = resume->find(fmt::format("source/{}", i)))
        c.restored_state = part->data;
    }
    st = g->source->open(c);
    for (size_t k = 0; k < g->chains.size(); ++k) {
      if (st.ok()) st = g->chains[k]->open(context, fmt::format("{}.{}", i, k), resume);
    }
  }
  for (size_t t = 0; st.ok() && t < impl.tails.size(); ++t) {
    st = impl.tails[t]->runtime->open(context, fmt::format("u{}", t), resume);
  }
  // A named job starting without a checkpoint to resume takes one before reading anything:
  // if it crashes before its first periodic checkpoint, the restart still knows where the
  // sources began and where the output streams ended (so their replay is deduplicated).
  if (st.ok() && impl.checkpoints && impl.checkpoints->persisted() &&
      (!impl.restored || impl.restored->finished)) {
    st = impl.take_checkpoint(/*finished=*/false, /*threads_idle=*/true);
  }
  impl.restored.reset();  // the parts are handed over; don't keep the state in memory
  std::vector<std::thread> threads;
  if (st.ok()) {
    impl.running = int(impl.groups.size());
    for (auto& g : impl.groups) {
      threads.emplace_back([&impl, group = g.get()] { impl.drive(*group); });
    }
    spdlog::debug("job {} running: {} source(s), {} sink(s)", impl.options.name, impl.groups.size(),
                  impl.sinks.size());
    const int64_t interval = impl.checkpoints ? impl.checkpoints->config().interval_ms : 0;
    int64_t last_checkpoint = now_micros();
    std::unique_lock lock(impl.mutex);
    while (impl.running > 0 && !impl.stop_requested) {
      int64_t wait_ms = kPollMillis;
      if (interval > 0) {
        const int64_t due_ms = (last_checkpoint + interval * 1000 - now_micros()) / 1000;
        wait_ms = std::clamp<int64_t>(due_ms, 1, kPollMillis);
      }
      impl.changed.wait_for(lock, std::chrono::milliseconds(wait_ms));
      if (impl.options.cancel && impl.options.cancel->load()) impl.stop_requested = true;
      if (max_duration_ms && now_micros() - started >= *max_duration_ms * 1000) {
        impl.stop_requested = true;
      }
      if (interval > 0 && !impl.stop_requested && impl.running > 0 &&
          now_micros() - last_checkpoint >= interval * 1000) {
        lock.unlock();
        auto cst = impl.take_checkpoint(/*finished=*/false);
        if (!cst.ok()) impl.fail(cst);
        last_checkpoint = now_micros();
        lock.lock();
      }
    }
    impl.stop_requested = true;
    lock.unlock();
    for (auto& t : threads) t.join();
    st = impl.error;
  }
  bool all_done = true;
  for (auto& g : impl.groups) all_done &= g->done;
  impl.cancelled = !all_done;
  // A graceful stop (the user, the duration) takes a final checkpoint to resume from, before the
  // chains close without flushing (their state is in the checkpoint).
  if (st.ok() && impl.checkpoints && !all_done) st = impl.take_checkpoint(/*finished=*/false);
  // Close chains (end of input lets operators flush), then sources and sinks. A stop by the user
  // or the duration is graceful: what was written is committed. An error is not.
  const bool graceful = st.ok();
  for (auto& g : impl.groups) {
    for (auto& chain : g->chains) {
      auto cst = chain->close(graceful && (impl.checkpoints ? all_done : g->done));
      if (st.ok() && !cst.ok()) st = cst;
    }
  }
  // A bounded job that ran to its end: the last checkpoint commits everything the flush wrote.
  if (st.ok() && impl.checkpoints && all_done) st = impl.take_checkpoint(/*finished=*/true);
  for (auto& g : impl.groups) {
    auto sst = g->source->close();
    if (st.ok() && !sst.ok()) st = sst;
  }
  for (auto& sink : impl.sinks) {
    auto kst = sink->close(st.ok());
    if (st.ok() && !kst.ok()) st = kst.WithMessage("sink '", sink->table(), "': ", kst.message());
  }
  impl.elapsed = now_micros() - started;
  return st;
}

JobSummary Job::summary() const {
  JobSummary s;
  for (const auto& g : impl_->groups) {
    const auto m = g->source->metrics();
    s.sources.push_back(
        {g->table ? g->table->name : "(values)", g->connector, m.records_read, m.records_rejected});
  }
  for (const auto& sink : impl_->sinks) {
    s.sinks.push_back({sink->table(), sink->connector(), sink->rows_written()});
  }
  for (const auto& g : impl_->groups) {
    for (const auto& chain : g->chains) s.late_records += chain->late_records();
  }
  for (const auto& t : impl_->tails) s.late_records += t->runtime->late_records();
  s.cancelled = impl_->cancelled;
  s.elapsed_micros = impl_->elapsed;
  s.checkpoints = checkpoint_stats();
  return s;
}

int64_t SourceLag::records() const {
  int64_t n = 0;
  for (const auto& s : splits) n += s.records;
  return n;
}

int64_t SourceLag::millis() const {
  int64_t ms = -1;
  for (const auto& s : splits) ms = std::max(ms, s.millis);
  return ms;
}

std::vector<SourceLag> Job::lag() const {
  std::vector<SourceLag> out;
  for (const auto& g : impl_->groups) {
    auto splits = g->source->lag();
    if (splits.empty()) continue;
    out.push_back({g->table ? g->table->name : "(values)", g->connector, std::move(splits)});
  }
  return out;
}

CheckpointStats Job::checkpoint_stats() const {
  std::lock_guard lock(impl_->stats_mutex);
  return impl_->stats;
}

std::string Job::describe() const {
  std::string out;
  for (const auto& g : impl_->groups) {
    const std::string src = g->table ? fmt::format("Source({}: {})", g->table->name, g->connector)
                                     : std::string("Source(values)");
    for (const auto& chain : g->chains) out += src + " -> " + chain->describe() + "\n";
  }
  for (size_t t = 0; t < impl_->tails.size(); ++t) {
    out += fmt::format("UnionAll(u{}) -> {}\n", t, impl_->tails[t]->runtime->describe());
  }
  return out;
}

}  // namespace roadpulse::exec
