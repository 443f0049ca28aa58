// EventFeed over a real log and metric store: what a Server-Sent Events client receives per tick.

#include "dashboard/event_feed.h"

#include <arrow/testing/gtest_util.h>
#include <gtest/gtest.h>

#include "realtime/alerts.h"
#include "realtime/hub.h"
#include "test_util.h"

namespace roadpulse::dashboard {
namespace {

using testing::DataDir;
using testing::RecordingWriter;

size_t count(const std::string& text, std::string_view needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

EventFeedOptions manual_ticks() {
  EventFeedOptions o;
  o.tick_ms = 3'600'000;  // the test calls tick() itself
  o.heartbeat_ms = 3'600'000;
  return o;
}

TEST(Topics, ParseNamesAndRejectUnknown) {
  EXPECT_EQ(*parse_topics(""), kTopicAll);
  EXPECT_EQ(*parse_topics("metrics,alerts"), kTopicMetrics | kTopicAlerts);
  EXPECT_EQ(*parse_topics("accidents"), kTopicAccidents);
  auto bad = parse_topics("metrics,weather");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'weather'"), std::string::npos);
}

TEST(Accident, ReadsTypedAndReferenceShapedRecords) {
  ASSERT_OK_AND_ASSIGN(auto ours,
                       parse_accident(
                           R"({"ID":"A-1","Severity":4,"Start_Time":"2016-02-08T05:46:00",
      "Start_Lat":39.865147,"Start_Lng":-84.058723,"Description":"x","City":"Dayton",
      "County":"Montgomery","State":"OH","Amenity":false,"Zipcode":null})"));
  EXPECT_EQ(ours.id, "A-1");
  EXPECT_EQ(ours.severity, "4");
  EXPECT_EQ(ours.state, "OH");
  EXPECT_EQ(ours.county, "Montgomery");
  EXPECT_EQ(ours.city, "Dayton");
  EXPECT_EQ(ours.start_time, "2016-02-08T05:46:00");
  ASSERT_TRUE(ours.lat && ours.lng);
  EXPECT_DOUBLE_EQ(*ours.lat, 39.865147);
  EXPECT_DOUBLE_EQ(*ours.lng, -84.058723);

  // The reference simulator: every value a string, indented over several lines.
  ASSERT_OK_AND_ASSIGN(auto seed,
                       parse_accident("{\n    \"ID\": \"A-2\",\n    \"Severity\": \"3\",\n"
                                      "    \"Start_Lat\": \"39.86\",\n    \"Start_Lng\": "
                                      "\"\",\n    \"State\": \"CA\"\n}"));
  EXPECT_EQ(seed.severity, "3");
  EXPECT_DOUBLE_EQ(*seed.lat, 39.86);
  EXPECT_FALSE(seed.lng.has_value());  // empty text is no position

  EXPECT_FALSE(parse_accident("not json").ok());
  EXPECT_FALSE(parse_accident("[1,2]").ok());
}

TEST(EventFeed, SendsSamplesSummedPerSecondAndDimensions) {
  DataDir dir;
  auto hub = realtime::Hub::for_data_dir(dir.path());
  ASSERT_OK_AND_ASSIGN(auto store, hub->metrics());
  ASSERT_OK(store->declare("accidents", {"Severity", "County"}));
  ASSERT_OK_AND_ASSIGN(auto feed, EventFeed::make(hub, dir.log(), manual_ticks()));
  auto client = std::make_shared<RecordingWriter>();
  auto alerts_only = std::make_shared<RecordingWriter>();
  feed->add_client(client, kTopicAll, std::nullopt);
  feed->add_client(alerts_only, kTopicAlerts, std::nullopt);
  EXPECT_EQ(feed->client_count(), 2u);
  EXPECT_NE(client->text().find("retry: 3000\nevent: hello\n"), std::string::npos);
  client->clear();

  ASSERT_OK(store->add(
      "accidents",
      {{100, {"4", "Orange"}, 1}, {100, {"4", "Orange"}, 1}, {101, {"2", "Los \"Angeles\""}, 3}}));
  feed->tick();
  const std::string text = client->text();
  EXPECT_EQ(count(text, "event: metrics\n"), 1u) << text;
  EXPECT_NE(text.find("id: 1\nevent: metrics\ndata: {\"metric\":\"accidents\","
                      "\"dimensions\":[\"Severity\",\"County\"],\"rows\":["
                      "[100,2,\"4\",\"Orange\"],[101,3,\"2\",\"Los \\\"Angeles\\\"\"]],"
                      "\"truncated\":false}\n\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(alerts_only->text().find("event: metrics"), std::string::npos);

  // Nothing new: nothing sent.
  client->clear();
  feed->tick();
  EXPECT_EQ(client->text(), "");
}

TEST(EventFeed, CapsRowsPerTickAndSaysSo) {
  DataDir dir;
  auto hub = realtime::Hub::for_data_dir(dir.path());
  ASSERT_OK_AND_ASSIGN(auto store, hub->metrics());
  ASSERT_OK(store->declare("m", {"K"}));
  auto options = manual_ticks();
  options.max_metric_rows_per_tick = 3;
  ASSERT_OK_AND_ASSIGN(auto feed, EventFeed::make(hub, dir.log(), options));
  auto client = std::make_shared<RecordingWriter>();
  feed->add_client(client, kTopicMetrics, std::nullopt);
  std::vector<realtime::Sample> samples;
  for (int i = 0; i < 5; ++i) samples.push_back({7, {std::to_string(i)}, 1});
  ASSERT_OK(store->add("m", samples));
  feed->tick();
  EXPECT_NE(client->text().find("\"truncated\":true"), std::string::npos);
  EXPECT_EQ(count(client->text(), "[7,1,"), 3u);
}

TEST(EventFeed, TailsNewAccidentsAndAlerts) {
  DataDir dir;
  ASSERT_OK(dir.log()->create_stream("us-accidents-data-stream-1", 2));
  dir.append("us-accidents-data-stream-1", "4", R"({"ID":"old","Severity":4})");
  auto hub = realtime::Hub::for_data_dir(dir.path());
  ASSERT_OK_AND_ASSIGN(auto feed, EventFeed::make(hub, dir.log(), manual_ticks()));
  auto client = std::make_shared<RecordingWriter>();
  feed->add_client(client, kTopicAccidents | kTopicAlerts, std::nullopt);

  dir.append("us-accidents-data-stream-1", "4",
             R"({"ID":"A-9","Severity":4,"State":"CA","County":"Orange","City":"Irvine",
                 "Start_Lat":33.6,"Start_Lng":-117.8,"Start_Time":"2021-01-01T10:00:00"})");
  dir.append("us-accidents-data-stream-1", "2", "garbage");  // skipped, not fatal
  // The alerts outbox appears after the feed started: read from its beginning.
  ASSERT_OK_AND_ASSIGN(auto outbox,
                       realtime::AlertOutbox::open(dir.shared_log(), realtime::AlertConfig{}));
  realtime::Alert alert;
  alert.rule = "severe";
  alert.dedup_key = "A-9";
  alert.severity = "4";
  alert.title = "Severity 4 accident in Irvine, CA";
  alert.attributes = {{"ID", "A-9"}, {"State", "CA"}};
  ASSERT_OK_AND_ASSIGN(bool added, outbox->enqueue(alert));
  ASSERT_TRUE(added);

  feed->tick();
  const std::string text = client->text();
  EXPECT_EQ(text.find("\"old\""), std::string::npos) << "history is not replayed";
  EXPECT_NE(text.find("event: accidents\ndata: {\"events\":[{\"id\":\"A-9\",\"severity\":\"4\","
                      "\"state\":\"CA\",\"county\":\"Orange\",\"city\":\"Irvine\","
                      "\"time\":\"2021-01-01T10:00:00\",\"lat\":33.6,\"lng\":-117.8,"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\"received\":2}"), std::string::npos) << text;
  EXPECT_NE(text.find("event: alert\ndata: {\"id\":"), std::string::npos) << text;
  EXPECT_NE(text.find("\"title\":\"Severity 4 accident in Irvine, CA\""), std::string::npos);
  EXPECT_NE(text.find("\"row\":{\"ID\":\"A-9\",\"State\":\"CA\"}"), std::string::npos);
}

TEST(EventFeed, ReplaysAfterLastEventIdOrAsksForAReset) {
  DataDir dir;
  auto hub = realtime::Hub::for_data_dir(dir.path());
  ASSERT_OK_AND_ASSIGN(auto store, hub->metrics());
  ASSERT_OK(store->declare("m", {"K"}));
  auto options = manual_ticks();
  options.replay_events = 2;
  ASSERT_OK_AND_ASSIGN(auto feed, EventFeed::make(hub, dir.log(), options));
  auto listening = std::make_shared<RecordingWriter>();
  feed->add_client(listening, kTopicAll, std::nullopt);
  for (int i = 1; i <= 3; ++i) {
    ASSERT_OK(store->add("m", {{i, {"k"}, 1}}));
    feed->tick();  // event ids 1, 2, 3; ids 2 and 3 are held
  }
  auto resumed = std::make_shared<RecordingWriter>();
  feed->add_client(resumed, kTopicAll, 2);
  EXPECT_EQ(resumed->text().find("id: 2\n"), std::string::npos);
  EXPECT_NE(resumed->text().find("id: 3\nevent: metrics\ndata: {\"metric\":\"m\""),
            std::string::npos)
      << resumed->text();
  EXPECT_EQ(resumed->text().find("event: reset"), std::string::npos);

  auto too_old = std::make_shared<RecordingWriter>();
  feed->add_client(too_old, kTopicAll, 0);  // missed id 1, no longer held
  EXPECT_NE(too_old->text().find("event: reset\n"), std::string::npos);

  auto current = std::make_shared<RecordingWriter>();
  feed->add_client(current, kTopicAll, 3);
  EXPECT_EQ(current->text().find("event: reset"), std::string::npos);
  EXPECT_EQ(current->text().find("id: "), std::string::npos);
}

TEST(EventFeed, NoClientsMeansNoWorkAndAResumingClientReloads) {
  DataDir dir;
  auto hub = realtime::Hub::for_data_dir(dir.path());
  ASSERT_OK_AND_ASSIGN(auto store, hub->metrics());
  ASSERT_OK(store->declare("m", {"K"}));
  ASSERT_OK_AND_ASSIGN(auto feed, EventFeed::make(hub, dir.log(), manual_ticks()));
  auto first = std::make_shared<RecordingWriter>();
  feed->add_client(first, kTopicAll, std::nullopt);
  ASSERT_OK(store->add("m", {{1, {"k"}, 1}}));
  feed->tick();  // id 1
  first->close();
  ASSERT_OK(store->add("m", {{2, {"k"}, 1}}));
  feed->tick();  // the closed client is dropped here (the frame with id 2 reaches nobody)
  EXPECT_EQ(feed->client_count(), 0u);
  ASSERT_OK(store->add("m", {{3, {"k"}, 1}}));  // nobody listens: not gathered
  feed->tick();
  EXPECT_EQ(feed->stats().events_sent, 2u);

  // Resuming after id 2 would miss the sample of second 3: reload instead.
  auto resumed = std::make_shared<RecordingWriter>();
  feed->add_client(resumed, kTopicAll, 2);
  EXPECT_NE(resumed->text().find("event: reset"), std::string::npos) << resumed->text();
  // From now on samples flow again.
  ASSERT_OK(store->add("m", {{4, {"k"}, 1}}));
  feed->tick();
  EXPECT_NE(resumed->text().find("\"rows\":[[4,1,\"k\"]]"), std::string::npos) << resumed->text();
}

TEST(EventFeed, DropsClosedClientsAndClosesOthersOnDestruction) {
  DataDir dir;
  auto hub = realtime::Hub::for_data_dir(dir.path());
  ASSERT_OK_AND_ASSIGN(auto store, hub->metrics());
  ASSERT_OK(store->declare("m", {"K"}));
  auto options = manual_ticks();
  options.heartbeat_ms = 0;  // every tick beats
  ASSERT_OK_AND_ASSIGN(auto feed, EventFeed::make(hub, dir.log(), options));
  auto gone = std::make_shared<RecordingWriter>();
  auto stays = std::make_shared<RecordingWriter>();
  feed->add_client(gone, kTopicAll, std::nullopt);
  feed->add_client(stays, kTopicAll, std::nullopt);
  gone->close();
  feed->tick();
  EXPECT_EQ(feed->client_count(), 1u);
  EXPECT_NE(stays->text().find(": heartbeat "), std::string::npos);
  EXPECT_EQ(feed->stats().clients_dropped, 1u);
  feed.reset();
  EXPECT_TRUE(stays->closed());
  // The hub no longer feeds a destroyed feed.
  ASSERT_OK(store->add("m", {{1, {"k"}, 1}}));
}

}  // namespace
}  // namespace roadpulse::dashboard
