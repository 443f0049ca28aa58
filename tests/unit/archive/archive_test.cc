// src/archive: naming, record checks, zstd framing, and the archive over a real LogStore:
// every record once, positions committed, a crashed flush rolled forward, stale staging removed.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <arrow/testing/gtest_util.h>
#include <gtest/gtest.h>

#include "archive/archive.h"
#include "lake/lake.h"

namespace roadpulse::archive {
namespace {

namespace fs = std::filesystem;

TEST(ArchiveLayout, HourPartitionIsUtcArrivalHour) {
  EXPECT_EQ(hour_partition(0), "dt=1970-01-01/hour=00");
  // 2016-02-08T05:46:00.123Z
  EXPECT_EQ(hour_partition(1454910360123), "dt=2016-02-08/hour=05");
  EXPECT_EQ(hour_partition(1454975999999), "dt=2016-02-08/hour=23");
  EXPECT_EQ(hour_partition(1454976000000), "dt=2016-02-09/hour=00");
  EXPECT_EQ(hour_partition(-1), "dt=1969-12-31/hour=23");
}

TEST(ArchiveLayout, FileNamesSortByPosition) {
  EXPECT_EQ(data_file_name(log::ShardId{3}, log::SequenceNumber{42}),
            "part-shardId-000000000003-00000000000000000042.jsonl.zst");
  EXPECT_LT(data_file_name(log::ShardId{0}, log::SequenceNumber{9}),
            data_file_name(log::ShardId{0}, log::SequenceNumber{10}));
  EXPECT_EQ(archive_table_name("us-accidents-data-stream-1"), "raw.us-accidents-data-stream-1");
}

TEST(ArchiveLayout, CheckRecord) {
  EXPECT_FALSE(check_record(R"({"ID": "A-1", "Severity": 3})").has_value());
  EXPECT_FALSE(check_record("{\n    \"ID\": \"A-1\"\n}").has_value());
  EXPECT_EQ(check_record(""), "empty record");
  EXPECT_EQ(check_record("[1, 2]"), "not a JSON object");
  EXPECT_EQ(check_record("42"), "not a JSON object");
  ASSERT_TRUE(check_record("{\"ID\": ").has_value());
  EXPECT_NE(check_record("{\"ID\": ")->find("not valid JSON"), std::string::npos);
}

TEST(ArchiveLayout, ErrorLineCarriesReasonPositionAndBase64) {
  log::StoredRecord r{log::ShardId{1}, log::SequenceNumber{7}, 1000, "k\"", "no"};
  EXPECT_EQ(error_line(r, "not a \"JSON\" object"),
            R"({"reason": "not a \"JSON\" object", "shard": "shardId-000000000001", )"
            R"("sequence": "7", "arrivalTimestamp": 1000, "partitionKey": "k\"", )"
            R"("rawData": "bm8="})");
}

