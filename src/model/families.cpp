#include "model/families.h"

namespace concord {
namespace {

// The one list of families concord can load.
const Family* const kFamilies[] = {&kLlamaFamily,  &kGemmaFamily, &kGemma2Family,
                                   &kGemma3Family, &kQwen2Family, &kQwen3Family};

}  // namespace

const Family* find_family(std::string_view arch) {
  for (const Family* f : kFamilies) {
    if (arch == f->arch) return f;
  }
  return nullptr;
}

const std::vector<std::string>& family_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const Family* f : kFamilies) out.emplace_back(f->arch);
    return out;
  }();
  return names;
}

}  // namespace concord
