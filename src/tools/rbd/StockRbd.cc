// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-

#include "tools/rbd/StockRbd.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

namespace rbd_standalone {

void exec_stock(const std::vector<std::string>& argv) {
  std::vector<char*> cargv;
  cargv.push_back(const_cast<char*>(STOCK_RBD));
  for (size_t i = 1; i < argv.size(); ++i) {
    cargv.push_back(const_cast<char*>(argv[i].c_str()));
  }
  cargv.push_back(nullptr);
  execv(STOCK_RBD, cargv.data());
  std::cerr << "rbd: cannot run the stock " << STOCK_RBD << ": " << strerror(errno)
            << " (install ceph-common)" << std::endl;
  _exit(127);
}

int run_stock(const std::vector<std::string>& argv, std::string* out) {
  int fds[2] = {-1, -1};
  if (out != nullptr && pipe(fds) < 0) {
    return 1;
  }
  std::cout.flush();
  pid_t pid = fork();
  if (pid == 0) {
    if (out != nullptr) {
      close(fds[0]);
      dup2(fds[1], STDOUT_FILENO);
      close(fds[1]);
    }
    exec_stock(argv);
  }
  if (out != nullptr) {
    close(fds[1]);
    char buf[65536];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof(buf))) > 0) {
      out->append(buf, n);
    }
    close(fds[0]);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

}  // namespace rbd_standalone
