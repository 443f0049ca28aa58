// `print`: every row to stdout (or stderr with 'standard-error' = 'true') in Flink's print
// format, `+I[A-1, 4, Dublin, Franklin, 2016-02-08T05:46]` (an updating result's rows print as
// -U[...]/+U[...]), prefixed by 'print-identifier' when
// set ("ident> +I[...]"). Values print as Flink's RowData.toString does: Java rendering of
// doubles and LocalDateTime, null as "null".

#include <cstdio>

#include <arrow/array.h>
#include <arrow/scalar.h>
#include <fmt/format.h>

#include "connect/connectors.h"
#include "exec/aggregate_operators.h"
#include "exec/display.h"

namespace roadpulse::connect {

namespace {

class PrintSink final : public exec::Sink {
 public:
  PrintSink(std::FILE* out, std::string identifier) : out_(out), prefix_(std::move(identifier)) {
    if (!prefix_.empty()) prefix_ += "> ";
  }
  std::string name() const override { return "print"; }
  arrow::Status write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    return print(batch, nullptr);
  }
  bool accepts_changelog() const override { return true; }
  arrow::Status write_changelog(const std::shared_ptr<arrow::RecordBatch>& batch,
                                const std::vector<int8_t>& kinds) override {
    return print(batch, &kinds);
  }
  int64_t rows_written() const override { return written_; }

 private:
  // One line per row: its kind (+I, or -U/+U/-D for an updating result) and its values.
  arrow::Status print(const std::shared_ptr<arrow::RecordBatch>& batch,
                      const std::vector<int8_t>* kinds) {
    std::string text;
    for (int64_t r = 0; r < batch->num_rows(); ++r) {
      text += prefix_;
      text += kinds ? exec::row_kind_text((*kinds)[size_t(r)]) : "+I";
      text += "[";
      for (int c = 0; c < batch->num_columns(); ++c) {
        if (c) text += ", ";
        text += exec::display_value(*batch->column(c), r);
      }
      text += "]\n";
    }
    if (std::fwrite(text.data(), 1, text.size(), out_) != text.size()) {
      return arrow::Status::IOError("print sink: write failed");
    }
    std::fflush(out_);
    written_ += batch->num_rows();
    return arrow::Status::OK();
  }

  std::FILE* out_;
  std::string prefix_;
  int64_t written_ = 0;
};

}  // namespace

ConnectorEntry print_connector() {
  ConnectorEntry entry;
  entry.name = "print";
  entry.make_sink = [](const exec::SinkSpec& spec,
                       ConnectContext& context) -> arrow::Result<std::unique_ptr<exec::Sink>> {
    OptionReader reader("print", spec.options);
    const std::string identifier = reader.get_or("print-identifier", "");
    ARROW_ASSIGN_OR_RAISE(bool to_stderr, reader.get_bool("standard-error", false));
    reader.get("sink.parallelism");
    ARROW_RETURN_NOT_OK(reader.check_unknown());
    return std::make_unique<PrintSink>(
        to_stderr ? context.options().print_err : context.options().print_out, identifier);
  };
  return entry;
}

}  // namespace roadpulse::connect
