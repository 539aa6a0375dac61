/* ui_screen: terminal set-up, signals, drawing helpers and widgets (see ui_screen.h). */
#include "ui/ui_screen.h"

#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "ui/ui_text.h"

static volatile sig_atomic_t ending;
static int started;

static void on_signal(int sig)
{
    (void)sig;
    ending = 1;
}

int ui_ending(void) { return ending != 0; }

int ui_screen_begin(void)
{
    /* Only the character type: numbers and dates everywhere else stay in the C locale. */
    if (setlocale(LC_CTYPE, "") == NULL || strcmp(nl_langinfo(CODESET), "UTF-8") != 0) {
        if (setlocale(LC_CTYPE, "C.UTF-8") == NULL) {
            fprintf(stderr, "reservlon: the terminal interface needs a UTF-8 locale "
                            "(set LANG=sv_SE.UTF-8 or C.UTF-8)\n");
            return -1;
        }
    }
    /* SIGHUP (terminal closed), SIGTERM, SIGINT: end without saving. No SA_RESTART, so a
     * blocked read returns and the screens unwind. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (initscr() == NULL) {
        fprintf(stderr, "reservlon: cannot start the terminal interface (TERM=%s)\n",
                getenv("TERM") ? getenv("TERM") : "");
        return -1;
    }
    started = 1;
    raw();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    set_escdelay(25);
    if (has_colors()) {
        start_color();
        use_default_colors();
        init_pair(1, COLOR_RED, -1);
        init_pair(2, COLOR_GREEN, -1);
    }
    return 0;
}

void ui_screen_end(void)
{
    if (!started)
        return;
    started = 0;
    endwin();
}

int ui_key(void)
{
    for (;;) {
        if (ending)
            return UI_QUIT;
        wint_t ch = 0;
        refresh();
        int r = get_wch(&ch);
        if (r == ERR) {
            if (ending)
                return UI_QUIT;
            if (errno == EINTR)
                continue;
            ending = 1; /* the terminal went away */
            return UI_QUIT;
        }
        if (r == KEY_CODE_YES) {
            if (ch == KEY_ENTER)
                return UI_ENTER;
            return UI_K((int)ch);
        }
        if (ch == '\r' || ch == '\n')
            return UI_ENTER;
        if (ch == 3)
            return UI_ESC;
        if (ch == 127 || ch == 8)
            return UI_K(KEY_BACKSPACE);
        return (int)ch;
    }
}

/* UTF-8 into wide characters (an invalid byte becomes '?'); returns the count. */
static size_t widen(const char *s, wchar_t *out, size_t cap)
{
    mbstate_t st;
    memset(&st, 0, sizeof st);
    size_t n = 0, len = strlen(s);
    while (len > 0 && n + 1 < cap) {
        wchar_t wc = 0;
        size_t k = mbrtowc(&wc, s, len, &st);
        if (k == (size_t)-1 || k == (size_t)-2 || k == 0) {
            memset(&st, 0, sizeof st);
            wc = L'?';
            k = 1;
        }
        out[n++] = (iswprint((wint_t)wc) || wc == L'\n') ? wc : L'?';
        s += k;
        len -= k;
    }
    out[n] = 0;
    return n;
}

static int colwidth(wchar_t c)
{
    int w = wcwidth(c);
    return w < 0 ? 1 : w;
}

void ui_put(int y, int x, int w, const char *utf8, attr_t attr)
{
    wchar_t buf[1024];
    size_t n = widen(utf8, buf, sizeof buf / sizeof buf[0]);
    int used = 0;
    size_t k = 0;
    while (k < n && buf[k] != L'\n' && used + colwidth(buf[k]) <= w)
        used += colwidth(buf[k++]);
    attron(attr);
    mvaddnwstr(y, x, buf, (int)k);
    attroff(attr);
}

int ui_wrap(int y, int x, int w, int h, const char *utf8, attr_t attr)
{
    wchar_t buf[4096];
    size_t n = widen(utf8, buf, sizeof buf / sizeof buf[0]);
    size_t i = 0;
    int row = 0;
    attron(attr);
    while (i < n && row < h) {
        /* the longest run that fits, broken at the last space */
        size_t j = i, brk = 0;
        int used = 0;
        while (j < n && buf[j] != L'\n' && used + colwidth(buf[j]) <= w) {
            used += colwidth(buf[j]);
            if (buf[j] == L' ')
                brk = j;
            j++;
        }
        if (j < n && buf[j] != L'\n' && brk > i)
            j = brk;
        mvaddnwstr(y + row, x, buf + i, (int)(j - i));
        row++;
        i = j;
        while (i < n && (buf[i] == L' ' || buf[i] == L'\n')) {
            if (buf[i] == L'\n') {
                i++;
                break;
            }
            i++;
        }
    }
    attroff(attr);
    return row;
}

