/* html: the one escaping routine every HTML report uses (drill, reconciliation), so no
 * report can print user text unescaped. */
#ifndef RL_HTML_H
#define RL_HTML_H

#include <stdio.h>

/* Writes s with & < > " ' escaped: safe in element content and quoted attributes. */
void html_write_text(FILE *f, const char *s);

#endif
