#include "record/json_event.h"

#include <arrow/testing/gtest_util.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include "record/schema.h"
#include "record/value.h"
#include "test_util.h"

namespace roadpulse::record {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kTxn = "2026-11-27T10:00:00.123";

std::vector<std::string_view> views(const std::vector<std::string>& fields) {
  return {fields.begin(), fields.end()};
}

std::vector<testing::OwnedRecord> read_shared(const char* name) {
  auto source = open_file_source(testing::shared_data(name));
  EXPECT_TRUE(source.ok());
  auto records = testing::read_all(std::move(source).ValueOrDie());
  EXPECT_TRUE(records.ok());
  return std::move(records).ValueOrDie();
}

TEST(JsonEventEncoderTest, ExactEventForARealRow) {
  const auto records = read_shared("us_accidents_dec21_head.csv");
  ASSERT_OK_AND_ASSIGN(auto schema, Schema::from_header(records[0].fields));
  const JsonEventEncoder encoder(schema);
  std::string out;
  ASSERT_OK(encoder.append(views(records[1].fields), kTxn, out));
  EXPECT_EQ(
      out,
      R"j({"ID":"A-1","Severity":3,"Start_Time":"2016-02-08T00:37:08","End_Time":"2016-02-08T06:37:08",)j"
      R"j("Start_Lat":40.10891,"Start_Lng":-83.09286,"End_Lat":40.11206,"End_Lng":-83.03187,)j"
      R"j("Distance(mi)":3.23,"Description":"Between Sawmill Rd/Exit 20 and OH-315/Olentangy Riv Rd/Exit 22 - Accident.",)j"
      R"j("Number":null,"Street":"Outerbelt E","Side":"R","City":"Dublin","County":"Franklin","State":"OH",)j"
      R"j("Zipcode":"43017","Country":"US","Timezone":"US/Eastern","Airport_Code":"KOSU",)j"
      R"j("Weather_Timestamp":"2016-02-08T00:53:00","Temperature(F)":42.1,"Wind_Chill(F)":36.1,)j"
      R"j("Humidity(%)":58.0,"Pressure(in)":29.76,"Visibility(mi)":10.0,"Wind_Direction":"SW",)j"
      R"j("Wind_Speed(mph)":10.4,"Precipitation(in)":0.0,"Weather_Condition":"Light Rain",)j"
      R"j("Amenity":false,"Bump":false,"Crossing":false,"Give_Way":false,"Junction":false,)j"
      R"j("No_Exit":false,"Railway":false,"Roundabout":false,"Station":false,"Stop":false,)j"
      R"j("Traffic_Calming":false,"Traffic_Signal":false,"Turning_Loop":false,)j"
      R"j("Sunrise_Sunset":"Night","Civil_Twilight":"Night","Nautical_Twilight":"Night",)j"
      R"j("Astronomical_Twilight":"Night","Txn_Timestamp":"2026-11-27T10:00:00.123"})j");
}

TEST(JsonEventEncoderTest, KeepsNumbersAndFractionsAsWritten) {
  const Schema& s = Schema::march23();
  std::vector<std::string> fields(s.size());
  fields[s.index_of("ID")] = "A-1";
  fields[s.index_of("Severity")] = "2";
  fields[s.index_of("Start_Time")] = "2023-01-19 15:55:35.000000000";
  fields[s.index_of("End_Time")] = "2022-01-11 13:50:53.000000";
  fields[s.index_of("Start_Lng")] = "-77.49952900000002";
  fields[s.index_of("Distance(mi)")] = "48999.0";
  fields[s.index_of("Weather_Timestamp")] = "2023-01-19T15:53:00";
  const JsonEventEncoder encoder(s);
  std::string out;
  ASSERT_OK(encoder.append(views(fields), kTxn, out));
  EXPECT_THAT(out, HasSubstr(R"j("Start_Time":"2023-01-19T15:55:35.000000000")j"));
  EXPECT_THAT(out, HasSubstr(R"j("End_Time":"2022-01-11T13:50:53.000000")j"));
  EXPECT_THAT(out, HasSubstr(R"j("Start_Lng":-77.49952900000002,)j"));
  EXPECT_THAT(out, HasSubstr(R"j("Distance(mi)":48999.0,)j"));
  EXPECT_THAT(out, HasSubstr(R"j("Weather_Timestamp":"2023-01-19T15:53:00")j"));
  EXPECT_THAT(out, HasSubstr(R"j("End_Lat":null)j"));
  // Valid JSON, as a strict parser sees it.
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(out).get(doc), simdjson::SUCCESS);
  EXPECT_EQ(int64_t(doc["Severity"]), 2);
}

