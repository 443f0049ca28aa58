// The lake writer's memory bound (TableWriterOptions::buffer_memory, 'sink.buffer-memory'):
// many partitions under a small budget stay under it by the writer's own accounting, write
// exactly the rows given, stay invisible until commit, and leave nothing visible when the
// writer is aborted or killed before committing.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include <arrow/builder.h>
#include <arrow/testing/gtest_util.h>
#include <gtest/gtest.h>
#include <parquet/file_reader.h>
#include <parquet/metadata.h>

#include "lake/lake.h"

namespace roadpulse::lake {
namespace {

namespace fs = std::filesystem;

constexpr int32_t kFirstDay = 16801;  // 2016-01-01
constexpr int kDays = 60;
constexpr int kDataColumns = 4;

// Row i: event_date is one of 3 busy days for half the rows, else one of kDays quiet days
// (many partitions, most small); the data columns are functions of i.
int32_t day_of(int64_t i) {
  return kFirstDay + int32_t(i % 2 == 0 ? (i / 2) % 3 : 3 + (i * 7919) % (kDays - 3));
}
std::string text_of(int64_t i, int c) {
  return "city-" + std::to_string((i * (c + 3)) % 997) + "-" + std::to_string(c);
}
double value_of(int64_t i, int c) { return double(i) * 0.25 + c; }

std::shared_ptr<arrow::Schema> schema() {
  arrow::FieldVector fields = {arrow::field("id", arrow::int64()),
                               arrow::field("event_date", arrow::date32())};
  for (int c = 0; c < kDataColumns; ++c) {
    fields.push_back(
        arrow::field("c" + std::to_string(c), c % 2 ? arrow::float64() : arrow::utf8()));
  }
  return arrow::schema(fields);
}

std::shared_ptr<arrow::RecordBatch> batch(int64_t start, int64_t n) {
  arrow::Int64Builder id;
  arrow::Date32Builder date;
  std::vector<std::shared_ptr<arrow::Array>> columns(2 + kDataColumns);
  for (int64_t i = start; i < start + n; ++i) {
    EXPECT_TRUE(id.Append(i).ok());
    EXPECT_TRUE(date.Append(day_of(i)).ok());
  }
  columns[0] = id.Finish().ValueOrDie();
  columns[1] = date.Finish().ValueOrDie();
  for (int c = 0; c < kDataColumns; ++c) {
    if (c % 2) {
      arrow::DoubleBuilder b;
      for (int64_t i = start; i < start + n; ++i) EXPECT_TRUE(b.Append(value_of(i, c)).ok());
      columns[2 + c] = b.Finish().ValueOrDie();
    } else {
      arrow::StringBuilder b;
      for (int64_t i = start; i < start + n; ++i) EXPECT_TRUE(b.Append(text_of(i, c)).ok());
      columns[2 + c] = b.Finish().ValueOrDie();
    }
  }
  return arrow::RecordBatch::Make(schema(), n, columns);
}

class BufferMemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fs::path("lake_buffer_test_" + std::to_string(::getpid()) + "_" +
                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  TableWriterOptions options(int64_t budget) {
    TableWriterOptions o;
    o.location = (dir_ / "curated" / "t").string();
    o.schema = schema();
    o.partition_keys = {"event_date"};
    o.job_id = "job1";
    o.buffer_memory = budget;
    // Smaller than the default 8192, so the busy days reach it within the test's few rows.
    o.min_flush_rows = 2048;
    return o;
  }

  // Writes rows [0, n) in batches of `batch_rows`; checks the accounted memory after each write.
  void write_all(TableWriter& writer, int64_t n, int64_t batch_rows, int64_t budget) {
    for (int64_t start = 0; start < n; start += batch_rows) {
      ASSERT_OK(writer.write(batch(start, std::min(batch_rows, n - start))));
      if (budget > 0) {
        ASSERT_LE(writer.memory_stats().buffered_bytes, budget) << "after row " << start;
      }
    }
  }

  int staging_files(const std::string& root) {
    int n = 0;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
      if (e.path().filename().string().ends_with(".inprogress")) ++n;
    }
    return n;
  }

