/* What the other architecture's entry points do when called (unavailable_x64.c, unavailable_arm64.c): edk_features()
 * never reports their sets, so a call is a bug that stops the process rather than computing nothing. */
#ifndef EDK_UNAVAILABLE_H
#define EDK_UNAVAILABLE_H

#include <stdio.h>
#include <stdlib.h>

static inline void unavailable(const char *name)
{
    fprintf(stderr, "libedgekernels: %s called on a CPU that cannot run it (edk_features() did not report it)\n", name);
    abort();
}

#endif
