# Kinesis request decoding (JSON 1.1 and CBOR bodies) and validation of every operation.
if(TARGET roadpulse_server)
  roadpulse_add_fuzzer(server_request_fuzzer
    SOURCES "${CMAKE_CURRENT_LIST_DIR}/server_request_fuzzer.cc"
    LIBS roadpulse_server)
endif()
