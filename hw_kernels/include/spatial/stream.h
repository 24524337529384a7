// stream.h: bounded FIFOs between dataflow processes.
//
// For synthesis, spatial::stream<T> is hls::stream<T> with its depth set by a STREAM pragma
// at the declaration site (SPATIAL_STREAM_DEPTH). For C simulation the hls::stream of the
// simulation headers is unbounded and the processes of a dataflow region run one after the
// other, so neither back-pressure nor deadlock would show; here every process runs in its
// own thread and the stream holds at most `depth` elements: read() blocks while it is
// empty, write() while it is full. When every live process is blocked the region has
// deadlocked: the scheduler (dataflow.h) reports which process waits on which stream, with
// depth and occupancy, and every blocked call throws spatial::Deadlock.
#pragma once

#include "spatial/sim.h"

#ifdef SPATIAL_CSIM
#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <string>

namespace spatial {

struct Deadlock : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Counts running and blocked processes of the current dataflow run (see dataflow.h).
class Scheduler {
  public:
    static Scheduler& get() {
        static Scheduler s;
        return s;
    }
    std::mutex mutex;
    std::condition_variable changed;
    int running = 0;
    int blocked = 0;
    bool deadlocked = false;
    std::string report;

    // Called with `mutex` held by a process about to wait; returns true on deadlock.
    bool block(const std::string& who) {
        ++blocked;
        report += who;
        if (running > 0 && blocked >= running && !deadlocked) {
            deadlocked = true;
            changed.notify_all();
        }
        return deadlocked;
    }
    // Called with `mutex` held by the process that lets a waiter go (it wrote what the
    // waiter reads, or read what made room): the waiter no longer counts as blocked, even
    // before its thread runs again.
    void release(const std::string& who) {
        --blocked;
        auto pos = report.find(who);
        if (pos != std::string::npos) report.erase(pos, who.size());
    }
};

template <class T>
class stream {
  public:
    explicit stream(const char* name = "stream", int depth = 2) : name_(name), depth_(depth) {}
    stream(const stream&) = delete;
    stream& operator=(const stream&) = delete;

    void set_depth(int depth) { depth_ = depth; }
    int depth() const { return depth_; }
    const std::string& name() const { return name_; }

    void write(const T& value) {
        Scheduler& s = Scheduler::get();
        std::unique_lock<std::mutex> lock(s.mutex);
        if ((int)data_.size() >= depth_) {
            writer_wait_ = wait_line("write to", "full");
            if (s.block(writer_wait_)) throw Deadlock(s.report);
            s.changed.wait(lock, [&] { return writer_wait_.empty() || s.deadlocked; });
            if (s.deadlocked) throw Deadlock(s.report);
        }
        data_.push_back(value);
        if ((int)data_.size() > max_occupancy_) max_occupancy_ = (int)data_.size();
        if (!reader_wait_.empty()) {
            s.release(reader_wait_);
            reader_wait_.clear();
        }
        s.changed.notify_all();
    }

    T read() {
        Scheduler& s = Scheduler::get();
        std::unique_lock<std::mutex> lock(s.mutex);
        if (data_.empty()) {
            reader_wait_ = wait_line("read from", "empty");
            if (s.block(reader_wait_)) throw Deadlock(s.report);
            s.changed.wait(lock, [&] { return reader_wait_.empty() || s.deadlocked; });
            if (s.deadlocked) throw Deadlock(s.report);
        }
        T value = data_.front();
        data_.pop_front();
        if (!writer_wait_.empty()) {
            s.release(writer_wait_);
            writer_wait_.clear();
        }
        s.changed.notify_all();
        return value;
    }

    bool empty() {
        std::lock_guard<std::mutex> lock(Scheduler::get().mutex);
        return data_.empty();
    }
    int size() {
        std::lock_guard<std::mutex> lock(Scheduler::get().mutex);
        return (int)data_.size();
    }
    int max_occupancy() const { return max_occupancy_; }

  private:
    std::string wait_line(const char* op, const char* state) const {
        return "  a process waits to " + std::string(op) + " stream " + name_ + " (depth " +
               std::to_string(depth_) + ", holds " + std::to_string(data_.size()) + ": " +
               state + ")\n";
    }
    std::string name_;
    int depth_;
    int max_occupancy_ = 0;
    std::deque<T> data_;
    std::string reader_wait_;  // non-empty while the consumer is blocked on this stream
    std::string writer_wait_;  // non-empty while the producer is blocked on this stream
};

}  // namespace spatial

#define SPATIAL_STREAM_DEPTH(s, d) (s).set_depth(d)
#else
#include <hls_stream.h>
namespace spatial {
// For synthesis the depth comes from a STREAM pragma next to the declaration, written with
// the SPATIAL_DEPTH_<fifo> macros of the exported configuration header.
template <class T>
class stream : public hls::stream<T> {
  public:
    stream() {}
    explicit stream(const char* name, int = 0) : hls::stream<T>(name) {}
};
}  // namespace spatial
#define SPATIAL_STREAM_DEPTH(s, d)
#endif