TEST(ArchiveLayout, PrometheusText) {
  ArchiveStats s;
  s.records = 12;
  s.last_flush_ms = 1500;
  const std::string text = prometheus_text("raw-1", s);
  EXPECT_NE(text.find("# TYPE roadpulse_archive_records_total counter\n"
                      "roadpulse_archive_records_total{stream=\"raw-1\"} 12\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("roadpulse_archive_last_flush_timestamp_seconds{stream=\"raw-1\"} 1.5\n"),
            std::string::npos)
      << text;
}

TEST(ArchiveLayout, ZstdRoundTripAcrossFrames) {
  std::string big;
  for (int i = 0; i < 100000; ++i) big += "{\"i\": " + std::to_string(i) + "}\n";
  ASSERT_OK_AND_ASSIGN(auto a, zstd_compress(big, 3));
  ASSERT_OK_AND_ASSIGN(auto b, zstd_compress("tail\n", 1));
  EXPECT_LT(a.size(), big.size() / 5);
  ASSERT_OK_AND_ASSIGN(auto back, zstd_decompress(a + b));
  EXPECT_EQ(back, big + "tail\n");
  EXPECT_FALSE(zstd_decompress(a.substr(0, a.size() / 2)).ok());
  EXPECT_FALSE(zstd_decompress("not zstd at all").ok());
}

class ArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("archive_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    open_log();
    ASSERT_OK(log_->create_stream("raw", 3));
  }
  void TearDown() override {
    log_.reset();
    fs::remove_all(dir_);
  }
  void open_log() {
    log::LogOptions options;
    options.data_dir = (dir_ / "data").string();
    options.durability = log::Durability::kNone;
    options.retention_thread = false;
    log_.reset();
    ASSERT_OK_AND_ASSIGN(log_, log::LogStore::open(options));
  }
  ArchiveOptions options() const {
    ArchiveOptions o;
    o.stream = "raw";
    o.lake_dir = (dir_ / "lake").string();
    o.buffer_bytes = 4096;  // many flushes
    o.read_records = 50;
    return o;
  }
  // Appends records i in [from, to): JSON objects, every 7th multi-line, every 50th invalid.
  void append(int from, int to) {
    std::vector<std::string> keys, data;
    for (int i = from; i < to; ++i) {
      keys.push_back(std::to_string(i));
      if (i % 50 == 49) {
        data.push_back("oops " + std::to_string(i));
      } else if (i % 7 == 0) {
        data.push_back("{\n    \"i\": " + std::to_string(i) + ",\r\n    \"s\": \"x\"\n}");
      } else {
        data.push_back("{\"i\": " + std::to_string(i) + ", \"s\": \"x\"}");
      }
    }
    std::vector<log::AppendRecord> records;
    for (size_t k = 0; k < keys.size(); ++k) records.push_back({keys[k], data[k], {}});
    ASSERT_OK(log_->append("raw", records).status());
  }
  static std::string expected_line(int i) {
    std::string s = i % 7 == 0 ? "{\n    \"i\": " + std::to_string(i) + ",\r\n    \"s\": \"x\"\n}"
                               : "{\"i\": " + std::to_string(i) + ", \"s\": \"x\"}";
    for (auto& c : s) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    return s;
  }
  // Every line of the visible files under `sub` of the archive root, and the file count.
  std::multiset<std::string> lines(const std::string& sub, int* files = nullptr) {
    std::multiset<std::string> out;
    const fs::path root = dir_ / "lake" / "raw" / "raw" / sub;
    if (files) *files = 0;
    if (!fs::exists(root)) return out;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
      const std::string name = e.path().filename().string();
      if (!e.is_regular_file() || !name.ends_with(".jsonl.zst") || name[0] == '.') continue;
      if (sub.empty() && e.path().string().find("/_errors/") != std::string::npos) continue;
      if (files) ++*files;
      std::ifstream in(e.path(), std::ios::binary);
      std::stringstream s;
      s << in.rdbuf();
      auto text = zstd_decompress(s.str()).ValueOrDie();
      std::istringstream lines_in(text);
      for (std::string line; std::getline(lines_in, line);) out.insert(line);
    }
    return out;
  }
  std::multiset<std::string> expected(int n) {
    std::multiset<std::string> out;
    for (int i = 0; i < n; ++i) {
      if (i % 50 != 49) out.insert(expected_line(i));
    }
    return out;
  }

  fs::path dir_;
  std::unique_ptr<log::LogStore> log_;
};

TEST_F(ArchiveTest, RunOnceArchivesEveryRecordOnceAndCommitsPositions) {
  append(0, 1000);
  {
    ASSERT_OK_AND_ASSIGN(auto archive, RawArchive::make(options(), log_.get()));
    ASSERT_OK(archive->run_once());
    const auto s = archive->stats();
    EXPECT_EQ(s.records, 980);
    EXPECT_EQ(s.error_records, 20);
    EXPECT_EQ(s.normalized_records, 140);
    EXPECT_GT(s.flushes, 3);  // 4 KiB buffer hint
  }
  EXPECT_EQ(lines(""), expected(1000));
  EXPECT_EQ(lines("_errors").size(), 20u);
  for (const auto& l : lines("_errors")) EXPECT_NE(l.find("\"reason\": \"not valid JSON"), 0u);
  // Positions are committed: a second run with more data archives only the new records.
  append(1000, 1200);
  ASSERT_OK_AND_ASSIGN(auto again, RawArchive::make(options(), log_.get()));
  ASSERT_OK(again->run_once());
  EXPECT_EQ(again->stats().records, 196);
  EXPECT_EQ(lines(""), expected(1200));
  // The catalog lists the archive with its row count and partition keys.
  ASSERT_OK_AND_ASSIGN(auto catalog, lake::Catalog::open((dir_ / "lake" / "_catalog").string()));
  ASSERT_OK_AND_ASSIGN(auto table, catalog->get("raw.raw"));
  EXPECT_EQ(table.format, "json");
  EXPECT_EQ(table.rows(), 1176);
  EXPECT_EQ(table.partition_keys, (std::vector<std::string>{"dt", "hour"}));
  EXPECT_EQ(table.schema->GetFieldByName("i")->type()->id(), arrow::Type::INT64);
}

