#pragma once
// roadpulse::lake — the analytical layer's storage: a directory tree of Parquet files that DuckDB,
// pyarrow, Spark and Athena read as they are, plus the commit protocol that makes files appear
// exactly once and a catalog that says what tables exist.
//
// Layout: `<lake>/<zone>/<table>/<k=v>/.../part-<job>-<checkpoint>-<n>.parquet` (Hive-style
// partition directories). A TableWriter writes each file under a hidden staging name
// (`.part-...parquet.inprogress`, which readers skip), closes it at prepare_commit() and renames
// it into place at commit(); commit is idempotent (a final file that already exists with the
// committed size counts as done), so a restore may replay it. The Catalog (the Glue role) keeps
// one JSON document per table under `<lake>/_catalog/`, replaced atomically (tmp + fsync +
// rename + directory fsync) under an advisory lock, so a reader sees the old or the new table,
// never a torn one; small human-readable files need no database and survive any crash.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <arrow/memory_pool.h>
#include <arrow/record_batch.h>
#include <arrow/result.h>
#include <arrow/status.h>
#include <arrow/type.h>

namespace parquet {
class FileMetaData;
}

namespace roadpulse::lake {

// ---------------------------------------------------------------------------------------------
// Layout helpers

/// Partition values of a file: `k=v` path segments of `relative_dir`, in order.
using PartitionValues = std::vector<std::pair<std::string, std::string>>;

/// The directory value Hive (and DuckDB, Spark) use for a NULL partition value.
inline constexpr const char* kDefaultPartition = "__HIVE_DEFAULT_PARTITION__";

/// `k1=v1/k2=v2` for `values` (escaping '/', '=', '%' and control characters as %XX, as Hive).
std::string partition_path(const PartitionValues& values);
/// Parses the `k=v` segments of a relative directory (unescaping %XX). Segments without '='
/// are ignored.
PartitionValues parse_partition_path(const std::string& relative_dir);

/// Visible data files under `root` (recursively, name order), skipping names that start with
/// '.' or '_' (staging files, _SUCCESS, _catalog) as Hive, Spark and Flink do. `extension`
/// filters by suffix when not empty (e.g. ".parquet").
arrow::Result<std::vector<std::string>> list_data_files(const std::string& root,
                                                        const std::string& extension = "");
/// Removes leftover staging files (`.part-*.inprogress`) under `root`; returns how many.
arrow::Result<int> clean_staging_files(const std::string& root);
/// fsyncs a directory, so a rename inside it is durable.
arrow::Status fsync_directory(const std::string& dir);
/// Writes `contents` to `path` atomically: `path.tmp`, fsync, rename, directory fsync.
arrow::Status write_file_atomically(const std::string& path, const std::string& contents);

/// Type names stored in the catalog: Arrow's ToString() for the types the lake supports
/// (bool, int8..int64, uint8..uint64, float, double, string, large_string, binary, date32,
/// timestamp[s|ms|us|ns] with an optional tz) and the inverse.
std::string type_name(const arrow::DataType& type);
arrow::Result<std::shared_ptr<arrow::DataType>> type_from_name(const std::string& name);

// ---------------------------------------------------------------------------------------------
// Parquet files

struct ParquetWriteOptions {
  /// "zstd" (default), "snappy", "lz4", "gzip" or "uncompressed".
  std::string compression = "zstd";
  int compression_level = 1;  // zstd level 1: most of zstd's ratio at a fraction of level 3's CPU
  bool dictionary = true;
  bool statistics = true;
  /// Rows per row group: large enough for good compression and cheap metadata, small enough that
  /// a file's writer holds a bounded amount of memory.
  int64_t row_group_rows = 128 * 1024;
};

/// One Parquet file being written through Arrow C++ (parquet::arrow::FileWriter).
class ParquetFileWriter {
 public:
  /// `pool`: where the writer's buffers come from (default: Arrow's default pool); the writer
  /// counts its own allocations on top of it (buffered_bytes()).
  static arrow::Result<std::unique_ptr<ParquetFileWriter>> open(
      const std::string& path, std::shared_ptr<arrow::Schema> schema,
      const ParquetWriteOptions& options, arrow::MemoryPool* pool = nullptr);
  ~ParquetFileWriter();

  arrow::Status write(const arrow::RecordBatch& batch);
  /// Bytes written to the file so far plus an estimate of the open row group.
  int64_t estimated_size() const;
  int64_t rows() const { return rows_; }
  /// Memory the writer holds now (encoded pages of the open row group, dictionaries, column
  /// writers), as allocated through its pool: exact, not an estimate.
  int64_t buffered_bytes() const;
  /// Rows in the open (buffered) row group.
  int64_t buffered_rows() const;
  /// Writes the open row group out to the file (no footer: the file stays in progress) and
  /// releases its buffers. No-op without buffered rows.
  arrow::Status flush_row_group();
  /// Writes the footer, fsyncs and closes; returns the file size.
  arrow::Result<int64_t> close();

