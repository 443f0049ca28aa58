// The connectors end to end inside one process: SQL -> Job -> real LogStore / files / stdout.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <arrow/array.h>
#include <arrow/testing/gtest_util.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "connect/registry.h"
#include "exec/job.h"
#include "lake/lake.h"
#include "realtime/hub.h"
#include "sql/session.h"

namespace roadpulse::connect {
namespace {

namespace fs = std::filesystem;

class ConnectorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("rp-connect-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    print_ = std::tmpfile();
    ConnectOptions options;
    options.data_dir = (dir_ / "data").string();
    options.log.durability = log::Durability::kNone;
    options.print_out = print_;
    context_ = std::make_shared<ConnectContext>(options);
    registry_ = std::make_unique<ConnectorRegistry>(context_);
  }
  void TearDown() override {
    registry_.reset();
    context_.reset();
    std::fclose(print_);
    fs::remove_all(dir_);
  }

  arrow::Result<exec::JobSummary> run(const std::string& script) {
    ARROW_ASSIGN_OR_RAISE(auto results, session_.execute_script(script));
    exec::JobSummary last;
    for (auto& r : results) {
      if (r.kind != sql::StatementKind::kInsert) continue;
      exec::JobOptions options;
      options.config = session_.config();
      ARROW_ASSIGN_OR_RAISE(auto job, exec::Job::make(*r.plan, *registry_, options));
      ARROW_RETURN_NOT_OK(job->run(std::optional<int64_t>(10000)));
      last = job->summary();
    }
    return last;
  }

  std::vector<log::StoredRecord> read_stream(const std::string& name) {
    auto log = context_->log().ValueOrDie();
    std::vector<log::StoredRecord> out;
    auto d = log->describe_stream(name).ValueOrDie();
    for (const auto& shard : d.shards) {
      auto from = log->resolve(name, shard.id, {}).ValueOrDie();
      auto read = log->read(name, shard.id, from, 100000, 1 << 30).ValueOrDie();
      for (auto& r : read.records) out.push_back(std::move(r));
    }
    return out;
  }

  std::string printed() {
    std::fflush(print_);
    std::rewind(print_);
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), print_)) > 0) out.append(buf, n);
    return out;
  }

  fs::path dir_;
  std::FILE* print_ = nullptr;
  std::shared_ptr<ConnectContext> context_;
  std::unique_ptr<ConnectorRegistry> registry_;
  sql::Session session_;
};

TEST_F(ConnectorsTest, StreamSinkThenSourceWithDeadLetters) {
  ASSERT_OK(run(R"(
    CREATE TABLE gen (id BIGINT, sev INT) WITH ('connector' = 'datagen',
      'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '50',
      'fields.sev.min' = '1', 'fields.sev.max' = '4');
    CREATE TABLE raw (id BIGINT, sev INT) PARTITIONED BY (sev)
      WITH ('connector' = 'stream', 'stream' = 'raw', 'stream.shards' = '2', 'format' = 'json');
    INSERT INTO raw SELECT id, sev FROM gen;
  )")
                .status());
  auto records = read_stream("raw");
  ASSERT_EQ(records.size(), 50u);
  for (const auto& r : records) {
    EXPECT_THAT(r.data, testing::StartsWith("{\"id\":"));
    EXPECT_THAT(r.data, testing::HasSubstr("\"sev\":" + r.partition_key + "}"));
  }
  // A record that is not decodable goes to raw.dlq; the job keeps going.
  auto log = context_->log().ValueOrDie();
  std::vector<log::AppendRecord> bad = {{"k", R"({"id": "x1", "sev": 2})", std::nullopt}};
  ASSERT_OK(log->append("raw", bad).status());

  ASSERT_OK_AND_ASSIGN(auto summary, run(R"(
    CREATE TABLE src (id BIGINT, sev INT) WITH ('connector' = 'stream', 'stream' = 'raw',
      'format' = 'json', 'scan.stream.initpos' = 'TRIM_HORIZON', 'scan.stream.endpos' = 'LATEST');
    CREATE TABLE out_t (id BIGINT) WITH ('connector' = 'print');
    INSERT INTO out_t SELECT id FROM src WHERE sev = 4;
  )"));
  ASSERT_EQ(summary.sources.size(), 1u);
  EXPECT_EQ(summary.sources[0].records_read, 50);
  EXPECT_EQ(summary.sources[0].records_rejected, 1);
  auto dead = read_stream("raw.dlq");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_THAT(dead[0].data, testing::HasSubstr("field 'id': cannot read \\\"x1\\\" as BIGINT"));
  EXPECT_THAT(dead[0].data, testing::HasSubstr(R"("data":"{\"id\": \"x1\")"));
  int severe = 0;
  for (const auto& r : records) severe += r.partition_key == "4";
  const std::string out = printed();
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), severe);
}