TEST_F(ArchiveTest, InterruptedFlushIsRolledForwardNotRewritten) {
  append(0, 300);
  ArchiveOptions o = options();
  o.buffer_bytes = 1 << 20;  // one flush
  {
    ASSERT_OK_AND_ASSIGN(auto archive, RawArchive::make(o, log_.get()));
    ASSERT_OK(archive->run_once());
  }
  // Recreate the state a kill -9 leaves between the intent and the renames: move the files
  // back to staging names, write the intent, drop the committed positions.
  const fs::path root = dir_ / "lake" / "raw" / "raw";
  std::string files_json;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    const std::string name = e.path().filename().string();
    if (!e.is_regular_file() || !name.ends_with(".jsonl.zst")) continue;
    const fs::path rel = fs::relative(e.path(), root);
    const fs::path staging_rel = rel.parent_path() / ("." + name + ".inprogress");
    fs::rename(e.path(), root / staging_rel);
    const bool errors = rel.string().starts_with("_errors");
    const std::string partition = errors ? rel.parent_path().lexically_relative("_errors").string()
                                         : rel.parent_path().string();
    if (!files_json.empty()) files_json += ", ";
    files_json += "{\"staging\": \"" + staging_rel.string() + "\", \"final\": \"" + rel.string() +
                  "\", \"partition\": \"" + partition +
                  "\", \"rows\": 1, \"bytes\": 1, \"errors\": " + (errors ? "true" : "false") + "}";
  }
  ASSERT_FALSE(files_json.empty());
  std::string positions;
  for (int s = 0; s < 3; ++s) {
    ASSERT_OK_AND_ASSIGN(auto d, log_->describe_stream("raw"));
    if (s) positions += ", ";
    positions += "{\"shard\": " + std::to_string(s) +
                 ", \"next\": " + std::to_string(d.shards[s].next_sequence.value) + "}";
    ASSERT_OK(
        log_->commit_position("roadpulse-archive", "raw", log::ShardId{s}, log::SequenceNumber{0}));
  }
  {
    std::ofstream intent(root / "_archive" / "pending.json");
    intent << "{\"files\": [" << files_json << "], \"positions\": [" << positions << "]}\n";
  }
  // And a stale staging file of a flush that never got to its intent.
  { std::ofstream(root / "dt=2016-02-08" / ".part-x.jsonl.zst.inprogress", std::ios::app); }
  fs::create_directories(root / "dt=2016-02-08");
  { std::ofstream(root / "dt=2016-02-08" / ".part-x.jsonl.zst.inprogress") << "junk"; }

  ASSERT_OK_AND_ASSIGN(auto archive, RawArchive::make(o, log_.get()));
  EXPECT_FALSE(fs::exists(root / "_archive" / "pending.json"));
  EXPECT_FALSE(fs::exists(root / "dt=2016-02-08" / ".part-x.jsonl.zst.inprogress"));
  ASSERT_OK(archive->run_once());
  EXPECT_EQ(archive->stats().records, 0);  // positions came from the intent
  EXPECT_EQ(lines(""), expected(300));
  ASSERT_OK_AND_ASSIGN(auto p, log_->load_position("roadpulse-archive", "raw", log::ShardId{0}));
  ASSERT_TRUE(p.has_value());
  EXPECT_GT(p->value, 0u);
}

