# Included by the top-level CMakeLists.txt when QUANTLENS_FUZZ=ON: a clang build of the
# torch-free parser libraries, instrumented for libFuzzer, ASan and UBSan, and the
# fuzz_<name> binaries. No GUI, no libtorch, no tests (scripts/fuzz.sh drives it).
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "QUANTLENS_FUZZ needs clang: CC=clang CXX=clang++ cmake -DQUANTLENS_FUZZ=ON ...")
endif()
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                    -fno-omit-frame-pointer -g)
add_link_options(-fsanitize=address,undefined)

find_package(Threads REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
find_package(ICU REQUIRED COMPONENTS uc)

add_subdirectory(core/base)
add_subdirectory(core/io)
add_subdirectory(core/tokenizer)
add_subdirectory(core/quant)  # torch-free: the qlw harness reads compact weights
add_subdirectory(fuzz)
