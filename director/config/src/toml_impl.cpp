// toml++'s implementation (Debian's headers), compiled once into this project with its flags
// instead of linked from Debian's libtomlplusplus.so: parsing a 5,000 x 10 config (3.2 MB)
// took 117 ms with the shared library and 95 ms compiled here, and freeing its tree 35 ms
// against 16 ms (native, warm; the commit that made this has the figures), a cold start's
// largest part after the kernel's own work. The API and behaviour are toml++'s either way.
#define TOML_IMPLEMENTATION
#include <toml++/toml.h>
