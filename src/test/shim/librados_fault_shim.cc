// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-
//
// LD_PRELOAD shim around librados' class-call and watch entry points, for
// crash-point and race tests of any librados client (the stock rbd tool,
// python3-rbd, qemu-img, the project's rbd).  Driven by the environment:
//
//   RADOS_SHIM_TRACE=FILE         append "<n> <class>.<method>" per class call
//   RADOS_SHIM_KILL_AT_CALL=N     SIGKILL this process just before its N-th
//                                 class call is sent (1-based)
//   RADOS_SHIM_DELAY_CALL=M:MS    sleep MS milliseconds before each class
//                                 call of method M
//   RADOS_SHIM_WATCH_DELAY_MS=MS  sleep before registering each watch, so
//                                 that a librbd open's refresh and its
//                                 header watch are far apart
//   RADOS_SHIM_COUNTER=FILE       number the calls of every process that
//                                 shares FILE (a client and the stock tools
//                                 it runs) in one sequence
//   RADOS_SHIM_KILL_GROUP=1       the kill takes the whole process group
//                                 (the client that ran the killed tool too)
//
// A class call is counted when it is added to an operation (librbd builds
// an operation and sends it at once) or sent directly (IoCtx::exec).

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/file.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include <rados/librados.hpp>

namespace {

constexpr const char* LIBRADOS_VERSION = "LIBRADOS_14.2.0";

// The real function in librados.  A client that loads librados with
// dlopen (python3-rados) keeps it out of the global scope, where RTLD_NEXT
// looks, so ask the loaded library itself first.
template <typename Fn>
Fn real(const char* mangled) {
  void* p = nullptr;
  if (void* lib = dlopen("librados.so.2", RTLD_LAZY | RTLD_NOLOAD)) {
    p = dlvsym(lib, mangled, LIBRADOS_VERSION);
  }
  if (p == nullptr) {
    p = dlvsym(RTLD_NEXT, mangled, LIBRADOS_VERSION);
  }
  if (p == nullptr) {
    fprintf(stderr, "librados_fault_shim: cannot find %s\n", mangled);
    abort();
  }
  return reinterpret_cast<Fn>(p);
}

long env_long(const char* name) {
  const char* v = getenv(name);
  return v != nullptr && *v != '\0' ? strtol(v, nullptr, 10) : 0;
}

void sleep_ms(long ms) {
  if (ms > 0) {
    usleep(static_cast<useconds_t>(ms) * 1000);
  }
}

std::atomic<long> g_calls{0};
std::mutex g_trace_lock;

// The next number of the sequence kept in `path` (locked across processes).
long next_shared_call(const char* path) {
  int fd = open(path, O_RDWR | O_CREAT, 0644);
  if (fd < 0 || flock(fd, LOCK_EX) < 0) {
    fprintf(stderr, "librados_fault_shim: cannot use counter %s\n", path);
    abort();
  }
  char buf[32] = {0};
  ssize_t got = pread(fd, buf, sizeof(buf) - 1, 0);
  long n = (got > 0 ? strtol(buf, nullptr, 10) : 0) + 1;
  std::string text = std::to_string(n) + "\n";
  ssize_t w = pwrite(fd, text.data(), text.size(), 0);
  (void)w;
  close(fd);  // also unlocks
  return n;
}

// Called before every class call.
void on_class_call(const char* cls, const char* method) {
  const char* counter = getenv("RADOS_SHIM_COUNTER");
  long n = counter != nullptr && *counter != '\0' ? next_shared_call(counter) : ++g_calls;
  if (const char* trace = getenv("RADOS_SHIM_TRACE")) {
    std::lock_guard<std::mutex> l(g_trace_lock);
    int fd = open(trace, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      std::string line = std::to_string(n) + " " + cls + "." + method + "\n";
      ssize_t w = write(fd, line.data(), line.size());
      (void)w;
      close(fd);
    }
  }
  if (env_long("RADOS_SHIM_KILL_AT_CALL") == n) {
    kill(env_long("RADOS_SHIM_KILL_GROUP") != 0 ? 0 : getpid(), SIGKILL);
    pause();
  }
  if (const char* d = getenv("RADOS_SHIM_DELAY_CALL")) {
    const char* colon = strchr(d, ':');
    if (colon != nullptr && strncmp(d, method, colon - d) == 0 &&
        method[colon - d] == '\0') {
      sleep_ms(strtol(colon + 1, nullptr, 10));
    }
  }
}

}  // namespace

