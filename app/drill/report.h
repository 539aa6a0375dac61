/* drill report: what a continuity drill did, timed step by step, as report.md and a
 * self-contained report.html (docs/drill.md). It holds counts, totals, message ids and
 * hashes, never a name, personnummer or account: a drill on the real snapshot must leave a
 * report that can be filed anywhere. */
#ifndef RL_DRILL_REPORT_H
#define RL_DRILL_REPORT_H

#include <stddef.h>

typedef enum {
    DRILL_PASS,
    DRILL_FAIL,
    DRILL_SKIPPED,
    DRILL_NOT_RUN
} drill_status;

#define DRILL_REPORT_STEPS 32
#define DRILL_REPORT_FACTS 48
#define DRILL_REPORT_WARNS 16

typedef struct {
    char started[21], snapshot[512];
    unsigned mix;
    double total_secs;
    size_t nsteps, nfacts, nwarns;
    struct {
        char name[96], detail[512];
        double secs;
        drill_status st;
    } steps[DRILL_REPORT_STEPS];
    char facts[DRILL_REPORT_FACTS][2][256];
    char warns[DRILL_REPORT_WARNS][512];
} drill_report;

void drill_report_begin(drill_report *r, const char *snapshot, unsigned mix);
void drill_report_step(drill_report *r, const char *name, double secs, drill_status st,
                       const char *detail);
void drill_report_fact(drill_report *r, const char *label, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void drill_report_warn(drill_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *drill_status_name(drill_status st);
/* The first failed step's name ("" if none). */
const char *drill_report_first_failure(const drill_report *r);
void drill_report_counts(const drill_report *r, unsigned *steps, unsigned *passed,
                         unsigned *failed, unsigned *skipped);

/* Writes dir/report.md and dir/report.html (atomically, 0600) and their paths. */
int drill_report_write(const drill_report *r, const char *dir, char *md, size_t md_cap,
                       char *html, size_t html_cap) __attribute__((warn_unused_result));

#endif