static const char *cur_hints;

void ui_frame(const char *title, const char *hints)
{
    erase();
    attron(A_REVERSE);
    mvhline(0, 0, ' ', COLS);
    attroff(A_REVERSE);
    char t[256];
    snprintf(t, sizeof t, " %s — %s", ui_t(T_APP), title);
    ui_put(0, 0, COLS, t, A_REVERSE | A_BOLD);
    cur_hints = hints;
    if (hints) {
        attron(A_REVERSE);
        mvhline(LINES - 1, 0, ' ', COLS);
        attroff(A_REVERSE);
        ui_put(LINES - 1, 1, COLS - 2, hints, A_REVERSE);
    }
}

void ui_status(const char *msg, int error)
{
    move(LINES - 2, 0);
    clrtoeol();
    move(LINES - 3, 0);
    clrtoeol();
    if (msg && msg[0]) {
        attr_t a = error ? (A_BOLD | (has_colors() ? COLOR_PAIR(1) : 0)) : A_NORMAL;
        /* Two rows, so a long message is read whole in 80 columns. */
        ui_wrap(LINES - 3, 1, COLS - 2, 2, msg, a);
    }
}

static void box_at(int y, int x, int h, int w)
{
    for (int r = y; r < y + h; r++) {
        move(r, x);
        for (int c = 0; c < w; c++)
            addch(' ');
    }
    attron(A_BOLD);
    mvhline(y, x, ACS_HLINE, w);
    mvhline(y + h - 1, x, ACS_HLINE, w);
    mvvline(y, x, ACS_VLINE, h);
    mvvline(y, x + w - 1, ACS_VLINE, h);
    mvaddch(y, x, ACS_ULCORNER);
    mvaddch(y, x + w - 1, ACS_URCORNER);
    mvaddch(y + h - 1, x, ACS_LLCORNER);
    mvaddch(y + h - 1, x + w - 1, ACS_LRCORNER);
    attroff(A_BOLD);
}

int ui_message(const char *title, const char *text, int error)
{
    for (;;) {
        int w = COLS - 8 < 72 ? COLS - 8 : 72, h = 10;
        int y = (LINES - h) / 2, x = (COLS - w) / 2;
        box_at(y, x, h, w);
        attr_t a = error ? (A_BOLD | (has_colors() ? COLOR_PAIR(1) : 0)) : A_BOLD;
        ui_put(y, x + 2, w - 4, title, a);
        ui_wrap(y + 2, x + 2, w - 4, h - 5, text, A_NORMAL);
        ui_put(y + h - 2, x + 2, w - 4, ui_t(T_ANY_KEY), A_DIM);
        curs_set(0);
        int k = ui_key();
        curs_set(1);
        if (k == UI_QUIT)
            return UI_QUIT;
        if (k != UI_K(KEY_RESIZE))
            return 0;
        touchwin(stdscr);
    }
}

int ui_confirm(const char *question)
{
    /* Three rows of question: room for a path to be read whole before saying yes. */
    int w = COLS - 8 < 64 ? COLS - 8 : 64, h = 7;
    int y = (LINES - h) / 2, x = (COLS - w) / 2;
    box_at(y, x, h, w);
    ui_wrap(y + 1, x + 2, w - 4, 3, question, A_BOLD);
    ui_put(y + 5, x + 2, w - 4, ui_t(T_YESNO), A_NORMAL);
    for (;;) {
        int k = ui_key();
        if (k == UI_QUIT)
            return UI_QUIT;
        if (k == ui_t(T_KEY_YES)[0] || k == (ui_t(T_KEY_YES)[0] - 32))
            return 1;
        if (k == 'n' || k == 'N' || k == UI_ESC)
            return 0;
    }
}

void ui_busy(const char *text)
{
    ui_status(text, 0);
    refresh();
}

void ui_progress(const char *label, uint64_t done, uint64_t total)
{
    int w = COLS - 30;
    if (w < 10)
        w = 10;
    int fill = total ? (int)((double)done / (double)total * w) : 0;
    char pct[16];
    snprintf(pct, sizeof pct, "%3d %%", total ? (int)(done * 100 / total) : 0);
    move(LINES - 3, 0);
    clrtoeol();
    ui_put(LINES - 3, 1, 20, label, A_NORMAL);
    mvaddch(LINES - 3, 21, '[');
    for (int i = 0; i < w; i++)
        addch(i < fill ? ('#' | A_BOLD) : '.');
    addch(']');
    ui_put(LINES - 3, 23 + w, 7, pct, A_NORMAL);
    refresh();
}