TEST(JsonEventEncoderTest, NonJsonNumberSpellingsBecomeTheSameValue) {
  ASSERT_OK_AND_ASSIGN(auto s, Schema::from_header(std::vector<std::string_view>{
                                   "Start_Lat", "Severity", "Distance(mi)"}));
  const JsonEventEncoder encoder(s);
  std::string out;
  ASSERT_OK(encoder.append(std::vector<std::string_view>{".5", "+3", "1e5"}, kTxn, out));
  EXPECT_EQ(out, "{\"Start_Lat\":0.5,\"Severity\":3,\"Distance(mi)\":1e5,\"Txn_Timestamp\":\"" +
                     std::string(kTxn) + "\"}");
}

TEST(JsonEventEncoderTest, EscapesControlCharactersAndPassesUtf8) {
  ASSERT_OK_AND_ASSIGN(auto s,
                       Schema::from_header(std::vector<std::string_view>{"Description", "X\"y"}));
  const JsonEventEncoder encoder(s);
  std::string out;
  const std::string text = "a\"b\\c\nd\te\x01 \xC2\xA0 \xC3\xA9 \xEF\xBF\xBD\x7F";
  ASSERT_OK(encoder.append(std::vector<std::string_view>{text, "v"}, kTxn, out));
  EXPECT_EQ(out,
            "{\"Description\":\"a\\\"b\\\\c\\nd\\te\\u0001 \xC2\xA0 \xC3\xA9 \xEF\xBF\xBD\x7F\","
            "\"X\\\"y\":\"v\",\"Txn_Timestamp\":\"" +
                std::string(kTxn) + "\"}");
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(out).get(doc), simdjson::SUCCESS);
  EXPECT_EQ(std::string_view(doc["Description"]), text);
}

TEST(JsonEventEncoderTest, RejectsValuesThatAreNotTheirColumnsType) {
  const Schema& s = Schema::dec21();
  const auto records = read_shared("us_accidents_dec21_head.csv");
  const JsonEventEncoder encoder(s);
  struct Case {
    const char* column;
    const char* value;
    const char* message;
  };
  const Case cases[] = {
      {"Start_Time", "05:46:00", "field 3 'Start_Time': expected a timestamp"},
      {"Start_Time", "2016-02-30 05:46:00", "'2016-02-30 05:46:00'"},
      {"Severity", "three", "field 2 'Severity': expected an integer, found 'three'"},
      {"Severity", "3.5", "expected an integer"},
      {"Start_Lat", "north", "'Start_Lat': expected a number"},
      {"Start_Lat", "nan", "expected a number"},
      {"Amenity", "Yes", "'Amenity': expected True or False, found 'Yes'"},
      {"City", "Caf\xE9", "'City': not valid UTF-8"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.column);
    auto fields = records[1].fields;
    fields[s.index_of(c.column)] = c.value;
    std::string out = "keep";
    const auto status = encoder.append(views(fields), kTxn, out);
    ASSERT_FALSE(status.ok());
    EXPECT_THAT(status.message(), HasSubstr(c.message));
    EXPECT_EQ(out, "keep");  // nothing half-written
  }
  auto short_row = records[1].fields;
  short_row.pop_back();
  std::string out;
  EXPECT_THAT(encoder.append(views(short_row), kTxn, out).message(),
              HasSubstr("expected 47 fields, found 46"));
}