  struct Impl;

 private:
  explicit ParquetFileWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  int64_t rows_ = 0;
};

/// Chooses the row groups of a file to read (pruning.h: row_groups_may_match), given the file's
/// path, footer and Arrow schema.
using RowGroupSelector = std::function<std::vector<int>(
    const std::string& path, const parquet::FileMetaData& metadata, const arrow::Schema& schema)>;

/// A bounded reader over Parquet files: only the requested columns, row group by row group.
/// Columns named in `schema` that are partition keys come from the files' `k=v` directories
/// (cast to the column's type); columns a file lacks are null.
class ParquetTableReader {
 public:
  /// `files` are absolute paths under `root` (partition values are taken relative to it).
  /// `select_row_groups` (optional) skips row groups, e.g. by their statistics.
  static arrow::Result<std::unique_ptr<ParquetTableReader>> open(
      std::string root, std::vector<std::string> files, std::shared_ptr<arrow::Schema> schema,
      int64_t batch_rows = 64 * 1024, RowGroupSelector select_row_groups = nullptr);
  ~ParquetTableReader();
  /// The next batch of `schema`, or null at the end.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> next();

  struct Impl;

 private:
  explicit ParquetTableReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// The schema stored in a Parquet file's footer.
arrow::Result<std::shared_ptr<arrow::Schema>> read_parquet_schema(const std::string& path);
/// Row count from a Parquet file's footer.
arrow::Result<int64_t> read_parquet_row_count(const std::string& path);

// ---------------------------------------------------------------------------------------------
// Catalog

struct DataFile {
  std::string name;  // file name inside its partition directory
  int64_t rows = 0;
  int64_t bytes = 0;
};

struct PartitionEntry {
  std::string path;  // `k=v/...` relative to the table location ("" when unpartitioned)
  std::vector<DataFile> files;
  int64_t rows() const;
  int64_t bytes() const;
};

struct TableEntry {
  std::string name;      // e.g. "curated.us_accidents"
  std::string location;  // absolute directory
  std::string format = "parquet";
  std::shared_ptr<arrow::Schema> schema;  // all columns, partition columns included
  std::vector<std::string> partition_keys;
  std::map<std::string, PartitionEntry> partitions;  // by path
  int64_t updated_micros = 0;                        // last change, UTC

  int64_t rows() const;
  int64_t bytes() const;
  size_t file_count() const;
};

/// Files committed together into one table (one checkpoint of one writer).
struct CommittedFile {
  std::string partition;  // `k=v/...`
  DataFile file;
};

/// The schema `table` has once files written with `incoming`'s schema are added: columns
/// `incoming` adds are appended (nullable: older files read them as NULL); columns it lacks
/// stay (its files read them as NULL). Invalid, naming the column and both types, when a
/// column changes type, and when the location or the partition keys differ.
arrow::Result<std::shared_ptr<arrow::Schema>> evolve_schema(const TableEntry& table,
                                                            const TableEntry& incoming);

class Catalog {
 public:
  /// The catalog stored in `dir` (created if missing), usually `<lake>/_catalog`.
  static arrow::Result<std::unique_ptr<Catalog>> open(std::string dir);
  const std::string& dir() const { return dir_; }

  arrow::Result<std::vector<std::string>> table_names() const;
  /// KeyError naming the table when it is not registered.
  arrow::Result<TableEntry> get(const std::string& name) const;
  arrow::Result<std::optional<TableEntry>> find(const std::string& name) const;
  /// Registers or replaces a table (atomically).
  arrow::Status put(const TableEntry& table);
  arrow::Status drop(const std::string& name);
  /// Adds committed files to `table` (creating the entry from `prototype` when missing).
  /// Idempotent: a file already listed under its partition is not added twice. The schema
  /// evolves by evolve_schema(): new columns are appended, anything else incompatible fails
  /// (naming the column and both types) before the catalog changes.
  arrow::Status add_files(const TableEntry& prototype, const std::vector<CommittedFile>& files);

  /// Serialization used by put()/get(), exposed for tests.
  static std::string to_json(const TableEntry& table);
  static arrow::Result<TableEntry> from_json(const std::string& json, const std::string& origin);