int ui_list(const char *title, const char *top, const char *header, char *const *rows, size_t n,
            size_t *sel, const char *keys, const char *hints)
{
    size_t off = 0;
    for (;;) {
        ui_frame(title, hints);
        int y = 2;
        if (top && top[0])
            y += ui_wrap(2, 1, COLS - 2, 9, top, A_NORMAL) + 1;
        if (header) {
            ui_put(y, 1, COLS - 2, header, A_BOLD | A_UNDERLINE);
            y++;
        }
        int h = LINES - 3 - y;
        if (h < 1)
            h = 1;
        if (n > 0 && *sel >= n)
            *sel = n - 1;
        if (*sel < off)
            off = *sel;
        if (*sel >= off + (size_t)h)
            off = *sel - (size_t)h + 1;
        for (size_t i = off; i < n && i < off + (size_t)h; i++)
            ui_put(y + (int)(i - off), 1, COLS - 2, rows[i], i == *sel ? A_REVERSE : A_NORMAL);
        if (n > (size_t)h) {
            char more[32];
            snprintf(more, sizeof more, "%zu/%zu", *sel + 1, n);
            ui_put(LINES - 3, COLS - 12, 11, more, A_DIM);
        }
        move(LINES - 1, COLS - 1);
        int k = ui_key();
        if (k == UI_QUIT || k == UI_ESC || k == UI_ENTER || k == UI_K(KEY_F(9)) ||
            k == UI_K(KEY_F(10)))
            return k;
        if (k > 0 && k < 128 && keys && strchr(keys, k))
            return k;
        if (k == UI_K(KEY_UP) && *sel > 0)
            (*sel)--;
        else if (k == UI_K(KEY_DOWN) && *sel + 1 < n)
            (*sel)++;
        else if (k == UI_K(KEY_PPAGE))
            *sel = *sel > (size_t)h ? *sel - (size_t)h : 0;
        else if (k == UI_K(KEY_NPAGE) && n > 0)
            *sel = *sel + (size_t)h < n ? *sel + (size_t)h : n - 1;
        else if (k == UI_K(KEY_HOME))
            *sel = 0;
        else if (k == UI_K(KEY_END) && n > 0)
            *sel = n - 1;
    }
}

int ui_pager(const char *title, const char *text, const char *keys, const char *hints)
{
    /* Split into lines once; long lines are cut to the screen width by ui_put. */
    size_t n = 1;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    const char **lines = calloc(n, sizeof *lines);
    if (lines == NULL)
        return UI_ESC;
    size_t k = 0;
    lines[k++] = text;
    for (const char *p = text; *p; p++)
        if (*p == '\n' && k < n)
            lines[k++] = p + 1;
    size_t off = 0;
    int key;
    for (;;) {
        ui_frame(title, hints ? hints : ui_t(T_KEYS_PAGER));
        int h = LINES - 4;
        if (h < 1)
            h = 1;
        for (size_t i = off; i < k && i < off + (size_t)h; i++)
            ui_put(2 + (int)(i - off), 1, COLS - 2, lines[i], A_NORMAL);
        move(LINES - 1, COLS - 1);
        key = ui_key();
        if (key == UI_QUIT || key == UI_ESC || key == UI_ENTER || key == 'q')
            break;
        if (key > 0 && key < 128 && keys && strchr(keys, key))
            break;
        if (key == UI_K(KEY_DOWN) && off + (size_t)h < k)
            off++;
        else if (key == UI_K(KEY_UP) && off > 0)
            off--;
        else if (key == UI_K(KEY_NPAGE))
            off = off + (size_t)h < k ? off + (size_t)h : off;
        else if (key == UI_K(KEY_PPAGE))
            off = off > (size_t)h ? off - (size_t)h : 0;
    }
    free(lines);
    return key == UI_ENTER || key == 'q' ? UI_ESC : key;
}

/* --- line editing -------------------------------------------------------------------- */

void ui_edit_set(ui_edit *e, const char *utf8)
{
    memset(e, 0, sizeof *e);
    e->len = widen(utf8, e->buf, UI_EDIT_MAX + 1);
    e->cur = e->len;
}

void ui_edit_get(const ui_edit *e, char *out, size_t cap)
{
    size_t o = 0;
    mbstate_t st;
    memset(&st, 0, sizeof st);
    for (size_t i = 0; i < e->len; i++) {
        char mb[MB_LEN_MAX];
        size_t k = wcrtomb(mb, e->buf[i], &st);
        if (k == (size_t)-1 || o + k + 1 > cap)
            break;
        memcpy(out + o, mb, k);
        o += k;
    }
    if (cap > 0)
        out[o] = '\0';
}

