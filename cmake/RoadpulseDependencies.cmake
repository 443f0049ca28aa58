# Third-party libraries from Debian 12 packages (scripts/setup installs them).
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(simdjson REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(CURL REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(Boost 1.74 REQUIRED)
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)
pkg_check_modules(LZ4 REQUIRED IMPORTED_TARGET liblz4)
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka++)
pkg_check_modules(CBOR REQUIRED IMPORTED_TARGET libcbor)
find_package(GTest REQUIRED)
find_package(benchmark REQUIRED)

# pyarrow's libparquet exports its own, different simdjson build. ELF binds a symbol to the first
# loaded library that defines it, so Debian's libsimdjson must come before libparquet in every
# binary's load order, or our simdjson calls land in parquet's copy and crash (seen: SIGSEGV in
# the JSON decoder once a binary linked Parquet). --no-as-needed pins it first in DT_NEEDED.
get_target_property(ROADPULSE_SIMDJSON_LIBRARY simdjson::simdjson LOCATION)
add_link_options("LINKER:--push-state,--no-as-needed" "${ROADPULSE_SIMDJSON_LIBRARY}"
                 "LINKER:--pop-state")
