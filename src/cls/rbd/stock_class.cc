// -*- mode:C++; tab-width:8; c-basic-offset:2; indent-tabs-mode:nil -*-

#include "cls/rbd/stock_class.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <vector>

namespace cls::rbd::standalone {

namespace {

// The OSD's registration entry point, as the stock library imports it.
constexpr const char* REGISTER_SYMBOL =
    "_Z23cls_register_cxx_methodPvPKciPFiS_PN4ceph6buffer7v15_2_04listES6_EPS_";

using register_fn_t = int (*)(cls_handle_t, const char*, int,
                              cls_method_cxx_call_t, cls_method_handle_t*);

struct State {
  void* handle = nullptr;          // dlopen handle of the stock library
  void (*init)() = nullptr;        // its __cls_init
  void** got_slot = nullptr;       // its GOT entry for REGISTER_SYMBOL
  register_fn_t osd_register = nullptr;
  std::map<std::string, cls_method_cxx_call_t> methods;
};

State& state() {
  static State s;
  return s;
}

int record_registration(cls_handle_t hclass, const char* name, int flags,
                        cls_method_cxx_call_t fn, cls_method_handle_t* handle) {
  state().methods[name] = fn;
  return state().osd_register(hclass, name, flags, fn, handle);
}

// Finds the offset (from the load base) of the GOT slot that a JUMP_SLOT or
// GLOB_DAT relocation binds to `symbol`, by reading the ELF file itself: the
// in-memory dynamic section is not a reliable source across glibc versions.
bool find_got_offset(const std::string& path, const char* symbol,
                     uint64_t* offset, std::string* why) {
  std::ifstream f(path, std::ios::binary);
  std::vector<char> file((std::istreambuf_iterator<char>(f)),
                         std::istreambuf_iterator<char>());
  auto in_file = [&](uint64_t off, uint64_t len) {
    return off <= file.size() && len <= file.size() - off;
  };
  if (!in_file(0, sizeof(Elf64_Ehdr))) {
    *why = "cannot read " + path;
    return false;
  }
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(file.data());
  if (std::memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
      eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_machine != EM_X86_64 ||
      !in_file(eh->e_shoff, uint64_t(eh->e_shnum) * sizeof(Elf64_Shdr))) {
    *why = path + " is not an x86-64 ELF shared object";
    return false;
  }
  const auto* sh = reinterpret_cast<const Elf64_Shdr*>(file.data() + eh->e_shoff);
  for (unsigned i = 0; i < eh->e_shnum; ++i) {
    if (sh[i].sh_type != SHT_RELA || sh[i].sh_link >= eh->e_shnum) {
      continue;
    }
    const Elf64_Shdr& symtab = sh[sh[i].sh_link];
    if (symtab.sh_link >= eh->e_shnum) {
      continue;
    }
    const Elf64_Shdr& strtab = sh[symtab.sh_link];
    if (!in_file(sh[i].sh_offset, sh[i].sh_size) ||
        !in_file(symtab.sh_offset, symtab.sh_size) ||
        !in_file(strtab.sh_offset, strtab.sh_size)) {
      continue;
    }
    const auto* rela = reinterpret_cast<const Elf64_Rela*>(file.data() + sh[i].sh_offset);
    const auto* syms = reinterpret_cast<const Elf64_Sym*>(file.data() + symtab.sh_offset);
    size_t nsyms = symtab.sh_size / sizeof(Elf64_Sym);
    for (size_t j = 0; j < sh[i].sh_size / sizeof(Elf64_Rela); ++j) {
      uint32_t type = ELF64_R_TYPE(rela[j].r_info);
      size_t sym = ELF64_R_SYM(rela[j].r_info);
      if ((type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT) ||
          sym == 0 || sym >= nsyms || syms[sym].st_name >= strtab.sh_size) {
        continue;
      }
      const char* name = file.data() + strtab.sh_offset + syms[sym].st_name;
      if (std::strncmp(name, symbol, strtab.sh_size - syms[sym].st_name) == 0) {
        *offset = rela[j].r_offset;
        return true;
      }
    }
  }
  *why = std::string("no relocation for ") + symbol + " in " + path;
  return false;
}

// The protection of the mapping holding `addr`, from /proc/self/maps, so
// that set_slot() restores exactly what the loader set up.
bool page_protection(uintptr_t addr, int* prot) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    unsigned long lo = 0, hi = 0;
    char perms[5] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %4s", &lo, &hi, perms) == 3 &&
        addr >= lo && addr < hi) {
      *prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0);
      return true;
    }
  }
  return false;
}