  fs::path dir_;
};

TEST_F(BufferMemoryTest, ManyPartitionsStayUnderBudgetAndWriteEveryRowOnce) {
  constexpr int64_t kRows = 60000;
  constexpr int64_t kBatch = 3000;
  constexpr int64_t kBudget = 12 << 20;
  // The same rows without a bound: what the writers would hold.
  int64_t unbounded_peak = 0;
  {
    auto o = options(0);
    o.location = (dir_ / "unbounded").string();
    ASSERT_OK_AND_ASSIGN(auto writer, TableWriter::make(o));
    write_all(*writer, kRows, kBatch, 0);
    unbounded_peak = writer->memory_stats().peak_buffered_bytes;
    EXPECT_EQ(writer->memory_stats().row_groups_flushed + writer->memory_stats().files_rolled, 0);
    ASSERT_OK(writer->abort());
  }
  auto o = options(kBudget);
  ASSERT_OK_AND_ASSIGN(auto writer, TableWriter::make(o));
  write_all(*writer, kRows, kBatch, kBudget);
  const auto stats = writer->memory_stats();
  std::cerr << "unbounded peak " << unbounded_peak << " bounded peak " << stats.peak_buffered_bytes
            << " flushed " << stats.row_groups_flushed << " rolled " << stats.files_rolled << "\n";
  EXPECT_GT(unbounded_peak, 2 * kBudget);  // the bound has work to do
  EXPECT_GT(stats.row_groups_flushed, 0);  // busy days: row groups written early
  EXPECT_GT(stats.files_rolled, 0);        // quiet days: files rolled
  // Checked after each partition's write: the peak passes the budget by at most one write.
  EXPECT_LE(stats.peak_buffered_bytes, kBudget + kBudget / 4);

  // Written out early, but nothing visible before the commit.
  EXPECT_TRUE(list_data_files(o.location, ".parquet").ValueOrDie().empty());
  EXPECT_GT(staging_files(o.location), 0);
  ASSERT_OK_AND_ASSIGN(auto committables, writer->prepare_commit(1));
  EXPECT_EQ(writer->memory_stats().buffered_bytes, 0);
  EXPECT_TRUE(list_data_files(o.location, ".parquet").ValueOrDie().empty());
  ASSERT_OK(writer->commit(1));

  // Exactly the input: every id once, every column as written, under its partition.
  auto files = list_data_files(o.location, ".parquet").ValueOrDie();
  ASSERT_EQ(files.size(), committables.size());
  for (const auto& file : files) {
    // Early row groups are at least min_flush_rows (only a file's last one may be smaller).
    auto reader = parquet::ParquetFileReader::OpenFile(file);
    auto meta = reader->metadata();
    for (int g = 0; g + 1 < meta->num_row_groups(); ++g) {
      EXPECT_GE(meta->RowGroup(g)->num_rows(), o.min_flush_rows) << file << " group " << g;
    }
    EXPECT_GT(meta->RowGroup(meta->num_row_groups() - 1)->num_rows(), 0) << file;
  }
  ASSERT_OK_AND_ASSIGN(auto reader, ParquetTableReader::open(o.location, files, schema()));
  std::vector<char> seen(kRows, 0);
  int64_t rows = 0;
  while (true) {
    ASSERT_OK_AND_ASSIGN(auto b, reader->next());
    if (!b) break;
    rows += b->num_rows();
    auto ids = std::static_pointer_cast<arrow::Int64Array>(b->column(0));
    auto dates = std::static_pointer_cast<arrow::Date32Array>(b->column(1));
    for (int64_t r = 0; r < b->num_rows(); ++r) {
      const int64_t i = ids->Value(r);
      ASSERT_TRUE(i >= 0 && i < kRows) << i;
      ASSERT_EQ(seen[i], 0) << "row " << i << " written twice";
      seen[i] = 1;
      ASSERT_EQ(dates->Value(r), day_of(i)) << i;
      for (int c = 0; c < kDataColumns; ++c) {
        if (c % 2) {
          ASSERT_EQ(std::static_pointer_cast<arrow::DoubleArray>(b->column(2 + c))->Value(r),
                    value_of(i, c));
        } else {
          ASSERT_EQ(std::static_pointer_cast<arrow::StringArray>(b->column(2 + c))->GetView(r),
                    text_of(i, c));
        }
      }
    }
  }
  EXPECT_EQ(rows, kRows);
}

TEST_F(BufferMemoryTest, AbortBeforeCommitLeavesNothingVisible) {
  constexpr int64_t kBudget = 12 << 20;
  auto o = options(kBudget);
  ASSERT_OK_AND_ASSIGN(auto writer, TableWriter::make(o));
  write_all(*writer, 30000, 3000, kBudget);
  EXPECT_GT(writer->memory_stats().row_groups_flushed + writer->memory_stats().files_rolled, 0);
  EXPECT_GT(staging_files(o.location), 0);
  ASSERT_OK(writer->abort());
  EXPECT_TRUE(list_data_files(o.location, ".parquet").ValueOrDie().empty());
  EXPECT_EQ(staging_files(o.location), 0);
}

TEST_F(BufferMemoryTest, KilledBeforeCommitLeavesNothingVisible) {
  constexpr int64_t kBudget = 12 << 20;
  auto o = options(kBudget);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Flushed row groups and rolled files on disk, then kill -9 (no destructor runs). The
    // alarm turns a child stuck after fork() into a failure rather than a hung test.
    ::alarm(120);
    auto writer = TableWriter::make(o).ValueOrDie();
    for (int64_t start = 0; start < 30000; start += 3000) {
      if (!writer->write(batch(start, 3000)).ok()) _exit(3);
    }
    const auto stats = writer->memory_stats();
    if (stats.row_groups_flushed == 0 || stats.files_rolled == 0) _exit(4);
    ::kill(::getpid(), SIGKILL);
    _exit(5);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "child exited with " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  EXPECT_TRUE(list_data_files(o.location, ".parquet").ValueOrDie().empty());
  EXPECT_GT(staging_files(o.location), 0);
  // The next start (the sink's open) removes them; what it then writes commits normally.
  ASSERT_OK_AND_ASSIGN(int removed, clean_staging_files(o.location));
  EXPECT_GT(removed, 0);
  EXPECT_EQ(staging_files(o.location), 0);
  o.job_id = "job2";
  ASSERT_OK_AND_ASSIGN(auto writer, TableWriter::make(o));
  ASSERT_OK(writer->write(batch(0, 1000)));
  ASSERT_OK(writer->prepare_commit(1).status());
  ASSERT_OK(writer->commit(1));
  auto files = list_data_files(o.location, ".parquet").ValueOrDie();
  int64_t rows = 0;
  for (const auto& f : files) rows += read_parquet_row_count(f).ValueOrDie();
  EXPECT_EQ(rows, 1000);
}

TEST_F(BufferMemoryTest, NegativeBudgetIsRejected) {
  auto o = options(-1);
  auto writer = TableWriter::make(o);
  ASSERT_FALSE(writer.ok());
  EXPECT_NE(writer.status().message().find("sink.buffer-memory"), std::string::npos);
}

}  // namespace
}  // namespace roadpulse::lake