TEST_F(ArchiveTest, BackgroundFlushesOnIntervalAndStopFlushesTheRest) {
  ArchiveOptions o = options();
  o.buffer_bytes = 1 << 30;
  o.buffer_interval_ms = 50;
  ASSERT_OK_AND_ASSIGN(auto archive, RawArchive::make(o, log_.get()));
  ASSERT_OK(archive->start());
  append(0, 100);
  for (int i = 0; i < 200 && archive->stats().records < 98; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(archive->stats().records, 98);  // flushed by age, not size
  append(100, 200);
  for (int i = 0; i < 200 && archive->stats().records + archive->stats().buffered_records < 200;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_OK(archive->stop());
  EXPECT_EQ(archive->stats().records, 196);
  EXPECT_EQ(lines(""), expected(200));
}

// A store whose reads fail while `failing` is set (a Kafka broker restarting); everything else
// goes to the real log.
class FailingReads final : public log::LogStore {
 public:
  explicit FailingReads(log::LogStore* inner) : inner_(inner) {}
  std::atomic<bool> failing{false};
  std::atomic<int> failed_reads{0};

  arrow::Status create_stream(std::string_view n, int c) override {
    return inner_->create_stream(n, c);
  }
  arrow::Status delete_stream(std::string_view n) override { return inner_->delete_stream(n); }
  arrow::Result<std::vector<std::string>> list_streams() override { return inner_->list_streams(); }
  arrow::Result<log::StreamDescription> describe_stream(std::string_view n) override {
    return inner_->describe_stream(n);
  }
  arrow::Status update_shard_count(std::string_view n, int c) override {
    return inner_->update_shard_count(n, c);
  }
  arrow::Result<std::vector<log::AppendResult>> append(
      std::string_view n, std::span<const log::AppendRecord> r) override {
    return inner_->append(n, r);
  }
  arrow::Result<log::SequenceNumber> resolve(std::string_view n, log::ShardId s,
                                             const log::StartPosition& p) override {
    return inner_->resolve(n, s, p);
  }
  arrow::Result<log::ReadResult> read(std::string_view n, log::ShardId s, log::SequenceNumber f,
                                      int m, int64_t b) override {
    if (failing.load()) {
      ++failed_reads;
      return arrow::Status::IOError("broker unreachable (test)");
    }
    return inner_->read(n, s, f, m, b);
  }
  arrow::Status wait_for_data(std::string_view n, log::ShardId s, log::SequenceNumber f,
                              int64_t t) override {
    return inner_->wait_for_data(n, s, f, t);
  }
  arrow::Status wait_for_any(std::string_view n,
                             std::span<const std::pair<log::ShardId, log::SequenceNumber>> p,
                             int64_t t) override {
    return inner_->wait_for_any(n, p, t);
  }
  arrow::Status commit_position(std::string_view c, std::string_view n, log::ShardId s,
                                log::SequenceNumber x) override {
    return inner_->commit_position(c, n, s, x);
  }
  arrow::Result<std::optional<log::SequenceNumber>> load_position(std::string_view c,
                                                                  std::string_view n,
                                                                  log::ShardId s) override {
    return inner_->load_position(c, n, s);
  }
  arrow::Status enforce_retention() override { return inner_->enforce_retention(); }
  arrow::Result<std::vector<std::string>> list_consumers() override {
    return inner_->list_consumers();
  }
  arrow::Status flush() override { return inner_->flush(); }

 private:
  log::LogStore* inner_;
};

TEST_F(ArchiveTest, ReadErrorsAreRetriedAndLoseNothing) {
  FailingReads store(log_.get());
  ArchiveOptions o = options();
  o.buffer_bytes = 1 << 30;
  o.buffer_interval_ms = 50;
  ASSERT_OK_AND_ASSIGN(auto archive, RawArchive::make(o, &store));
  store.failing = true;
  ASSERT_OK(archive->start());
  append(0, 100);
  const auto wait_until = [](auto done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
  };
  ASSERT_TRUE(wait_until([&] { return store.failed_reads.load() >= 2; }));
  EXPECT_EQ(archive->stats().records, 0);
  store.failing = false;  // the broker is back: the archive goes on where it was
  ASSERT_TRUE(wait_until([&] { return archive->stats().records >= 98; }));
  ASSERT_OK(archive->stop());
  EXPECT_EQ(archive->stats().records, 98);
  EXPECT_EQ(lines(""), expected(100));
}

TEST_F(ArchiveTest, ReshardedStreamParentsAndChildrenAreArchived) {
  append(0, 300);
  ASSERT_OK(log_->update_shard_count("raw", 5));  // 3 parents close, 5 children open
  append(300, 600);
  {
    ASSERT_OK_AND_ASSIGN(auto archive, RawArchive::make(options(), log_.get()));
    ASSERT_OK(archive->run_once());
    EXPECT_EQ(archive->stats().records, 588);
  }
  append(600, 700);  // children only; the parents are done
  ASSERT_OK_AND_ASSIGN(auto archive, RawArchive::make(options(), log_.get()));
  ASSERT_OK(archive->run_once());
  EXPECT_EQ(archive->stats().records, 98);
  EXPECT_EQ(lines(""), expected(700));
}

TEST_F(ArchiveTest, UnknownStreamAndBadOptionsAreErrors) {
  ArchiveOptions o = options();
  o.stream = "nope";
  auto missing = RawArchive::make(o, log_.get());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nope"), std::string::npos);
  o = options();
  o.compression_level = 40;
  EXPECT_FALSE(RawArchive::make(o, log_.get()).ok());
}

}  // namespace
}  // namespace roadpulse::archive
