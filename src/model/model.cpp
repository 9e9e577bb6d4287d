#include "model/model.h"

#include "model/decoder.h"
#include "model/families.h"

namespace concord {

const std::vector<std::string>& supported_architectures() {
  return family_names();
}

std::unique_ptr<Model> load_model(const gguf::File& file, Backend& backend) {
  return load_decoder(file, backend);
}

}  // namespace concord
