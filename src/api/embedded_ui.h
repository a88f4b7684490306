// The web UI compiled into the binary (generated from ui/dist at build time; empty when the
// UI was not built before the binary).
#pragma once

#include <cstddef>
#include <vector>

namespace kade {

struct EmbeddedFile {
  const char* path;  // "/index.html", "/assets/index-abc.js"
  const char* data;
  size_t size;
};

const std::vector<EmbeddedFile>& EmbeddedUiFiles();

}  // namespace kade
