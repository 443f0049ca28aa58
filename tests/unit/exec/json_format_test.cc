#include "exec/json_format.h"

#include <arrow/api.h>
#include <arrow/json/from_string.h>
#include <arrow/testing/gtest_util.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "common/time.h"

namespace roadpulse::exec {
namespace {

std::shared_ptr<arrow::Schema> accident_schema() {
  return arrow::schema({
      arrow::field("ID", arrow::utf8()),
      arrow::field("Severity", arrow::int64()),
      arrow::field("Start_Lat", arrow::utf8()),
      arrow::field("Bump", arrow::boolean()),
      arrow::field("Txn_Timestamp", arrow::timestamp(arrow::TimeUnit::MICRO)),
      arrow::field("Temperature", arrow::float64()),
  });
}

std::vector<int> all_columns(const arrow::Schema& schema) {
  std::vector<int> out;
  for (int i = 0; i < schema.num_fields(); ++i) out.push_back(i);
  return out;
}

DecodedBatch decode(const std::vector<std::string_view>& records, JsonFormatOptions options = {},
                    std::vector<int> projection = {}) {
  auto schema = accident_schema();
  if (projection.empty()) projection = all_columns(*schema);
  auto decoder = JsonDecoder::make(schema, projection, options).ValueOrDie();
  auto result = decoder->decode(records).ValueOrDie();
  EXPECT_OK(result.batch->ValidateFull());
  return result;
}

std::shared_ptr<arrow::Array> array_from_json(const std::shared_ptr<arrow::DataType>& type,
                                              const std::string& json) {
  return arrow::json::ArrayFromJSONString(type, json).ValueOrDie();
}

int64_t micros(std::string_view text) { return parse_timestamp(text).ValueOrDie(); }

TEST(JsonDecoder, TypedRecord) {
  auto result = decode({R"({"ID":"A-1","Severity":3,"Start_Lat":39.86,"Bump":false,
      "Txn_Timestamp":"2016-02-08T05:46:00","Temperature":42.1})"});
  ASSERT_TRUE(result.errors.empty());
  ASSERT_EQ(result.batch->num_rows(), 1);
  auto expected = arrow::RecordBatch::FromStructArray(
                      array_from_json(arrow::struct_(accident_schema()->fields()),
                                      R"([{"ID":"A-1","Severity":3,"Start_Lat":"39.86",
                                               "Bump":false,"Txn_Timestamp":0,"Temperature":42.1}])"))
                      .ValueOrDie();
  EXPECT_EQ(result.batch->column(0)->ToString(), expected->column(0)->ToString());
  EXPECT_EQ(result.batch->column(1)->ToString(), expected->column(1)->ToString());
  // A number read into VARCHAR keeps its JSON text, as Flink does.
  EXPECT_EQ(result.batch->column(2)->ToString(), expected->column(2)->ToString());
  auto ts = std::static_pointer_cast<arrow::TimestampArray>(result.batch->column(4));
  EXPECT_EQ(ts->Value(0), micros("2016-02-08T05:46:00"));
}

TEST(JsonDecoder, ReferenceSimulatorAllStringsIndented) {
  // What the reference simulator sent: every value a string, 4-space indented, isoformat() times.
  const std::string record =
      "{\n    \"ID\": \"A-7\",\n    \"Severity\": \"4\",\n    \"Start_Lat\": \"39.86\",\n"
      "    \"Bump\": \"False\",\n    \"Txn_Timestamp\": \"2024-05-01T10:11:12.123456\",\n"
      "    \"Temperature\": \"\"\n}";
  auto result = decode({record});
  ASSERT_TRUE(result.errors.empty()) << result.errors[0].reason;
  ASSERT_EQ(result.batch->num_rows(), 1);
  EXPECT_EQ(std::static_pointer_cast<arrow::Int64Array>(result.batch->column(1))->Value(0), 4);
  auto bump = std::static_pointer_cast<arrow::BooleanArray>(result.batch->column(3));
  EXPECT_TRUE(bump->IsValid(0));
  EXPECT_FALSE(bump->Value(0));
  auto ts = std::static_pointer_cast<arrow::TimestampArray>(result.batch->column(4));
  EXPECT_EQ(ts->Value(0), micros("2024-05-01T10:11:12.123456"));
  // Blank string into DOUBLE is NULL (documented deviation from Flink).
  EXPECT_TRUE(result.batch->column(5)->IsNull(0));
}

TEST(JsonDecoder, SqlTimestampAndBooleanCoercions) {
  auto result = decode({R"({"Txn_Timestamp":"2016-02-08 05:46:00.000000","Bump":"TRUE"})",
                        R"({"Txn_Timestamp":"2016-02-08 05:46:00","Bump":"yes"})"});
  ASSERT_TRUE(result.errors.empty());
  auto ts = std::static_pointer_cast<arrow::TimestampArray>(result.batch->column(4));
  EXPECT_EQ(ts->Value(0), micros("2016-02-08T05:46:00"));
  EXPECT_EQ(ts->Value(1), micros("2016-02-08T05:46:00"));
  auto bump = std::static_pointer_cast<arrow::BooleanArray>(result.batch->column(3));
  EXPECT_TRUE(bump->Value(0));
  EXPECT_FALSE(bump->Value(1));  // Boolean.parseBoolean("yes") is false in Flink
}

TEST(JsonDecoder, MissingAndNullFieldsAreNull) {
  auto result = decode({R"({"ID":null})", R"({})"});
  ASSERT_EQ(result.batch->num_rows(), 2);
  for (int c = 0; c < result.batch->num_columns(); ++c) {
    EXPECT_EQ(result.batch->column(c)->null_count(), 2) << c;
  }
}

TEST(JsonDecoder, FieldNamesAreCaseSensitive) {
  auto result = decode({R"({"severity":4,"SEVERITY":4})"});
  ASSERT_EQ(result.batch->num_rows(), 1);
  EXPECT_TRUE(result.batch->column(1)->IsNull(0));
}

TEST(JsonDecoder, BadRecordsAreReportedWithTheField) {
  auto result =
      decode({R"({"ID":"A-1","Severity":"high"})", R"({"ID":"A-2","Severity":2})",
              R"({"ID": "A-3", "Severity": )", R"([1,2])", R"({"Txn_Timestamp":"yesterday"})"});
  ASSERT_EQ(result.batch->num_rows(), 1);
  EXPECT_EQ(std::static_pointer_cast<arrow::StringArray>(result.batch->column(0))->GetView(0),
            "A-2");
  ASSERT_EQ(result.errors.size(), 4u);
  EXPECT_EQ(result.errors[0].index, 0);
  EXPECT_EQ(result.errors[0].reason, "field 'Severity': cannot read \"high\" as BIGINT");
  EXPECT_EQ(result.errors[1].index, 2);
  EXPECT_EQ(result.errors[2].index, 3);
  EXPECT_NE(result.errors[2].reason.find("not a JSON object"), std::string::npos);
  EXPECT_EQ(result.errors[3].index, 4);
  EXPECT_NE(result.errors[3].reason.find("Txn_Timestamp"), std::string::npos);
}

TEST(JsonDecoder, IgnoreParseErrorsDropsSilently) {
  JsonFormatOptions options;
  options.ignore_parse_errors = true;
  auto result = decode({R"({"Severity":"x"})", R"({"Severity":1})"}, options);
  EXPECT_TRUE(result.errors.empty());
  EXPECT_EQ(result.batch->num_rows(), 1);
}

TEST(JsonDecoder, ProjectionReadsOnlyRequestedColumns) {
  // A malformed value in an unprojected field does not fail the record.
  auto result = decode({R"({"ID":"A-1","Severity":4,"Bump":[1]})"}, {}, {1, 0});
  ASSERT_TRUE(result.errors.empty());
  ASSERT_EQ(result.batch->num_columns(), 2);
  EXPECT_EQ(result.batch->schema()->field(0)->name(), "Severity");
  EXPECT_EQ(result.batch->column(1)->ToString(),
            array_from_json(arrow::utf8(), R"(["A-1"])")->ToString());
}

TEST(JsonDecoder, NumbersIntoIntegerColumns) {
  auto result = decode({R"({"Severity":3.7})", R"({"Severity":-12})", R"({"Severity":" 5 "})"});
  ASSERT_TRUE(result.errors.empty());
  EXPECT_EQ(result.batch->column(1)->ToString(),
            array_from_json(arrow::int64(), "[3, -12, 5]")->ToString());
}

TEST(JsonDecoder, KeyOrderChangesBetweenRecords) {
  auto result = decode({R"({"ID":"a","Severity":1})", R"({"Severity":2,"ID":"b"})",
                        R"({"X":1,"ID":"c","Severity":3})"});
  EXPECT_EQ(result.batch->column(0)->ToString(),
            array_from_json(arrow::utf8(), R"(["a","b","c"])")->ToString());
  EXPECT_EQ(result.batch->column(1)->ToString(),
            array_from_json(arrow::int64(), "[1,2,3]")->ToString());
}

TEST(JsonDecoder, EscapedKeysAreUnescaped) {
  // The same position holds a plain key, then an escaped spelling of another, then the first.
  auto result = decode({R"({"ID":"a","Severity":1})", R"({"ID":"b","Sev\u0065rity":2})",
                        R"({"ID":"c","Severity":3})", R"({"I\"D":"d","Severity":4})"});
  ASSERT_TRUE(result.errors.empty());
  EXPECT_EQ(result.batch->column(1)->ToString(),
            array_from_json(arrow::int64(), "[1,2,3,4]")->ToString());
  EXPECT_EQ(result.batch->column(0)->ToString(),
            array_from_json(arrow::utf8(), R"(["a","b","c",null])")->ToString());
}

TEST(JsonDecoder, NestedValueIntoVarcharKeepsJsonText) {
  auto result = decode({R"({"ID":{"a":[1,2]}})"});
  ASSERT_TRUE(result.errors.empty());
  EXPECT_EQ(std::static_pointer_cast<arrow::StringArray>(result.batch->column(0))->GetView(0),
            R"({"a":[1,2]})");
}

TEST(JsonOptions, ParsesAndRejects) {
  ASSERT_OK_AND_ASSIGN(auto options, json_options_from({{"json.ignore-parse-errors", "true"},
                                                        {"json.timestamp-format.standard", "SQL"},
                                                        {"connector", "kinesis"}}));
  EXPECT_TRUE(options.ignore_parse_errors);
  EXPECT_EQ(options.timestamp_standard, TimestampStandard::kSql);
  EXPECT_RAISES_WITH_MESSAGE_THAT(Invalid, testing::HasSubstr("json.bogus"),
                                  json_options_from({{"json.bogus", "1"}}));
}

TEST(SplitJsonObjects, NdjsonAndIndented) {
  std::string text = "{\"a\": 1}\n{\"a\": \"}\"}\n{\n    \"a\": 3\n}\n";
  std::vector<std::string_view> objects;
  std::vector<int64_t> lines;
  ASSERT_OK(split_json_objects(text, &objects, &lines));
  ASSERT_EQ(objects.size(), 3u);
  EXPECT_EQ(objects[1], "{\"a\": \"}\"}");
  EXPECT_EQ(lines, (std::vector<int64_t>{1, 2, 3}));
  objects.clear();
  EXPECT_RAISES_WITH_MESSAGE_THAT(Invalid, testing::HasSubstr("line 2"),
                                  split_json_objects("{}\nx{}", &objects, nullptr));
  EXPECT_RAISES_WITH_MESSAGE_THAT(Invalid, testing::HasSubstr("not closed"),
                                  split_json_objects("{}\n{\"a\":1", &objects, nullptr));
}

TEST(SplitJsonObjects, BoundedSplitsResumeWhereTheyStopped) {
  const std::string text = "\n{\"a\": 1} {\"a\": 2}\n\n{\n \"a\": 3\n}\n  \n";
  std::vector<std::string_view> all;
  std::vector<int64_t> all_lines;
  ASSERT_OK(split_json_objects(text, &all, &all_lines));
  // Two at a time: the same objects and lines, and the trailing blanks are consumed.
  std::vector<std::string_view> objects;
  std::vector<int64_t> lines;
  size_t offset = 0;
  int64_t line = 1;
  int calls = 0;
  while (offset < text.size()) {
    ASSERT_OK_AND_ASSIGN(auto split, split_json_objects(std::string_view(text).substr(offset), line,
                                                        2, &objects, &lines));
    offset += split.consumed;
    line = split.line;
    ++calls;
  }
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(objects, all);
  EXPECT_EQ(lines, all_lines);
  EXPECT_EQ(lines, (std::vector<int64_t>{2, 2, 4}));
  EXPECT_EQ(line, 8);
}

TEST(SplitJsonLines, FramesNdjsonAndGivesUpOnAnythingElse) {
  const std::string text = "\r\n{\"a\": 1}\r\n  {\"a\": \"x\"}  \n\n{\"a\": 3}";
  std::vector<std::string_view> objects;
  std::vector<int64_t> lines;
  JsonSplit split;
  ASSERT_TRUE(split_json_lines(text, 1, 2, &objects, &lines, &split));
  EXPECT_EQ(objects, (std::vector<std::string_view>{"{\"a\": 1}", "{\"a\": \"x\"}"}));
  EXPECT_EQ(lines, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(split.line, 5);
  EXPECT_EQ(text.substr(split.consumed), "{\"a\": 3}");
  // The rest, to the end: nothing left.
  ASSERT_TRUE(split_json_lines(std::string_view(text).substr(split.consumed), split.line, 10,
                               &objects, &lines, &split));
  EXPECT_EQ(objects.back(), "{\"a\": 3}");
  EXPECT_EQ(lines.back(), 5);
  EXPECT_EQ(split.consumed, 8u);
  // An indented object or text between objects: the caller must split byte by byte.
  objects.clear();
  EXPECT_FALSE(split_json_lines("{\"a\": 1}\n{\n\"a\": 2\n}\n", 1, 10, &objects, &lines, &split));
  EXPECT_FALSE(split_json_lines("[1]\n", 1, 10, &objects, &lines, &split));
  // Two objects on a line look like one here; the decoder rejects it (trailing content).
  objects.clear();
  ASSERT_TRUE(split_json_lines("{\"a\": 1} {\"a\": 2}\n", 1, 10, &objects, &lines, &split));
  EXPECT_EQ(objects.size(), 1u);
}

TEST(JsonEncoder, FlinkJsonOutput) {
  auto schema =
      arrow::schema({arrow::field("ID", arrow::utf8()), arrow::field("Severity", arrow::int64()),
                     arrow::field("Txn_Timestamp", arrow::timestamp(arrow::TimeUnit::MICRO)),
                     arrow::field("x", arrow::float64()), arrow::field("b", arrow::boolean())});
  const int64_t t = micros("2016-02-08T05:46:00");
  auto batch = arrow::RecordBatch::Make(
      schema, 2,
      {array_from_json(arrow::utf8(), R"(["A-\"1\"\n", null])"),
       array_from_json(arrow::int64(), "[4, null]"),
       array_from_json(arrow::timestamp(arrow::TimeUnit::MICRO),
                       "[" + std::to_string(t) + ", " + std::to_string(t + 123000) + "]"),
       array_from_json(arrow::float64(), "[3, 2.5]"),
       array_from_json(arrow::boolean(), "[true, null]")});
  ASSERT_OK_AND_ASSIGN(auto encoder, JsonEncoder::make(schema, {}));
  ASSERT_OK_AND_ASSIGN(auto rows, encoder->encode(*batch));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(
      rows[0],
      R"({"ID":"A-\"1\"\n","Severity":4,"Txn_Timestamp":"2016-02-08T05:46:00","x":3.0,"b":true})");
  EXPECT_EQ(
      rows[1],
      R"({"ID":null,"Severity":null,"Txn_Timestamp":"2016-02-08T05:46:00.123","x":2.5,"b":null})");
  JsonFormatOptions sql;
  sql.timestamp_standard = TimestampStandard::kSql;
  ASSERT_OK_AND_ASSIGN(auto sql_encoder, JsonEncoder::make(schema, sql));
  std::string out;
  sql_encoder->encode_row(*batch, 0, &out);
  EXPECT_NE(out.find("\"2016-02-08 05:46:00\""), std::string::npos);
}