TEST(JsonEventEncoderTest, RangeChecksNumbers) {
  ASSERT_OK_AND_ASSIGN(auto s,
                       Schema::from_header(std::vector<std::string_view>{"Start_Lat", "Severity"}));
  const JsonEventEncoder encoder(s);
  std::string out;
  EXPECT_THAT(encoder.append(std::vector<std::string_view>{"1e999", "1"}, kTxn, out).message(),
              HasSubstr("expected a number, found '1e999'"));
  EXPECT_THAT(encoder.append(std::vector<std::string_view>{"1", "99999999999999999999"}, kTxn, out)
                  .message(),
              HasSubstr("expected an integer"));
  ASSERT_OK(encoder.append(std::vector<std::string_view>{"2.5e-3", "-4"}, kTxn, out));
  EXPECT_THAT(out, HasSubstr(R"j({"Start_Lat":2.5e-3,"Severity":-4,)j"));
}

TEST(JsonEventEncoderTest, ReplayedEventsKeepTheirTxnTimestamp) {
  ASSERT_OK_AND_ASSIGN(auto s,
                       Schema::from_header(std::vector<std::string_view>{"ID", "Txn_Timestamp"}));
  const JsonEventEncoder encoder(s);
  std::string out;
  ASSERT_OK(
      encoder.append(std::vector<std::string_view>{"A-1", "2020-01-01 00:00:00.5"}, kTxn, out));
  EXPECT_EQ(out, R"j({"ID":"A-1","Txn_Timestamp":"2020-01-01T00:00:00.5"})j");
  ASSERT_OK_AND_ASSIGN(auto decoder, JsonEventDecoder::make(s));
  ASSERT_OK_AND_ASSIGN(auto event, decoder->decode(out));
  EXPECT_EQ(event.txn_timestamp, *parse_timestamp("2020-01-01 00:00:00.5"));
}

// CSV -> JSON -> decoded row == the CSV row read as typed values, for every row of every file.
TEST(JsonEventRoundTrip, EveryRowOfTheSharedFiles) {
  for (const char* name : {"us_accidents_dec20_sample.csv", "us_accidents_dec21_head.csv",
                           "us_accidents_march23_sample.csv"}) {
    SCOPED_TRACE(name);
    const auto records = read_shared(name);
    ASSERT_OK_AND_ASSIGN(auto schema, Schema::from_header(records[0].fields));
    const JsonEventEncoder encoder(schema);
    ASSERT_OK_AND_ASSIGN(auto decoder, JsonEventDecoder::make(schema));
    for (size_t i = 1; i < records.size(); ++i) {
      const auto fields = views(records[i].fields);
      ASSERT_OK_AND_ASSIGN(Row expected, parse_row(schema, fields));
      std::string json;
      ASSERT_OK(encoder.append(fields, kTxn, json));
      ASSERT_OK_AND_ASSIGN(DecodedEvent event, decoder->decode(json));
      ASSERT_EQ(event.row.size(), expected.size());
      for (size_t c = 0; c < expected.size(); ++c) {
        ASSERT_EQ(event.row[c], expected[c])
            << "line " << records[i].line << " column " << schema.column(c).name << ": "
            << value_to_string(event.row[c]) << " vs " << value_to_string(expected[c]);
        if (const auto* n = std::get_if<Number>(&expected[c])) {  // the text, not just the value
          ASSERT_EQ(std::get<Number>(event.row[c]).text, n->text);
        }
      }
      ASSERT_TRUE(event.txn_timestamp.has_value());
      EXPECT_EQ(*event.txn_timestamp, *parse_timestamp(kTxn));
    }
  }
}

