// sim.h: the one guard for simulation-only code, and loop-trip instrumentation.
//
// SPATIAL_CSIM is defined when the code is compiled for C simulation (g++, Vitis csim) and
// undefined for synthesis (Vitis HLS defines __SYNTHESIS__). Every simulation-only line in
// hw_kernels is behind this one macro; nothing else tests __SYNTHESIS__.
//
// SPATIAL_ENTER(label) marks one entry into a loop and SPATIAL_TRIP(label) one iteration.
// In C simulation they count into a process-wide table that testbenches print, so the cost
// model's trip counts can be checked against the code; for synthesis they vanish.
#pragma once

#ifndef __SYNTHESIS__
#define SPATIAL_CSIM 1
#endif

#ifdef SPATIAL_CSIM
#include <cstdio>
#include <map>
#include <mutex>
#include <string>

namespace spatial {

struct TripCount {
    long long entries = 0;
    long long trips = 0;
};

inline std::map<std::string, TripCount>& trip_table() {
    static std::map<std::string, TripCount> table;
    return table;
}

inline std::mutex& trip_mutex() {
    static std::mutex m;
    return m;
}

inline void count_entry(const char* label) {
    std::lock_guard<std::mutex> lock(trip_mutex());
    trip_table()[label].entries += 1;
}

inline void count_trip(const char* label) {
    std::lock_guard<std::mutex> lock(trip_mutex());
    trip_table()[label].trips += 1;
}

inline void reset_trips() {
    std::lock_guard<std::mutex> lock(trip_mutex());
    trip_table().clear();
}

// One JSON object: {"label": {"entries": n, "trips": m}, ...}
inline void print_trips(std::FILE* out) {
    std::lock_guard<std::mutex> lock(trip_mutex());
    std::fprintf(out, "{");
    bool first = true;
    for (const auto& kv : trip_table()) {
        std::fprintf(out, "%s\"%s\": {\"entries\": %lld, \"trips\": %lld}", first ? "" : ", ",
                     kv.first.c_str(), kv.second.entries, kv.second.trips);
        first = false;
    }
    std::fprintf(out, "}\n");
}

}  // namespace spatial

#define SPATIAL_ENTER(label) ::spatial::count_entry(label)
#define SPATIAL_TRIP(label) ::spatial::count_trip(label)
#else
#define SPATIAL_ENTER(label)
#define SPATIAL_TRIP(label)
#endif
