// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-

#include "tools/rbd/Shell.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "librbd/api/Config.h"

namespace rbd_standalone {

std::string Args::get(const std::string& opt, const std::string& fallback) const {
  auto it = options.find(opt);
  return it == options.end() || it->second.empty() ? fallback : it->second.back();
}

bool option_takes_value(const std::string& opt) {
  static const std::set<std::string> with_value{
      "-c", "--conf", "--cluster", "--id", "-i", "-n", "--name", "-m", "--mon-host",
      "--keyring", "-k", "--keyfile", "--key", "-p", "--pool", "--namespace", "--image", "--snap",
      "--dest", "--dest-pool", "--dest-namespace", "--format", "--image-feature",
      "--order", "--object-size", "--stripe-unit", "--stripe-count", "--data-pool",
      "--image-format", "-s", "--size", "--image-id"};
  return with_value.count(opt) != 0;
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 0; i < argc; ++i) {
    a.argv.push_back(argv[i]);
  }
  for (int i = 1; i < argc; ++i) {
    std::string w = argv[i];
    if (w == "--") {
      for (++i; i < argc; ++i) {
        a.positional.push_back(argv[i]);
      }
      break;
    }
    if (w.size() > 1 && w[0] == '-') {
      size_t eq = w.find('=');
      if (w.rfind("--", 0) == 0 && eq != std::string::npos) {
        a.options[w.substr(0, eq)].push_back(w.substr(eq + 1));
      } else if (option_takes_value(w) && i + 1 < argc) {
        a.options[w].push_back(argv[++i]);
      } else {
        a.flags.insert(w);
      }
      continue;
    }
    a.positional.push_back(w);
  }
  return a;
}

std::string ImageSpec::str() const {
  return pool + "/" + (ns.empty() ? "" : ns + "/") + image + (has_snap ? "@" + snap : "");
}

int parse_image_spec(const Args& args, size_t index, const std::string& prefix,
                     ImageSpec* spec, std::string* error) {
  std::string text = index < args.positional.size() ? args.positional[index] : "";
  spec->pool = args.get("--" + prefix + "pool");
  if (prefix.empty() && spec->pool.empty()) {
    spec->pool = args.get("-p");  // stock's short form of --pool
  }
  spec->ns = args.get("--" + prefix + "namespace");
  spec->image = args.get(prefix.empty() ? "--image" : "--" + prefix);
  if (prefix.empty() && args.has("--snap")) {
    spec->snap = args.get("--snap");
    spec->has_snap = true;
  }
  if (!text.empty()) {
    size_t at = text.find('@');
    if (at != std::string::npos) {
      spec->snap = text.substr(at + 1);
      spec->has_snap = true;
      text = text.substr(0, at);
    }
    size_t first = text.find('/');
    size_t last = text.rfind('/');
    if (first == std::string::npos) {
      spec->image = text;
    } else {
      spec->pool = text.substr(0, first);
      spec->ns = first == last ? "" : text.substr(first + 1, last - first - 1);
      spec->image = text.substr(last + 1);
    }
  }
  if (spec->pool.empty()) {
    spec->pool = "rbd";  // rbd_default_pool
  }
  if (spec->image.empty()) {
    *error = "image name was not specified";
    return -EINVAL;
  }
  return 0;
}

int Cluster::connect(const Args& args) {
  std::string name = args.get("--name", args.get("-n"));
  if (name.empty()) {
    std::string id = args.get("--id", args.get("-i"));
    name = "client." + (id.empty() ? std::string("admin") : id);
  }
  int r = m_rados.init2(name.c_str(), args.get("--cluster", "ceph").c_str(), 0);
  if (r < 0) {
    return r;
  }
  std::string conf = args.get("--conf", args.get("-c"));
  r = m_rados.conf_read_file(conf.empty() ? nullptr : conf.c_str());
  if (r < 0 && !conf.empty()) {
    return r;
  }
  librbd::standalone::api::set_config_file(conf);
  librbd::standalone::api::set_client_name(name);
  m_rados.conf_parse_env(nullptr);
  // Credentials given on the command line win, as in stock rbd.
  const std::pair<const char*, const char*> credentials[] = {
      {"--keyring", "keyring"}, {"-k", "keyring"}, {"--keyfile", "keyfile"}, {"--key", "key"}};
  for (const auto& [opt, key] : credentials) {
    if (args.has(opt)) {
      m_rados.conf_set(key, args.get(opt).c_str());
    }
  }
  std::string mon = args.get("--mon-host", args.get("-m"));
  if (!mon.empty()) {
    m_rados.conf_set("mon_host", mon.c_str());
  }
  // As stock rbd: a command-line tool flushes when it is done, so its
  // images need not start in writethrough mode.
  m_rados.conf_set("rbd_cache_writethrough_until_flush", "false");
  return m_rados.connect();
}

int Cluster::ioctx(const std::string& pool, const std::string& ns, librados::IoCtx* io) {
  int r = m_rados.ioctx_create(pool.c_str(), *io);
  if (r < 0) {
    return r;
  }
  io->set_namespace(ns);
  return 0;
}

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
    return -errno;
  }
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
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int error(const std::string& message, int r) {
  std::cerr << "rbd: " << message;
  if (r < 0) {
    std::cerr << ": (" << -r << ") " << strerror(-r);
  }
  std::cerr << std::endl;
  return r < 0 ? -r : 1;  // as stock: the errno, or 1 for usage errors
}

}  // namespace rbd_standalone
