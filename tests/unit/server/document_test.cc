#include "server/document.h"

#include <arrow/testing/gtest_util.h>
#include <gtest/gtest.h>

namespace roadpulse::server {
namespace {

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

TEST(Base64, RoundTripsEveryLengthAndRejectsBadInput) {
  std::string data;
  for (int i = 0; i < 40; ++i) {
    ASSERT_OK_AND_ASSIGN(auto back, base64_decode(base64_encode(data)));
    EXPECT_EQ(back, data);
    data.push_back(static_cast<char>(i * 37));
  }
  EXPECT_EQ(base64_encode("hello"), "aGVsbG8=");
  EXPECT_FALSE(base64_decode("aGVsbG8").ok());    // missing padding
  EXPECT_FALSE(base64_decode("aGVs bG8=").ok());  // whitespace
  EXPECT_FALSE(base64_decode("aGVsbG9=").ok());   // non-zero padding bits
  EXPECT_FALSE(base64_decode("a===").ok());
}

TEST(Json, DecodesKinesisRequestAndEncodesBack) {
  ASSERT_OK_AND_ASSIGN(auto doc, decode_json(R"({"StreamName":"s","Records":[{"Data":"aGk=",)"
                                             R"("PartitionKey":"3"}],"Limit":25,"T":1.5})"));
  ASSERT_EQ(doc.kind(), Document::Kind::kMap);
  EXPECT_EQ(doc.find("StreamName")->as_string(), "s");
  EXPECT_EQ(doc.find("Limit")->as_int(), 25);
  EXPECT_DOUBLE_EQ(doc.find("T")->as_double(), 1.5);
  EXPECT_EQ(doc.find("Records")->items()[0].find("PartitionKey")->as_string(), "3");
  EXPECT_EQ(doc.find("Missing"), nullptr);

  Document out = Document::map();
  out.set("Data", Document::bytes("hi"));
  out.set("Text", Document::string("a\"b\\c\n\x01"));
  out.set("When", Document::time_ms(1700000000123));
  out.set("N", Document::integer(-5));
  out.set("Null", Document::null());
  EXPECT_EQ(encode_json(out),
            R"({"Data":"aGk=","Text":"a\"b\\c\n\u0001","When":1700000000.123,"N":-5,"Null":null})");
}

TEST(Json, RejectsMalformedAndTooDeep) {
  EXPECT_FALSE(decode_json("{\"a\":").ok());
  EXPECT_FALSE(decode_json("{} {}").ok());
  std::string deep(100, '[');
  deep += std::string(100, ']');
  auto st = decode_json(deep);
  ASSERT_FALSE(st.ok());
}

TEST(Cbor, DecodesJavaSdkStyleIndefiniteMapWithByteStringAndMillisTag) {
  // {_ "StreamName": "s", "Data": h'00ff', "Timestamp": 1(1700000000123)} as Jackson writes it.
  std::string body = bytes({0xBF, 0x6A});
  body += "StreamName";
  body += bytes({0x61, 's', 0x64});
  body += "Data";
  body += bytes({0x42, 0x00, 0xFF, 0x69});
  body += "Timestamp";
  body += bytes({0xC1, 0x1B, 0x00, 0x00, 0x01, 0x8B, 0xCF, 0xE5, 0x68, 0x7B, 0xFF});
  ASSERT_OK_AND_ASSIGN(auto doc, decode_cbor(body));
  EXPECT_EQ(doc.find("StreamName")->as_string(), "s");
  EXPECT_EQ(doc.find("Data")->kind(), Document::Kind::kBytes);
  EXPECT_EQ(doc.find("Data")->as_string(), bytes({0x00, 0xFF}));
  ASSERT_EQ(doc.find("Timestamp")->kind(), Document::Kind::kTime);
  EXPECT_EQ(doc.find("Timestamp")->as_time_ms(), 1700000000123);
}

TEST(Cbor, TagOneSecondsAndChunkedStrings) {
  // {"T": 1(1700000000), "S": (_ "ab", "c")}
  std::string body = bytes({0xA2, 0x61, 'T', 0xC1, 0x1A, 0x65, 0x53, 0xF1, 0x00, 0x61, 'S', 0x7F,
                            0x62, 'a', 'b', 0x61, 'c', 0xFF});
  ASSERT_OK_AND_ASSIGN(auto doc, decode_cbor(body));
  EXPECT_EQ(doc.find("T")->as_time_ms(), 1700000000000);
  EXPECT_EQ(doc.find("S")->as_string(), "abc");
}

TEST(Cbor, RoundTripsThroughEncoder) {
  Document d = Document::map();
  d.set("Records", Document::array());
  Document rec = Document::map();
  rec.set("Data", Document::bytes(std::string("\0\1\2", 3)));
  rec.set("ApproximateArrivalTimestamp", Document::time_ms(1700000000456));
  rec.set("Seq", Document::string("49000"));
  rec.set("N", Document::integer(-300));
  rec.set("B", Document::boolean(true));
  Document list = Document::array();
  list.push(std::move(rec));
  Document top = Document::map();
  top.set("Records", std::move(list));
  top.set("MillisBehindLatest", Document::integer(0));
  ASSERT_OK_AND_ASSIGN(auto back, decode_cbor(encode_cbor(top)));
  const Document& r = back.find("Records")->items().at(0);
  EXPECT_EQ(r.find("Data")->as_string(), std::string("\0\1\2", 3));
  EXPECT_EQ(r.find("ApproximateArrivalTimestamp")->as_time_ms(), 1700000000456);
  EXPECT_EQ(r.find("Seq")->as_string(), "49000");
  EXPECT_EQ(r.find("N")->as_int(), -300);
  EXPECT_TRUE(r.find("B")->as_bool());
  EXPECT_EQ(encode_json(back), encode_json(top));
}

TEST(Cbor, RejectsTruncatedTrailingNonStringKeysAndDepth) {
  EXPECT_FALSE(decode_cbor(bytes({0xA1, 0x61, 'a'})).ok());               // value missing
  EXPECT_FALSE(decode_cbor(bytes({0xA0, 0x00})).ok());                    // trailing item
  EXPECT_FALSE(decode_cbor(bytes({0xA1, 0x01, 0x02})).ok());              // integer key
  EXPECT_FALSE(decode_cbor(bytes({0x5A, 0xFF, 0xFF, 0xFF, 0xFF})).ok());  // huge length
  EXPECT_FALSE(decode_cbor(bytes({0xFF})).ok());                          // stray break
  EXPECT_FALSE(decode_cbor("").ok());
  std::string deep(100, static_cast<char>(0x81));
  deep.push_back(0x00);
  auto st = decode_cbor(deep);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("deeper"), std::string::npos);
}

}  // namespace
}  // namespace roadpulse::server