namespace librados {
inline namespace v14_2_0 {

void ObjectOperation::exec(const char* cls, const char* method, bufferlist& inbl) {
  using fn_t = void (*)(ObjectOperation*, const char*, const char*, bufferlist&);
  static auto fn = real<fn_t>(
      "_ZN8librados7v14_2_015ObjectOperation4execEPKcS3_RN4ceph6buffer7v15_2_04listE");
  on_class_call(cls, method);
  fn(this, cls, method, inbl);
}

void ObjectOperation::exec(const char* cls, const char* method, bufferlist& inbl,
                           bufferlist* obl, int* prval) {
  using fn_t = void (*)(ObjectOperation*, const char*, const char*, bufferlist&, bufferlist*,
                        int*);
  static auto fn = real<fn_t>(
      "_ZN8librados7v14_2_015ObjectOperation4execEPKcS3_RN4ceph6buffer7v15_2_04listEPS7_Pi");
  on_class_call(cls, method);
  fn(this, cls, method, inbl, obl, prval);
}

void ObjectOperation::exec(const char* cls, const char* method, bufferlist& inbl,
                           ObjectOperationCompletion* completion) {
  using fn_t = void (*)(ObjectOperation*, const char*, const char*, bufferlist&,
                        ObjectOperationCompletion*);
  static auto fn = real<fn_t>(
      "_ZN8librados7v14_2_015ObjectOperation4execEPKcS3_RN4ceph6buffer7v15_2_04listEPNS0_"
      "25ObjectOperationCompletionE");
  on_class_call(cls, method);
  fn(this, cls, method, inbl, completion);
}

int IoCtx::exec(const std::string& oid, const char* cls, const char* method, bufferlist& inbl,
                bufferlist& outbl) {
  using fn_t = int (*)(IoCtx*, const std::string&, const char*, const char*, bufferlist&,
                       bufferlist&);
  static auto fn = real<fn_t>(
      "_ZN8librados7v14_2_05IoCtx4execERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE"
      "EPKcSB_RN4ceph6buffer7v15_2_04listESG_");
  on_class_call(cls, method);
  return fn(this, oid, cls, method, inbl, outbl);
}

int IoCtx::aio_exec(const std::string& oid, AioCompletion* c, const char* cls,
                    const char* method, bufferlist& inbl, bufferlist* outbl) {
  using fn_t = int (*)(IoCtx*, const std::string&, AioCompletion*, const char*, const char*,
                       bufferlist&, bufferlist*);
  static auto fn = real<fn_t>(
      "_ZN8librados7v14_2_05IoCtx8aio_execERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaI"
      "cEEEPNS0_13AioCompletionEPKcSD_RN4ceph6buffer7v15_2_04listEPSH_");
  on_class_call(cls, method);
  return fn(this, oid, c, cls, method, inbl, outbl);
}

int IoCtx::aio_watch(const std::string& oid, AioCompletion* c, uint64_t* handle,
                     WatchCtx2* ctx) {
  using fn_t = int (*)(IoCtx*, const std::string&, AioCompletion*, uint64_t*, WatchCtx2*);
  static auto fn = real<fn_t>(
      "_ZN8librados7v14_2_05IoCtx9aio_watchERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESa"
      "IcEEEPNS0_13AioCompletionEPmPNS0_9WatchCtx2E");
  sleep_ms(env_long("RADOS_SHIM_WATCH_DELAY_MS"));
  return fn(this, oid, c, handle, ctx);
}

int IoCtx::watch2(const std::string& oid, uint64_t* handle, WatchCtx2* ctx) {
  using fn_t = int (*)(IoCtx*, const std::string&, uint64_t*, WatchCtx2*);
  static auto fn = real<fn_t>(
      "_ZN8librados7v14_2_05IoCtx6watch2ERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcE"
      "EEPmPNS0_9WatchCtx2E");
  sleep_ms(env_long("RADOS_SHIM_WATCH_DELAY_MS"));
  return fn(this, oid, handle, ctx);
}

}  // namespace v14_2_0
}  // namespace librados
