# The SQL front end (lexer, parser, binder, planner) on arbitrary text: SQL reaches us over HTTP.
roadpulse_add_fuzzer(sql_fuzzer SOURCES sql_fuzzer.cc LIBS roadpulse_sql)
