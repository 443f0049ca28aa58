# Log recovery on arbitrary segment bytes: a data dir may hold anything after a crash or a disk fault.
roadpulse_add_fuzzer(log_recovery_fuzzer SOURCES log_recovery_fuzzer.cc LIBS roadpulse_log)
