// src/lake: Parquet writer round trips, the commit protocol (staging, idempotent commit,
// cleanup), catalog atomicity and compaction.

#include <filesystem>
#include <fstream>

#include <arrow/builder.h>
#include <arrow/testing/gtest_util.h>
#include <gtest/gtest.h>

#include "lake/lake.h"

namespace roadpulse::lake {
namespace {

namespace fs = std::filesystem;

template <typename T>
arrow::Status status_of(const arrow::Result<T>& result) {
  return result.status();
}
arrow::Status status_of(const arrow::Status& status) { return status; }

// The expression fails with the given arrow::StatusCode (Invalid, KeyError, IOError, ...).
#define EXPECT_FAILS_WITH(code, expr)              \
  do {                                             \
    const arrow::Status _st = status_of(expr);     \
    EXPECT_TRUE(_st.Is##code()) << _st.ToString(); \
  } while (0)

class LakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fs::path("lake_test_" + std::to_string(::getpid()) + "_" +
                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::shared_ptr<arrow::Schema> schema() {
    return arrow::schema({arrow::field("id", arrow::int64()), arrow::field("State", arrow::utf8()),
                          arrow::field("event_date", arrow::date32()),
                          arrow::field("temp", arrow::float64())});
  }

  // rows [start, start+n): State cycles OH/CA/null, event_date cycles over 2 days.
  static std::shared_ptr<arrow::RecordBatch> batch(int64_t start, int64_t n) {
    arrow::Int64Builder id;
    arrow::StringBuilder state;
    arrow::Date32Builder date;
    arrow::DoubleBuilder temp;
    for (int64_t i = start; i < start + n; ++i) {
      EXPECT_TRUE(id.Append(i).ok());
      if (i % 3 == 2) {
        EXPECT_TRUE(state.AppendNull().ok());
      } else {
        EXPECT_TRUE(state.Append(i % 3 == 0 ? "OH" : "CA").ok());
      }
      EXPECT_TRUE(date.Append(int32_t(16839 + i % 2)).ok());  // 2016-02-08 / 09
      EXPECT_TRUE(temp.Append(double(i) / 4).ok());
    }
    return arrow::RecordBatch::Make(schema(), n,
                                    {id.Finish().ValueOrDie(), state.Finish().ValueOrDie(),
                                     date.Finish().ValueOrDie(), temp.Finish().ValueOrDie()});
  }

  TableWriterOptions writer_options(std::vector<std::string> keys = {"event_date", "State"}) {
    TableWriterOptions o;
    o.location = (dir_ / "curated" / "t").string();
    o.schema = schema();
    o.partition_keys = std::move(keys);
    o.job_id = "job1";
    return o;
  }

  // Reads every committed file of the table back (all columns), summing ids.
  std::pair<int64_t, int64_t> read_back(const std::string& root) {
    auto files = list_data_files(root, ".parquet").ValueOrDie();
    auto reader = ParquetTableReader::open(root, files, schema()).ValueOrDie();
    int64_t rows = 0, id_sum = 0;
    while (true) {
      auto b = reader->next().ValueOrDie();
      if (!b) break;
      rows += b->num_rows();
      auto ids = std::static_pointer_cast<arrow::Int64Array>(b->column(0));
      auto states = b->column(1);
      auto dates = std::static_pointer_cast<arrow::Date32Array>(b->column(2));
      for (int64_t r = 0; r < b->num_rows(); ++r) {
        const int64_t i = ids->Value(r);
        id_sum += i;
        // Partition values restored from the directories match the row.
        EXPECT_EQ(dates->Value(r), 16839 + i % 2);
        EXPECT_EQ(states->IsNull(r), i % 3 == 2) << i;
      }
    }
    return {rows, id_sum};
  }

  fs::path dir_;
};

TEST_F(LakeTest, PartitionPathEscapesAndParses) {
  PartitionValues values = {{"event_date", "2016-02-08"}, {"City", "A/B=C%"}};
  const std::string path = partition_path(values);
  EXPECT_EQ(path, "event_date=2016-02-08/City=A%2FB%3DC%25");
  EXPECT_EQ(parse_partition_path(path), values);
}

TEST_F(LakeTest, WriterRoundTripWithZstdDictionaryAndStatistics) {
  const std::string path = (dir_ / "f.parquet").string();
  ParquetWriteOptions options;
  options.row_group_rows = 1000;
  ASSERT_OK_AND_ASSIGN(auto writer, ParquetFileWriter::open(path, schema(), options));
  ASSERT_OK(writer->write(*batch(0, 2500)));
  ASSERT_OK_AND_ASSIGN(int64_t size, writer->close());
  EXPECT_EQ(size, int64_t(fs::file_size(path)));
  ASSERT_OK_AND_ASSIGN(auto rows, read_parquet_row_count(path));
  EXPECT_EQ(rows, 2500);
  auto [n, sum] = read_back(path);
  EXPECT_EQ(n, 2500);
  EXPECT_EQ(sum, 2499LL * 2500 / 2);
}

TEST_F(LakeTest, StagedFilesInvisibleUntilCommit) {
  auto options = writer_options();
  ASSERT_OK_AND_ASSIGN(auto writer, TableWriter::make(options));
  ASSERT_OK(writer->write(batch(0, 600)));
  EXPECT_TRUE(list_data_files(options.location, ".parquet").ValueOrDie().empty());
  ASSERT_OK_AND_ASSIGN(auto committables, writer->prepare_commit(1));
  EXPECT_EQ(committables.size(), 6u);  // 2 dates x (OH, CA, null)
  EXPECT_TRUE(list_data_files(options.location, ".parquet").ValueOrDie().empty());
  for (const auto& c : committables) {
    EXPECT_TRUE(fs::exists(c.staging_path));
    EXPECT_NE(fs::path(c.staging_path).filename().string().find(".part-job1-1-"),
              std::string::npos);
  }
  ASSERT_OK(writer->commit(1));
  auto [n, sum] = read_back(options.location);
  EXPECT_EQ(n, 600);
  EXPECT_EQ(sum, 599LL * 600 / 2);
  EXPECT_TRUE(fs::exists(fs::path(options.location) / "event_date=2016-02-08" / "State=OH"));
  EXPECT_TRUE(fs::exists(fs::path(options.location) / "event_date=2016-02-09" /
                         ("State=" + std::string(kDefaultPartition))));
}

TEST_F(LakeTest, CommitIsIdempotentAndDetectsLostFiles) {
  auto options = writer_options({});
  ASSERT_OK_AND_ASSIGN(auto writer, TableWriter::make(options));
  ASSERT_OK(writer->write(batch(0, 100)));
  ASSERT_OK_AND_ASSIGN(auto committables, writer->prepare_commit(7));
  ASSERT_EQ(committables.size(), 1u);
  ASSERT_OK(TableWriter::commit_files(options, committables));
  // Replayed after a restore: the final file exists with that size, nothing to do.
  ASSERT_OK(TableWriter::commit_files(options, committables));
  EXPECT_EQ(read_back(options.location).first, 100);
  // A committable whose staging file and final file are both gone is an error, not a no-op.
  auto lost = committables;
  lost[0].final_path += ".missing";
  lost[0].staging_path += ".missing";
  EXPECT_FAILS_WITH(IOError, TableWriter::commit_files(options, lost));
  // Same name with another size: not ours.
  auto other = committables;
  other[0].bytes += 1;
  EXPECT_FAILS_WITH(IOError, TableWriter::commit_files(options, other));
}

TEST_F(LakeTest, RollingBySizeAndAbortRemovesStaging) {
  auto options = writer_options({});
  options.roll_bytes = 4096;
  options.parquet.row_group_rows = 256;
  ASSERT_OK_AND_ASSIGN(auto writer, TableWriter::make(options));
  for (int i = 0; i < 20; ++i) ASSERT_OK(writer->write(batch(i * 500, 500)));
  ASSERT_OK_AND_ASSIGN(auto committables, writer->prepare_commit(1));
  EXPECT_GT(committables.size(), 3u);
  ASSERT_OK(writer->commit(1));
  EXPECT_EQ(read_back(options.location).first, 10000);
  // A cancelled job: written but uncommitted files disappear.
  ASSERT_OK(writer->write(batch(10000, 500)));
  ASSERT_OK(writer->abort());
  EXPECT_EQ(read_back(options.location).first, 10000);
  for (const auto& e : fs::recursive_directory_iterator(options.location)) {
    EXPECT_FALSE(e.path().filename().string().ends_with(".inprogress")) << e.path();
  }
}

TEST_F(LakeTest, CleanStagingRemovesLeftovers) {
  auto options = writer_options();
  {
    ASSERT_OK_AND_ASSIGN(auto writer, TableWriter::make(options));
    ASSERT_OK(writer->write(batch(0, 50)));
    ASSERT_OK(writer->prepare_commit(1).status());
    // Simulate kill -9 between prepare and commit: leak the staging files.
    for (const auto& e : fs::recursive_directory_iterator(options.location)) {
      if (e.path().filename().string().ends_with(".inprogress")) {
        fs::copy_file(e.path(), e.path().string() + ".copy");
      }
    }
  }
  int leftovers = 0;
  for (const auto& e : fs::recursive_directory_iterator(options.location)) {
    if (e.path().filename().string().ends_with(".copy")) {
      fs::rename(e.path(), e.path().string().substr(0, e.path().string().size() - 5));
      ++leftovers;
    }
  }
  ASSERT_GT(leftovers, 0);
  ASSERT_OK_AND_ASSIGN(int removed, clean_staging_files(options.location));
  EXPECT_EQ(removed, leftovers);
  EXPECT_TRUE(list_data_files(options.location).ValueOrDie().empty());
}

TEST_F(LakeTest, CatalogMetastoreCommitAndAtomicReplace) {
  ASSERT_OK_AND_ASSIGN(auto catalog, Catalog::open((dir_ / "_catalog").string()));
  auto options = writer_options();
  options.catalog = catalog.get();
  options.success_file = true;
  options.table.name = "curated.t";
  options.table.location = options.location;
  options.table.schema = schema();
  options.table.partition_keys = options.partition_keys;
  ASSERT_OK_AND_ASSIGN(auto writer, TableWriter::make(options));
  ASSERT_OK(writer->write(batch(0, 300)));
  auto prepared = writer->prepare_commit(1).ValueOrDie();
  ASSERT_OK(writer->commit(1));
  ASSERT_OK(writer->write(batch(300, 300)));
  ASSERT_OK(writer->prepare_commit(2).status());
  ASSERT_OK(writer->commit(2));
  // Replaying checkpoint 1's commit adds nothing twice.
  ASSERT_OK(TableWriter::commit_files(options, prepared));
  ASSERT_OK_AND_ASSIGN(auto table, catalog->get("curated.t"));
  EXPECT_EQ(table.rows(), 600);
  EXPECT_EQ(table.partitions.size(), 6u);
  EXPECT_EQ(table.file_count(), 12u);
  EXPECT_TRUE(table.schema->Equals(*schema()));
  EXPECT_TRUE(fs::exists(fs::path(options.location) / "event_date=2016-02-08/State=OH/_SUCCESS"));
  // Readers skip _SUCCESS and hidden files.
  EXPECT_EQ(read_back(options.location).first, 600);
  // The document round-trips; a torn temporary from a crashed put() is ignored and removed.
  ASSERT_OK_AND_ASSIGN(auto again, Catalog::from_json(Catalog::to_json(table), "test"));
  EXPECT_EQ(again.rows(), 600);
  {
    std::ofstream torn(dir_ / "_catalog" / "curated.t.json.tmp");
    torn << "{\"name\": \"curated.t\", \"locat";
  }
  ASSERT_OK_AND_ASSIGN(auto reopened, Catalog::open((dir_ / "_catalog").string()));
  EXPECT_FALSE(fs::exists(dir_ / "_catalog" / "curated.t.json.tmp"));
  ASSERT_OK_AND_ASSIGN(auto names, reopened->table_names());
  EXPECT_EQ(names, std::vector<std::string>{"curated.t"});
  EXPECT_FAILS_WITH(KeyError, reopened->get("curated.nope"));
  EXPECT_FAILS_WITH(Invalid, Catalog::from_json("{\"name\": 1}", "bad"));
  EXPECT_FAILS_WITH(Invalid, reopened->get("../etc"));
}

TEST_F(LakeTest, CompactionRewritesPartitionAtomically) {
  ASSERT_OK_AND_ASSIGN(auto catalog, Catalog::open((dir_ / "_catalog").string()));
  auto options = writer_options({"event_date"});
  options.catalog = catalog.get();
  options.table.name = "curated.t";
  options.table.location = options.location;
  options.table.schema = schema();
  options.table.partition_keys = {"event_date"};
  ASSERT_OK_AND_ASSIGN(auto writer, TableWriter::make(options));
  for (int c = 1; c <= 4; ++c) {
    ASSERT_OK(writer->write(batch((c - 1) * 100, 100)));
    ASSERT_OK(writer->prepare_commit(c).status());
    ASSERT_OK(writer->commit(c));
  }
  ASSERT_OK_AND_ASSIGN(auto before, catalog->get("curated.t"));
  EXPECT_EQ(before.file_count(), 8u);
  EXPECT_FAILS_WITH(KeyError, compact_table(*catalog, "curated.t", std::string("event_date=1999")));
  ASSERT_OK_AND_ASSIGN(auto result,
                       compact_table(*catalog, "curated.t", std::string("event_date=2016-02-08")));
  EXPECT_EQ(result.partitions_compacted, 1);
  EXPECT_EQ(result.files_removed, 4);
  EXPECT_EQ(result.rows, 200);
  ASSERT_OK_AND_ASSIGN(auto after, catalog->get("curated.t"));
  EXPECT_EQ(after.file_count(), 5u);
  EXPECT_EQ(after.rows(), 400);
  EXPECT_EQ(list_data_files(options.location, ".parquet").ValueOrDie().size(), 5u);
  auto [n, sum] = read_back(options.location);
  EXPECT_EQ(n, 400);
  EXPECT_EQ(sum, 399LL * 400 / 2);
  ASSERT_OK_AND_ASSIGN(auto rest, compact_table(*catalog, "curated.t", std::nullopt));
  EXPECT_EQ(rest.partitions_compacted, 1);
  EXPECT_EQ(catalog->get("curated.t").ValueOrDie().file_count(), 2u);
}

TEST_F(LakeTest, CrawlInfersSchemaAndPartitions) {
  auto options = writer_options({"event_date", "State"});
  ASSERT_OK_AND_ASSIGN(auto writer, TableWriter::make(options));
  ASSERT_OK(writer->write(batch(0, 90)));
  ASSERT_OK(writer->prepare_commit(1).status());
  ASSERT_OK(writer->commit(1));
  ASSERT_OK_AND_ASSIGN(auto table, crawl_directory(options.location, "found.t"));
  EXPECT_EQ(table.format, "parquet");
  EXPECT_EQ(table.rows(), 90);
  EXPECT_EQ(table.partition_keys, (std::vector<std::string>{"event_date", "State"}));
  EXPECT_EQ(table.schema->num_fields(), 4);
  EXPECT_EQ(table.schema->GetFieldByName("event_date")->type()->id(), arrow::Type::STRING);

  const fs::path json_dir = dir_ / "json" / "year=2016";
  fs::create_directories(json_dir);
  {
    std::ofstream out(json_dir / "a.json");
    out << "{\"ID\": \"A-1\", \"Severity\": 3}\n{\"ID\": \"A-2\", \"Severity\": 4}\n";
  }
  ASSERT_OK_AND_ASSIGN(auto json, crawl_directory((dir_ / "json").string(), "raw.j"));
  EXPECT_EQ(json.format, "json");
  EXPECT_EQ(json.rows(), 2);
  EXPECT_EQ(json.schema->GetFieldByName("year")->type()->id(), arrow::Type::INT64);
  EXPECT_EQ(json.schema->GetFieldByName("Severity")->type()->id(), arrow::Type::INT64);
  EXPECT_FAILS_WITH(Invalid, crawl_directory((dir_ / "nothing").string(), "x"));
}

}  // namespace
}  // namespace roadpulse::lake

namespace roadpulse::lake {
namespace {

// What a checkpoint stores for the lake sink: every prepared, uncommitted file; a restore from
// it commits them (the crash came between the manifest and the commit) and nothing is lost,
// while abort(keep_prepared) leaves exactly those files for the restore.
TEST_F(LakeTest, CheckpointCommittablesSurviveAbortAndCommitOnRestore) {
  auto options = writer_options();
  std::string snapshot;
  {
    ASSERT_OK_AND_ASSIGN(auto writer, TableWriter::make(options));
    ASSERT_OK(writer->write(batch(0, 300)));
    ASSERT_OK(writer->prepare_commit(4).status());
    ASSERT_OK(writer->write(batch(300, 200)));
    ASSERT_OK(writer->prepare_commit(5).status());
    ASSERT_OK(writer->commit(4));
    // Checkpoint 5's manifest is durable, its commit never ran: the job fails.
    snapshot = serialize_committables(writer->pending_committables());
    ASSERT_OK(writer->write(batch(500, 100)));  // after the checkpoint: must vanish
    ASSERT_OK(writer->abort(/*keep_prepared=*/true));
  }
  EXPECT_EQ(read_back(options.location).first, 300);
  ASSERT_OK_AND_ASSIGN(auto restored, parse_committables(snapshot));
  ASSERT_EQ(restored.size(), 6u);
  for (const auto& c : restored) {
    EXPECT_EQ(c.checkpoint_id, 5);
    EXPECT_TRUE(fs::exists(c.staging_path)) << c.staging_path;
  }
  ASSERT_OK(TableWriter::commit_files(options, restored));
  ASSERT_OK(TableWriter::commit_files(options, restored));  // replay twice: still once
  ASSERT_OK_AND_ASSIGN(int cleaned, clean_staging_files(options.location));
  EXPECT_EQ(cleaned, 0);
  auto [n, sum] = read_back(options.location);
  EXPECT_EQ(n, 500);
  EXPECT_EQ(sum, 499LL * 500 / 2);

  // Paths with spaces and '%' survive the text form; garbage is refused.
  Committable odd;
  odd.checkpoint_id = 9;
  odd.staging_path = "/a b/.part-x.inprogress";
  odd.final_path = "/a b/part%x";
  odd.partition = "";
  odd.rows = 3;
  odd.bytes = 17;
  ASSERT_OK_AND_ASSIGN(auto back, parse_committables(serialize_committables({odd})));
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].staging_path, odd.staging_path);
  EXPECT_EQ(back[0].final_path, odd.final_path);
  EXPECT_EQ(back[0].partition, "");
  EXPECT_EQ(back[0].bytes, 17);
  EXPECT_FALSE(parse_committables("not committables").ok());
  EXPECT_FALSE(parse_committables("committables 1\n1 2\n").ok());
}

}  // namespace
}  // namespace roadpulse::lake
