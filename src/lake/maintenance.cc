// Table maintenance: compaction of small files and crawling existing directories into the
// catalog.

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>

#include <arrow/csv/api.h>
#include <arrow/io/file.h>
#include <arrow/json/api.h>
#include <arrow/table.h>
#include <fmt/format.h>

#include "lake/lake.h"

namespace roadpulse::lake {

namespace fs = std::filesystem;

arrow::Result<CompactionResult> compact_table(Catalog& catalog, const std::string& table_name,
                                              const std::optional<std::string>& partition,
                                              const ParquetWriteOptions& options) {
  ARROW_ASSIGN_OR_RAISE(TableEntry table, catalog.get(table_name));
  if (table.format != "parquet") {
    return arrow::Status::NotImplemented("compaction rewrites parquet tables; '", table_name,
                                         "' is ", table.format);
  }
  if (partition && !table.partitions.count(*partition)) {
    return arrow::Status::KeyError("table '", table_name, "' has no partition '", *partition,
                                   "' (see `roadpulse lake partitions ", table_name, "`)");
  }
  // The files' schema: the table's columns without the partition keys.
  arrow::FieldVector fields;
  for (const auto& f : table.schema->fields()) {
    if (std::find(table.partition_keys.begin(), table.partition_keys.end(), f->name()) ==
        table.partition_keys.end()) {
      fields.push_back(f);
    }
  }
  auto data_schema = arrow::schema(fields);
  const int64_t stamp = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  CompactionResult result;
  for (auto& [path, entry] : table.partitions) {
    if (partition && path != *partition) continue;
    if (entry.files.size() < 2) continue;
    const fs::path dir = path.empty() ? fs::path(table.location) : fs::path(table.location) / path;
    std::vector<std::string> inputs;
    for (const auto& f : entry.files) inputs.push_back((dir / f.name).string());
    const std::string name = fmt::format("part-compact{}-0-0.parquet", stamp);
    const std::string staging = (dir / ("." + name + ".inprogress")).string();
    const std::string final_path = (dir / name).string();
    // Read with the data schema only: partition values are in the path, not in the files.
    ARROW_ASSIGN_OR_RAISE(auto reader, ParquetTableReader::open(dir.string(), inputs, data_schema));
    ARROW_ASSIGN_OR_RAISE(auto writer, ParquetFileWriter::open(staging, data_schema, options));
    while (true) {
      ARROW_ASSIGN_OR_RAISE(auto batch, reader->next());
      if (!batch) break;
      ARROW_RETURN_NOT_OK(writer->write(*batch));
    }
    const int64_t rows = writer->rows();
    if (rows != entry.rows()) {
      std::error_code ec;
      fs::remove(staging, ec);
      return arrow::Status::Invalid("compaction of '", table_name, "/", path, "' read ", rows,
                                    " rows, the catalog lists ", entry.rows(), ": not replacing");
    }
    ARROW_ASSIGN_OR_RAISE(int64_t bytes, writer->close());
    std::error_code ec;
    fs::rename(staging, final_path, ec);
    if (ec) return arrow::Status::IOError("cannot rename '", staging, "': ", ec.message());
    ARROW_RETURN_NOT_OK(fsync_directory(dir.string()));
    result.files_removed += int(entry.files.size());
    result.rows += rows;
    ++result.partitions_compacted;
    std::vector<std::string> old = std::move(inputs);
    entry.files = {DataFile{name, rows, bytes}};
    // The switch readers see: the catalog entry lists either the old files or the new one.
    ARROW_RETURN_NOT_OK(catalog.put(table));
    for (const auto& file : old) fs::remove(file, ec);
    ARROW_RETURN_NOT_OK(fsync_directory(dir.string()));
  }
  return result;
}

namespace {

bool all_integers(const std::set<std::string>& values) {
  for (const auto& v : values) {
    if (v == kDefaultPartition) continue;
    if (v.empty() || v.size() > 18) return false;
    size_t i = v[0] == '-' ? 1 : 0;
    if (i == v.size()) return false;
    for (; i < v.size(); ++i) {
      if (v[i] < '0' || v[i] > '9') return false;
    }
  }
  return true;
}

arrow::Result<std::shared_ptr<arrow::Schema>> infer_text_schema(const std::string& path,
                                                                const std::string& format) {
  auto input = arrow::io::ReadableFile::Open(path);
  if (!input.ok()) return arrow::Status::IOError("cannot open '", path, "'");
  std::shared_ptr<arrow::Table> table;
  if (format == "csv") {
    auto reader = arrow::csv::TableReader::Make(
        arrow::io::default_io_context(), *input, arrow::csv::ReadOptions::Defaults(),
        arrow::csv::ParseOptions::Defaults(), arrow::csv::ConvertOptions::Defaults());
    if (!reader.ok()) return arrow::Status::Invalid("'", path, "': ", reader.status().message());
    auto read = (*reader)->Read();
    if (!read.ok()) return arrow::Status::Invalid("'", path, "': ", read.status().message());
    table = *read;
  } else {
    auto reader = arrow::json::TableReader::Make(arrow::default_memory_pool(), *input,
                                                 arrow::json::ReadOptions::Defaults(),
                                                 arrow::json::ParseOptions::Defaults());
    if (!reader.ok()) return arrow::Status::Invalid("'", path, "': ", reader.status().message());
    auto read = (*reader)->Read();
    if (!read.ok()) return arrow::Status::Invalid("'", path, "': ", read.status().message());
    table = *read;
  }
  return table->schema();
}

}  // namespace

arrow::Result<TableEntry> crawl_directory(const std::string& path, const std::string& name,
                                          const std::string& format) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    return arrow::Status::Invalid("crawl: '", path, "' is not a directory");
  }
  ARROW_ASSIGN_OR_RAISE(auto files, list_data_files(path));
  std::string fmt_name = format;
  if (fmt_name.empty()) {
    for (const auto& f : files) {
      const std::string ext = fs::path(f).extension().string();
      if (ext == ".parquet") fmt_name = "parquet";
      if (ext == ".json" || ext == ".jsonl" || ext == ".ndjson") fmt_name = "json";
      if (ext == ".csv") fmt_name = "csv";
      if (!fmt_name.empty()) break;
    }
    if (fmt_name.empty()) {
      return arrow::Status::Invalid("crawl: no .parquet, .json or .csv files under '", path,
                                    "' (pass --format)");
    }
  }
  if (fmt_name != "parquet" && fmt_name != "json" && fmt_name != "csv") {
    return arrow::Status::Invalid("crawl: unknown format '", fmt_name, "'");
  }
  TableEntry table;
  table.name = name;
  table.location = fs::absolute(path).lexically_normal().string();
  if (!table.location.empty() && table.location.back() == '/') table.location.pop_back();
  table.format = fmt_name;
  std::vector<std::string> keys;
  std::map<std::string, std::set<std::string>> values_by_key;
  std::shared_ptr<arrow::Schema> file_schema;
  for (const auto& file : files) {
    const auto rel = fs::relative(fs::path(file).parent_path(), table.location, ec).string();
    const auto values = parse_partition_path(rel == "." ? "" : rel);
    std::vector<std::string> these;
    for (const auto& [k, v] : values) {
      these.push_back(k);
      values_by_key[k].insert(v);
    }
    if (keys.empty() && !these.empty()) keys = these;
    if (these != keys) {
      return arrow::Status::Invalid("crawl: '", file, "' has partition directories (", rel,
                                    ") unlike the table's first file");
    }
    DataFile data_file;
    data_file.name = fs::path(file).filename().string();
    data_file.bytes = int64_t(fs::file_size(file, ec));
    if (fmt_name == "parquet") {
      if (!file_schema) {
        ARROW_ASSIGN_OR_RAISE(file_schema, read_parquet_schema(file));
      }
      ARROW_ASSIGN_OR_RAISE(data_file.rows, read_parquet_row_count(file));
    } else {
      if (!file_schema) {
        ARROW_ASSIGN_OR_RAISE(file_schema, infer_text_schema(file, fmt_name));
      }
      // Text formats: count records by lines (one JSON object or CSV record per line).
      std::ifstream in(file, std::ios::binary);
      int64_t lines = 0;
      std::string line;
      while (std::getline(in, line)) {
        if (!line.empty()) ++lines;
      }
      data_file.rows = fmt_name == "csv" ? std::max<int64_t>(0, lines - 1) : lines;
    }
    auto& partition = table.partitions[partition_path(values)];
    partition.path = partition_path(values);
    partition.files.push_back(std::move(data_file));
  }
  if (!file_schema) {
    return arrow::Status::Invalid("crawl: no data files under '", path, "'");
  }
  arrow::FieldVector fields = file_schema->fields();
  for (const auto& key : keys) {
    if (file_schema->GetFieldIndex(key) >= 0) continue;  // already a file column
    fields.push_back(
        arrow::field(key, all_integers(values_by_key[key]) ? arrow::int64() : arrow::utf8()));
  }
  // Types the catalog cannot store (nested JSON objects, ...) are rejected here, naming them.
  for (const auto& f : fields) {
    auto st = type_from_name(type_name(*f->type())).status();
    if (!st.ok()) {
      return arrow::Status::NotImplemented("crawl: column '", f->name(), "' has type ",
                                           f->type()->ToString(),
                                           ", which the lake catalog does not support");
    }
  }
  table.schema = arrow::schema(std::move(fields));
  table.partition_keys = std::move(keys);
  return table;
}

}  // namespace roadpulse::lake