TEST_F(ConnectorsTest, KinesisNeedsAnExistingStreamAndAcceptsAwsOptions) {
  auto st = run(R"(
    CREATE TABLE k (a STRING) WITH ('connector' = 'kinesis', 'stream' = 'nope',
      'aws.region' = 'us-east-1', 'scan.stream.initpos' = 'LATEST', 'format' = 'json');
    CREATE TABLE p (a STRING) WITH ('connector' = 'print');
    INSERT INTO p SELECT a FROM k;
  )");
  EXPECT_RAISES_WITH_MESSAGE_THAT(Invalid, testing::HasSubstr("stream 'nope' does not exist"), st);
}

TEST_F(ConnectorsTest, StreamSinkDeliveryGuaranteeIsCheckedOnEveryBackend) {
  const std::string gen =
      "CREATE TABLE gen (a STRING) WITH ('connector' = 'datagen', 'number-of-rows' = '5');\n";
  // Accepted on the embedded log (its sink is exactly-once on restore anyway).
  ASSERT_OK(run(gen + "CREATE TABLE s (a STRING) WITH ('connector' = 'stream', 'stream' = 'eos', "
                      "'format' = 'json', 'sink.delivery-guarantee' = 'exactly-once', "
                      "'sink.transactional-id-prefix' = 'p');\nINSERT INTO s SELECT a FROM gen;")
                .status());
  EXPECT_EQ(read_stream("eos").size(), 5u);
  auto st =
      run("CREATE TABLE s2 (a STRING) WITH ('connector' = 'stream', 'stream' = 'eos', "
          "'format' = 'json', 'sink.delivery-guarantee' = 'twice');\n"
          "INSERT INTO s2 SELECT a FROM gen;");
  EXPECT_RAISES_WITH_MESSAGE_THAT(
      Invalid,
      testing::HasSubstr(
          "option 'sink.delivery-guarantee' must be at-least-once or exactly-once, got 'twice'"),
      st);
  st =
      run("SET 'streams.sink.delivery-guarantee' = 'maybe';\n"
          "CREATE TABLE s3 (a STRING) WITH ('connector' = 'stream', 'stream' = 'eos', "
          "'format' = 'json');\nINSERT INTO s3 SELECT a FROM gen;");
  EXPECT_RAISES_WITH_MESSAGE_THAT(
      Invalid, testing::HasSubstr("session option 'streams.sink.delivery-guarantee' must be"), st);
}

TEST_F(ConnectorsTest, UnknownOptionsAreRefused) {
  auto st = run(R"(
    CREATE TABLE k (a STRING) WITH ('connector' = 'stream', 'stream' = 's', 'format' = 'json',
      'scan.stream.inipos' = 'LATEST');
    CREATE TABLE p (a STRING) WITH ('connector' = 'print');
    INSERT INTO p SELECT a FROM k;
  )");
  EXPECT_RAISES_WITH_MESSAGE_THAT(Invalid, testing::HasSubstr("scan.stream.inipos"), st);
}

TEST_F(ConnectorsTest, KafkaHashKeyPartitionerNeedsKeyFields) {
  // Refused while planning, before any broker is contacted.
  const std::string sink =
      "CREATE TABLE gen (a STRING) WITH ('connector' = 'datagen', 'number-of-rows' = '1');\n"
      "CREATE TABLE k (a STRING) WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'json', "
      "'properties.bootstrap.servers' = '127.0.0.1:1', ";
  auto st = run(sink + "'sink.partitioner' = 'hash-key');\nINSERT INTO k SELECT a FROM gen;");
  EXPECT_RAISES_WITH_MESSAGE_THAT(
      Invalid, testing::HasSubstr("'sink.partitioner' = 'hash-key' needs 'key.fields'"), st);
  st = run(
      "CREATE TABLE k2 (a STRING) WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'json', "
      "'properties.bootstrap.servers' = '127.0.0.1:1', 'sink.partitioner' = 'murmur');\n"
      "INSERT INTO k2 SELECT a FROM gen;");
  EXPECT_RAISES_WITH_MESSAGE_THAT(Invalid, testing::HasSubstr("round-robin or hash-key"), st);
}