bool set_slot(void** slot, void* value, std::string* why) {
  long page = sysconf(_SC_PAGESIZE);
  auto start = reinterpret_cast<uintptr_t>(slot) & ~static_cast<uintptr_t>(page - 1);
  int prot = 0;
  if (!page_protection(start, &prot)) {
    *why = "cannot find the GOT page in /proc/self/maps";
    return false;
  }
  // The slot is normally in the RELRO segment, read-only once relocated.
  if (mprotect(reinterpret_cast<void*>(start), page, prot | PROT_WRITE) != 0) {
    *why = std::string("mprotect of the GOT page failed: ") + std::strerror(errno);
    return false;
  }
  *slot = value;
  mprotect(reinterpret_cast<void*>(start), page, prot);
  return true;
}

bool load(const std::string& path, std::string* why) {
  State& s = state();
  if (s.handle != nullptr) {
    return true;
  }
  s.handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (s.handle == nullptr) {
    *why = std::string("cannot load stock cls_rbd: ") + dlerror();
    return false;
  }
  s.init = reinterpret_cast<void (*)()>(dlsym(s.handle, "__cls_init"));
  if (s.init == nullptr) {
    *why = path + " has no __cls_init";
    return false;
  }
  return true;
}

}  // namespace

bool StockClass::prepare(const std::string& path, std::string* why) {
  State& s = state();
  if (!load(path, why)) {
    return false;
  }
  s.osd_register = reinterpret_cast<register_fn_t>(dlsym(RTLD_DEFAULT, REGISTER_SYMBOL));
  if (s.osd_register == nullptr) {
    *why = "the OSD does not export cls_register_cxx_method";
    return false;
  }
  uint64_t offset = 0;
  if (!find_got_offset(path, REGISTER_SYMBOL, &offset, why)) {
    return false;
  }
  struct link_map* lm = nullptr;
  if (dlinfo(s.handle, RTLD_DI_LINKMAP, &lm) != 0 || lm == nullptr) {
    *why = "dlinfo failed on the stock library";
    return false;
  }
  s.got_slot = reinterpret_cast<void**>(lm->l_addr + offset);
  // The slot must already point at the OSD's function (BIND_NOW); anything
  // else means a layout this code was not written for.
  if (*s.got_slot != reinterpret_cast<void*>(s.osd_register)) {
    *why = "stock library's registration slot does not point at the OSD";
    s.got_slot = nullptr;
    return false;
  }
  // Prove now, before the overlay registers anything, that the slot can be
  // rewritten (a no-op write), so init() cannot fail half way.
  if (!set_slot(s.got_slot, *s.got_slot, why)) {
    s.got_slot = nullptr;
    return false;
  }
  return true;
}

bool StockClass::init(std::string* why) {
  State& s = state();
  if (s.init == nullptr || s.got_slot == nullptr) {
    *why = "stock class not prepared";
    return false;
  }
  bool recorded = set_slot(s.got_slot, reinterpret_cast<void*>(&record_registration), why);
  s.init();
  if (recorded) {
    std::string ignored;
    set_slot(s.got_slot, reinterpret_cast<void*>(s.osd_register), &ignored);
  }
  return recorded && !s.methods.empty();
}

bool StockClass::init_unrecorded(const std::string& path, std::string* why) {
  if (!load(path, why)) {
    return false;
  }
  state().init();
  return true;
}

cls_method_cxx_call_t StockClass::method(const std::string& name) {
  auto it = state().methods.find(name);
  return it == state().methods.end() ? nullptr : it->second;
}

int StockClass::call(const char* name, cls_method_context_t hctx,
                     ceph::bufferlist* in, ceph::bufferlist* out) {
  cls_method_cxx_call_t fn = method(name);
  if (fn == nullptr) {
    CLS_ERR("stock cls_rbd method %s was not recorded", name);
    return -EOPNOTSUPP;
  }
  return fn(hctx, in, out);
}

}  // namespace cls::rbd::standalone
