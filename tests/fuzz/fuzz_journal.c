/* libFuzzer target: the restore journal's checker (app/journal: journal_check) over any
 * bytes, and journal_diff when they pass: the input is NEW, its first half of lines (and
 * all of it) OLD, written to files in a private temporary directory (/dev/shm when it
 * exists). What must hold: an accepted journal counts exactly its lines, one header and its
 * kinds; a refusal has a message; a prefix of an accepted journal is accepted and is
 * reported as OLD's prefix adding exactly the rest, and NEW is never a prefix of a shorter
 * OLD. */
#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "journal/journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char tmpdir[256], old_path[300], new_path[300];

static void remove_tree(void)
{
    unlink(old_path);
    unlink(new_path);
    rmdir(tmpdir);
}

static void write_file(const char *path, const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || (size > 0 && write(fd, data, size) != (ssize_t)size) || close(fd) != 0) {
        fprintf(stderr, "fuzz_journal: cannot write %s\n", path);
        abort();
    }
}

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/rl-fuzz-journal.XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (mkdtemp(tmpdir) == NULL) {
        perror("fuzz_journal: mkdtemp");
        abort();
    }
    snprintf(old_path, sizeof old_path, "%s/old.jsonl", tmpdir);
    snprintf(new_path, sizeof new_path, "%s/new.jsonl", tmpdir);
    atexit(remove_tree);
}

/* journal_diff(OLD = the first k lines, NEW = all) must accept and count what NEW adds. */
static void diff_prefix(const uint8_t *data, size_t size, uint64_t lines, uint64_t k,
                        const journal_info *info)
{
    size_t cut = 0;
    for (uint64_t n = 0; n < k; n++)
        cut = (size_t)((const uint8_t *)memchr(data + cut, '\n', size - cut) - data) + 1;
    write_file(old_path, data, cut);
    write_file(new_path, data, size);
    journal_diff_info d;
    if (journal_diff(old_path, new_path, &d) != RL_OK || d.old_lines != k ||
        d.new_lines != lines)
        __builtin_trap();
    uint64_t added = 0;
    for (int i = 0; i < JOURNAL_NKINDS; i++) {
        if (d.added[i] > info->count[i])
            __builtin_trap();
        added += d.added[i];
    }
    if (added != lines - k)
        __builtin_trap();
    if (k < lines) {
        /* The other way round NEW has lines OLD lacks: never a prefix. */
        if (journal_diff(new_path, old_path, &d) != RL_EINTEGRITY || err_msg()[0] == '\0')
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (tmpdir[0] == '\0')
        setup();
    journal_info info;
    err_clear();
    int rc = journal_check((const char *)data, size, &info);
    if (rc != RL_OK) {
        if ((rc != RL_EINTEGRITY && rc != RL_ENOMEM) || err_msg()[0] == '\0')
            __builtin_trap();
        return 0;
    }
    uint64_t nl = 0, total = 0;
    for (size_t i = 0; i < size; i++)
        nl += data[i] == '\n';
    for (int i = 0; i < JOURNAL_NKINDS; i++)
        total += info.count[i];
    if (size == 0 || data[size - 1] != '\n' || info.lines != nl || total != nl ||
        info.count[JOURNAL_HEADER] != 1 || strlen(info.last) != 64)
        __builtin_trap();
    /* The last line's hash is what the signed comment's last= must match. */
    size_t start = size - 1;
    while (start > 0 && data[start - 1] != '\n')
        start--;
    char h[65];
    journal_line_hash((const char *)data + start, size - 1 - start, h);
    if (strcmp(h, info.last) != 0)
        __builtin_trap();
    diff_prefix(data, size, nl, (nl + 1) / 2, &info);
    diff_prefix(data, size, nl, nl, &info);
    return 0;
}
