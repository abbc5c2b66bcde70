/* The wire format is header-only; this file lets SwiftPM build the C target and runs
 * the header's _Static_asserts with the host compiler, as BPF/ runs them for -target bpf. */
#include "vigil_wire.h"
#include "vigil_boundary.h"
#include "vigil_transparent.h"