// The reference simulator's shape: csv.DictReader values (all strings), isoformat() timestamps,
// Txn_Timestamp with microseconds, json.dumps(indent=4).
std::string reference_event(const Schema& schema, const std::vector<std::string>& fields) {
  std::string out = "{\n";
  for (size_t i = 0; i < fields.size(); ++i) {
    std::string value = fields[i];
    if (schema.column(i).type == FieldType::kTimestamp && value.size() >= 19) value[10] = 'T';
    out += "    ";
    append_json_string(schema.column(i).name, out);
    out += ": ";
    append_json_string(value, out);
    out += ",\n";
  }
  out += "    \"Txn_Timestamp\": \"2026-11-27T10:00:00.123456\"\n}";
  return out;
}

TEST(JsonEventDecoderTest, AcceptsTheReferenceSimulatorsShape) {
  const auto records = read_shared("us_accidents_dec21_head.csv");
  const Schema& schema = Schema::dec21();
  ASSERT_OK_AND_ASSIGN(auto decoder, JsonEventDecoder::make(schema));
  for (size_t i = 1; i < records.size(); ++i) {
    const std::string json = reference_event(schema, records[i].fields);
    ASSERT_OK_AND_ASSIGN(auto event, decoder->decode(json));
    ASSERT_OK_AND_ASSIGN(auto expected, parse_row(schema, views(records[i].fields)));
    ASSERT_EQ(event.row, expected) << json;
    EXPECT_EQ(event.txn_timestamp, *parse_timestamp("2026-11-27T10:00:00.123456"));
  }
  ASSERT_OK_AND_ASSIGN(auto first, decoder->decode(reference_event(schema, records[1].fields)));
  EXPECT_EQ(std::get<int64_t>(first.row[schema.index_of("Severity")]), 3);
  EXPECT_EQ(std::get<bool>(first.row[schema.index_of("Amenity")]), false);
  EXPECT_EQ(std::get<Number>(first.row[schema.index_of("Start_Lat")]).text, "40.10891");
  EXPECT_TRUE(std::holds_alternative<std::monostate>(first.row[schema.index_of("Number")]));
}

TEST(JsonEventDecoderTest, MissingAndUnknownFields) {
  ASSERT_OK_AND_ASSIGN(auto decoder, JsonEventDecoder::make(Schema::dec21()));
  ASSERT_OK_AND_ASSIGN(
      auto event,
      decoder->decode(R"j({"ID":"A-9","Source":"Source1","extra":{"a":[1,2]},"Severity":4})j"));
  const Schema& s = Schema::dec21();
  EXPECT_EQ(std::get<std::string>(event.row[s.index_of("ID")]), "A-9");
  EXPECT_EQ(std::get<int64_t>(event.row[s.index_of("Severity")]), 4);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(event.row[s.index_of("Side")]));
  EXPECT_FALSE(event.txn_timestamp.has_value());
}

TEST(JsonEventDecoderTest, RejectsMalformedEvents) {
  ASSERT_OK_AND_ASSIGN(auto decoder, JsonEventDecoder::make(Schema::dec21()));
  struct Case {
    const char* json;
    const char* message;
  };
  const Case cases[] = {
      {R"j({"Severity":"three"})j", "field 'Severity': expected an integer, found 'three'"},
      {R"j({"Severity":true})j", "field 'Severity': expected int, found true"},
      {R"j({"Severity":3.5})j", "expected int, found the number 3.5"},
      {R"j({"Amenity":1})j", "field 'Amenity': expected bool, found the number 1"},
      {R"j({"Start_Time":"05:46:00"})j", "field 'Start_Time': expected a timestamp"},
      {R"j({"City":["x"]})j", "field 'City': expected string, found an array"},
      {R"j({"ID":"A-1"} {"ID":"A-2"})j", "unexpected text after the object"},
      {R"j({"ID":"A-1",})j", "invalid JSON event"},
      {R"j([1,2])j", "expected one JSON object"},
      {"", "invalid JSON event"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.json);
    auto result = decoder->decode(c.json);
    ASSERT_FALSE(result.ok());
    EXPECT_THAT(result.status().message(), HasSubstr(c.message));
  }
}

}  // namespace
}  // namespace roadpulse::record
