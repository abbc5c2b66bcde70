/* zlib from Debian's zlib1g-dev, for gzip request bodies (VigilOutput/Gzip.swift). */
#include <zlib.h>

/* deflateInit2 is a macro; Swift sees this function instead. windowBits 15 + 16: a gzip
 * wrapper rather than zlib's own. */
static inline int vigil_deflate_init_gzip(z_stream *strm, int level)
{
    return deflateInit2(strm, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}

/* The decoding side (tests decode what the sinks compressed). */
static inline int vigil_inflate_init_gzip(z_stream *strm)
{
    return inflateInit2(strm, 15 + 16);
}
