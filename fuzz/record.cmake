# The record data path on arbitrary bytes: CSV text and JSON events both arrive from outside.
roadpulse_add_fuzzer(record_csv_fuzzer SOURCES record_csv_fuzzer.cc LIBS roadpulse_record)
roadpulse_add_fuzzer(record_json_event_fuzzer SOURCES record_json_event_fuzzer.cc
  LIBS roadpulse_record simdjson::simdjson)
