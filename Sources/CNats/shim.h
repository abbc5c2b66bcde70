/* The NATS C client from Debian's libnats-dev: the nats:// output
 * (VigilOutput/NATSSink.swift) and fleet baselines in a JetStream key-value bucket
 * (VigilOutput/FleetBaselines.swift). Only VigilOutput (and the tests' NATS helpers)
 * import it. */
#ifndef VIGIL_CNATS_SHIM_H
#define VIGIL_CNATS_SHIM_H

#include <nats/nats.h>

#endif