TEST(JsonRoundTrip, EncodedRowsDecodeToTheSameBatch) {
  auto schema = accident_schema();
  auto batch = arrow::RecordBatch::FromStructArray(
                   array_from_json(arrow::struct_(schema->fields()),
                                   R"([{"ID":"A-1","Severity":3,"Start_Lat":"-77.49952900000002",
                                            "Bump":false,"Txn_Timestamp":1454910360123456,"Temperature":-1.5},
                                           {"ID":"é ñ \u0001","Severity":null,"Start_Lat":null,
                                            "Bump":true,"Txn_Timestamp":null,"Temperature":1e300}])"))
                   .ValueOrDie();
  ASSERT_OK_AND_ASSIGN(auto encoder, JsonEncoder::make(schema, {}));
  ASSERT_OK_AND_ASSIGN(auto rows, encoder->encode(*batch));
  std::vector<std::string_view> views(rows.begin(), rows.end());
  auto decoded = decode(views);
  ASSERT_TRUE(decoded.errors.empty());
  for (int c = 0; c < schema->num_fields(); ++c) {
    EXPECT_TRUE(decoded.batch->column(c)->Equals(*batch->column(c))) << schema->field(c)->name();
  }
}

// The flat-object fast path must decode exactly as simdjson on-demand alone: same rows, same
// rejected records, same reasons. Records: typed and all-string shapes, escapes, nested values,
// then thousands of random byte mutations of them (truncations, deleted/inserted/replaced bytes),
// through the full schema and through a projection.
TEST(JsonDecoder, FastPathDecodesAsOnDemand) {
  const std::vector<std::string> seeds = {
      R"({"ID":"A-1","Severity":3,"Start_Lat":39.86,"Bump":false,"Txn_Timestamp":"2016-02-08T05:46:00","Temperature":42.1})",
      R"({"ID":"A-2","Severity":"4","Start_Lat":"39.1","Bump":"True","Txn_Timestamp":"2016-02-08 05:46:00.5","Temperature":"-3"})",
      R"( { "ID" : "A-\"3\"\\n\u00e9" , "Severity" : 1e2 , "Extra" : {"a":[1,2,{"b":null}]}, "Bump" : true } )",
      R"({"Start_Lat":[1,2],"ID":null,"Severity":-2,"Txn_Timestamp":null,"Temperature":1E-3,"Bump":null})",
      R"({"I\u0044":"escaped key","Severity":" ","Temperature":"","Start_Lat":{"x":1}})",
      R"({"ID":"dup","ID":"last wins","Severity":2.9,"Bump":0})",
      R"({})",
      "{\"ID\":\"tab\\tand\\u0001\",\n\"Severity\":\n5\n}\n",
  };
  std::mt19937 rng(20261127);
  std::vector<std::string> records = seeds;
  const std::string alphabet = "{}[]:,\"\\ \n0123456789-+.eEtruefalsn\x80\xc3\xa9xyz";
  for (int i = 0; i < 6000; ++i) {
    std::string r = seeds[rng() % seeds.size()];
    const int edits = 1 + int(rng() % 3);
    for (int e = 0; e < edits && !r.empty(); ++e) {
      const size_t at = rng() % r.size();
      switch (rng() % 4) {
        case 0:
          r.erase(at, 1);
          break;
        case 1:
          r.insert(r.begin() + long(at), alphabet[rng() % alphabet.size()]);
          break;
        case 2:
          r[at] = alphabet[rng() % alphabet.size()];
          break;
        default:
          r.resize(at);
      }
    }
    records.push_back(std::move(r));
  }
  std::vector<std::string_view> views(records.begin(), records.end());
  for (const std::vector<int>& projection : {std::vector<int>{}, std::vector<int>{4, 1, 0}}) {
    JsonFormatOptions fast;
    JsonFormatOptions slow;
    slow.structural_fast_path = false;
    for (bool fail_on_missing : {false, true}) {
      fast.fail_on_missing_field = slow.fail_on_missing_field = fail_on_missing;
      auto a = decode(views, fast, projection);
      auto b = decode(views, slow, projection);
      if (a.batch->num_rows() != b.batch->num_rows()) {
        for (size_t i = 0, shown = 0; i < views.size() && shown < 5; ++i) {
          auto x = decode({views[i]}, fast, projection);
          auto y = decode({views[i]}, slow, projection);
          if (x.batch->num_rows() != y.batch->num_rows()) {
            ++shown;
            ADD_FAILURE() << "fast " << x.batch->num_rows() << " on-demand " << y.batch->num_rows()
                          << " missing=" << fail_on_missing << ": " << records[i] << " / "
                          << (y.errors.empty() ? "" : y.errors[0].reason);
          }
        }
      }
      ASSERT_EQ(a.batch->num_rows(), b.batch->num_rows());
      EXPECT_TRUE(a.batch->Equals(*b.batch));
      ASSERT_EQ(a.errors.size(), b.errors.size());
      for (size_t i = 0; i < a.errors.size(); ++i) {
        EXPECT_EQ(a.errors[i].index, b.errors[i].index);
        EXPECT_EQ(a.errors[i].reason, b.errors[i].reason) << records[size_t(a.errors[i].index)];
      }
      if (!fail_on_missing) EXPECT_GT(a.batch->num_rows(), 1000);  // the mutations left many valid
    }
  }
}

}  // namespace
}  // namespace roadpulse::exec
