// roadpulse lake: the lake catalog (the Glue role) from the command line. Lists tables, describes
// their schema and partitions, registers existing directories (crawl) and compacts small files.
// The catalog lives in <data-dir>/lake/_catalog (see docs/lake.md).

#include <iostream>

#include <arrow/builder.h>
#include <fmt/format.h>

#include "cli/command.h"
#include "exec/display.h"
#include "lake/lake.h"

namespace roadpulse::cli {
namespace {

struct LakeArgs {
  std::string data_dir = "./roadpulse-data";
  std::string table;
  std::string path;
  std::string name;
  std::string format;
  std::string partition;
};

void print_rows(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  arrow::FieldVector fields;
  std::vector<arrow::StringBuilder> builders(header.size());
  for (const auto& h : header) fields.push_back(arrow::field(h, arrow::utf8()));
  for (const auto& row : rows) {
    for (size_t c = 0; c < header.size(); ++c) (void)builders[c].Append(row[c]);
  }
  std::vector<std::shared_ptr<arrow::Array>> arrays;
  for (auto& b : builders) arrays.push_back(b.Finish().ValueOrDie());
  auto schema = arrow::schema(fields);
  std::cout << exec::format_table(schema,
                                  {arrow::RecordBatch::Make(schema, int64_t(rows.size()), arrays)});
}

std::string human_bytes(int64_t bytes) {
  if (bytes >= (1LL << 30)) return fmt::format("{:.1f} GiB", double(bytes) / (1LL << 30));
  if (bytes >= (1LL << 20)) return fmt::format("{:.1f} MiB", double(bytes) / (1LL << 20));
  if (bytes >= 1024) return fmt::format("{:.1f} KiB", double(bytes) / 1024);
  return fmt::format("{} B", bytes);
}

arrow::Result<std::unique_ptr<lake::Catalog>> open_catalog(const LakeArgs& args) {
  return lake::Catalog::open(args.data_dir + "/lake/_catalog");
}

arrow::Status tables(const LakeArgs& args) {
  ARROW_ASSIGN_OR_RAISE(auto catalog, open_catalog(args));
  ARROW_ASSIGN_OR_RAISE(auto names, catalog->table_names());
  std::vector<std::vector<std::string>> rows;
  for (const auto& name : names) {
    ARROW_ASSIGN_OR_RAISE(auto t, catalog->get(name));
    rows.push_back({t.name, t.format, fmt::format("{}", fmt::join(t.partition_keys, ", ")),
                    std::to_string(t.partitions.size()), std::to_string(t.file_count()),
                    std::to_string(t.rows()), human_bytes(t.bytes()), t.location});
  }
  print_rows(
      {"table", "format", "partitioned by", "partitions", "files", "rows", "size", "location"},
      rows);
  return arrow::Status::OK();
}

arrow::Status describe(const LakeArgs& args) {
  ARROW_ASSIGN_OR_RAISE(auto catalog, open_catalog(args));
  ARROW_ASSIGN_OR_RAISE(auto t, catalog->get(args.table));
  std::cout << fmt::format(
      "table:     {}\nlocation:  {}\nformat:    {}\nrows:      {}\n"
      "files:     {} ({})\npartitions: {} by ({})\n",
      t.name, t.location, t.format, t.rows(), t.file_count(), human_bytes(t.bytes()),
      t.partitions.size(), fmt::join(t.partition_keys, ", "));
  std::vector<std::vector<std::string>> rows;
  for (const auto& f : t.schema->fields()) {
    const bool key = std::find(t.partition_keys.begin(), t.partition_keys.end(), f->name()) !=
                     t.partition_keys.end();
    rows.push_back({f->name(), lake::type_name(*f->type()), f->nullable() ? "true" : "false",
                    key ? "partition key" : ""});
  }
  print_rows({"column", "type", "nullable", "extras"}, rows);
  return arrow::Status::OK();
}

arrow::Status partitions(const LakeArgs& args) {
  ARROW_ASSIGN_OR_RAISE(auto catalog, open_catalog(args));
  ARROW_ASSIGN_OR_RAISE(auto t, catalog->get(args.table));
  std::vector<std::vector<std::string>> rows;
  for (const auto& [path, p] : t.partitions) {
    rows.push_back({path.empty() ? "(unpartitioned)" : path, std::to_string(p.files.size()),
                    std::to_string(p.rows()), human_bytes(p.bytes())});
  }
  print_rows({"partition", "files", "rows", "size"}, rows);
  return arrow::Status::OK();
}

arrow::Status crawl(const LakeArgs& args) {
  ARROW_ASSIGN_OR_RAISE(auto catalog, open_catalog(args));
  ARROW_ASSIGN_OR_RAISE(auto table, lake::crawl_directory(args.path, args.name, args.format));
  ARROW_RETURN_NOT_OK(catalog->put(table));
  std::cout << fmt::format(
      "registered {} ({}): {} columns, {} partition(s) by ({}), {} file(s), {} rows\n", table.name,
      table.format, table.schema->num_fields(), table.partitions.size(),
      fmt::join(table.partition_keys, ", "), table.file_count(), table.rows());
  return arrow::Status::OK();
}

arrow::Status compact(const LakeArgs& args) {
  ARROW_ASSIGN_OR_RAISE(auto catalog, open_catalog(args));
  std::optional<std::string> partition;
  if (!args.partition.empty()) partition = args.partition;
  ARROW_ASSIGN_OR_RAISE(auto result, lake::compact_table(*catalog, args.table, partition));
  std::cout << fmt::format("compacted {} partition(s) of {}: {} files -> {}, {} rows\n",
                           result.partitions_compacted, args.table, result.files_removed,
                           result.partitions_compacted, result.rows);
  return arrow::Status::OK();
}

void setup(CLI::App& root) {
  auto args = std::make_shared<LakeArgs>();
  CLI::App* cmd =
      root.add_subcommand("lake", "The lake catalog: tables, partitions, crawl, compact");
  cmd->add_option("--data-dir", args->data_dir, "Data directory (catalog in <dir>/lake/_catalog)")
      ->capture_default_str();
  cmd->require_subcommand(1);
  auto* t = cmd->add_subcommand("tables", "List the catalog's tables");
  t->callback([args] { run_command([&] { return tables(*args); }); });
  auto* d = cmd->add_subcommand("describe", "A table's location, format, size and columns");
  d->add_option("table", args->table, "Table name, e.g. curated.us_accidents")->required();
  d->callback([args] { run_command([&] { return describe(*args); }); });
  auto* p = cmd->add_subcommand("partitions", "A table's partitions with files, rows and size");
  p->add_option("table", args->table, "Table name")->required();
  p->callback([args] { run_command([&] { return partitions(*args); }); });
  auto* c = cmd->add_subcommand(
      "crawl", "Register an existing directory of Parquet, JSON or CSV files as a table");
  c->add_option("path", args->path, "Directory (Hive-style k=v partition directories)")->required();
  c->add_option("--name", args->name, "Catalog name for the table")->required();
  c->add_option("--format", args->format, "parquet, json or csv (default: by file extension)")
      ->check(CLI::IsMember({"parquet", "json", "csv"}));
  c->callback([args] { run_command([&] { return crawl(*args); }); });
  auto* k = cmd->add_subcommand(
      "compact", "Rewrite each partition's files into one, atomically for catalog readers");
  k->add_option("table", args->table, "Table name")->required();
  k->add_option("--partition", args->partition, "Only this partition, e.g. event_date=2016-02-08");
  k->callback([args] { run_command([&] { return compact(*args); }); });
  // --data-dir is accepted before or after the subcommand.
  for (CLI::App* sub : {t, d, p, c, k}) {
    sub->add_option("--data-dir", args->data_dir, "Data directory");
  }
  cmd->footer(
      "Examples:\n"
      "  roadpulse lake tables --data-dir ./data\n"
      "  roadpulse lake describe curated.us_accidents\n"
      "  roadpulse lake partitions curated.us_accidents\n"
      "  roadpulse lake crawl ./exports/accidents --name exports.accidents\n"
      "  roadpulse lake compact curated.us_accidents --partition event_date=2016-02-08\n"
      "Tables written by the filesystem connector with format parquet under <data-dir>/lake\n"
      "register themselves at commit ('sink.partition-commit.policy.kind' = 'metastore').");
}

const RegisterCommand kRegister(60, &setup);

}  // namespace
}  // namespace roadpulse::cli
