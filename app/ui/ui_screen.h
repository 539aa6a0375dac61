/* ui_screen: the terminal and the widgets every screen of the interface is built from.
 *
 * ncursesw in a UTF-8 character locale; every screen fits 80x24 and grows with the window.
 * Input is read through ui_key, which also reports that the program must end (SIGHUP,
 * SIGTERM or a terminal that went away): callers then unwind without saving anything. */
#ifndef RL_UI_SCREEN_H
#define RL_UI_SCREEN_H

#define NCURSES_WIDECHAR 1
#include <curses.h>
#include <stddef.h>
#include <stdint.h>
#include <wchar.h>

/* ui_key returns a character (a Unicode code point), UI_K(KEY_*) for a curses key code
 * (kept apart from every code point), or UI_QUIT. */
#define UI_K(code) ((code) + 0x110000)
/* Hang-up or termination: leave without saving. Apart from every RL_E* code (-1..-7), so a
 * library code passed up by a screen can never be mistaken for it. */
#define UI_QUIT (-1000)
#define UI_ESC 27
#define UI_ENTER 10
#define UI_TAB 9

/* Starts curses (UTF-8 character locale, raw keys, no echo) and the signal handling.
 * Returns 0, or -1 with a message on stderr if the terminal cannot be used. */
int ui_screen_begin(void);
/* Restores the terminal; safe to call more than once. */
void ui_screen_end(void);
/* Non-zero once the program must end (SIGHUP, SIGTERM, SIGINT, or input lost). */
int ui_ending(void);

/* Waits for one key (see UI_K). Enter and keypad Enter are UI_ENTER, Ctrl-C is UI_ESC,
 * Backspace is UI_K(KEY_BACKSPACE); a window resize redraws nothing itself: callers redraw
 * on UI_K(KEY_RESIZE). */
int ui_key(void);

/* Draws an empty screen with title (row 0) and the key hints (last row). */
void ui_frame(const char *title, const char *hints);
/* Text at (y, x), at most w columns (UTF-8; cut on a character boundary). attr: A_* */
void ui_put(int y, int x, int w, const char *utf8, attr_t attr);
/* The message line above the hints: an error in bold red, else plain. Empty clears. */
void ui_status(const char *msg, int error);
/* Word-wrapped text in rows y..y+h-1 from column x, width w; returns rows used. */
int ui_wrap(int y, int x, int w, int h, const char *utf8, attr_t attr);

/* A message box over the screen; waits for a key. Returns UI_QUIT or 0. */
int ui_message(const char *title, const char *text, int error);
/* A yes/no question; returns 1 yes, 0 no, UI_QUIT. */
int ui_confirm(const char *question);
/* A one-line note in the middle of the screen while something runs (no key). */
void ui_busy(const char *text);
/* A progress bar on the message line: label, done of total. */
void ui_progress(const char *label, uint64_t done, uint64_t total);

/* A scrollable list. rows[n] are drawn under header (if not NULL) between the given rows;
 * *sel is kept in range. Returns the key that ended it: UI_ENTER, UI_ESC, UI_QUIT, or an
 * ASCII key listed in keys (e.g. "ns"), or UI_K(KEY_F(9)) and UI_K(KEY_F(10)). top is
 * drawn above the list (may be NULL), wrapped. */
int ui_list(const char *title, const char *top, const char *header, char *const *rows, size_t n,
            size_t *sel, const char *keys, const char *hints);

/* A scrollable text (lines separated by '\n'). Returns UI_ESC or UI_QUIT, or a key of keys. */
int ui_pager(const char *title, const char *text, const char *keys, const char *hints);

/* --- line editing ------------------------------------------------------------------- */

#define UI_EDIT_MAX 200

typedef struct {
    wchar_t buf[UI_EDIT_MAX + 1];
    size_t len, cur, off; /* characters; off: first one shown */
} ui_edit;

/* A passphrase being typed: UTF-8 bytes in sodium_malloc'd memory, never drawn. */
typedef struct {
    char *buf;
    size_t len, cap;
} ui_secret;

void ui_edit_set(ui_edit *e, const char *utf8);
/* The value as UTF-8 (cut at cap-1 bytes on a character boundary). */
void ui_edit_get(const ui_edit *e, char *out, size_t cap);
/* Applies an editing key; returns 1 if the value changed, 0 if the key moved the cursor,
 * -1 if it is not an editing key. */
int ui_edit_key(ui_edit *e, int key);
/* Draws the field in w columns at (y, x); puts the cursor in it when focused. */
void ui_edit_draw(ui_edit *e, int y, int x, int w, int focused);

int ui_secret_init(ui_secret *s, size_t cap);
int ui_secret_key(ui_secret *s, int key);
void ui_secret_clear(ui_secret *s);
void ui_secret_free(ui_secret *s); /* wipes */

#endif