 private:
  explicit Catalog(std::string dir) : dir_(std::move(dir)) {}
  std::string path_of(const std::string& name) const;
  std::string dir_;
};

// ---------------------------------------------------------------------------------------------
// Writing a table with the commit protocol

struct TableWriterOptions {
  std::string location;                     // table directory
  std::shared_ptr<arrow::Schema> schema;    // rows as written, partition columns included
  std::vector<std::string> partition_keys;  // become directories, not file columns
  std::string job_id;                       // part of file names; unique per writer
  int64_t roll_bytes = 128LL << 20;         // 'sink.rolling-policy.file-size'
  /// 'sink.buffer-memory': a bound on the memory all open files of the writer hold together
  /// (0: none). Past it, the largest writers' row groups are written out (or, below
  /// `min_flush_rows`, their files rolled), biggest first, until under half of it.
  int64_t buffer_memory = 256LL << 20;
  /// Smallest row group written early for the memory bound: smaller buffers roll the file
  /// instead, so no file gets tiny row groups.
  int64_t min_flush_rows = 8192;
  int64_t rollover_interval_ms = 0;  // 'sink.rolling-policy.rollover-interval' (0: none)
  ParquetWriteOptions parquet;
  bool success_file = false;  // 'success-file' policy: `_SUCCESS` in each committed partition
  /// 'metastore' policy: committed files are added to this catalog under `table`.
  Catalog* catalog = nullptr;
  TableEntry table;  // prototype entry (name, location, schema, partition keys) for the catalog
};

/// A file closed by prepare_commit(): what commit() renames.
struct Committable {
  int64_t checkpoint_id = 0;
  std::string staging_path;
  std::string final_path;
  std::string partition;
  int64_t rows = 0;
  int64_t bytes = 0;
};

/// Writes rows into partitioned, rolling Parquet files with two-phase commit. Not thread-safe:
/// one writer per sink instance (exec serializes a sink's writes).
class TableWriter {
 public:
  static arrow::Result<std::unique_ptr<TableWriter>> make(TableWriterOptions options);
  ~TableWriter();

  arrow::Status write(const std::shared_ptr<arrow::RecordBatch>& batch);
  /// Closes every open file; they become the committables of `checkpoint_id` (files rolled
  /// earlier since the last prepare included).
  arrow::Result<std::vector<Committable>> prepare_commit(int64_t checkpoint_id);
  /// Renames the committables of every checkpoint <= `checkpoint_id` into place, then writes
  /// _SUCCESS files and updates the catalog as configured.
  arrow::Status commit(int64_t checkpoint_id);
  /// Deletes open and prepared-but-uncommitted staging files (a cancelled job). With
  /// `keep_prepared`, files closed by prepare_commit() stay: a checkpoint may own them, and the
  /// next start either commits them (its checkpoint completed) or cleans them up.
  arrow::Status abort(bool keep_prepared = false);
  /// Every committable prepared and not committed yet, oldest first: what a checkpoint must
  /// keep so a restore can finish the commit.
  std::vector<Committable> pending_committables() const;
  int64_t rows_written() const { return rows_written_; }

  /// The memory bound at work (sink.buffer-memory).
  struct MemoryStats {
    int64_t buffered_bytes = 0;       // held by the open files now
    int64_t peak_buffered_bytes = 0;  // most ever held at once
    int64_t row_groups_flushed = 0;   // row groups written early for the bound
    int64_t files_rolled = 0;         // files closed early for the bound
  };
  MemoryStats memory_stats() const;

  /// The commit step on its own: renames committables (idempotently) and publishes them. Used
  /// on restore with committables persisted in a checkpoint.
  static arrow::Status commit_files(const TableWriterOptions& options,
                                    const std::vector<Committable>& committables);

  struct Impl;

 private:
  explicit TableWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  int64_t rows_written_ = 0;
};

/// Committables as stored in a checkpoint (one text line each, fields percent-escaped) and back.
std::string serialize_committables(const std::vector<Committable>& committables);
arrow::Result<std::vector<Committable>> parse_committables(const std::string& text);

// ---------------------------------------------------------------------------------------------
// Compaction

struct CompactionResult {
  int partitions_compacted = 0;
  int files_removed = 0;
  int64_t rows = 0;
};

/// Rewrites each partition of `table_name` (or only `partition`, `k=v/...`) that holds more than
/// one file into a single file: the new file is staged and renamed in, the catalog entry is
/// replaced atomically, then the old files are deleted. Catalog readers never see a mixed
/// state; a directory listing may see old and new files together for the moment between the
/// rename and the deletes.
arrow::Result<CompactionResult> compact_table(Catalog& catalog, const std::string& table_name,
                                              const std::optional<std::string>& partition,
                                              const ParquetWriteOptions& options = {});

// ---------------------------------------------------------------------------------------------
// Crawling

/// Infers a table from an existing directory of Parquet, JSON (lines) or CSV (with header)
/// files: the schema of its data files (the first file's, for Parquet; Arrow's inference over
/// the first file otherwise), partition keys and values from `k=v` directories (BIGINT when
/// every value is an integer, else STRING), file row counts. `format` empty: from the files'
/// extension.
arrow::Result<TableEntry> crawl_directory(const std::string& path, const std::string& name,
                                          const std::string& format = "");

}  // namespace roadpulse::lake