TEST_F(ConnectorsTest, FilesystemPartitionedRoundTripAndLineNumbers) {
  const std::string root = (dir_ / "fs").string();
  ASSERT_OK(run(R"(
    CREATE TABLE gen (id BIGINT, sev INT) WITH ('connector' = 'datagen',
      'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '30',
      'fields.sev.min' = '1', 'fields.sev.max' = '2');
    CREATE TABLE files (id BIGINT, sev INT) PARTITIONED BY (sev)
      WITH ('connector' = 'filesystem', 'path' = ')" +
                root + R"(', 'format' = 'json');
    INSERT INTO files SELECT id, sev FROM gen;
  )")
                .status());
  int files = 0;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    ++files;
    EXPECT_THAT(e.path().parent_path().filename().string(), testing::StartsWith("sev="));
    EXPECT_NE(e.path().filename().string()[0], '.');  // nothing left in progress
    std::ifstream in(e.path());
    std::string line;
    std::getline(in, line);
    EXPECT_THAT(line, testing::MatchesRegex(R"(\{"id":[0-9]+\})"));  // no partition column
  }
  EXPECT_GE(files, 1);
  ASSERT_OK_AND_ASSIGN(auto summary, run(R"(
    CREATE TABLE back (id BIGINT, sev INT) PARTITIONED BY (sev)
      WITH ('connector' = 'filesystem', 'path' = ')" +
                                         root + R"(', 'format' = 'json');
    CREATE TABLE p (id BIGINT, sev INT) WITH ('connector' = 'print');
    INSERT INTO p SELECT id, sev FROM back WHERE sev IN (1, 2);
  )"));
  EXPECT_EQ(summary.sinks[0].rows_written, 30);

  // A bad record names file and line.
  std::ofstream(dir_ / "bad.json") << "{\"id\": 1}\n{\n  \"id\": \"one\"\n}\n";
  auto st = run(R"(
    CREATE TABLE bad (id BIGINT) WITH ('connector' = 'filesystem', 'path' = ')" +
                (dir_ / "bad.json").string() + R"(', 'format' = 'json');
    CREATE TABLE p2 (id BIGINT) WITH ('connector' = 'blackhole');
    INSERT INTO p2 SELECT id FROM bad;
  )");
  EXPECT_RAISES_WITH_MESSAGE_THAT(Invalid, testing::HasSubstr("bad.json' line 2: field 'id'"), st);
}

// The NDJSON fast framing gives what the byte-by-byte splitter gives: a line holding two objects
// is two records, indented objects are read, and a resumed read skips the same records.
TEST_F(ConnectorsTest, FilesystemJsonFramingMatchesTheExactSplitter) {
  std::string text;
  for (int i = 1; i <= 5000; ++i) text += fmt::format("{{\"id\": {}}}\n", i);
  // In the second batch of 4096 lines, which the decoder rejects and the source then re-splits.
  text += "{\"id\": 5001} {\"id\": 5002}\n";
  for (int i = 5003; i <= 8999; ++i) text += fmt::format("  {{\"id\": {}}}  \r\n", i);
  text += "{\n  \"id\": 9000\n}\n\n";  // in the third
  std::ofstream(dir_ / "mixed.json") << text;
  for (const std::string ignore : {"false", "true"}) {
    ASSERT_OK_AND_ASSIGN(auto summary, run(fmt::format(R"(
      CREATE TABLE src_{0} (id BIGINT) WITH ('connector' = 'filesystem', 'path' = '{1}',
        'format' = 'json', 'json.ignore-parse-errors' = '{0}');
      CREATE TABLE p_{0} (n BIGINT, s BIGINT) WITH ('connector' = 'print');
      INSERT INTO p_{0} SELECT COUNT(*), SUM(id) FROM src_{0};
    )",
                                                       ignore, (dir_ / "mixed.json").string())));
    EXPECT_EQ(summary.sinks[0].rows_written, 1) << ignore;
    EXPECT_THAT(printed(), testing::EndsWith("[9000, 40504500]\n")) << ignore;
  }
}

// Decoding on a pool of threads hands on what one thread gives: the same rows in the same order,
// the same rejected records and the same first error (with its line), and a position taken
// while batches are decoded ahead resumes where the handed-on rows end.
TEST_F(ConnectorsTest, FilesystemDecodeThreadsMatchOneThread) {
  std::string text;
  for (int i = 1; i <= 30000; ++i) {
    if (i % 997 == 0) {
      text += fmt::format("{{\"id\": \"bad{}\", \"s\": \"x\"}}\n", i);  // rejected
    } else if (i == 5000) {
      text += "{\"id\": 5000, \"s\": \"a\"} {\"id\": 50000, \"s\": \"b\"}\n";  // re-framed
    } else if (i >= 12000 && i < 12003) {
      text += fmt::format("{{\n  \"id\": {},\n  \"s\": \"indented\"\n}}\n", i);
    } else {
      text += fmt::format("{{\"id\": {}, \"s\": \"v{}\"}}{}\n", i, i % 7, i % 5 == 0 ? " \r" : "");
    }
  }
  std::ofstream(dir_ / "mixed.json") << text;
  for (const std::string ignore : {"true", "false"}) {
    ASSERT_OK(run(fmt::format(R"(
      CREATE TABLE src_{0} (id BIGINT, s STRING) WITH ('connector' = 'filesystem',
        'path' = '{1}', 'format' = 'json', 'json.ignore-parse-errors' = '{0}');
    )",
                              ignore, (dir_ / "mixed.json").string()))
                  .status());
  }
  struct Read {
    std::vector<std::string> rows;
    int64_t rejected = 0;
    arrow::Status status;
    std::vector<size_t> batch_rows;
    std::vector<std::shared_ptr<arrow::Buffer>> positions;  // after each batch
  };
  // Reads `table` to its end (or its error), from `restored` when given.
  auto read = [&](const std::string& table, int threads,
                  std::shared_ptr<arrow::Buffer> restored = nullptr) {
    Read out;
    auto catalog_table = session_.catalog().table(table);
    exec::SourceSpec spec;
    spec.table = catalog_table;
    spec.read_columns = catalog_table->physical_column_indices();
    spec.read_schema = catalog_table->physical_schema().to_arrow();
    spec.options = catalog_table->options;
    spec.options["source.decode-threads"] = std::to_string(threads);
    auto source = registry_->make_source(spec).ValueOrDie();
    exec::OperatorContext context;
    context.restored_state = std::move(restored);
    out.status = source->open(context);
    while (out.status.ok()) {
      auto chunk = source->next(0);
      if (!chunk.ok()) {
        out.status = chunk.status();
        break;
      }
      if (chunk->end_of_input) break;
      const auto& ids = static_cast<const arrow::Int64Array&>(*chunk->batch->column(0));
      const auto& ss = static_cast<const arrow::StringArray&>(*chunk->batch->column(1));
      for (int64_t r = 0; r < chunk->batch->num_rows(); ++r) {
        out.rows.push_back(fmt::format("{}:{}", ids.Value(r), ss.GetView(r)));
      }
      out.batch_rows.push_back(size_t(chunk->batch->num_rows()));
      out.positions.push_back(source->snapshot_position(1).ValueOrDie());
    }
    out.rejected = source->metrics().records_rejected;
    return out;
  };
  const Read one = read("src_true", 1);
  ASSERT_OK(one.status);
  EXPECT_EQ(one.rows.size(), 30000u + 1 - 30);  // two objects on one line, 30 rejected
  EXPECT_EQ(one.rejected, 30);
  for (int threads : {2, 4}) {
    const Read many = read("src_true", threads);
    ASSERT_OK(many.status);
    EXPECT_EQ(many.rows, one.rows) << threads;
    EXPECT_EQ(many.rejected, one.rejected) << threads;
    ASSERT_EQ(many.positions.size(), one.positions.size()) << threads;
    for (size_t i = 0; i < one.positions.size(); ++i) {
      EXPECT_EQ(many.positions[i]->ToString(), one.positions[i]->ToString()) << threads << " " << i;
    }
    // Resumed after the third batch (later ones were being decoded when the position was taken),
    // on a pool and on one thread: the rest of the rows, exactly.
    const size_t handed_on = many.batch_rows[0] + many.batch_rows[1] + many.batch_rows[2];
    for (int resume_threads : {threads, 1}) {
      const Read resumed = read("src_true", resume_threads, many.positions[2]);
      ASSERT_OK(resumed.status);
      EXPECT_EQ(resumed.rows,
                std::vector<std::string>(one.rows.begin() + ptrdiff_t(handed_on), one.rows.end()))
          << threads << " " << resume_threads;
    }
    // Without ignore-parse-errors the first bad record fails the read, naming its line.
    const Read strict_one = read("src_false", 1);
    const Read strict = read("src_false", threads);
    EXPECT_RAISES_WITH_MESSAGE_THAT(Invalid, testing::HasSubstr("mixed.json' line 997: field 'id'"),
                                    strict.status);
    EXPECT_EQ(strict.status.ToString(), strict_one.status.ToString());
    EXPECT_EQ(strict.rows, strict_one.rows);
  }
  // A bad setting is named.
  exec::SourceSpec spec;
  spec.table = session_.catalog().table("src_true");
  spec.read_columns = spec.table->physical_column_indices();
  spec.read_schema = spec.table->physical_schema().to_arrow();
  spec.options = spec.table->options;
  spec.options["source.decode-threads"] = "0";
  EXPECT_RAISES_WITH_MESSAGE_THAT(Invalid, testing::HasSubstr("'source.decode-threads' must be"),
                                  registry_->make_source(spec).status());
  spec.options.erase("source.decode-threads");
  spec.session["source.decode-threads"] = "two";
  EXPECT_RAISES_WITH_MESSAGE_THAT(
      Invalid, testing::HasSubstr("session key 'source.decode-threads' must be an integer"),
      registry_->make_source(spec).status());
}

TEST_F(ConnectorsTest, PrintUsesFlinkRowFormat) {
  ASSERT_OK(run(R"(
    CREATE TABLE gen (id BIGINT) WITH ('connector' = 'datagen',
      'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '2');
    CREATE TABLE p (id BIGINT, t TIMESTAMP(3), s STRING, d DOUBLE)
      WITH ('connector' = 'print', 'print-identifier' = 'out');
    INSERT INTO p SELECT id, TIMESTAMP '2016-02-08 05:46:00', CAST(NULL AS STRING), 3.0E0 FROM gen;
  )")
                .status());
  EXPECT_EQ(printed(),
            "out> +I[1, 2016-02-08T05:46, null, 3.0]\nout> +I[2, 2016-02-08T05:46, null, 3.0]\n");
}

TEST_F(ConnectorsTest, ChangelogIntoPrintAndMetrics) {
  // Two input files are two batches: the second updates group 1.
  fs::create_directories(dir_ / "in");
  std::ofstream(dir_ / "in" / "a.json") << R"({"k":1,"v":5})"
                                           "\n"
                                           R"({"k":2,"v":1})"
                                           "\n";
  std::ofstream(dir_ / "in" / "b.json") << R"({"k":1,"v":2})"
                                           "\n";
  ASSERT_OK(run(R"(
    SET 'execution.runtime-mode' = 'streaming';
    CREATE TABLE src (k BIGINT, v BIGINT) WITH ('connector' = 'filesystem',
      'path' = ')" +
                (dir_ / "in").string() + R"(', 'format' = 'json');
    CREATE TABLE p (k BIGINT, total BIGINT) WITH ('connector' = 'print');
    CREATE TABLE m (k BIGINT, total BIGINT) WITH ('connector' = 'metrics',
      'metric.name' = 'totals', 'metric.value-column' = 'total');
    EXECUTE STATEMENT SET BEGIN
      INSERT INTO p SELECT k, SUM(v) FROM src GROUP BY k;
      INSERT INTO m SELECT k, SUM(v) FROM src GROUP BY k;
    END;
  )")
                .status());
  EXPECT_EQ(printed(), "+I[1, 5]\n+I[2, 1]\n-U[1, 5]\n+U[1, 7]\n");
  // The metrics sink subtracts retractions: each series' total is its group's latest value.
  auto store = realtime::Hub::for_data_dir((dir_ / "data").string())->metrics().ValueOrDie();
  std::string text;
  store->append_prometheus(text);
  EXPECT_THAT(text, testing::HasSubstr(R"(roadpulse_totals_total{k="1"} 7)"));
  EXPECT_THAT(text, testing::HasSubstr(R"(roadpulse_totals_total{k="2"} 1)"));
}

TEST_F(ConnectorsTest, DatagenRespectsRowsAndRate) {
  ASSERT_OK_AND_ASSIGN(auto summary, run(R"(
    CREATE TABLE gen (s STRING, n INT) WITH ('connector' = 'datagen', 'number-of-rows' = '300',
      'rows-per-second' = '1000', 'fields.s.length' = '5', 'fields.n.min' = '10',
      'fields.n.max' = '12');
    CREATE TABLE p (s STRING, n INT) WITH ('connector' = 'print');
    INSERT INTO p SELECT s, n FROM gen WHERE CHAR_LENGTH(s) = 5 AND n BETWEEN 10 AND 12;
  )"));
  EXPECT_EQ(summary.sources[0].records_read, 300);
  EXPECT_EQ(summary.sinks[0].rows_written, 300);
  // 300 rows at 1000/s take ~0.3 s, not 0.
  EXPECT_GT(summary.elapsed_micros, 150000);
}

}  // namespace
}  // namespace roadpulse::connect

namespace roadpulse::connect {
namespace {

// 'sink.buffer-memory' reaches the lake writer: 60 partitions under a 512 KB budget (each open
// file holds more than 25 KB) still write every row exactly once; a bad size names the option.
TEST_F(ConnectorsTest, ParquetSinkBufferMemoryOption) {
  const std::string root = (dir_ / "pq").string();
  ASSERT_OK(run(R"(
    CREATE TABLE gen (id BIGINT, k INT) WITH ('connector' = 'datagen',
      'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '6000',
      'fields.k.min' = '1', 'fields.k.max' = '60');
    CREATE TABLE pq (id BIGINT, k INT) PARTITIONED BY (k)
      WITH ('connector' = 'filesystem', 'path' = ')" +
                root + R"(', 'format' = 'parquet', 'sink.buffer-memory' = '512kb');
    INSERT INTO pq SELECT id, k FROM gen;
  )")
                .status());
  // Every id once: more files than partitions (the bound rolled some), none in progress.
  ASSERT_OK_AND_ASSIGN(auto files, lake::list_data_files(root, ".parquet"));
  EXPECT_GT(files.size(), 60u);
  ASSERT_OK_AND_ASSIGN(auto reader,
                       lake::ParquetTableReader::open(
                           root, files, arrow::schema({arrow::field("id", arrow::int64())})));
  std::vector<char> seen(6001, 0);
  int64_t rows = 0;
  while (true) {
    ASSERT_OK_AND_ASSIGN(auto b, reader->next());
    if (!b) break;
    auto ids = std::static_pointer_cast<arrow::Int64Array>(b->column(0));
    for (int64_t r = 0; r < b->num_rows(); ++r, ++rows) {
      ASSERT_TRUE(ids->Value(r) >= 1 && ids->Value(r) <= 6000);
      ASSERT_EQ(seen[ids->Value(r)]++, 0) << ids->Value(r);
    }
  }
  EXPECT_EQ(rows, 6000);
  auto st =
      run(R"(
    CREATE TABLE gen2 (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '1');
    CREATE TABLE pq2 (id BIGINT) WITH ('connector' = 'filesystem', 'path' = ')" +
          (dir_ / "pq2").string() + R"(', 'format' = 'parquet', 'sink.buffer-memory' = 'lots');
    INSERT INTO pq2 SELECT id FROM gen2;
  )");
  EXPECT_RAISES_WITH_MESSAGE_THAT(Invalid, testing::HasSubstr("'sink.buffer-memory'"), st);
}

}  // namespace
}  // namespace roadpulse::connect