int ui_edit_key(ui_edit *e, int key)
{
    if (key == UI_K(KEY_LEFT)) {
        if (e->cur > 0)
            e->cur--;
        return 0;
    }
    if (key == UI_K(KEY_RIGHT)) {
        if (e->cur < e->len)
            e->cur++;
        return 0;
    }
    if (key == UI_K(KEY_HOME) || key == 1) {
        e->cur = 0;
        return 0;
    }
    if (key == UI_K(KEY_END) || key == 5) {
        e->cur = e->len;
        return 0;
    }
    if (key == UI_K(KEY_BACKSPACE)) {
        if (e->cur == 0)
            return 0;
        memmove(e->buf + e->cur - 1, e->buf + e->cur, (e->len - e->cur) * sizeof(wchar_t));
        e->cur--;
        e->buf[--e->len] = 0;
        return 1;
    }
    if (key == UI_K(KEY_DC)) {
        if (e->cur == e->len)
            return 0;
        memmove(e->buf + e->cur, e->buf + e->cur + 1, (e->len - e->cur - 1) * sizeof(wchar_t));
        e->buf[--e->len] = 0;
        return 1;
    }
    if (key == 21) { /* Ctrl-U: clear */
        e->len = e->cur = e->off = 0;
        e->buf[0] = 0;
        return 1;
    }
    if (key >= 32 && key < 0x110000 && iswprint((wint_t)key)) {
        if (e->len >= UI_EDIT_MAX)
            return 0;
        memmove(e->buf + e->cur + 1, e->buf + e->cur, (e->len - e->cur) * sizeof(wchar_t));
        e->buf[e->cur++] = (wchar_t)key;
        e->buf[++e->len] = 0;
        return 1;
    }
    return -1;
}

void ui_edit_draw(ui_edit *e, int y, int x, int w, int focused)
{
    if (w < 2)
        return;
    /* Keep the cursor inside the window of characters shown (one column per character is
     * assumed for scrolling; wide characters only shorten what is shown). */
    if (e->cur < e->off)
        e->off = e->cur;
    if (e->cur >= e->off + (size_t)w)
        e->off = e->cur - (size_t)w + 1;
    attr_t a = focused ? A_UNDERLINE | A_BOLD : A_UNDERLINE;
    attron(a);
    mvhline(y, x, ' ', w);
    int used = 0;
    size_t i = e->off;
    move(y, x);
    while (i < e->len && used + colwidth(e->buf[i]) <= w) {
        addnwstr(e->buf + i, 1);
        used += colwidth(e->buf[i]);
        i++;
    }
    attroff(a);
    if (focused) {
        int cx = 0;
        for (size_t j = e->off; j < e->cur; j++)
            cx += colwidth(e->buf[j]);
        move(y, x + (cx < w ? cx : w - 1));
    }
}

int ui_secret_init(ui_secret *s, size_t cap)
{
    s->buf = sodium_malloc(cap);
    s->len = 0;
    s->cap = s->buf ? cap : 0;
    return s->buf ? 0 : -1;
}

int ui_secret_key(ui_secret *s, int key)
{
    if (key == UI_K(KEY_BACKSPACE)) {
        /* one whole UTF-8 character */
        while (s->len > 0 && (s->buf[s->len - 1] & 0xC0) == 0x80)
            s->len--;
        if (s->len > 0)
            s->len--;
        sodium_memzero(s->buf + s->len, s->cap - s->len);
        return 1;
    }
    if (key == 21) {
        ui_secret_clear(s);
        return 1;
    }
    if (key >= 32 && key < 0x110000 && iswprint((wint_t)key)) {
        char mb[MB_LEN_MAX];
        mbstate_t st;
        memset(&st, 0, sizeof st);
        size_t k = wcrtomb(mb, (wchar_t)key, &st);
        if (k != (size_t)-1 && s->len + k + 1 <= s->cap) {
            memcpy(s->buf + s->len, mb, k);
            s->len += k;
        }
        sodium_memzero(mb, sizeof mb);
        return 1;
    }
    return -1;
}

void ui_secret_clear(ui_secret *s)
{
    if (s->buf)
        sodium_memzero(s->buf, s->cap);
    s->len = 0;
}

void ui_secret_free(ui_secret *s)
{
    sodium_free(s->buf); /* wipes */
    s->buf = NULL;
    s->len = s->cap = 0;
}
