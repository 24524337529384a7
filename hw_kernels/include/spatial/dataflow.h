// dataflow.h: run the processes of a DATAFLOW region.
//
//   SPATIAL_DATAFLOW_BEGIN
//   SPATIAL_TASK(loader<Cfg>(mem, s1));
//   SPATIAL_TASK(linear<Cfg>(s1, w, s2));
//   SPATIAL_DATAFLOW_END
//
// For synthesis the tasks are plain calls inside a function carrying #pragma HLS DATAFLOW.
// In C simulation each task runs in its own thread, so bounded streams (stream.h) exert
// back-pressure and a region that cannot make progress is reported as a deadlock: the
// region throws spatial::Deadlock whose message lists every blocked stream operation.
#pragma once

#include "spatial/stream.h"

#ifdef SPATIAL_CSIM
#include <exception>
#include <functional>
#include <thread>
#include <vector>

namespace spatial {

class Dataflow {
  public:
    void add(std::function<void()> task) { tasks_.push_back(std::move(task)); }

    // A region may be a task of an enclosing region (a layer of three regions): the calling
    // thread then only waits, so its place among the running processes passes to its tasks.
    void run() {
        Scheduler& s = Scheduler::get();
        const bool nested = in_task();
        {
            std::lock_guard<std::mutex> lock(s.mutex);
            if (nested) {
                s.running += (int)tasks_.size() - 1;
            } else {
                s.running = (int)tasks_.size();
                s.blocked = 0;
                s.deadlocked = false;
                s.report.clear();
            }
        }
        std::vector<std::thread> threads;
        std::vector<std::exception_ptr> errors(tasks_.size());
        for (size_t i = 0; i < tasks_.size(); ++i) {
            threads.emplace_back([&, i] {
                in_task() = true;
                try {
                    tasks_[i]();
                } catch (...) {
                    errors[i] = std::current_exception();
                }
                std::lock_guard<std::mutex> lock(s.mutex);
                --s.running;
                if (s.running > 0 && s.blocked >= s.running && !s.deadlocked) {
                    s.deadlocked = true;  // the others wait on a process that has finished
                    s.report += "  (the process they wait for has returned)\n";
                }
                s.changed.notify_all();
            });
        }
        for (auto& t : threads) t.join();
        if (nested) {
            std::lock_guard<std::mutex> lock(s.mutex);
            s.running += 1;
        }
        for (auto& e : errors)
            if (e) std::rethrow_exception(e);
    }

  private:
    static bool& in_task() {
        thread_local bool flag = false;
        return flag;
    }
    std::vector<std::function<void()>> tasks_;
};

}  // namespace spatial

#define SPATIAL_DATAFLOW_BEGIN { ::spatial::Dataflow spatial_df_;
#define SPATIAL_TASK(...) spatial_df_.add([&] { __VA_ARGS__; })
#define SPATIAL_DATAFLOW_END spatial_df_.run(); }
#else
#define SPATIAL_DATAFLOW_BEGIN {
#define SPATIAL_TASK(...) __VA_ARGS__
#define SPATIAL_DATAFLOW_END }
#endif
