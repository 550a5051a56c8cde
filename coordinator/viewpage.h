/* viewpage: the viewer's page (coordinator/viewer/index.html: HTML, CSS and JavaScript in one file),
 * compiled into the binary so that `reasonsaver serve` needs no file next to it and fetches nothing.
 * The definition is generated at build time (coordinator/viewer/embed.cmake writes viewpage.c into
 * the build tree), so the page is edited as HTML and never as a C array. */
#ifndef COORD_VIEWPAGE_H
#define COORD_VIEWPAGE_H

#include <stddef.h>

/* The page's bytes, exactly as in index.html (UTF-8), followed by one NUL that coord_viewpage_len
 * does not count, so the page can also be read as a C string. Static, read-only, never freed. */
extern const char coord_viewpage[];
extern const size_t coord_viewpage_len;

#endif
